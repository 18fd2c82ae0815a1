"""Generate reference-world episodes: exploration trajectories with game-master events, and
other participants walking about the room."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..world.entities import people_array
from ..world.env import ReferenceWorld
from ..world.policy import ExplorationPolicy, Walker
from ..world.scene import ROOM_TYPES
from ..world.state import EVENTS, MAX_OTHERS, WorldState
from .format import DatasetWriter, Episode

#: Scene seeds at or above this are never used for training: held out for evaluation.
HELD_OUT_SEED_BASE = 1_000_000
#: Chance of 0, 1, 2 or 3 other participants in an episode.
OTHERS_PROBS = (0.3, 0.3, 0.2, 0.2)
#: Pairs of (on, off) events; a random event flips one of these state variables.
_TOGGLES = tuple((name, e.undone_by) for name, e in EVENTS.items() if e.undone_by)


def _is_on(state: WorldState, k: int) -> bool:
    return (state.light < 1.0, state.alarm, state.avatar, state.bleeding_active or state.bleeding > 0)[k]


def random_event(state: WorldState, rng: np.random.Generator) -> str:
    """A random game-master event that changes ``state``: one of the four state variables is
    picked and flipped (on if off, off if on)."""
    k = int(rng.integers(len(_TOGGLES)))
    return _TOGGLES[k][1] if _is_on(state, k) else _TOGGLES[k][0]


def generate_episode(world: ReferenceWorld, rng: np.random.Generator, *, length: int,
                     room_type: str | None = None, scene_seed: int | None = None,
                     event_rate: float = 1 / 50, others: int | None = None, labels: bool = False,
                     participant_share: float = 0.0) -> Episode:
    """One episode of ``length`` ticks in a random (or the given) room.

    The world state starts varied (lights dimmed, avatar present, ... in some episodes) and
    random events flip it at an average ``event_rate`` per tick. ``others`` other
    participants (default: 0–3 at random, :data:`OTHERS_PROBS`) walk about the room on their
    seats. ``labels=True`` also renders the label pass of every frame and stores what it
    shows (:func:`engine.world.labels.view_labels`; for evaluation episodes).
    ``participant_share`` is the share of the policy's mode changes that pick a real
    participant's behaviour (:data:`engine.world.policy.PARTICIPANT_BEHAVIOURS`); the ticks
    spent in each mode are stored as ``meta["modes"]``.
    """
    room_type = room_type or ROOM_TYPES[int(rng.integers(len(ROOM_TYPES)))]
    scene_seed = int(rng.integers(0, HELD_OUT_SEED_BASE)) if scene_seed is None else int(scene_seed)
    state = WorldState()
    frame = world.reset(room_type, scene_seed, state)
    if rng.random() < 0.25:  # lights vary continuously too, not only normal/dimmed
        state = replace(state, light=float(rng.uniform(0.5, 1.0)))
    for k, p in enumerate((0.2, 0.1, 0.2, 0.1)):
        if rng.random() < p:
            state = state.apply(_TOGGLES[k][0], viewer_pose=world.viewer_pose)
            if k == 3:
                for _ in range(int(rng.integers(5, 60))):
                    state = state.advance()
    n_others = int(rng.choice(len(OTHERS_PROBS), p=OTHERS_PROBS)) if others is None else int(others)
    seats = sorted(rng.choice(MAX_OTHERS, size=min(n_others, MAX_OTHERS), replace=False).tolist())
    walkers = {seat: Walker.placed(world.scene, rng, avoid=world.pose[:2]) for seat in seats}
    state = state.with_others([(seat, w.x, w.z, w.yaw) for seat, w in walkers.items()])
    frame = world.renderer.render(world.pose, state)
    policy = ExplorationPolicy(world.scene, rng, participant_share=participant_share)
    frames, actions, states, poses, events = [frame], [np.zeros(4, np.float32)], [state.vector()], [world.pose], []
    people = [people_array(state)]
    views = [_labels(world, state)] if labels else []
    for t in range(1, length):
        action = policy.act(world.pose)
        state = state.advance()
        if rng.random() < event_rate * policy.event_rate_scale:
            name = random_event(state, rng)
            # The event is placed relative to the pose the participant will have at frame t.
            state = state.apply(name, viewer_pose=world.viewer_pose)
            events.append({"tick": t, "event": name})
        state = state.with_others([(seat, *w.step(viewer=world.pose[:2])) for seat, w in walkers.items()])
        frames.append(world.step(action, state))
        actions.append(action)
        states.append(state.vector())
        poses.append(world.pose)
        people.append(people_array(state))
        if labels:
            views.append(_labels(world, state))
    meta = {"caption": world.scene.caption(), "scene": world.scene.params(), "events": events,
            "revisits": policy.revisits, "modes": dict(policy.mode_ticks), "room_type": room_type, "scene_seed": scene_seed, "others": seats}
    from ..world.labels import stack_labels

    return Episode(np.stack(frames), np.stack(actions), np.stack(states), np.asarray(poses, np.float32), meta,
                   people=np.stack(people), labels=stack_labels(views) if labels else None)


def _labels(world: ReferenceWorld, state: WorldState) -> dict:
    from ..world.labels import view_labels

    return view_labels(world.renderer.render_labels(world.pose, state), world.scene)


def generate_dataset(out: str | Path, *, episodes: int, seed: int, length: int = 120, resolution: int = 128,
                     progress: bool = True, held_out: bool = False, participant_share: float = 0.0) -> dict:
    """Write ``episodes`` episodes to ``out`` and return throughput figures, with each
    behaviour's share of the ticks (``mode_share``: the explorer's modes and the participant
    behaviours of :data:`engine.world.policy.PARTICIPANT_BEHAVIOURS`).

    ``held_out=True`` draws scene seeds from the evaluation range (never used in training)
    and stores each frame's view labels. ``participant_share``: see :func:`generate_episode`.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    world = ReferenceWorld(resolution)
    writer = DatasetWriter(out, resolution=resolution, seed=seed, extra={"episode_length": length, "held_out": held_out,
                                                                      "participant_share": participant_share})
    t0, frames, with_revisit, modes = time.perf_counter(), 0, 0, {}
    for _ in tqdm(range(episodes), desc="episodes", unit="ep", disable=not progress):
        scene_seed = int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)) if held_out else None
        ep = generate_episode(world, rng, length=length, scene_seed=scene_seed, labels=held_out,
                              participant_share=participant_share)
        writer.add(ep)
        frames += len(ep)
        for mode, n in ep.meta["modes"].items():
            modes[mode] = modes.get(mode, 0) + n
        with_revisit += ep.meta["revisits"] > 0
    writer.close()
    world.renderer.release()
    dt = time.perf_counter() - t0
    return {"episodes": episodes, "frames": frames, "seconds": round(dt, 2), "frames_per_s": round(frames / dt, 1),
            "revisit_share": round(with_revisit / max(1, episodes), 3), "mode_share": mode_share(modes),
            "out": str(out)}


def mode_share(modes: dict) -> dict:
    """Each mode's share of the ticks ``{mode: ticks}`` counts, rounded, largest first."""
    total = max(1, sum(modes.values()))
    return {k: round(v / total, 3) for k, v in sorted(modes.items(), key=lambda kv: -kv[1])}
