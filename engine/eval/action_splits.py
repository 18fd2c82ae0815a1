"""The world model under the way people really move (issue 25): action splits and a long
still rollout.

Every other figure of ``ved eval`` is measured on a participant who keeps moving (the
exploration policy). Real participants mostly do not: the surgeon stands at the table, the
patient faces the avatar, a headset reports millimetres of head motion between glances. So
each method (the model and both baselines) is also rolled out, open-loop from the reference
world's opening frame of a held-out scene, under scripted action sequences of four kinds
(:data:`SPLITS`):

* ``still``: zero actions;
* ``slow_look``: a smooth head turn of at most 0.5° a tick, back and forth;
* ``head_jitter``: what a headset reports of a participant trying to hold still — yaw and
  pitch a smoothed random walk of about 0.1–0.3° a tick, millimetres of sway;
* ``stop_and_go``: a few steps, a hard stop, still for a second or two, a glance aside, on.

The reference world renders the same actions (the truth). Per split and method: PSNR at
horizons 1, 4, 16, 64 and over every tick after 16, sharpness against the reference frames
after tick 16 (:func:`engine.eval.perception.sharpness_ratio`), and with a judge the object
and person recall after tick 16.

:func:`still_long_rollout` is a 6,000-tick (5-minute) still rollout with game-master events
fired along the way: PSNR and sharpness against the reference at horizons up to the end, and
whether each event is *shown* (the model's frame 12 ticks after the event minus its frame
just before it points the way the reference world's change does: cosine ≥ 0.5, as
:func:`engine.eval.probes.event_fidelity`). For a still participant the reference frame only
changes when an event does, so *copy last frame* is a strong baseline here: the model must
stay near the truth, not merely beat noise.
"""

from __future__ import annotations

import numpy as np

from ..world.env import ReferenceWorld
from ..world.scene import Scene
from ..world.state import WorldState
from .metrics import psnr
from .probes import scene_prompt

#: The action splits, in report order.
SPLITS = ("still", "slow_look", "head_jitter", "stop_and_go")
#: Half a degree (radians): the most a *slow look* turns in a tick.
SLOW_LOOK_MAX = float(np.radians(0.5))
#: Ticks after which the split's perception measures and mean PSNR are taken.
AFTER = 16


def split_actions(split: str, ticks: int, rng: np.random.Generator) -> np.ndarray:
    """The scripted actions float32 ``(ticks, 4)`` of ``split`` (one of :data:`SPLITS`;
    metres and radians a tick). Raises ``ValueError`` for another name."""
    a = np.zeros((ticks, 4), np.float32)
    t = np.arange(ticks)
    if split == "still":
        return a
    if split == "slow_look":
        period = int(rng.integers(50, 80))
        a[:, 2] = SLOW_LOOK_MAX * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        a[:, 3] = 0.2 * SLOW_LOOK_MAX * np.sin(2 * np.pi * t / (1.7 * period))
        return a
    if split == "head_jitter":
        scale = float(rng.uniform(0.002, 0.005))  # radians a tick: 0.1–0.3°
        v = np.zeros(4)
        for k in range(ticks):
            v = 0.8 * v + 0.2 * rng.standard_normal(4) * np.array([0.002, 0.002, 3 * scale, 2 * scale])
            a[k] = v
        a[:, 3] -= a[:, 3].mean()  # keep the gaze about level
        return a
    if split == "stop_and_go":
        k = 0
        while k < ticks:
            walk = int(rng.integers(10, 20))
            a[k:k + walk, 0] = 0.06 * np.sin(np.pi * np.arange(min(walk, ticks - k)) / walk)
            k += walk
            k += int(rng.integers(20, 40))  # a hard stop: exactly still
            glance = int(rng.integers(10, 16))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            a[k:k + glance, 2] = sign * 0.06 * np.sin(2 * np.pi * np.arange(min(glance, max(0, ticks - k))) / glance)
            k += glance + int(rng.integers(5, 15))
        return a
    raise ValueError(f"unknown action split {split!r}; known: {', '.join(SPLITS)}")


def _reference(world: ReferenceWorld, scene: Scene, actions: np.ndarray, state: WorldState, labels: bool):
    """The reference world's frames ``(T, H, W, 3)``, camera poses ``(T, 4)`` and (with
    ``labels``) view labels under ``actions`` from the scene's start pose; and the opening frame."""
    from ..world.labels import stack_labels, view_labels

    opening = world.reset(scene, state=state)
    start = world.pose
    frames, poses, rows = [], [], []
    for a in actions:
        frames.append(world.step(a, state))
        poses.append(world.pose)
        if labels:
            rows.append(view_labels(world.renderer.render_labels(world.pose, state), scene))
    return opening, start, np.stack(frames), np.asarray(poses, np.float32), (stack_labels(rows) if labels else None)


