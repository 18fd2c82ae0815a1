"""The inference path chosen per machine (issue 26): which runtime runs the decoder and which
the dynamics model, measured once per model, library versions and processor, then cached.

``auto`` rolls a calibration session (the default scenario, a scripted trainee, 30 ticks) out
on torch float32, the reference, and on every other runtime this machine can run
(:func:`candidate_runtimes`: OpenVINO float32, and OpenVINO bfloat16 only where the
processor has native bf16). A runtime is admitted only if every frame of its rollout stays
within :data:`MIN_PSNR_DB` of the reference's frame at the same tick (same seed, same
actions); for each network the admitted runtime with the lowest median time per tick wins,
where it beats torch by more than :data:`MIN_GAIN`; a mix of runtimes is rolled out once
more and must pass the same check. The record (``choice.json``) and the runtimes' exported
graphs live in ``$VED_CACHE/inference/<key>/``, where the key hashes the model's weights
(their sha256 in the model card), torch's and OpenVINO's versions, the CPU model and flags,
the thread count and the device. A record that does not parse, names a runtime this machine
cannot run, belongs to another key or whose graph files changed is measured again, never
trusted.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..cache import cache_dir
from ..eval.metrics import psnr  # capped at 60 dB, as ved eval reports it
from ..machine import FLAGS_THAT_MATTER, PATH_CHOICES, cpu_flags, cpu_name, native_bf16
from ..model.runtimes import OpenVinoRuntime, RuntimeUnavailable, TorchRuntime, openvino_available

#: Every calibration frame must be at least this close to torch float32's (PSNR, dB).
MIN_PSNR_DB = 40.0
#: Ticks of the calibration rollout, and the first ticks left out of its timing (export,
#: compilation and the runtimes' own warm-up happen there).
CALIBRATION_TICKS = 30
WARMUP_TICKS = 5
#: A runtime replaces torch for a network only when it is this much faster (share of the
#: network's median time per tick): below it the difference is noise.
MIN_GAIN = 0.03
#: The record's format: a record of another version is measured again.
RECORD_VERSION = 1

_DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "operating_room_bleeding.toml"


def candidate_runtimes(flags: frozenset[str] | None = None, *, device: str = "cpu",
                       have_openvino: bool | None = None) -> list[str]:
    """The runtimes this machine can run, reference first: torch float32 always; on the CPU,
    OpenVINO float32 where the package imports and OpenVINO bf16 where the processor also has
    native bf16 (``flags``: the CPU's flags, default this machine's)."""
    if device != "cpu":
        return ["torch-fp32"]
    have = openvino_available() if have_openvino is None else have_openvino
    out = ["torch-fp32"]
    if have:
        out.append("openvino-fp32")
        if native_bf16(flags):
            out.append("openvino-bf16")
    return out


def _versions() -> dict:
    import torch

    try:
        import openvino

        ov = openvino.__version__
    except ImportError:
        ov = None
    return {"torch": torch.__version__, "openvino": ov, "python": platform.python_version()}


def path_key(model, *, threads: int | None = None) -> tuple[str, dict]:
    """The cache key of ``model``'s path choice on this machine, and what it was made from."""
    import torch

    card = getattr(model, "card", None) or {}
    weights = {name: f.get("sha256") for name, f in sorted(card.get("files", {}).items())}
    if not weights:  # a model built in memory: its weights themselves
        h = hashlib.sha256()
        for net in (model.ae, model.dyn):
            for name, t in sorted(net.state_dict().items()):
                h.update(name.encode())
                h.update(t.detach().cpu().numpy().tobytes())
        weights = {"state_dict": h.hexdigest()}
    flags = cpu_flags()
    parts = {"weights": weights, **_versions(), "cpu": cpu_name(),
             "flags": [f for f in FLAGS_THAT_MATTER if f in flags],
             "threads": int(threads or torch.get_num_threads()), "device": str(model.device)}
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return key, parts


def _make_runtime(name: str, model, folder: Path):
    if name == "torch-fp32":
        return TorchRuntime(model.ae, model.dyn)
    return OpenVinoRuntime(model.ae, model.dyn, precision=name.split("-")[1], folder=folder / name)


class _Timed:
    """A runtime that adds the time of each call to a per-tick total."""

    def __init__(self, inner):
        self.inner, self.name, self.now = inner, inner.name, 0.0

    def _timed(self, call, *a):
        t = time.perf_counter()
        try:
            return call(*a)
        finally:
            self.now += time.perf_counter() - t

    def decode(self, *a):
        return self._timed(self.inner.decode, *a)

    def dynamics(self, *a):
        return self._timed(self.inner.dynamics, *a)


