"""Play a scenario without a display: scripted trainee, unpaced, recorded.

Used by ``ved run SCENARIO --headless`` and by ``ved`` on a machine with no display.
"frames per second" here is generation throughput, unpaced (DESIGN.md §4).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..actions import ActionError, read_actions
from ..world.policy import ExplorationPolicy
from .session import Role, Session
from .wiring import default_record_dir, inference_path_of, open_live_session


def run_headless(scenario, *, frames: int, actions_file: str | Path | None = None,
                 record_dir: str | Path | None = None, model=None, seed: int = 0, log=print,
                 quality: str | None = "auto", device: str | None = None, path: str = "torch-fp32") -> dict:
    """Play ``scenario`` for ``frames`` ticks; returns the figures printed as the last line.

    The trainee is scripted: the actions file (replayed, then held at rest once it runs
    out; a recording's log replays every seat it holds) or the exploration policy on the
    scenario's floor plan (one per trainee seat, each seeded on its own). ``quality``: as
    :class:`~engine.runtime.session.Session` takes it (``"auto"``: the rung follows the
    frame times, as live).
    """
    t_load = time.perf_counter()
    record_dir = (Path(record_dir) if record_dir else default_record_dir(scenario.title)).resolve()
    live = open_live_session(scenario, model, seed=seed, record_dir=record_dir, quality=quality,
                             device=device, path=path)
    session, model = live.session, live.model
    trainees = [session.connect(Role.TRAINEE, seat=k, maxlen=1) for k in range(len(session.seats))]
    if actions_file is not None:
        per_seat = [read_actions(actions_file)]
        for k in range(1, len(trainees)):
            try:
                per_seat.append(read_actions(actions_file, seat=k))
            except ActionError:  # the file has no actions for this seat: it stands still
                per_seat.append(np.zeros((0, 4), np.float32))

        def script(s: Session) -> None:
            for trainee, actions in zip(trainees, per_seat):
                trainee.set_action(actions[s.tick] if s.tick < len(actions) else np.zeros(4, np.float32))
    else:
        policies = [ExplorationPolicy(session.scene, np.random.default_rng(seed + k)) for k in range(len(trainees))]

        def script(s: Session) -> None:
            for trainee, policy, p in zip(trainees, policies, s.participants):
                trainee.set_action(policy.act(p.pose))

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
        summary = live.close()
    ms = np.asarray(times) * 1000 if times else np.zeros(1)
    return {
        "frames": len(times),
        "fps": round(len(times) / max(1e-9, float(np.sum(ms)) / 1000), 1),
        "median_ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "first_frame_s": round(first_frame_s, 2),
        "events": len(session.event_log),
        # times the rollout left the model's trained range and was re-anchored (engine.runtime.guard)
        "recoveries": session.guard.recoveries,
        "model": model.name,
        "device": str(getattr(model, "device", "cpu")),
        # which runtime ran each network (engine.runtime.inference_path)
        "inference_path": inference_path_of(model),
        # the rung of the model's quality ladder at the end, and how often it changed (engine.runtime.quality)
        "quality": session.quality, "quality_changes": max(0, len(session.quality_changes) - 1),
        "recording": str(record_dir),
        "video": str(summary.session_mp4) if summary.session_mp4 else None,
        "contact_sheet": str(summary.contact_sheet) if summary.contact_sheet else None,
        # several trainees: the other seats' views, each a recording of its own
        **({"seat_recordings": [str(Path(record_dir) / d) for d in summary.seats]} if summary.seats else {}),
    }
