"""``ved bench``: live-loop speed of a world model beside the reference world's own speed."""

from __future__ import annotations

import resource
import time

import numpy as np


def _stats(times_s: list[float]) -> dict:
    ms = np.asarray(times_s) * 1000
    return {"median_ms": round(float(np.median(ms)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "fps": round(len(ms) / (float(ms.sum()) / 1000), 1)}


def run_bench(scenario, *, frames: int = 300, warmup: int = 20, model: str | None = None, seed: int = 0,
              sampling: dict | None = None) -> dict:
    """Step the model ``frames`` times (after ``warmup``) through a live session with a
    scripted trainee, unpaced, no recording; then the reference world under the same actions."""
    import torch

    from .model.interface import ReferenceWorldModel
    from .runtime.session import Role
    from .runtime.wiring import load_model, open_live_session
    from .world.policy import ExplorationPolicy

    t0 = time.perf_counter()
    wm = load_model(model, seed=seed, sampling=sampling)
    load_s = time.perf_counter() - t0
    session = open_live_session(scenario, wm, seed=seed, record=False).session
    prompt = session.prompt
    trainee = session.connect(Role.TRAINEE, maxlen=1)
    policy = ExplorationPolicy(session.scene, np.random.default_rng(seed))
    session.start()
    actions, times = [], []
    for i in range(warmup + frames):
        a = policy.act(session.pose)
        trainee.set_action(a)
        t = time.perf_counter()
        session.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
            actions.append(a)
    ref = ReferenceWorldModel(wm.resolution)
    if prompt.room:
        ref.reset(prompt, session.scenario.world.initial_state())
    else:  # an image prompt has no floor plan: time the renderer on a stock room
        ref.world.reset("therapy_room", 0)
    ref_times = []
    for a in actions:
        t = time.perf_counter()
        ref.step(a, session.world_state)
        ref_times.append(time.perf_counter() - t)
    result = {
        "model": getattr(wm, "name", "?"),
        "model_load_s": round(load_s, 2),
        "frames": frames,
        **_stats(times),
        "sampling_steps": getattr(wm, "steps", None),
        "reference_world": _stats(ref_times),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return result
