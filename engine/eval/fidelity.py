"""Open-loop rollout fidelity and controllability against the reference world.

For each held-out episode and start tick ``s``, every method opens on the true frame ``s``
and is stepped with the true actions and world states; generated frame ``s + h`` is compared
with the reference world's (PSNR, SSIM at horizons h). Controllability: the same rollout
driven by *shuffled actions* — another episode's actions from a random tick, so the
trajectory differs but the actions stay realistic — and ΔPSNR = PSNR(true) − PSNR(shuffled)
(Genie's ΔtPSNR; Bruce et al. 2024). Near zero means the controls are ignored.

Every rollout is given the world state of each tick (the other participants included) and
the trainee's true camera pose (the reference world's, with collisions; under shuffled
actions the pose those actions lead to), as a live session gives them.

With a judge, the same true-action rollouts are also measured for what a person sees
(:mod:`engine.eval.perception`): at each horizon ``h`` over the rollout ticks in ``(3h/4,
h]`` (h = 16: ticks 13–16; h = 64: ticks 49–64), sharpness against the reference frames of
those ticks, the Fréchet distance of the judge's features to real frames of *other*
held-out episodes at the same ticks (with the real-vs-real distance as the floor), and the
judge's object and person detections against the label pass of those ticks.
"""

from __future__ import annotations

import numpy as np

from ..model.interface import Prompt
from .metrics import psnr, ssim_batch


def episode_prompt(episode, start: int) -> Prompt:
    """The prompt that opens ``episode`` at tick ``start``: its true frame, and its room preset
    (for a model that needs the floor plan's bleed site)."""
    return Prompt("", episode.frames[start], room=episode.meta.get("room_type"),
                  seed=int(episode.meta.get("scene_seed", 0)))


def rollout(model, episode, start: int, horizon: int, actions: np.ndarray | None = None,
            poses: np.ndarray | None = None) -> np.ndarray:
    """Frames uint8 ``(horizon, H, W, 3)`` for ticks ``start+1 .. start+horizon`` under the
    episode's actions (or ``actions``, with the camera ``poses`` ``(horizon, 4)`` they lead to)."""
    acts = episode.actions if actions is None else actions
    model.reset(episode_prompt(episode, start), episode.world_state(start), viewer_pose=episode.poses[start])
    return np.stack([model.step(acts[start + k], episode.world_state(start + k),
                                viewer_pose=(episode.poses[start + k] if poses is None else poses[k - 1]))
                     for k in range(1, horizon + 1)])


def bucket(h: int) -> list[int]:
    """Rollout ticks measured for horizon ``h``: ``(3h/4, h]``."""
    return list(range(int(0.75 * h) + 1, h + 1))


def starts_for(length: int, horizon: int, per_episode: int) -> list[int]:
    """Start ticks spread over an episode (from tick 8: the participant is moving by then)."""
    last = length - horizon - 1
    if last < 0:
        return []
    first = min(8, last)
    return sorted({int(round(v)) for v in np.linspace(first, last, per_episode)})


