"""Train the dynamics model with diffusion forcing and a flow-matching objective.

Each training sample is the anchor (an episode's first frame), ``cfg.memory`` memory frames
retrieved by pose from before the clip (as the live frame memory retrieves them), and a clip
of ``context`` consecutive frames. Noise levels per clip frame follow one of two schedules,
half the batch each:

* *diffusion forcing* (Chen et al. 2024): every frame gets an independent ``t ~ U(0, 1)``;
* *live-like*: the earlier frames are lightly noised (``t ~ U(0, 0.2)``, as the KV cache
  holds them at inference) and the last frame gets ``t ~ U(0, 1)``.

Memory frames are lightly noised context. The anchor is clean, except in ``anchor_gen`` of
the clips, where it is noised and learned too: that is how the model learns to draw an
opening frame from a text prompt alone.

The network predicts the rectified-flow velocity ``ε - x_0``; the loss is the MSE of the
clean latent that velocity implies (see :func:`flow_loss`). Actions (with the pose) and the
prompt are dropped independently for ``cond_drop`` of the clips (learned null embeddings),
so the model can later be sampled with classifier-free guidance.

``objective="regressor"`` trains the same network as the *deterministic one-step regressor*
baseline instead: clean context (teacher forcing), the last frame's input all zeros, its
clean latent regressed directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..model.dynamics import DynamicsConfig, DynamicsModel
from ..model.pose import memory_score
from .common import run_steps
from .distributed import wrap

@dataclass
class TrainData:
    """Stacked training episodes (all tensors float32 on the CPU).

    ``latents`` ``(E, T, C, h, w)`` normalised; ``actions`` ``(E, T, 4)`` divided by the
    action limits; ``states`` ``(E, T, 4)``; ``poses`` ``(E, T, 4)`` dead-reckoned;
    ``text`` ``(E, V, D)`` V prompt embeddings (caption paraphrases) per episode, or None.
    """

    latents: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor
    poses: torch.Tensor
    text: torch.Tensor | None = None


def sample_batch(data: TrainData, *, batch: int, context: int, memory: int, g: torch.Generator):
    """Clips ``(anchor, memory..., clip...)`` → dict of ``x0 (B, T, C, h, w)``, ``a``, ``s``,
    ``p`` ``(B, T, 4)``, ``text`` ``(B, D)`` or None, ``memory_valid`` ``(B, M)``."""
    E, T = data.latents.shape[:2]
    e = torch.randint(0, E, (batch,), generator=g)
    s0 = torch.randint(1, T - context + 1, (batch,), generator=g)
    idx = s0[:, None] + torch.arange(context)[None, :]  # (B, K)
    zeros = torch.zeros(batch, 1, dtype=torch.long)
    parts = [zeros]
    valid = torch.zeros(batch, memory, dtype=torch.bool)
    if memory:
        cand = data.poses[e]  # (B, T, 4)
        score = memory_score(data.poses[e, idx[:, -1]], cand)
        t_idx = torch.arange(T)[None, :]
        usable = (t_idx >= 1) & (t_idx < s0[:, None])
        score = torch.where(usable, score, torch.full_like(score, math.inf))
        best = score.topk(memory, dim=1, largest=False)
        mem_idx = torch.where(best.values.isfinite(), best.indices, torch.zeros_like(best.indices))
        valid = best.values.isfinite()
        parts.append(mem_idx)
    frames = torch.cat(parts + [idx], 1)  # (B, 1 + M + K)
    x0 = data.latents[e[:, None], frames]
    a = data.actions[e[:, None], frames].clone()
    a[:, :1 + memory] = 0.0  # the anchor and memory frames carry no action, only their pose
    s = data.states[e[:, None], frames]
    p = data.poses[e[:, None], frames]
    text = None
    if data.text is not None:
        v = torch.randint(0, data.text.shape[1], (batch,), generator=g)
        text = data.text[e, v]
    return {"x0": x0, "a": a, "s": s, "p": p, "text": text, "memory_valid": valid}


def to_device(batch: dict, device: torch.device) -> dict:
    """A :func:`sample_batch` dict with its tensors on ``device``."""
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}


def noise_levels(batch: int, frames: int, g: torch.Generator) -> torch.Tensor:
    """``(B, frames)`` noise levels for the clip frames (see the module docstring)."""
    t = torch.rand(batch, frames, generator=g)
    live = torch.rand(batch, generator=g) < 0.5
    light = 0.2 * torch.rand(batch, frames, generator=g)
    light[:, -1] = t[:, -1]
    return torch.where(live[:, None], light, t)


def frame_motion(actions_scaled: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
    """Camera motion into each frame ``(..., 4)`` (forward, strafe, Δyaw, Δpitch) from scaled
    actions and dead-reckoned poses ``(..., T, 4)``; Δpitch comes from the poses (pitch is
    clamped). The first frame's motion is its action."""
    from ..actions import ACTION_LIMITS

    raw = actions_scaled * torch.as_tensor(ACTION_LIMITS, device=actions_scaled.device)
    dpitch = torch.zeros_like(raw[..., 3])
    dpitch[..., 1:] = poses[..., 1:, 3] - poses[..., :-1, 3]
    return torch.stack([raw[..., 0], raw[..., 1], raw[..., 2], dpitch], -1)


