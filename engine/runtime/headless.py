"""Play a scenario without a display: scripted trainee, unpaced, recorded.

Used by ``ved run SCENARIO --headless`` and by ``ved`` on a machine with no display.
"frames per second" here is generation throughput, unpaced (DESIGN.md §4).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import numpy as np

from ..actions import read_actions
from ..world.policy import ExplorationPolicy
from .recorder import Recorder, video_scale
from .session import RecorderSink, Role, Session

#: Where recordings go unless ``--record`` says otherwise (relative to the working folder).
DEFAULT_RECORDINGS = Path("recordings")


def default_record_dir(scenario_title: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", scenario_title.lower()).strip("-")[:40] or "session"
    return DEFAULT_RECORDINGS / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{slug}"


def load_model(model: str | None, *, seed: int = 0, sampling: dict | None = None):
    """``None``/a folder → the learned model; ``"reference"`` → the reference world.
    ``sampling`` overrides fields of the model card's :class:`Sampling` (e.g. ``cfg_action``)."""
    if model == "reference":
        from ..model.interface import ReferenceWorldModel

        return ReferenceWorldModel()
    from ..model.io import load_world_model

    return load_world_model(model, seed=seed, **(sampling or {}))


def run_headless(scenario, *, frames: int, actions_file: str | Path | None = None,
                 record_dir: str | Path | None = None, model=None, seed: int = 0, log=print) -> dict:
    """Play ``scenario`` for ``frames`` ticks; returns the figures printed as the last line.

    The trainee is scripted: the actions file (replayed, then held at rest once it runs
    out) or the exploration policy on the scenario's floor plan.
    """
    from .opening import open_scenario

    t_load = time.perf_counter()
    model = model if model is not None and not isinstance(model, str) else load_model(model, seed=seed)
    prompt, scene = open_scenario(scenario, model.resolution)
    session = Session(scenario, model, prompt, scene=scene)
    record_dir = (Path(record_dir) if record_dir else default_record_dir(scenario.title)).resolve()
    recorder = Recorder(record_dir, tick_hz=session.tick_hz, scale=video_scale(model.resolution),
                        meta={"scenario": scenario.title, "scenario_file": str(scenario.source_path or ""),
                              "model": getattr(model, "name", "?"), "seed": seed})
    RecorderSink(session, recorder)
    trainee = session.connect(Role.TRAINEE, maxlen=1)
    if actions_file is not None:
        actions = read_actions(actions_file)

        def script(s: Session) -> None:
            trainee.set_action(actions[s.tick] if s.tick < len(actions) else np.zeros(4, np.float32))
    else:
        policy = ExplorationPolicy(session.scene, np.random.default_rng(seed))

        def script(s: Session) -> None:
            trainee.set_action(policy.act(s.pose))

    times = []
    try:
        session.start()
        first_frame_s = time.perf_counter() - t_load
        if session.notice:
            log(f"note: {session.notice}")
        for _ in range(frames):
            script(session)
            t0 = time.perf_counter()
            session.step()
            times.append(time.perf_counter() - t0)
    finally:
        session.end()
        summary = recorder.close()
    ms = np.asarray(times) * 1000 if times else np.zeros(1)
    return {
        "frames": len(times),
        "fps": round(len(times) / max(1e-9, float(np.sum(ms)) / 1000), 1),
        "median_ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "first_frame_s": round(first_frame_s, 2),
        "events": len(session.event_log),
        "model": getattr(model, "name", "?"),
        "recording": str(record_dir),
        "video": str(summary.session_mp4) if summary.session_mp4 else None,
        "contact_sheet": str(summary.contact_sheet) if summary.contact_sheet else None,
    }
