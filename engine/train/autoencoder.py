"""Train the autoencoder on dataset frames (L1 + MSE reconstruction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..model.autoencoder import Autoencoder, AutoencoderConfig, frames_to_tensor
from .common import lr_at, resume, save_training_state


def train_autoencoder(frames: np.ndarray, *, steps: int, batch: int = 64, lr: float = 1e-3, seed: int = 0,
                      config: AutoencoderConfig | None = None, checkpoint: Path | None = None,
                      checkpoint_every: int = 250, progress: bool = True, log=print,
                      device: str | torch.device = "cpu") -> Autoencoder:
    """Train on uint8 frames ``(N, H, W, 3)`` for ``steps`` steps on ``device``; resumes from
    ``checkpoint``. Returns the model on the CPU.

    Small Gaussian noise on the latent during training makes the decoder tolerant of the
    dynamics model's imperfect latents.
    """
    from tqdm import tqdm

    config = config or AutoencoderConfig(resolution=frames.shape[1])
    device = torch.device(device)
    model = Autoencoder(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    start = resume(checkpoint, model, opt, g, "autoencoder", log)
    model.train()
    bar = tqdm(range(start, steps), desc="autoencoder", unit="step", disable=not progress, initial=start, total=steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=100)
        idx = torch.randint(0, len(frames), (batch,), generator=g)
        x = frames_to_tensor(frames[idx.numpy()]).to(device)
        z = model.encode(x)
        z_noisy = z + 0.05 * z.detach().std() * torch.randn(z.shape, generator=g).to(device)
        rec = model.decode(z_noisy)
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if (step + 1) % checkpoint_every == 0:
            save_training_state(checkpoint, model, opt, g, step + 1)
    save_training_state(checkpoint, model, opt, g, steps)
    return model.cpu().eval()


@torch.inference_mode()
def encode_frames(model: Autoencoder, frames: np.ndarray, batch: int = 256,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Encode uint8 ``(N, H, W, 3)`` → float32 latents ``(N, C, h, w)`` (un-normalised, on the CPU)."""
    net = model.to(device)
    out = [net.encode(frames_to_tensor(frames[i:i + batch]).to(device)).cpu() for i in range(0, len(frames), batch)]
    model.cpu()
    return torch.cat(out)