def clip_warps(xt: torch.Tensor, batch: dict, M: int) -> torch.Tensor:
    """Warped predecessors ``(B, T, C, h, w)`` for a training clip: clip frame k sees clip
    frame k-1 *as the network sees it* (its noisy input) moved by the motion into k; the
    anchor, memory frames and the first clip frame get zeros."""
    B, T = xt.shape[:2]
    j0 = 1 + M
    out = torch.zeros_like(xt)
    if T - j0 > 1:
        from ..model.warp import ego_warp

        motion = frame_motion(batch["a"][:, j0:], batch["p"][:, j0:])[:, 1:]  # into frames j0+1..
        prev = xt[:, j0:-1]
        out[:, j0 + 1:] = ego_warp(prev.reshape(-1, *prev.shape[2:]), motion.reshape(-1, 4)).view_as(prev)
    return out


def flow_loss(model: DynamicsModel, batch: dict, g: torch.Generator, *, cond_drop: float = 0.1,
              anchor_gen: float = 0.15, objective: str = "flow", net: torch.nn.Module | None = None):
    """Training loss of one batch from :func:`sample_batch` (see the module docstring).
    ``net`` runs the forward pass when given (``model`` wrapped for data parallelism)."""
    x0 = batch["x0"]
    dev = x0.device
    B, T = x0.shape[:2]
    M = model.cfg.memory
    K = T - 1 - M
    if objective == "regressor":
        t = torch.zeros(B, T, device=dev)
        t[:, -1] = 1.0
        xt = x0.clone()
        xt[:, -1] = 0.0
        gen_anchor = torch.zeros(B, dtype=torch.bool)
    else:
        gen_anchor = torch.rand(B, generator=g) < anchor_gen
        t_anchor = torch.where(gen_anchor, torch.rand(B, generator=g), torch.zeros(B))
        parts = [t_anchor[:, None]]
        if M:
            parts.append(0.2 * torch.rand(B, M, generator=g))
        t = torch.cat(parts + [noise_levels(B, K, g)], 1).to(dev)
        eps = torch.randn(x0.shape, generator=g).to(dev)
        tt = t[:, :, None, None, None]
        xt = (1 - tt) * x0 + tt * eps
    drop_a = (torch.rand(B, generator=g) < cond_drop).to(dev)
    drop_t = (torch.rand(B, generator=g) < cond_drop).to(dev)
    warped = clip_warps(xt, batch, M) if model.cfg.warp else None
    v = (net or model)(xt, t, batch["a"], batch["s"], poses=batch["p"], text=batch["text"], drop_action=drop_a,
                       drop_text=drop_t, memory_valid=batch["memory_valid"] if M else None, warped=warped)
    # The network predicts the velocity, but the loss is taken on the clean latent it implies
    # (x0_hat = x_t - t·v). The plain velocity loss weights the error on x0 by 1/t², so it
    # spends the model on polishing nearly clean context frames; the x0 loss weights every
    # noise level alike, including the pure-noise frame that live generation starts from.
    x0_hat = xt - t[:, :, None, None, None] * v
    err = (x0_hat - x0).pow(2).mean(dim=(2, 3, 4))  # (B, T)
    if objective == "regressor":
        return err[:, -1].mean()
    weight = torch.zeros(B, T, device=dev)
    weight[:, 1 + M:] = 1.0
    weight[:, 0] = gen_anchor.float().to(dev)
    return (err * weight).sum() / weight.sum()


def train_dynamics(data: TrainData, *, steps: int, config: DynamicsConfig, batch: int = 32, lr: float = 3e-4,
                   seed: int = 0, objective: str = "flow", cond_drop: float = 0.1, anchor_gen: float = 0.15,
                   checkpoint: Path | None = None,
                   checkpoint_every: int = 200, progress: bool = True, log=print, desc: str = "dynamics",
                   device: str | torch.device = "cpu") -> DynamicsModel:
    """Train for ``steps`` steps on ``data`` (:class:`TrainData`); resumes from
    ``checkpoint`` if it exists. ``objective`` is ``"flow"`` (the world model) or
    ``"regressor"`` (the deterministic baseline). Trains on ``device``; returns the model on
    the CPU."""
    if objective not in ("flow", "regressor"):
        raise ValueError(f"objective must be 'flow' or 'regressor', got {objective!r}")
    device = torch.device(device)
    model = DynamicsModel(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(seed + (1 if objective == "flow" else 2))
    model.train()
    net = wrap(model)  # DistributedDataParallel under torchrun, else the model itself

    def loss_fn():
        b = to_device(sample_batch(data, batch=batch, context=config.context, memory=config.memory, g=g), device)
        return flow_loss(model, b, g, objective=objective, cond_drop=cond_drop, anchor_gen=anchor_gen, net=net)

    ema = run_steps(model, opt, g, loss_fn, steps=steps, lr=lr, desc=desc, checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every, progress=progress, log=log)
    model = model.cpu()
    model.final_loss = ema
    return model.eval()