def evaluate_action_splits(methods: dict, scenes: list[Scene], *, ticks: int = 64, horizons=(1, 4, 16, 64),
                           judge=None, seed: int = 0, resolution: int = 128,
                           splits: tuple[str, ...] = SPLITS) -> tuple[dict, dict]:
    """Every method in ``methods`` (name → world model) under every split, on each of
    ``scenes`` (held-out), ``ticks`` ticks from the scene's start pose (world state as at a
    session's start).

    Returns ``(results, examples)``: ``results[split]`` holds ``psnr`` ``{method: {h: dB}}``,
    ``psnr_after`` ``{method: dB}`` (mean over ticks after :data:`AFTER`), ``sharpness``
    ``{method: {"gradient", "laplacian"}}`` after :data:`AFTER`, with a judge
    ``object_recall``/``person_recall`` ``{method: rate}`` (and ``judge_on_real``), and the
    split's motion (``mean_abs_yaw_deg`` a tick, ``still_share``: ticks with exactly zero
    action); ``examples[split]`` the first scene's frames ``{method: (ticks, H, W, 3)}`` with
    ``"reference"``.
    """
    from .perception import detection_scores, sharpness_ratio

    rng = np.random.default_rng(seed + 2503)
    world = ReferenceWorld(resolution)
    horizons = [h for h in horizons if h <= ticks]
    out, examples = {}, {}
    for split in splits:
        acc = {m: {h: [] for h in horizons} for m in methods}
        after = {m: [] for m in methods}
        kept = {m: [] for m in [*methods, "truth"]}
        labels, acts_all = [], []
        for k, scene in enumerate(scenes):
            acts = split_actions(split, ticks, rng)
            acts_all.append(acts)
            state = WorldState()
            opening, start, truth, poses, lab = _reference(world, scene, acts, state, judge is not None)
            kept["truth"].append(truth[AFTER:])
            if lab is not None:
                labels.append({key: v[AFTER:] for key, v in lab.items()})
            if k == 0:
                examples[split] = {"reference": truth}
            for name, model in methods.items():
                model.reset(scene_prompt(scene, opening), state, viewer_pose=start)
                gen = np.stack([model.step(a, state, viewer_pose=p) for a, p in zip(acts, poses)])
                for h in horizons:
                    acc[name][h].append(psnr(gen[h - 1], truth[h - 1]))
                after[name].extend(psnr(g, r) for g, r in zip(gen[AFTER:], truth[AFTER:]))
                kept[name].append(gen[AFTER:])
                if k == 0:
                    examples[split][name] = gen
        acts_all = np.concatenate(acts_all)
        res = {"psnr": {m: {str(h): round(float(np.mean(v)), 2) for h, v in per.items()} for m, per in acc.items()},
               "psnr_after": {m: round(float(np.mean(v)), 2) for m, v in after.items()},
               "motion": {"mean_abs_yaw_deg": round(float(np.degrees(np.abs(acts_all[:, 2]).mean())), 3),
                          "max_abs_yaw_deg": round(float(np.degrees(np.abs(acts_all[:, 2]).max())), 3),
                          "still_share": round(float((np.abs(acts_all).max(1) == 0).mean()), 3)},
               "scenes": len(scenes), "ticks": ticks}
        truth_all = np.concatenate(kept["truth"])
        res["sharpness"] = {m: sharpness_ratio(np.concatenate(kept[m]), truth_all) for m in methods}
        if judge is not None and labels:
            lab = {key: np.concatenate([d[key] for d in labels]) for key in labels[0]}
            res["object_recall"], res["person_recall"] = {}, {}
            for m in [*methods, "judge_on_real"]:
                frames = truth_all if m == "judge_on_real" else np.concatenate(kept[m])
                scores = detection_scores(judge.predict(frames), lab)
                for key in ("object_recall", "person_recall"):
                    v = scores[key]
                    res[key][m] = None if v is None else round(float(v), 3)
        out[split] = res
    world.renderer.release()
    return out, examples


