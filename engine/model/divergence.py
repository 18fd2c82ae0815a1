"""How far a generated frame's latent lies outside the range the model was trained on.

The dynamics model works on latents normalised per channel over its training frames (unit
variance per channel), so the root-mean-square of one frame's normalised latent sits near 1
for every frame it was trained on: over the R12 training data, median 0.99, 99th percentile
1.40, maximum 1.41. A rollout that diverges (issue 25: the shipped R12 model under a trainee
standing still) leaves that range steadily — 1.0 at the opening, 1.5 by tick 18, 2.1 by tick
24, 7.6 by tick 48 — well before and while the frame dissolves into speckle, so the RMS is
both an early and a cheap detector (one reduction over 1,024 numbers a view and tick).

The measure is the *divergence score*: the frame's latent RMS over :data:`LATENT_RMS_BOUND`.
A score above 1 means the frame left the trained range; the session then re-anchors the
rollout (:class:`engine.runtime.guard.DivergenceGuard`). Frames with a score at or below
:data:`HEALTHY_SCORE` are taken as healthy, the ones a re-anchoring may start from.
"""

from __future__ import annotations

import torch

#: Latent RMS (normalised units) above which a frame counts as diverged: the training
#: frames' maximum (1.41 for R12) with a margin. A model card may set its own
#: (``divergence.latent_rms_bound``, measured on its training latents).
LATENT_RMS_BOUND = 1.6
#: Divergence score at or below which a frame is healthy (1.45 / 1.6: inside the training range).
HEALTHY_SCORE = 0.9


def latent_rms(z: torch.Tensor) -> torch.Tensor:
    """Per-frame root-mean-square of normalised latents ``z`` ``(N, C, h, w)`` → float32 ``(N,)``."""
    return z.float().pow(2).mean(dim=tuple(range(1, z.dim()))).sqrt()


def rms_bound(latents: torch.Tensor, margin: float = 1.15) -> float:
    """The bound for a model trained on normalised ``latents`` ``(N, C, h, w)``: the largest
    per-frame RMS among them times ``margin`` (R12: 1.41 × 1.15 ≈ :data:`LATENT_RMS_BOUND`)."""
    return round(float(latent_rms(latents).max()) * margin, 3)
