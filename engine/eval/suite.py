"""``ved eval``: a world model measured against the reference world, baselines in the same run.

Runs, on held-out scene seeds (never trained on): open-loop fidelity (PSNR/SSIM at horizons)
and controllability (ΔPSNR) for the model, *copy last frame* and the *deterministic one-step
regressor*; revisit consistency inside and beyond the context window; prompt fidelity (text
only → judge); event fidelity; a 5-minute rollout's stability; and live speed. Writes
``results.json`` and ``report.html`` (plots and frame strips) into the output folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.generate import HELD_OUT_SEED_BASE, generate_episode
from ..world.env import ReferenceWorld
from ..world.scene import ROOM_TYPES, make_scene


@dataclass
class EvalConfig:
    """Sizes of one evaluation. :meth:`quick` is for tests and smoke runs."""

    episodes: int = 12
    episode_length: int = 120
    starts_per_episode: int = 2
    horizons: tuple[int, ...] = (1, 4, 16, 64)
    revisit_scenes: int = 9
    event_scenes: int = 6
    prompt_scenes: int = 9
    long_ticks: int = 6000
    bench_frames: int = 300
    #: Judge training sizes (None: the default judge, cached; see engine.eval.judge).
    judge_training: dict | None = None

    @classmethod
    def quick(cls) -> "EvalConfig":
        return cls(episodes=2, episode_length=24, starts_per_episode=1, horizons=(1, 4, 16), revisit_scenes=1,
                   event_scenes=1, prompt_scenes=1, long_ticks=40, bench_frames=10,
                   judge_training={"n_scenes": 12, "frames_per_scene": 2, "steps": 10, "batch": 8})


def held_out_scenes(n: int, seed: int) -> list:
    """``n`` held-out scenes, room types in turn."""
    rng = np.random.default_rng(seed + 104729)
    return [make_scene(ROOM_TYPES[i % len(ROOM_TYPES)], int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)))
            for i in range(n)]


def held_out_episodes(n: int, length: int, seed: int) -> list:
    rng = np.random.default_rng(seed + 7919)
    world = ReferenceWorld(64)
    eps = [generate_episode(world, rng, length=length,
                            scene_seed=int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)))
           for _ in range(n)]
    world.renderer.release()
    return eps


def _event_text_matching() -> dict:
    """Free-text requests → nearest trained event (through the prompt's sentence encoder)."""
    from ..model.text import match_event

    cases = {"switch the lights off": "lights_dim", "turn the lights back on": "lights_normal",
             "sound the emergency alarm": "alarm_on", "stop that alarm": "alarm_off",
             "someone walks into the room": "avatar_enter", "the visitor goes away": "avatar_leave",
             "the patient is haemorrhaging": "bleeding_start", "get the bleeding under control": "bleeding_stop"}
    got = {}
    for text, want in cases.items():
        try:
            got[text] = match_event(text)[0]
        except ValueError:
            got[text] = None
    return {"accuracy": round(float(np.mean([got[t] == w for t, w in cases.items()])), 3), "matched": got}


def figures_to_reach(r: dict, card: dict) -> list[dict]:
    """The issue's figures, each with what was measured and whether it is met."""
    rows = []
    fid = r.get("fidelity", {})
    hs = [str(h) for h in fid.get("horizons", [])]
    m = fid.get("psnr", {}).get("model", {})
    bases = [b for b in ("copy_last", "regressor") if b in fid.get("psnr", {})]
    if m and bases:
        margins = {h: min(m[h] - fid["psnr"][b][h] for b in bases) for h in hs}
        missing = "" if len(bases) == 2 else " (no regressor baseline in this model folder)"
        rows.append({"what": "beats both baselines at every horizon (PSNR)", "target": "> 0 dB at " + ", ".join(hs),
                     "measured": ", ".join(f"h{h}: {margins[h]:+.2f}" for h in hs) + missing,
                     "ok": all(v > 0 for v in margins.values()) and len(bases) == 2})
        far = [h for h in hs if h in ("16", "64")]
        rows.append({"what": "clear margin at 16 and 64", "target": ">= 1 dB",
                     "measured": ", ".join(f"h{h}: {margins[h]:+.2f}" for h in far) + missing,
                     "ok": bool(far) and all(margins[h] >= 1.0 for h in far) and len(bases) == 2})
    d = fid.get("delta_psnr", {}).get("model", {})
    if d:
        h = "16" if "16" in d else max(d, key=int)
        rows.append({"what": f"controllability ΔPSNR at {h} frames", "target": ">= 3 dB", "measured": f"{d[h]:.2f} dB",
                     "ok": d[h] >= 3.0})
    rv = r.get("revisit", {}).get("model", {})
    if rv.get("beyond_minus_inside") is not None:
        rows.append({"what": "revisit beyond the context window vs inside", "target": "within 3 dB",
                     "measured": f"{rv['beyond']:.2f} vs {rv['inside']:.2f} dB", "ok": rv["beyond_minus_inside"] >= -3.0})
    pr = r.get("prompt", {}).get("ratio", {})
    if pr:
        rows.append({"what": "prompt fidelity / judge on real frames", "target": ">= 0.80",
                     "measured": ", ".join(f"{k}: {v:.2f}" for k, v in pr.items()), "ok": min(pr.values()) >= 0.8})
    ev = r.get("events", {}).get("model", {})
    if ev.get("shown") is not None:
        rows.append({"what": "game-master events shown as the reference world shows them", "target": ">= 75% (ours)",
                     "measured": f"{ev['shown']:.0%} (change cosine {ev['cosine']:.2f})", "ok": ev["shown"] >= 0.75})
    sp = r.get("speed", {})
    if sp:
        rows.append({"what": "live speed (unpaced generation)", "target": ">= 25 fps, p95 <= 60 ms",
                     "measured": f"{sp['fps']} fps, p95 {sp['p95_ms']} ms", "ok": sp["fps"] >= 25 and sp["p95_ms"] <= 60})
    st = r.get("stability", {})
    if st:
        rows.append({"what": f"{st['ticks']}-tick rollout stays in the range of real frames, answers controls",
                     "target": ">= 95% in range, control ratio >= 0.5",
                     "measured": f"{st['in_range']:.0%} in range, control ratio {st['control_ratio']:.2f}",
                     "ok": st["in_range"] >= 0.95 and st["control_ratio"] >= 0.5})
    tr = card.get("training", {})
    t = tr.get("timings_s", {})
    if t:
        train_s = t.get("training_s", t.get("total_s"))
        if tr.get("from_scratch"):
            rows.append({"what": "trained from scratch on this machine", "target": "<= 60 min",
                         "measured": f"{train_s / 60:.1f} min", "ok": train_s <= 3600})
        else:  # resumed or seeded from another run: the card's timings are only part of the cost
            rows.append({"what": "trained from scratch on this machine", "target": "<= 60 min",
                         "measured": f"{train_s / 60:.1f} min as recorded, not from one run from scratch (see the "
                                     "card's provenance)", "ok": None})
    size = sum(f.get("bytes", 0) for f in card.get("files", {}).values())
    if size:
        rows.append({"what": "model on disk (weights, regressor baseline included)", "target": "<= 25 MB",
                     "measured": f"{size / 1e6:.1f} MB", "ok": size <= 25e6})
    return rows


def run_eval(model_dir=None, *, config: EvalConfig | None = None, seed: int = 0, out: Path | None = None,
             progress: bool = True, log=print, judge_cache: Path | None = None,
             sampling: dict | None = None) -> dict:
    """Evaluate the model in ``model_dir`` (default: the shipped model); returns the results
    dict (also written to ``out/results.json`` with ``out/report.html`` when ``out`` is given).
    ``sampling`` overrides fields of the card's :class:`~engine.model.world_model.Sampling`
    (``{"cfg_action": 1.5}``) for the model, not for the regressor baseline.
    Raises :class:`~engine.model.io.ModelError` for an unloadable model folder."""
    import torch

    from ..bench import run_bench
    from ..model.io import DEFAULT_MODEL_DIR, ModelError, load_regressor, load_world_model
    from .baselines import CopyLastFrame
    from .fidelity import evaluate_fidelity
    from .probes import event_fidelity, long_rollout, revisit_consistency
    from .report import Strip, write_report

    config = config or EvalConfig()
    model_dir = Path(model_dir or DEFAULT_MODEL_DIR)
    t_start = time.perf_counter()
    model = load_world_model(model_dir, seed=seed, **(sampling or {}))
    card = model.card
    try:
        regressor = load_regressor(model_dir, seed=seed)
    except ModelError as exc:
        log(f"note: {exc}; the regressor baseline is left out")
        regressor = None
    methods = {"model": model, "copy_last": CopyLastFrame(model.resolution)}
    if regressor is not None:
        methods["regressor"] = regressor
    results: dict = {"title": f"ved eval — {card.get('name', model_dir.name)}",
                     "model": {"dir": str(model_dir), "name": card.get("name"), "sampling": asdict(model.sampling),
                               "eval_scene_seeds": f"[{HELD_OUT_SEED_BASE}, {2 * HELD_OUT_SEED_BASE})",
                               "seed": seed, "torch_threads": torch.get_num_threads()}}
    strips, timings = [], {}

    def stage(name):
        timings[name] = round(time.perf_counter() - stage.t0, 1)
        stage.t0 = time.perf_counter()
        log(f"eval: {name} done ({timings[name]} s)")
    stage.t0 = time.perf_counter()

    eps = held_out_episodes(config.episodes, config.episode_length, seed)
    H = max(config.horizons)
    fid, ex = evaluate_fidelity(methods, eps, horizons=config.horizons, per_episode=config.starts_per_episode,
                                seed=seed)
    results["fidelity"] = fid
    ticks = [h for h in (1, 2, 4, 8, 16, 32, 64) if h <= H]
    strips.append(Strip("Open-loop rollout under the true actions (held-out scene)",
                        [(k, ex[k][[t - 1 for t in ticks]]) for k in ("model", "regressor", "reference") if k in ex],
                        caption=f"start tick {ex.get('start')}", ticks=ticks))
    stage("fidelity")

    ctx = model.dyn.cfg.context
    scenes = held_out_scenes(max(config.revisit_scenes, config.event_scenes), seed)
    rev_methods = {k: v for k, v in methods.items() if k != "copy_last"}
    results["revisit"], ex = revisit_consistency(rev_methods, scenes[:config.revisit_scenes], ctx)
    results["revisit"]["note"] = ("copy-last-frame is left out: holding the first frame is trivially perfect on a "
                                  f"return; the context window is {ctx} frames")
    if "reference" in ex:
        sel = list(range(3, 32, 4))
        strips.append(Strip("360° turn in place: the return is beyond the context window",
                            [(k, ex[k][sel]) for k in ("model", "regressor", "reference") if k in ex],
                            ticks=[s + 1 for s in sel]))
    stage("revisit")

    results["events"], ex = event_fidelity(methods, scenes[:config.event_scenes])
    results["events"]["free_text_matching"] = _event_text_matching()
    if "reference" in ex:
        strips.append(Strip("Game-master event 'alarm_on' at tick 5 (standing still)",
                            [(k, ex[k][::2]) for k in ("model", "regressor", "reference") if k in ex],
                            ticks=list(range(1, 17, 2))))
    stage("events")

    if model.dyn.cfg.text_dim:
        from .judge import judge_accuracy_on_real, load_or_train_judge
        from .prompting import prompt_fidelity

        from ..cache import cache_dir

        cache = judge_cache or cache_dir() / "judge"
        judge = load_or_train_judge(cache, seed=0, progress=progress, log=log, training=config.judge_training)
        results["prompt"], ex = prompt_fidelity(model, judge, held_out_scenes(config.prompt_scenes, seed + 1),
                                                seed=seed)
        results["prompt"]["judge_on_real_frames"] = {k: round(v, 3) for k, v in judge_accuracy_on_real(
            judge, max(3, config.prompt_scenes), seed + 2).items()}
        if ex:
            sel = list(range(0, 32, 4))
            strips.append(Strip("From text alone, then a 360° turn", [("generated", ex["generated"][sel]),
                                ("reference", ex["reference"][sel])], caption=ex["prompt"], ticks=sel))
    else:
        results["prompt"] = {"note": "this model is not text-conditioned"}
    stage("prompt")

    results["stability"], samples = long_rollout(model, scenes[0], ticks=config.long_ticks, seed=seed)
    if len(samples):
        strips.append(Strip(f"{config.long_ticks}-tick rollout, evenly spaced frames", [("model", samples)]))
    stage("stability")

    from ..scenario import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "operating_room_bleeding.toml")
    b = run_bench(scenario, frames=config.bench_frames, model=str(model_dir), seed=seed, sampling=sampling)
    results["speed"] = {k: b[k] for k in ("fps", "median_ms", "p95_ms", "sampling_steps", "torch_threads")}
    results["speed"]["note"] = "unpaced generation in a live session with a scripted trainee (ved bench)"
    stage("speed")

    results["figures_to_reach"] = figures_to_reach(results, card)
    results["timings_s"] = {**timings, "total": round(time.perf_counter() - t_start, 1)}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        write_report(out, results, strips)
        results["report"] = str((out / "report.html").resolve())
    return results


def parse_sampling(items: list[str]) -> dict:
    """``["cfg_action=1.5", "steps=1"]`` → ``{"cfg_action": 1.5, "steps": 1}``. Raises
    ``ValueError`` naming an unknown or malformed setting and the known ones."""
    from ..model.world_model import Sampling

    known = Sampling.__dataclass_fields__
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(f"--sampling {item!r}: expected KEY=VALUE with KEY one of {', '.join(known)}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"--sampling {item!r}: the value must be a number or true/false") from None
    return out


def write_card_metrics(model_dir: Path, results: dict) -> None:
    """Store the eval figures in the model card, with the sampling settings they were
    measured under (which become the card's sampling). The weights' hashes are untouched."""
    path = Path(model_dir) / "model_card.json"
    card = json.loads(path.read_text())
    card["eval"] = {k: results[k] for k in ("fidelity", "revisit", "events", "prompt", "stability", "speed",
                                            "figures_to_reach") if k in results}
    card["eval"]["command"] = "ved eval --model DIR --json"
    card["sampling"] = results["model"]["sampling"]
    path.write_text(json.dumps(card, indent=2) + "\n")
