"""Open-loop rollout fidelity and controllability against the reference world.

For each held-out episode and start tick ``s``, every method opens on the true frame ``s``
and is stepped with the true actions and world states; generated frame ``s + h`` is compared
with the reference world's (PSNR, SSIM at horizons h). Controllability: the same rollout
driven by *shuffled actions* — another episode's actions from a random tick, so the
trajectory differs but the actions stay realistic — and ΔPSNR = PSNR(true) − PSNR(shuffled)
(Genie's ΔtPSNR; Bruce et al. 2024). Near zero means the controls are ignored.
"""

from __future__ import annotations

import numpy as np

from ..model.interface import Prompt
from ..world.state import WorldState
from .metrics import psnr, ssim_batch


def rollout(model, episode, start: int, horizon: int, actions: np.ndarray | None = None) -> np.ndarray:
    """Frames uint8 ``(horizon, H, W, 3)`` for ticks ``start+1 .. start+horizon``."""
    acts = episode.actions if actions is None else actions
    model.reset(Prompt("", episode.frames[start]), WorldState.from_vector(episode.states[start]))
    return np.stack([model.step(acts[start + k], WorldState.from_vector(episode.states[start + k]))
                     for k in range(1, horizon + 1)])


def starts_for(length: int, horizon: int, per_episode: int) -> list[int]:
    """Start ticks spread over an episode (from tick 8: the participant is moving by then)."""
    last = length - horizon - 1
    if last < 0:
        return []
    first = min(8, last)
    return sorted({int(round(v)) for v in np.linspace(first, last, per_episode)})


def evaluate_fidelity(methods: dict, episodes, *, horizons=(1, 4, 16, 64), per_episode: int = 2, seed: int = 0,
                      keep_example: bool = True) -> tuple[dict, dict]:
    """PSNR/SSIM per horizon and ΔPSNR for every method in ``methods`` (name → world model).

    Returns ``(results, example)``: results ``{"psnr": {method: {h: dB}}, "ssim": {...},
    "shuffled_psnr": {...}, "delta_psnr": {...}, "action_effect_psnr": {h: dB},
    "samples": n}``, where ``action_effect_psnr`` is the PSNR between the reference world's
    frames under the true and the shuffled actions (how different the controls make the
    views: the room a model has to show a difference in). ``example`` holds the frames of
    the first sample for the report.
    """
    rng = np.random.default_rng(seed)
    episodes = list(episodes)
    H = max(horizons)
    from ..world.env import ReferenceWorld

    ref_world = ReferenceWorld(episodes[0].frames.shape[1]) if episodes else None
    acc = {k: {m: {h: [] for h in horizons} for m in methods} for k in ("psnr", "ssim", "shuffled_psnr")}
    effect = {h: [] for h in horizons}
    example, n = {}, 0
    for i, ep in enumerate(episodes):
        for start in starts_for(len(ep), H, per_episode):
            j = (i + 1 + int(rng.integers(max(1, len(episodes) - 1)))) % len(episodes)
            other = episodes[j].actions
            off = int(rng.integers(1, len(other) - H))
            shuffled = ep.actions.copy()
            shuffled[start + 1:start + H + 1] = other[off:off + H]
            truth = ep.frames[start + 1:start + H + 1]
            ref_shuf = _reference_under(ref_world, ep, start, shuffled, H) if ref_world else None
            for h in horizons:
                if ref_shuf is not None:
                    effect[h].append(psnr(ref_shuf[h - 1], truth[h - 1]))
            for name, model in methods.items():
                gen = rollout(model, ep, start, H)
                shuf = rollout(model, ep, start, H, shuffled)
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
    return out, example


def _reference_under(world, ep, start: int, actions: np.ndarray, H: int) -> np.ndarray | None:
    """The reference world's frames under ``actions`` from the episode's pose at ``start``."""
    scene_meta = ep.meta
    if "room_type" not in scene_meta or ep.poses is None:
        return None
    pose = tuple(float(v) for v in ep.poses[start])
    world.reset(scene_meta["room_type"], scene_meta["scene_seed"], WorldState.from_vector(ep.states[start]), pose=pose)
    return np.stack([world.step(actions[start + k], WorldState.from_vector(ep.states[start + k])) for k in range(1, H + 1)])
