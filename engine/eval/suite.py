"""``ved eval``: a world model measured against the reference world, baselines in the same run.

Runs, on held-out scene seeds (never trained on): open-loop fidelity (PSNR/SSIM at horizons)
and controllability (ΔPSNR) for the model, *copy last frame* and the *deterministic one-step
regressor*, and on the same rollouts what a person sees (sharpness, Fréchet distance in the
judge's features, object and person recall and precision; :mod:`engine.eval.perception`);
revisit consistency inside and beyond the context window; prompt fidelity (text only →
judge); event fidelity; a 5-minute rollout's stability and sharpness at its end; and live
speed. Writes ``results.json`` and ``report.html`` (plots and frame strips at the model's
full output size) into the output folder.
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

    episodes: int = 16
    episode_length: int = 120
    starts_per_episode: int = 2
    horizons: tuple[int, ...] = (1, 4, 16, 64)
    revisit_scenes: int = 9
    event_scenes: int = 6
    prompt_scenes: int = 9
    long_ticks: int = 6000
    #: Action splits (engine.eval.action_splits): held-out scenes and ticks per split, and
    #: the still rollout's length with events along the way (issue 25).
    split_scenes: int = 6
    split_ticks: int = 64
    still_ticks: int = 6000
    bench_frames: int = 300
    #: Judge training sizes (None: the default judge, cached; see engine.eval.judge).
    judge_training: dict | None = None

    @classmethod
    def quick(cls) -> "EvalConfig":
        return cls(episodes=2, episode_length=24, starts_per_episode=1, horizons=(1, 4, 16), revisit_scenes=1,
                   event_scenes=1, prompt_scenes=1, long_ticks=40, split_scenes=1, split_ticks=20, still_ticks=40,
                   bench_frames=10,
                   judge_training={"n_scenes": 12, "frames_per_scene": 2, "steps": 10, "batch": 8})


def held_out_scenes(n: int, seed: int) -> list:
    """``n`` held-out scenes, room types in turn."""
    rng = np.random.default_rng(seed + 104729)
    return [make_scene(ROOM_TYPES[i % len(ROOM_TYPES)], int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)))
            for i in range(n)]


def held_out_episodes(n: int, length: int, seed: int, resolution: int = 128) -> list:
    """``n`` held-out episodes (scene seeds never trained on) with the view labels of every
    frame, rendered at ``resolution``."""
    rng = np.random.default_rng(seed + 7919)
    world = ReferenceWorld(resolution)
    eps = [generate_episode(world, rng, length=length, labels=True,
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


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def figures_to_reach(r: dict, card: dict) -> list[dict]:
    """The issue's figures (issue 10, "World model II"), each with what was measured and
    whether it is met (None: not measured in this run)."""
    rows = []

    def row(what, target, measured, ok):
        rows.append({"what": what, "target": target, "measured": measured, "ok": ok})

    res = _get(r, "model", "resolution")
    if res:
        row("output size", ">= 128x128", f"{res}x{res}", res >= 128)
    fid = r.get("fidelity", {})
    sh = _get(fid, "sharpness", "model") or {}
    st = r.get("stability", {})
    if sh:
        g16, g64 = _get(sh, "16", "gradient"), _get(sh, "64", "gradient")
        end = _get(st, "sharpness_end", "gradient")
        row("sharpness (gradient ratio) at h=16 / h=64 / end of the long rollout", ">= 0.8 / 0.8 / 0.7",
            f"{g16} / {g64} / {end}",
            None if None in (g16, g64, end) else (g16 >= 0.8 and g64 >= 0.8 and end >= 0.7))
        l16 = _get(sh, "16", "laplacian")
        row("sharpness (Laplacian ratio) at h=16", ">= 0.5", f"{l16}", None if l16 is None else l16 >= 0.5)
    fd = fid.get("fd_judge", {})
    if _get(fd, "model", "64") is not None:
        m, floor, reg = fd["model"]["64"], _get(fd, "real_floor", "64"), _get(fd, "regressor", "64")
        ok = floor is not None and m <= 3 * floor and (reg is None or m < reg)
        row("fd_judge at h=64: within 3x the real-vs-real floor, below the regressor's",
            "<= 3x floor, < regressor", f"{m} (floor {floor}, regressor {reg}, copy-last "
                                         f"{_get(fd, 'copy_last', '64')})", ok if reg is not None else None)
    rec, prec = _get(fid, "object_recall", "model") or {}, _get(fid, "object_precision", "model") or {}
    if rec:
        real_r, real_p = _get(fid, "object_recall", "judge_on_real") or {}, _get(fid, "object_precision", "judge_on_real") or {}
        r16, r64, p16, p64 = rec.get("16"), rec.get("64"), prec.get("16"), prec.get("64")
        row("object recall at h=16 / h=64; precision at 16 / 64", ">= 0.7 / 0.5; >= 0.7",
            f"{r16} / {r64}; {p16} / {p64} (judge on real frames: recall {real_r.get('16')} / {real_r.get('64')}, "
            f"precision {real_p.get('16')} / {real_p.get('64')})",
            None if None in (r16, r64, p16, p64) else (r16 >= 0.7 and r64 >= 0.5 and p16 >= 0.7 and p64 >= 0.7))
    pr = _get(fid, "person_recall", "model") or {}
    if pr:
        v = pr.get("16")
        row("person recall at h=16", ">= 0.8", f"{v} (judge on real frames: "
                                               f"{_get(fid, 'person_recall', 'judge_on_real', '16')})",
            None if v is None else v >= 0.8)
    m = fid.get("psnr", {}).get("model", {})
    bases = [b for b in ("copy_last", "regressor") if b in fid.get("psnr", {})]
    if m and bases:
        far = [h for h in ("16", "64") if h in m]
        margins = {h: min(m[h] - fid["psnr"][b][h] for b in bases) for h in far}
        missing = "" if len(bases) == 2 else " (no regressor baseline in this model folder)"
        row("PSNR beats both baselines at h=16 and h=64", "> 0 dB",
            ", ".join(f"h{h}: {margins[h]:+.2f}" for h in far) + missing,
            bool(far) and all(v > 0 for v in margins.values()) and len(bases) == 2)
    d = fid.get("delta_psnr", {}).get("model", {})
    if d:
        h = "16" if "16" in d else max(d, key=int)
        row(f"controllability ΔPSNR at {h} frames", ">= 3 dB", f"{d[h]:.2f} dB", d[h] >= 3.0)
    rv = r.get("revisit", {}).get("model", {})
    if rv.get("beyond_minus_inside") is not None:
        row("revisit beyond the context window vs inside", "within 3 dB",
            f"{rv['beyond']:.2f} vs {rv['inside']:.2f} dB", rv["beyond_minus_inside"] >= -3.0)
    ev = r.get("events", {}).get("model", {})
    if ev.get("shown") is not None:
        per = ev.get("per_event", {})
        worst = min(per.values()) if per else ev["shown"]
        row("game-master events shown, every kind", ">= 0.8 each",
            f"{ev['shown']:.2f} overall, worst kind {worst:.2f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in per.items()) + ")", worst >= 0.8)
    pf = r.get("prompt", {}).get("ratio", {})
    if pf:
        row("prompt fidelity / judge on real frames", ">= 0.80", ", ".join(f"{k}: {v:.2f}" for k, v in pf.items()),
            min(pf.values()) >= 0.8)
    sp = r.get("speed", {})
    if sp:
        row("live speed with decoding to full size (unpaced)", ">= 25 fps, p95 <= 50 ms",
            f"{sp['fps']} fps, p95 {sp['p95_ms']} ms", sp["fps"] >= 25 and sp["p95_ms"] <= 50)
    if st.get("in_range") is not None:
        row(f"{st['ticks']}-tick rollout stays in the range of real frames, answers controls",
            ">= 95% in range, control ratio >= 0.5", f"{st['in_range']:.0%} in range, control ratio {st['control_ratio']:.2f}",
            st["in_range"] >= 0.95 and st["control_ratio"] >= 0.5)
    rows.extend(_split_figures(r))
    tr = card.get("training", {})
    t = tr.get("timings_s", {})
    if t or "model_training_s" in tr:
        cap = 3600 if tr.get("budget") == "quick" else 8 * 3600
        label = "<= 60 min" if cap == 3600 else "<= 8 h on 2 CPU cores"
        what = f"training time ({tr.get('budget', 'full')} budget)"
        if "model_training_s" in tr:  # the stage ledger: every invocation that worked on the run
            train_s = tr["model_training_s"]
            row(what, label, f"{train_s / 3600:.2f} h over all invocations (stage ledger in the card)",
                train_s <= cap)
        elif tr.get("from_scratch"):
            train_s = t.get("training_s", t.get("total_s"))
            row(what, label, f"{train_s / 3600:.2f} h as recorded", train_s <= cap)
        else:  # resumed before the ledger existed: the last invocation's time is not the cost
            row(what, label, "not recorded: the run was resumed and its card predates the stage ledger", None)
    size = sum(f.get("bytes", 0) for f in card.get("files", {}).values())
    if size:
        row("model on disk (weights, regressor baseline included)", "<= 40 MB", f"{size / 1e6:.1f} MB", size <= 40e6)
    return rows


#: The parts of ``ved eval``, in the order they run (``--only`` picks some).
SECTIONS = ("fidelity", "action_splits", "still_long", "revisit", "events", "prompt", "stability", "speed")


def _split_figures(r: dict) -> list[dict]:
    """Issue 25's figures: the still trainee (the split and the long rollout with events),
    and the other splits against issue 10's targets (gradient ratio ≥ 0.8, object recall ≥
    0.7, PSNR above both baselines)."""
    rows = []

    def row(what, target, measured, ok):
        rows.append({"what": what, "target": target, "measured": measured, "ok": ok})

    sp = r.get("action_splits") or {}
    st = sp.get("still")
    if st:
        p, g, rec = _get(st, "psnr_after", "model"), _get(st, "sharpness", "model", "gradient"), \
            _get(st, "object_recall", "model")
        row("still trainee (split): PSNR after tick 16 / gradient ratio / object recall",
            ">= 30 dB / 0.8–1.2 / >= 0.8", f"{p} dB / {g} / {rec} (copy-last {_get(st, 'psnr_after', 'copy_last')} dB)",
            None if None in (p, g, rec) else (p >= 30 and 0.8 <= g <= 1.2 and rec >= 0.8))
    lo = r.get("still_long", {}).get("model")
    if lo:
        worst = min(lo["psnr"].values()) if lo["psnr"] else None
        g, ev = _get(lo, "sharpness", "gradient"), lo.get("events_shown")
        ticks = r["still_long"].get("ticks")
        row(f"still trainee for {ticks} ticks with events: PSNR at every horizon (worst sampled tick) / gradient "
            "ratio / events shown", ">= 30 dB / 0.8–1.2 / >= 0.9",
            ", ".join(f"h{h}: {v}" for h, v in lo["psnr"].items()) + f" (worst {lo.get('psnr_min')}) / {g} / {ev}",
            None if None in (worst, g, ev) else (worst >= 30 and (lo.get("psnr_min") or 0) >= 30
                                                 and 0.8 <= g <= 1.2 and ev >= 0.9))
    if lo and lo.get("divergence_over_1") is not None:
        row(f"re-anchorings the safety net would make in the {r['still_long'].get('ticks')}-tick still rollout", "0",
            f"{lo['divergence_over_1']} (highest divergence score {lo.get('divergence_max')})",
            lo["divergence_over_1"] == 0)
    for split in ("slow_look", "head_jitter", "stop_and_go"):
        d = sp.get(split)
        if not d:
            continue
        p = d["psnr_after"]
        bases = [b for b in ("copy_last", "regressor") if b in p]
        margin = min(p["model"] - p[b] for b in bases) if bases else None
        g, rec = _get(d, "sharpness", "model", "gradient"), _get(d, "object_recall", "model")
        row(f"{split.replace('_', ' ')}: gradient ratio / object recall / PSNR after tick 16 over both baselines",
            ">= 0.8 / >= 0.7 / > 0 dB", f"{g} / {rec} / {margin:+.2f} dB ({p['model']} dB)" if margin is not None
            else f"{g} / {rec} / n/a", None if None in (g, rec, margin) or len(bases) < 2
            else (g >= 0.8 and rec >= 0.7 and margin > 0))
    return rows


def run_eval(model_dir=None, *, config: EvalConfig | None = None, seed: int = 0, out: Path | None = None,
             progress: bool = True, log=print, judge_cache: Path | None = None,
             sampling: dict | None = None, only: list[str] | None = None, device: str | None = None) -> dict:
    """Evaluate the model in ``model_dir`` (default: the shipped model); returns the results
    dict (also written to ``out/results.json`` with ``out/report.html`` when ``out`` is given).
    ``sampling`` overrides fields of the card's :class:`~engine.model.world_model.Sampling`
    (``{"cfg_action": 1.5}``) for the model, not for the regressor baseline. ``only``: run
    just these of :data:`SECTIONS` (ablation rows); None runs them all. ``device``: where the
    world model runs (:func:`engine.machine.resolve_device`; default auto). The model runs on
    torch float32, the reference path, whatever ``ved run`` chose on this machine.
    Raises :class:`~engine.model.io.ModelError` for an unloadable model folder, ``ValueError``
    for a section name not in :data:`SECTIONS`."""
    unknown = sorted(set(only or []) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown eval section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")

    def want(section: str) -> bool:
        return only is None or section in only

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
    from ..machine import resolve_device

    model = load_world_model(model_dir, seed=seed, device=resolve_device(device), **(sampling or {}))
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
                               "resolution": model.resolution,
                               "eval_scene_seeds": f"[{HELD_OUT_SEED_BASE}, {2 * HELD_OUT_SEED_BASE})",
                               "seed": seed, "torch_threads": torch.get_num_threads(), "device": str(model.device)}}
    strips, timings = [], {}

    def stage(name):
        timings[name] = round(time.perf_counter() - stage.t0, 1)
        stage.t0 = time.perf_counter()
        log(f"eval: {name} done ({timings[name]} s)")
    stage.t0 = time.perf_counter()

    from ..cache import cache_dir
    from .judge import load_or_train_judge

    judge = None
    if any(want(k) for k in ("fidelity", "action_splits", "prompt")):
        judge = load_or_train_judge(judge_cache or cache_dir() / "judge", seed=0, progress=progress, log=log,
                                    training=config.judge_training)
        stage("judge")
    res = model.resolution
    if want("fidelity"):
        eps = held_out_episodes(config.episodes, config.episode_length, seed, res)
        floor_eps = held_out_episodes(config.episodes, config.episode_length, seed + 50021, res)
        H = max(config.horizons)
        fid, ex = evaluate_fidelity(methods, eps, horizons=config.horizons, per_episode=config.starts_per_episode,
                                    seed=seed, judge=judge, floor_episodes=floor_eps)
        fid["note"] = ("perception measures at horizon h are over rollout ticks (3h/4, h]; fd_judge is against true "
                       "frames of other held-out episodes at the same ticks, real_floor the truth frames against them")
        results["fidelity"] = fid
        ticks = [h for h in (1, 2, 4, 8, 16, 32, 64) if h <= H]
        strips.append(Strip("Open-loop rollout under the true actions (held-out scene)",
                            [(k, ex[k][[t - 1 for t in ticks]]) for k in ("model", "regressor", "reference")
                             if k in ex], caption=f"start tick {ex.get('start')}", ticks=ticks))
        stage("fidelity")
    from .action_splits import evaluate_action_splits, still_long_rollout

    split_scenes = held_out_scenes(config.split_scenes, seed + 25)
    if want("action_splits"):
        results["action_splits"], ex = evaluate_action_splits(methods, split_scenes, ticks=config.split_ticks,
                                                              judge=judge, seed=seed, resolution=res)
        results["action_splits"]["note"] = ("open-loop from the opening frame of held-out scenes under scripted "
                                            "actions (engine/eval/action_splits.py); psnr_after, sharpness and recall "
                                            "over the ticks after 16")
        for split, frames in ex.items():
            sel = [t for t in (1, 4, 8, 16, 24, 32, 48, 64) if t <= config.split_ticks]
            strips.append(Strip(f"Action split '{split}' (held-out scene)",
                                [(k, frames[k][[t - 1 for t in sel]]) for k in ("model", "regressor", "reference")
                                 if k in frames], ticks=sel))
        stage("action_splits")
    if want("still_long"):
        results["still_long"], samples = still_long_rollout(methods, split_scenes[0], ticks=config.still_ticks,
                                                            seed=seed, resolution=res)
        strips.append(Strip(f"A still trainee for {config.still_ticks} ticks, events every 300 ticks",
                            [(k, samples[k]) for k in ("model", "regressor", "reference") if k in samples]))
        stage("still_long")
    ctx = model.dyn.cfg.context
    scenes = held_out_scenes(max(config.revisit_scenes, config.event_scenes), seed)
    if want("revisit"):
        rev_methods = {k: v for k, v in methods.items() if k != "copy_last"}
        results["revisit"], ex = revisit_consistency(rev_methods, scenes[:config.revisit_scenes], ctx, res)
        results["revisit"]["note"] = ("copy-last-frame is left out: holding the first frame is trivially perfect on a "
                                      f"return; the context window is {ctx} frames")
        if "reference" in ex:
            sel = list(range(3, 32, 4))
            strips.append(Strip("360° turn in place: the return is beyond the context window",
                                [(k, ex[k][sel]) for k in ("model", "regressor", "reference") if k in ex],
                                ticks=[s + 1 for s in sel]))
        stage("revisit")
    if want("events"):
        results["events"], ex = event_fidelity(methods, scenes[:config.event_scenes], resolution=res)
        results["events"]["free_text_matching"] = _event_text_matching()
        if "reference" in ex:
            strips.append(Strip("Game-master event 'alarm_on' at tick 5 (standing still)",
                                [(k, ex[k][::2]) for k in ("model", "regressor", "reference") if k in ex],
                                ticks=list(range(1, 17, 2))))
        stage("events")
    if want("prompt"):
        if model.dyn.cfg.text_dim:
            from .judge import judge_accuracy_on_real
            from .prompting import prompt_fidelity

            results["prompt"], ex = prompt_fidelity(model, judge, held_out_scenes(config.prompt_scenes, seed + 1),
                                                    seed=seed)
            results["prompt"]["judge_on_real_frames"] = {k: round(v, 3) for k, v in judge_accuracy_on_real(
                judge, max(3, config.prompt_scenes), seed + 2, res).items()}
            if ex:
                sel = list(range(0, 32, 4))
                strips.append(Strip("From text alone, then a 360° turn", [("generated", ex["generated"][sel]),
                                    ("reference", ex["reference"][sel])], caption=ex["prompt"], ticks=sel))
        else:
            results["prompt"] = {"note": "this model is not text-conditioned"}
        stage("prompt")
    if want("stability"):
        results["stability"], samples = long_rollout(model, scenes[0], ticks=config.long_ticks, seed=seed,
                                                     resolution=res)
        if len(samples):
            strips.append(Strip(f"{config.long_ticks}-tick rollout, evenly spaced frames", [("model", samples)]))
        stage("stability")
    if want("speed"):
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
    card["eval"]["resolution"] = results["model"].get("resolution")
    card["eval"]["command"] = "ved eval --model DIR --json"
    card["sampling"] = results["model"]["sampling"]
    path.write_text(json.dumps(card, indent=2) + "\n")
