"""Train the dynamics model with diffusion forcing and a flow-matching objective.

Each training sample is the anchor (an episode's first frame, clean) followed by a clip of
``context`` consecutive frames. Noise levels per clip frame follow one of two schedules,
half the batch each:

* *diffusion forcing*: every frame gets an independent ``t ~ U(0, 1)``;
* *live-like*: the earlier frames are lightly noised (``t ~ U(0, 0.2)``, as the KV cache
  holds them at inference) and the last frame gets ``t ~ U(0, 1)``.

The network predicts the rectified-flow velocity ``ε - x_0``; the loss is the MSE of the
clean latent that velocity implies, over all clip frames (see :func:`flow_loss`). Actions and
world state are dropped together for 10 % of clips (a null embedding), so the model can later
be sampled with classifier-free guidance.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from ..model.dynamics import DynamicsConfig, DynamicsModel
from .common import lr_at, resume, save_training_state


def sample_batch(latents, actions, states, *, batch: int, context: int, g: torch.Generator):
    """Clips from stacked episodes.

    ``latents`` ``(E, T, C, h, w)`` normalised; ``actions`` ``(E, T, 4)`` scaled to [-1, 1];
    ``states`` ``(E, T, 4)``. Returns ``x0 (B, 1+K, C, h, w)``, ``a``, ``s`` ``(B, 1+K, 4)``.
    """
    E, T = latents.shape[:2]
    e = torch.randint(0, E, (batch,), generator=g)
    s0 = torch.randint(0, T - context + 1, (batch,), generator=g)
    idx = s0[:, None] + torch.arange(context)[None, :]  # (B, K)
    clip = latents[e[:, None], idx]
    x0 = torch.cat([latents[e, 0][:, None], clip], 1)
    a = torch.cat([torch.zeros_like(actions[e, 0])[:, None], actions[e[:, None], idx]], 1)
    s = torch.cat([states[e, 0][:, None], states[e[:, None], idx]], 1)
    return x0, a, s


def noise_levels(batch: int, frames: int, g: torch.Generator) -> torch.Tensor:
    """``(B, frames)`` noise levels for the clip frames (see the module docstring)."""
    t = torch.rand(batch, frames, generator=g)
    live = torch.rand(batch, generator=g) < 0.5
    light = 0.2 * torch.rand(batch, frames, generator=g)
    light[:, -1] = t[:, -1]
    return torch.where(live[:, None], light, t)


def flow_loss(model: DynamicsModel, x0, a, s, g: torch.Generator, cond_drop: float = 0.1):
    B, T1 = x0.shape[:2]
    t = torch.cat([torch.zeros(B, 1), noise_levels(B, T1 - 1, g)], 1)  # anchor stays clean
    eps = torch.randn(x0.shape, generator=g)
    tt = t[:, :, None, None, None]
    xt = (1 - tt) * x0 + tt * eps
    drop = torch.rand(B, generator=g) < cond_drop
    v = model(xt, t, a, s, drop_cond=drop)
    # The network predicts the velocity, but the loss is taken on the clean latent it implies
    # (x0_hat = x_t - t·v). The plain velocity loss weights the error on x0 by 1/t², so it
    # spends the model on polishing nearly clean context frames; the x0 loss weights every
    # noise level alike, including the pure-noise frame that live generation starts from.
    x0_hat = xt - tt * v
    return F.mse_loss(x0_hat[:, 1:], x0[:, 1:])


def train_dynamics(latents, actions, states, *, steps: int, config: DynamicsConfig, batch: int = 32,
                   lr: float = 3e-4, seed: int = 0, checkpoint: Path | None = None, checkpoint_every: int = 200,
                   progress: bool = True, log=print) -> DynamicsModel:
    """Train for ``steps`` steps on stacked episodes (shapes as in :func:`sample_batch`);
    resumes from ``checkpoint`` if it exists."""
    from tqdm import tqdm

    model = DynamicsModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(seed + 1)
    start = resume(checkpoint, model, opt, g, "dynamics", log)
    model.train()
    ema = None
    bar = tqdm(range(start, steps), desc="dynamics", unit="step", disable=not progress, initial=start, total=steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        x0, a, s = sample_batch(latents, actions, states, batch=batch, context=config.context, g=g)
        loss = flow_loss(model, x0, a, s, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{ema:.4f}")
        if (step + 1) % checkpoint_every == 0:
            save_training_state(checkpoint, model, opt, g, step + 1)
    save_training_state(checkpoint, model, opt, g, steps)
    model.final_loss = ema
    return model.eval()