def calibration_rollout(model, decoder, dynamics, scenario, *, ticks: int | None = None, seed: int = 0) -> dict:
    """Roll ``scenario`` out for ``ticks`` ticks (default :data:`CALIBRATION_TICKS`) on
    ``model`` with these runtimes (a scripted trainee, seed ``seed``, top quality rung): the
    frames uint8 ``(H, W, 3)``, and the median time per tick each network took after
    :data:`WARMUP_TICKS` (``decoder_ms``, ``dynamics_ms``, milliseconds)."""
    ticks = ticks or CALIBRATION_TICKS
    warmup = min(WARMUP_TICKS, ticks - 1)
    from ..world.policy import ExplorationPolicy
    from .session import Role
    from .wiring import open_live_session

    dec, dyn = _Timed(decoder), _Timed(dynamics)
    before = (model.decoder_runtime, model.dynamics_runtime)
    model.set_runtimes(dec, dyn)
    try:
        session = open_live_session(scenario, model, seed=seed, record=False,
                                    quality="high" if model.quality_levels else None).session
        trainee = session.connect(Role.TRAINEE, seat=0, maxlen=1)
        policy = ExplorationPolicy(session.scene, np.random.default_rng(seed))
        session.start()
        frames, dec_ms, dyn_ms = [], [], []
        for i in range(ticks):
            trainee.set_action(policy.act(session.participants[0].pose))
            dec.now = dyn.now = 0.0
            session.step()
            frames.append(session.last_frame.copy())
            if i >= warmup:
                dec_ms.append(dec.now * 1000)
                dyn_ms.append(dyn.now * 1000)
        session.end(reason="calibration")
    finally:
        model.set_runtimes(*before)
    return {"frames": frames, "decoder_ms": float(np.median(dec_ms)), "dynamics_ms": float(np.median(dyn_ms))}


def _record_ok(record, key: str, candidates: list[str]) -> str | None:
    """Why ``record`` cannot be trusted, or None when it can."""
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return "it is of another format"
    if record.get("key") != key:
        return "it was measured for another model, library version or processor"
    for net in ("decoder", "dynamics"):
        if record.get(net) not in candidates:
            return f"its {net} runtime {record.get(net)!r} cannot run here"
    return None


def _cached_runtimes(model, folder: Path, record: dict):
    """The runtimes ``record`` names, or None when a graph file it lists is missing or changed."""
    built = {}
    for name in {record["decoder"], record["dynamics"]}:
        rt = _make_runtime(name, model, folder)
        if name != "torch-fp32" and not rt.verify():
            return None
        built[name] = rt
    return built[record["decoder"]], built[record["dynamics"]]


def choose_path(model, path: str = "auto", *, scenario=None, progress: Callable[[str], None] | None = print,
                folder: Path | None = None) -> dict:
    """Put the inference path ``path`` on ``model`` (a :class:`LatentWorldModel`) and return
    what was chosen: ``{"decoder", "dynamics", "cached", "measured", "folder"}`` (``measured``:
    per runtime its decoder and dynamics milliseconds per tick and the lowest PSNR of its
    frames against torch float32, where this call or the cached record measured them).

    ``path``: ``"auto"`` (the cached choice, measured first when there is none; see the
    module's doc) or one of :data:`RUNTIME_NAMES` for both networks. ``scenario``: the
    calibration scenario (default: the shipped default scenario). ``progress`` gets a line
    when something slow (measuring, exporting) happens. Raises ``ValueError`` for an unknown
    path, :class:`RuntimeUnavailable` for a named runtime this machine cannot run."""
    if path not in PATH_CHOICES:
        raise ValueError(f"unknown inference path {path!r}; choose one of {', '.join(PATH_CHOICES)}")
    say = progress or (lambda _text: None)
    key, parts = path_key(model)
    folder = Path(folder) if folder else cache_dir() / "inference" / key[:24]
    candidates = candidate_runtimes(device="cpu" if str(model.device) == "cpu" else "gpu")
    if path != "auto":
        if path not in candidates:
            why = ("the model runs on a GPU" if str(model.device) != "cpu" else
                   "the openvino package is not installed" if not openvino_available() else
                   "this processor has no native bf16 (AVX512_BF16 or AMX)")
            raise RuntimeUnavailable(f"inference path {path} cannot run here: {why}; use --path auto or one of "
                                     f"{', '.join(candidates)}")
        rt = _make_runtime(path, model, folder)
        model.set_runtimes(rt, rt)
        return {"decoder": path, "dynamics": path, "cached": False, "measured": {}, "folder": str(folder)}
    record_file = folder / "choice.json"
    if record_file.exists():
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            record, why = None, "it does not parse"
        else:
            why = _record_ok(record, key, candidates)
        if why is None:
            runtimes = _cached_runtimes(model, folder, record)
            if runtimes is not None:
                model.set_runtimes(*runtimes)
                return {**{k: record[k] for k in ("decoder", "dynamics", "measured")}, "cached": True,
                        "folder": str(folder)}
            why = "its exported graphs are missing or changed on disk"
        say(f"inference path: the cached choice in {record_file} is not used ({why}); measuring again")
    return _measure(model, folder, key, parts, candidates, scenario, say)


