"""Open-loop rollout fidelity against the reference world (PSNR at horizons).

For each held-out episode and start tick ``s``, the model opens on the true frame ``s`` and
is stepped with the true actions and world states; the generated frame ``s + h`` is compared
with the reference world's. Baselines in the same run: *copy last frame* (the opening frame
held still) and the same model driven by *shuffled actions* — the action sequence of another
episode, so the trajectory differs (ΔPSNR = true − shuffled measures controllability,
Genie's ΔtPSNR).
"""

from __future__ import annotations

import numpy as np

from ..model.interface import Prompt
from ..world.state import STATE_NAMES, WorldState


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between uint8 frames of the same shape (capped at 60 dB)."""
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return float(min(60.0, 10 * np.log10(255.0**2 / max(mse, 1e-10))))


def _state(vec: np.ndarray) -> WorldState:
    d = dict(zip(STATE_NAMES, vec.tolist()))
    return WorldState(light=d["light"], alarm=d["alarm"] > 0.5, avatar=d["avatar"] > 0.5, bleeding=d["bleeding"])


def rollout(model, episode, start: int, horizon: int, actions: np.ndarray | None = None) -> list[np.ndarray]:
    """Generated frames for ticks ``start+1 .. start+horizon`` (uint8 ``(H, W, 3)`` each)."""
    acts = episode.actions if actions is None else actions
    model.reset(Prompt("", episode.frames[start]), _state(episode.states[start]))
    return [model.step(acts[start + k], _state(episode.states[start + k])) for k in range(1, horizon + 1)]


def evaluate(model, episodes, horizons=(1, 4, 16), seed: int = 0) -> dict:
    """PSNR (dB) per horizon for the model, copy-last-frame and shuffled actions.

    ``episodes``: a sequence of :class:`~engine.data.format.Episode`. Returns
    ``{"psnr": {h: ..}, "copy_last": {h: ..}, "shuffled": {h: ..}, "delta_psnr": {h: ..}, "samples": n}``.
    """
    rng = np.random.default_rng(seed)
    H = max(horizons)
    res = {k: {h: [] for h in horizons} for k in ("psnr", "copy_last", "shuffled")}
    n = 0
    episodes = list(episodes)
    for i, ep in enumerate(episodes):
        L = len(ep)
        other = episodes[(i + 1) % len(episodes)].actions if len(episodes) > 1 else rng.permutation(ep.actions)
        # Start a little into the episode: the scripted participant is moving by then.
        for start in range(min(8, L - H - 1), L - H, max(H, L // 2)):
            gen = rollout(model, ep, start, H)
            shuffled = ep.actions.copy()
            shuffled[start + 1:start + H + 1] = other[start + 1:start + H + 1]
            shuf = rollout(model, ep, start, H, shuffled)
            for h in horizons:
                truth = ep.frames[start + h]
                res["psnr"][h].append(psnr(gen[h - 1], truth))
                res["copy_last"][h].append(psnr(ep.frames[start], truth))
                res["shuffled"][h].append(psnr(shuf[h - 1], truth))
            n += 1
    out = {k: {str(h): round(float(np.mean(v[h])), 2) for h in horizons} for k, v in res.items()}
    out["delta_psnr"] = {str(h): round(out["psnr"][str(h)] - out["shuffled"][str(h)], 2) for h in horizons}
    out["samples"] = n
    return out
