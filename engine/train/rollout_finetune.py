"""A short final phase on the model's own rollouts, against drift (exposure bias).

Teacher-forced training only ever shows the model true context frames; live, it conditions
on its own samples, and small errors compound. Self-Forcing (Huang et al. 2025) trains on
the model's own autoregressive rollouts. This is a simplified variant in that spirit (closer
to scheduled sampling, Bengio et al. 2015): for each clip, the model first generates the
clip's middle frames itself (no gradient, one Euler step each, context lightly noised as at
inference), then learns to predict the true last frame from that self-generated context. The
target stays the reference world's frame, so the model learns to steer back towards truth
from its own imperfect past.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from ..model.dynamics import DynamicsModel
from .common import run_steps
from .distributed import wrap
from .dynamics import TrainData, predecessors, sample_batch, to_device


@torch.no_grad()
def self_generated_context(model: DynamicsModel, b: dict, g: torch.Generator, ctx_noise: float = 0.1) -> torch.Tensor:
    """``b["x0"]`` with clip frames 2 .. K-1 replaced by the model's own one-step samples,
    each generated from the (already replaced) frames before it. Shape ``(B, T, C, h, w)``."""
    x0 = b["x0"]
    B, T = x0.shape[:2]
    M = model.cfg.memory
    j0 = 1 + M
    seq = x0.clone()
    dev = x0.device
    for k in range(j0 + 1, T - 1):
        sub = seq[:, :k + 1].clone()
        t = torch.full((B, k + 1), ctx_noise, device=dev)
        t[:, 0] = 0.0
        t[:, k] = 1.0
        eps = torch.randn(sub.shape, generator=g).to(dev)
        tt = t[:, :, None, None, None]
        xt = (1 - tt) * sub + tt * eps
        part = {key: (v[:, :k + 1] if torch.is_tensor(v) and v.dim() > 2 else v) for key, v in b.items()}
        ent = None if b.get("ent") is None else tuple(e[:, :k + 1] for e in b["ent"])
        warped = predecessors(model, xt, part)
        v = model(xt, t, part["a"], part["s"], poses=part["p"], text=b["text"],
                  memory_valid=b["memory_valid"] if M else None, warped=warped, entities=ent)
        seq[:, k] = xt[:, k] - v[:, k]  # one Euler step from t = 1 to 0
    return seq


def finetune_on_rollouts(model: DynamicsModel, data: TrainData, *, steps: int, batch: int = 32, lr: float = 5e-5,
                         seed: int = 0, ctx_noise: float = 0.1, checkpoint: Path | None = None,
                         checkpoint_every: int = 100, progress: bool = True, log=print,
                         device: str | torch.device = "cpu") -> DynamicsModel:
    """Fine-tune ``model`` for ``steps`` steps on self-generated context (see the module
    docstring); resumes from ``checkpoint``. Returns the model on the CPU."""
    device = torch.device(device)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(seed + 3)
    M = model.cfg.memory
    net = wrap(model)  # DistributedDataParallel under torchrun, else the model itself

    def loss_fn():
        b = to_device(sample_batch(data, batch=batch, context=model.cfg.context, memory=M, g=g), device)
        model.eval()
        seq = self_generated_context(model, b, g, ctx_noise)
        model.train()
        B, T = seq.shape[:2]
        t = torch.cat([torch.zeros(B, 1), 0.2 * torch.rand(B, T - 2, generator=g), torch.rand(B, 1, generator=g)], 1)
        t = t.to(device)
        eps = torch.randn(seq.shape, generator=g).to(device)
        tt = t[:, :, None, None, None]
        xt = (1 - tt) * seq + tt * eps
        warped = predecessors(model, xt, b)
        v = net(xt, t, b["a"], b["s"], poses=b["p"], text=b["text"],
                memory_valid=b["memory_valid"] if M else None, warped=warped, entities=b.get("ent"))
        return F.mse_loss(xt[:, -1] - t[:, -1, None, None, None] * v[:, -1], b["x0"][:, -1])

    run_steps(model, opt, g, loss_fn, steps=steps, lr=lr, desc="rollout fine-tune", checkpoint=checkpoint,
              checkpoint_every=checkpoint_every, progress=progress, log=log, warmup=min(50, steps // 5 + 1))
    return model.cpu().eval()
