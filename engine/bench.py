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
              sampling: dict | None = None, trainees: int = 1, quality: str = "high",
              device: str | None = None, path: str = "torch-fp32") -> dict:
    """Step the model ``frames`` times (after ``warmup``) through a live session with a
    scripted trainee, unpaced, no recording; then the reference world under the same actions.
    With ``trainees`` > 1 the session has that many seats (each walked by its own scripted
    trainee) and a tick is one batched step of every view: the figures are per tick.
    ``quality``: a fixed rung of the model's ladder, or ``"auto"`` (the session chooses, and
    the figures say which rungs it drew at). ``path``: the inference path (as
    :func:`engine.runtime.wiring.load_model` takes it)."""
    import torch

    from .machine import machine_facts
    from .model.interface import ReferenceWorldModel
    from .runtime.session import Role
    from .runtime.wiring import inference_path_of, load_model, open_live_session
    from .world.policy import ExplorationPolicy
    from .net.bench import with_trainees

    t0 = time.perf_counter()
    wm = load_model(model, seed=seed, sampling=sampling, device=device, path=path)
    load_s = time.perf_counter() - t0
    session = open_live_session(with_trainees(scenario, trainees), wm, seed=seed, record=False,
                                quality=quality if wm.quality_levels else None).session
    prompt = session.prompt
    seats = [(session.connect(Role.TRAINEE, seat=k, maxlen=1),
              ExplorationPolicy(session.scene, np.random.default_rng(seed + k))) for k in range(len(session.seats))]
    session.start()
    actions, times = [], []
    for i in range(warmup + frames):
        for k, (trainee, policy) in enumerate(seats):
            a = policy.act(session.participants[k].pose)
            trainee.set_action(a)
            if k == 0:
                first = a
        a = first
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
        "trainees": len(session.seats),
        **_stats(times),
        "sampling_steps": getattr(wm, "steps", None),
        "quality": quality if wm.quality_levels else None,
        "quality_changes": [list(c) for c in session.quality_changes],
        "reference_world": _stats(ref_times),
        "torch_threads": torch.get_num_threads(),
        "machine": machine_facts(),
        "device": str(getattr(wm, "device", "cpu")),
        "inference_path": inference_path_of(wm),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return result
