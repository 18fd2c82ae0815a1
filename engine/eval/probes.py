"""Scripted probes of a world model: revisits, game-master events, a long rollout.

Each probe plays the same actions in the model and in the reference world from a held-out
scene's start pose, and compares what the model shows with what the reference world shows.
"""

from __future__ import annotations

import math

import numpy as np

from ..model.interface import Prompt
from ..world.env import ReferenceWorld
from ..world.policy import ExplorationPolicy
from ..world.scene import Scene
from ..world.state import WorldState
from .metrics import psnr

_TURN = 2 * math.pi / 32  # 32 ticks make a full turn (0.196 rad/tick, inside the action limit)
#: One tick of a 360° turn in place to the left.
TURN_ACTION = np.array([0, 0, _TURN, 0], np.float32)


def revisit_paths(context: int) -> dict[str, list[np.ndarray]]:
    """Action sequences that end where they began: two whose return falls inside the context
    window (``< context`` ticks) and two beyond it (a 360° turn in place; a walk out and back)."""
    a = lambda f=0.0, y=0.0: np.array([f, 0.0, y, 0.0], np.float32)  # noqa: E731
    k = max(1, (context - 2) // 2)
    return {
        "inside/glance": [a(y=0.15)] * k + [a(y=-0.15)] * k,
        "inside/step": [a(f=0.1)] * k + [a(f=-0.1)] * k,
        "beyond/turn_360": [a(y=_TURN)] * 32,
        "beyond/walk_out_and_back": [a(f=0.1)] * 8 + [a(y=_TURN)] * 16 + [a(f=0.1)] * 8 + [a(y=_TURN)] * 16,
    }


def scene_prompt(scene: Scene, opening: np.ndarray) -> Prompt:
    """The prompt of a probe in ``scene``: its opening frame and its room preset."""
    return Prompt("", opening, room=scene.room_type, seed=scene.seed)


def _play(model, scene: Scene, opening: np.ndarray, actions, poses, state: WorldState, start_pose) -> np.ndarray:
    model.reset(scene_prompt(scene, opening), state, viewer_pose=start_pose)
    return np.stack([model.step(a, state, viewer_pose=p) for a, p in zip(actions, poses)])


def revisit_consistency(methods: dict, scenes: list[Scene], context: int, resolution: int = 128) -> tuple[dict, dict]:
    """PSNR (dB) between each method's frame on return and the frame first seen, per path,
    averaged over ``scenes``; and the means ``inside``/``beyond`` the context window. Paths
    blocked by furniture in a scene (the reference world's return differs from its start by
    more than 35 dB PSNR) are skipped there. Also returns example frames for the report."""
    world = ReferenceWorld(resolution)
    paths = revisit_paths(context)
    acc = {m: {p: [] for p in paths} for m in methods}
    example = {}
    state = WorldState()
    for scene in scenes:
        first = world.reset(scene, state=state)
        start = world.pose
        for pname, actions in paths.items():
            world.reset(scene, state=state)
            ref, poses = [], []
            for a in actions:
                ref.append(world.step(a, state))
                poses.append(world.pose)
            ref = np.stack(ref)
            if psnr(ref[-1], first) < 35:
                continue  # the path bumped into something: not a clean return
            for m, model in methods.items():
                gen = _play(model, scene, first, actions, poses, state, start)
                acc[m][pname].append(psnr(gen[-1], first))
                if pname == "beyond/turn_360" and m not in example:
                    example[m] = gen
            if pname == "beyond/turn_360" and "reference" not in example:
                example["reference"] = ref
    out = {}
    for m, per in acc.items():
        r = {p: round(float(np.mean(v)), 2) for p, v in per.items() if v}
        for side in ("inside", "beyond"):
            vals = [x for p, v in per.items() if p.startswith(side) for x in v]
            r[side] = round(float(np.mean(vals)), 2) if vals else None
        r["beyond_minus_inside"] = (round(r["beyond"] - r["inside"], 2)
                                    if r["inside"] is not None and r["beyond"] is not None else None)
        out[m] = r
    out["paths_ticks"] = {p: len(a) for p, a in paths.items()}
    return out, example


#: (event, the state before it) for the event probe; each event is tried from a state where it changes something.
EVENT_CASES: tuple[tuple[str, dict], ...] = (
    ("lights_dim", {}), ("lights_normal", {"light": 0.3}), ("alarm_on", {}), ("alarm_off", {"alarm": True}),
    ("avatar_enter", {}), ("avatar_leave", {"avatar": True}), ("bleeding_start", {}),
    ("bleeding_stop", {"bleeding": 1.0}),
)


def event_fidelity(methods: dict, scenes: list[Scene], *, before: int = 4, after: int = 12,
                   resolution: int = 128, shown_at: float = 0.5) -> tuple[dict, dict]:
    """After each game-master event, does the model's view change as the reference world's does?

    From a scene's start pose, standing still: ``before`` ticks in the old state, the event,
    then ``after`` ticks (a bleed spreads meanwhile). Each method runs twice from the same
    opening and seed, with and without the event; its *change* (last frame with minus
    without, float pixels) is compared with the reference world's change by cosine
    similarity. The event counts as *shown* when the cosine is at least ``shown_at``; a model
    that ignores events scores 0, one that changes the frame at random scores about 0. Cases
    where the event does not change the reference view (> 40 dB between the two) are skipped.
    Returns per method ``{"shown": share, "cosine": mean, "magnitude": mean |Δ_model| /
    |Δ_reference|, "per_event": {event: share shown}}``, and example frames.
    """
    world = ReferenceWorld(resolution)
    still = np.zeros(4, np.float32)
    acc = {m: {} for m in methods}
    cos_all = {m: [] for m in methods}
    mag_all = {m: [] for m in methods}
    example = {}
    for scene in scenes:
        for event, init in EVENT_CASES:
            s0 = WorldState(**init)
            opening = world.reset(scene, state=s0)
            viewer = world.viewer_pose
            states, plain, s, s_wo = [], [], s0, s0
            for i in range(before + after):
                if i == before:
                    s = s.apply(event, viewer_pose=viewer)
                states.append(s)
                plain.append(s_wo)
                s, s_wo = s.advance(), s_wo.advance()
            with_event = world.renderer.render(world.pose, states[-1]).astype(np.float32)
            without = world.renderer.render(world.pose, plain[-1]).astype(np.float32)
            if psnr(with_event.astype(np.uint8), without.astype(np.uint8)) > 40:
                continue
            d_ref = (with_event - without).ravel()
            for m, model in methods.items():
                runs = []
                for seq in (states, plain):
                    model.reset(scene_prompt(scene, opening), s0, viewer_pose=world.pose)
                    runs.append([model.step(still, st, viewer_pose=world.pose) for st in seq])
                d_gen = (runs[0][-1].astype(np.float32) - runs[1][-1].astype(np.float32)).ravel()
                denom = float(np.linalg.norm(d_gen) * np.linalg.norm(d_ref))
                cos = float(d_gen @ d_ref) / denom if denom > 0 else 0.0
                acc[m].setdefault(event, []).append(cos >= shown_at)
                cos_all[m].append(cos)
                mag_all[m].append(float(np.linalg.norm(d_gen) / max(np.linalg.norm(d_ref), 1e-6)))
                if event == "alarm_on" and m not in example:
                    example[m] = np.stack(runs[0])
            if event == "alarm_on" and "reference" not in example:
                example["reference"] = np.stack([world.renderer.render(world.pose, st) for st in states])
    world.renderer.release()
    out = {}
    for m in methods:
        flat = [x for v in acc[m].values() for x in v]
        out[m] = {"shown": round(float(np.mean(flat)), 3) if flat else None,
                  "cosine": round(float(np.mean(cos_all[m])), 3) if cos_all[m] else None,
                  "magnitude": round(float(np.mean(mag_all[m])), 3) if mag_all[m] else None,
                  "per_event": {e: round(float(np.mean(v)), 2) for e, v in acc[m].items()}}
    return out, example


def long_rollout(model, scene: Scene, *, ticks: int = 6000, seed: int = 0, resolution: int = 128,
                 probe_ticks: int = 8, others: int = 2) -> tuple[dict, np.ndarray]:
    """Play ``ticks`` ticks (6,000 = 5 minutes at 20 Hz) with the scripted participant,
    ``others`` other participants walking about and random events, beside the reference
    world. Reports:

    * ``in_range``: share of sampled generated frames whose mean and standard deviation of
      pixel values lie within the 1st–99th percentile range of the reference frames';
    * ``mean``/``std`` drift: the generated frames' statistics over the last tenth vs the first;
    * ``control_start``/``control_end``: mean absolute pixel difference (0–255) between
      ``probe_ticks`` ticks of turning and of standing still from the same state and seed, at
      the start and at the end — the model still answers the controls if the end value is
      comparable to the start value (``control_ratio``);
    * ``sharpness_end``: gradient and Laplacian ratios (:func:`engine.eval.perception.sharpness_ratio`)
      of the generated frames against the reference's at the same ticks, every tenth tick of
      the last tenth of the rollout (``sharpness_start``: the same over the first tenth).
    """
    from ..data.generate import random_event
    from ..world.policy import Walker
    from .perception import sharpness_ratio

    rng = np.random.default_rng(seed)
    world = ReferenceWorld(resolution)
    first = world.reset(scene, state=WorldState())
    start = world.pose
    walkers = {seat: Walker.placed(scene, rng, avoid=start[:2]) for seat in range(others)}
    state = WorldState().with_others([(s, w.x, w.z, w.yaw) for s, w in walkers.items()])
    first = world.renderer.render(start, state)
    policy = ExplorationPolicy(scene, rng)
    model.reset(scene_prompt(scene, first), state, viewer_pose=start)
    control_start = _control_response(model, state, probe_ticks)
    model.reset(scene_prompt(scene, first), state, viewer_pose=start)
    gen_stats, ref_stats, samples, pairs = [], [], [], []
    tenth = max(1, ticks // 10)
    for t in range(1, ticks + 1):
        a = policy.act(world.pose)
        state = state.advance()
        if rng.random() < 1 / 200:
            state = state.apply(random_event(state, rng), viewer_pose=world.viewer_pose)
        state = state.with_others([(s, *w.step(viewer=world.pose[:2])) for s, w in walkers.items()])
        ref = world.step(a, state)
        gen = model.step(a, state, viewer_pose=world.pose)
        if t % 10 == 0:
            gen_stats.append((gen.mean(), gen.std()))
            ref_stats.append((ref.mean(), ref.std()))
            if t <= tenth or t > ticks - tenth:
                pairs.append((t <= tenth, gen, ref))
        if t % max(1, ticks // 8) == 0:
            samples.append(gen)
    control_end = _control_response(model, state, probe_ticks)
    world.renderer.release()

    def sharp(at_start: bool):
        sel = [(g_, r_) for s_, g_, r_ in pairs if s_ == at_start]
        return sharpness_ratio(np.stack([p[0] for p in sel]), np.stack([p[1] for p in sel])) if sel else None
    g, r = np.asarray(gen_stats), np.asarray(ref_stats)
    lo, hi = np.percentile(r, 1, axis=0), np.percentile(r, 99, axis=0)
    inside = np.all((g >= lo) & (g <= hi), axis=1)
    tenth = max(1, len(g) // 10)
    return {
        "ticks": ticks,
        "in_range": round(float(inside.mean()), 3),
        "mean_first_last": [round(float(g[:tenth, 0].mean()), 1), round(float(g[-tenth:, 0].mean()), 1)],
        "std_first_last": [round(float(g[:tenth, 1].mean()), 1), round(float(g[-tenth:, 1].mean()), 1)],
        "reference_mean_range": [round(float(lo[0]), 1), round(float(hi[0]), 1)],
        "reference_std_range": [round(float(lo[1]), 1), round(float(hi[1]), 1)],
        "control_start": round(control_start, 2),
        "control_end": round(control_end, 2),
        "control_ratio": round(control_end / max(control_start, 1e-6), 2),
        "sharpness_start": sharp(True),
        "sharpness_end": sharp(False),
    }, np.stack(samples) if samples else np.zeros((0, resolution, resolution, 3), np.uint8)


def _control_response(model, state: WorldState, ticks: int) -> float:
    """Mean |turning − still| pixel difference after ``ticks`` ticks from the same snapshot."""
    snap = model.snapshot()
    still = [model.step(np.zeros(4, np.float32), state) for _ in range(ticks)]
    model.restore(snap)
    turn = [model.step(np.array([0, 0, 0.15, 0], np.float32), state) for _ in range(ticks)]
    model.restore(snap)
    return float(np.abs(still[-1].astype(np.float32) - turn[-1].astype(np.float32)).mean())