def still_long_rollout(methods: dict, scene: Scene, *, ticks: int = 6000, event_every: int = 300, seed: int = 0,
                       resolution: int = 128, horizons=(16, 64, 256, 1000, 2000, 4000, 6000),
                       shown_at: float = 0.5, after: int = 12) -> tuple[dict, dict]:
    """Each method stands still for ``ticks`` ticks in ``scene`` while a game-master event
    (a random toggle of lights, alarm, avatar or bleeding, :func:`engine.data.generate.random_event`)
    fires every ``event_every`` ticks. Returns ``(results, samples)``: per method ``psnr``
    ``{h: dB}`` against the reference world at horizons ``h`` ≤ ``ticks``, ``psnr_min`` (the
    worst sampled tick, every 50th), ``sharpness`` over the sampled ticks after 16,
    ``events_shown`` (share of the events that changed the reference view, > 40 dB
    otherwise skipped, that the method shows; see the module docstring) with ``per_event``,
    ``divergence_over_1`` (ticks whose divergence score passed 1: each a re-anchoring in a
    session) and ``divergence_max``; and evenly spaced frames per method (and ``"reference"``) for the report."""
    from ..data.generate import random_event
    from .perception import sharpness_ratio

    rng = np.random.default_rng(seed + 6007)
    world = ReferenceWorld(resolution)
    state = WorldState()
    opening = world.reset(scene, state=state)
    pose = world.pose
    still = np.zeros(4, np.float32)
    # The world state of every tick, and the events (identical for every method).
    states, events = [], []
    for t in range(1, ticks + 1):
        state = state.advance()
        if t % event_every == 0:
            name = random_event(state, rng)
            state = state.apply(name, viewer_pose=world.viewer_pose)
            events.append((t, name))
        states.append(state)
    horizons = [h for h in horizons if h <= ticks]
    sample_ticks = sorted(set(horizons) | set(range(50, ticks + 1, 50)))
    checks = {}  # event tick -> (tick before, tick after)
    for t, _ in events:
        if t + after <= ticks:
            checks[t] = (t - 1, t + after)
    need = sorted(set(sample_ticks) | {k for pair in checks.values() for k in pair if k >= 1})
    truth = {k: world.renderer.render(pose, states[k - 1]) for k in need}
    truth[0] = opening
    step_out = max(1, ticks // 8)
    samples = {"reference": np.stack([truth.get(k, world.renderer.render(pose, states[k - 1]))
                                      for k in range(step_out, ticks + 1, step_out)])}
    world.renderer.release()
    results = {}
    for name, model in methods.items():
        model.reset(scene_prompt(scene, opening), WorldState(), viewer_pose=pose)
        kept = {}
        shots = []
        over, worst = 0, 0.0
        for t in range(1, ticks + 1):
            frame = model.step(still, states[t - 1], viewer_pose=pose)
            score = model.divergence()
            if score:  # what the session's safety net would have seen (engine.runtime.guard)
                worst = max(worst, score[0])
                over += score[0] > 1.0
            if t in truth:
                kept[t] = frame
            if t % step_out == 0:
                shots.append(frame)
        ps = {str(h): round(psnr(kept[h], truth[h]), 2) for h in horizons}
        sampled = [k for k in sample_ticks if k > 16]
        shown, per = [], {}
        for (t, ev) in events:
            if t not in checks:
                continue
            b, a = checks[t]
            if b < 1:
                continue
            d_ref = truth[a].astype(np.float32) - truth[b].astype(np.float32)
            if psnr(truth[a], truth[b]) > 40:
                continue  # the event does not change this view
            d_gen = kept[a].astype(np.float32) - kept[b].astype(np.float32)
            denom = float(np.linalg.norm(d_gen) * np.linalg.norm(d_ref))
            ok = denom > 0 and float((d_gen * d_ref).sum()) / denom >= shown_at
            shown.append(ok)
            per.setdefault(ev, []).append(ok)
        results[name] = {
            "psnr": ps,
            "psnr_min": round(min(psnr(kept[k], truth[k]) for k in sampled), 2) if sampled else None,
            "sharpness": sharpness_ratio(np.stack([kept[k] for k in sampled]), np.stack([truth[k] for k in sampled]))
            if sampled else None,
            "events_shown": round(float(np.mean(shown)), 3) if shown else None,
            "per_event": {e: round(float(np.mean(v)), 2) for e, v in per.items()},
            # ticks whose divergence score passed 1 (each would be a re-anchoring in a session)
            "divergence_over_1": int(over), "divergence_max": round(float(worst), 3),
        }
        samples[name] = np.stack(shots) if shots else np.zeros((0, resolution, resolution, 3), np.uint8)
    results["events"] = [{"tick": t, "event": e} for t, e in events]
    results["ticks"] = ticks
    return results, samples