def _measure(model, folder: Path, key: str, parts: dict, candidates: list[str], scenario, say) -> dict:
    from ..scenario.loader import load_scenario

    folder.mkdir(parents=True, exist_ok=True)  # graphs already exported and intact are kept
    scenario = scenario or load_scenario(_DEFAULT_SCENARIO)
    say(f"inference path: measuring {', '.join(candidates)} on this processor ({parts['cpu']}), once; "
        f"the choice is kept in {folder}")
    t0 = time.perf_counter()
    measured: dict[str, dict] = {}
    runtimes: dict[str, object] = {}
    ref = None
    for name in candidates:
        try:
            rt = _make_runtime(name, model, folder)
            run = calibration_rollout(model, rt, rt, scenario)
        except RuntimeUnavailable as exc:
            say(f"inference path: {name} left out ({exc})")
            continue
        runtimes[name] = rt
        if ref is None:
            ref = run["frames"]
        low = min(psnr(a, b) for a, b in zip(ref, run["frames"]))
        measured[name] = {"decoder_ms": round(run["decoder_ms"], 2), "dynamics_ms": round(run["dynamics_ms"], 2),
                          "min_psnr_db": round(low, 1)}
        say(f"inference path: {name}: decoder {run['decoder_ms']:.1f} ms, dynamics {run['dynamics_ms']:.1f} ms a tick, "
            f"frames within {low:.1f} dB of torch-fp32")
    admitted = [n for n, m in measured.items() if m["min_psnr_db"] >= MIN_PSNR_DB]
    for name in measured:
        if name not in admitted:
            say(f"inference path: {name} left out: its frames drifted to {measured[name]['min_psnr_db']} dB "
                f"from torch-fp32 (at least {MIN_PSNR_DB:.0f} dB needed)")
    choice = {}
    for net in ("decoder", "dynamics"):
        base = measured["torch-fp32"][f"{net}_ms"]
        best = min(admitted, key=lambda n: measured[n][f"{net}_ms"])
        choice[net] = best if measured[best][f"{net}_ms"] < base * (1 - MIN_GAIN) else "torch-fp32"
    if choice["decoder"] != choice["dynamics"]:
        # a mix was never rolled out as such: check it, else keep the faster single runtime
        mix = calibration_rollout(model, runtimes[choice["decoder"]], runtimes[choice["dynamics"]], scenario)
        low = min(psnr(a, b) for a, b in zip(ref, mix["frames"]))
        if low < MIN_PSNR_DB:
            say(f"inference path: the mix {choice} drew frames {low:.1f} dB from torch-fp32; not used")
            single = min(admitted, key=lambda n: measured[n]["decoder_ms"] + measured[n]["dynamics_ms"])
            choice = {"decoder": single, "dynamics": single}
    model.set_runtimes(runtimes[choice["decoder"]], runtimes[choice["dynamics"]])
    record = {"version": RECORD_VERSION, "key": key, "key_parts": parts, **choice, "measured": measured,
              "seconds": round(time.perf_counter() - t0, 1)}
    (folder / "choice.json").write_text(json.dumps(record, indent=2))
    say(f"inference path: decoder on {choice['decoder']}, dynamics on {choice['dynamics']} "
        f"(measured in {record['seconds']:.0f} s)")
    return {**{k: record[k] for k in ("decoder", "dynamics", "measured")}, "cached": False, "folder": str(folder)}


def describe(choice: dict | None) -> str:
    """One line naming the path: ``"openvino-fp32"`` when one runtime runs both networks,
    else ``"decoder torch-fp32, dynamics openvino-fp32"``."""
    if not choice:
        return "torch-fp32"
    if choice["decoder"] == choice["dynamics"]:
        return choice["decoder"]
    return f"decoder {choice['decoder']}, dynamics {choice['dynamics']}"
