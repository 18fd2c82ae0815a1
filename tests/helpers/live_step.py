"""The training-forward inputs that reproduce one live step of a world model (tests)."""

import numpy as np
import torch

from engine.actions import ACTION_LIMITS
from engine.model.pose import step_pose


def one_step_inputs(m, z0: torch.Tensor, action: np.ndarray, state) -> tuple:
    """``(eps, x, t, a, s, p)`` for the training forward over anchor, two empty memory slots,
    the opening frame and the frame of one live step of ``m`` (seed 3, one sampling step, no
    context noise) from opening latent ``z0`` under ``action`` and ``state``: the step's noise
    ``eps`` replayed from the model's generator, then the latents, noise levels, actions,
    state vectors and dead-reckoned poses of the five frames."""
    m.gen.manual_seed(3)  # reset() reseeded the generator; replay its draws to get the step's noise
    torch.randn(z0.shape, generator=m.gen)  # the pending frame's context noise
    eps = torch.randn((1, 1, *z0.shape[1:]), generator=m.gen)[:, 0]
    x = torch.stack([z0, torch.zeros_like(z0), torch.zeros_like(z0), z0, eps], 1)
    t = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    a = torch.zeros(1, 5, 4)
    a[0, 4] = torch.from_numpy(action / ACTION_LIMITS)
    s = torch.from_numpy(np.stack([state.vector()] * 5))[None]
    p = torch.zeros(1, 5, 4)
    p[0, 4] = torch.from_numpy(step_pose(np.zeros(4, np.float32), action))
    return eps, x, t, a, s, p