def evaluate_fidelity(methods: dict, episodes, *, horizons=(1, 4, 16, 64), per_episode: int = 2, seed: int = 0,
                      keep_example: bool = True, judge=None, floor_episodes=None) -> tuple[dict, dict]:
    """PSNR/SSIM per horizon and ΔPSNR for every method in ``methods`` (name → world model).

    Returns ``(results, example)``: results ``{"psnr": {method: {h: dB}}, "ssim": {...},
    "shuffled_psnr": {...}, "delta_psnr": {...}, "action_effect_psnr": {h: dB},
    "samples": n}``, where ``action_effect_psnr`` is the PSNR between the reference world's
    frames under the true and the shuffled actions (how different the controls make the
    views: the room a model has to show a difference in). ``example`` holds the frames of
    the first sample for the report.

    With ``judge`` (:class:`~engine.eval.judge.Judge`) and held-out ``episodes`` that carry
    view labels, the results also hold, per method and horizon, ``sharpness`` (gradient and
    Laplacian ratios), ``object_recall``, ``object_precision``, ``person_recall``, and
    ``fd_judge`` against the real frames of ``floor_episodes`` at the same ticks (its
    ``real_floor``: the truth frames of the rollouts against the same set), with the judge's
    own detection scores on the truth frames under ``"judge_on_real"``.
    """
    rng = np.random.default_rng(seed)
    episodes = list(episodes)
    H = max(horizons)
    from ..world.env import ReferenceWorld

    ref_world = ReferenceWorld(episodes[0].frames.shape[1]) if episodes else None
    acc = {k: {m: {h: [] for h in horizons} for m in methods} for k in ("psnr", "ssim", "shuffled_psnr")}
    effect = {h: [] for h in horizons}
    example, n = {}, 0
    perceive = judge is not None and all(ep.labels is not None for ep in episodes)
    kept = {m: {h: [] for h in horizons} for m in [*methods, "truth"]}
    kept_labels = {h: [] for h in horizons}
    floor = {h: [] for h in horizons}
    floor_eps = list(floor_episodes or [])
    for i, ep in enumerate(episodes):
        for s_i, start in enumerate(starts_for(len(ep), H, per_episode)):
            j = (i + 1 + int(rng.integers(max(1, len(episodes) - 1)))) % len(episodes)
            other = episodes[j].actions
            off = int(rng.integers(1, len(other) - H))
            shuffled = ep.actions.copy()
            shuffled[start + 1:start + H + 1] = other[off:off + H]
            truth = ep.frames[start + 1:start + H + 1]
            ref_shuf, shuf_poses = _reference_under(ref_world, ep, start, shuffled, H) if ref_world else (None, None)
            for h in horizons:
                if ref_shuf is not None:
                    effect[h].append(psnr(ref_shuf[h - 1], truth[h - 1]))
            if perceive:
                for h in horizons:
                    ticks = [k - 1 for k in bucket(h)]
                    kept["truth"][h].append(truth[ticks])
                    kept_labels[h].append({k: v[start + 1:start + H + 1][ticks] for k, v in ep.labels.items()})
                    if floor_eps:  # another held-out episode's true frames at the same ticks
                        fe = floor_eps[n % len(floor_eps)]
                        fst = starts_for(len(fe), H, per_episode) or [0]
                        fs = fst[s_i % len(fst)]
                        floor[h].append(fe.frames[fs + 1:fs + H + 1][ticks])
            for name, model in methods.items():
                gen = rollout(model, ep, start, H)
                shuf = rollout(model, ep, start, H, shuffled, shuf_poses)
                if perceive:
                    for h in horizons:
                        kept[name][h].append(gen[[k - 1 for k in bucket(h)]])
                ss = ssim_batch(gen[[h - 1 for h in horizons]], truth[[h - 1 for h in horizons]])
                for k, h in enumerate(horizons):
                    acc["psnr"][name][h].append(psnr(gen[h - 1], truth[h - 1]))
                    acc["ssim"][name][h].append(float(ss[k]))
                    acc["shuffled_psnr"][name][h].append(psnr(shuf[h - 1], truth[h - 1]))
                if keep_example and name not in example:
                    example[name] = gen
            if keep_example and "reference" not in example:
                example["reference"], example["start"] = truth, start
            n += 1
    out = {k: {m: {str(h): round(float(np.mean(v)), 3 if k == "ssim" else 2) for h, v in per.items()}
               for m, per in d.items()} for k, d in acc.items()}
    out["delta_psnr"] = {m: {str(h): round(out["psnr"][m][str(h)] - out["shuffled_psnr"][m][str(h)], 2)
                             for h in horizons} for m in methods}
    out["action_effect_psnr"] = {str(h): round(float(np.mean(v)), 2) for h, v in effect.items() if v}
    out["samples"] = n
    out["horizons"] = list(horizons)
    if perceive and n:
        out.update(_perception(judge, kept, kept_labels, floor, list(methods), horizons))
    if ref_world is not None:
        ref_world.renderer.release()
    return out, example


def _perception(judge, kept: dict, labels: dict, floor: dict, methods: list, horizons) -> dict:
    """The perception measures of the kept frames (see :func:`evaluate_fidelity`)."""
    from .perception import detection_scores, frechet_distance, sharpness_ratio

    out = {"sharpness": {}, "fd_judge": {}, "object_recall": {}, "object_precision": {}, "person_recall": {},
           "person_precision": {}}
    for h in horizons:
        truth = np.concatenate(kept["truth"][h])
        lab = {k: np.concatenate([d[k] for d in labels[h]]) for k in labels[h][0]}
        real_pred = judge.predict(truth)
        real_floor = np.concatenate(floor[h]) if floor[h] else None
        floor_embed = judge.predict(real_floor)["embed"] if real_floor is not None else None
        rows = {m: np.concatenate(kept[m][h]) for m in methods}
        preds = {m: judge.predict(f) for m, f in rows.items()}
        preds["judge_on_real"] = real_pred
        for m, pred in preds.items():
            scores = detection_scores(pred, lab)
            for key in ("object_recall", "object_precision", "person_recall", "person_precision"):
                out[key].setdefault(m, {})[str(h)] = scores[key]
            if m in rows:
                out["sharpness"].setdefault(m, {})[str(h)] = sharpness_ratio(rows[m], truth)
            if floor_embed is not None and len(floor_embed) >= 2:
                name = "real_floor" if m == "judge_on_real" else m
                out["fd_judge"].setdefault(name, {})[str(h)] = round(frechet_distance(pred["embed"], floor_embed), 2)
        out.setdefault("perception_frames", {})[str(h)] = {"frames": int(len(truth)), "ticks": bucket(h),
                                                           "frames_with_person": int((lab["person"] > 0.5).sum()),
                                                           "objects_in_view": int(lab["objects"].sum())}
    return out


def _reference_under(world, ep, start: int, actions: np.ndarray, H: int):
    """The reference world's frames ``(H, h, w, 3)`` under ``actions`` from the episode's pose
    at ``start``, and the camera poses ``(H, 4)`` they lead to; ``(None, None)`` when the
    episode does not name its room."""
    scene_meta = ep.meta
    if "room_type" not in scene_meta or ep.poses is None:
        return None, None
    pose = tuple(float(v) for v in ep.poses[start])
    world.reset(scene_meta["room_type"], scene_meta["scene_seed"], ep.world_state(start), pose=pose)
    frames, poses = [], []
    for k in range(1, H + 1):
        frames.append(world.step(actions[start + k], ep.world_state(start + k)))
        poses.append(world.pose)
    return np.stack(frames), np.asarray(poses, np.float32)
