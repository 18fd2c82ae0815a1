"""Train the autoencoder on dataset frames: reconstruction, then adversarial sharpening.

Losses (see :mod:`engine.train.discriminator`): L1 + MSE on pixels and L1 on image
gradients from the first step; from ``gan_start`` of the steps on, a PatchGAN hinge loss
(weighted adaptively against the reconstruction loss, times ``gan_weight``) and feature
matching on the discriminator's features. Gaussian noise on the latent during training
(a random level per frame, up to ``latent_noise`` of the latent's spread) makes the decoder
tolerant of the dynamics model's imperfect latents, and the adversarial loss teaches it to
draw a sharp frame from them rather than a blurred one.

The network is convolutional, so it trains on random ``crop``-pixel squares of the frames
(aligned to the latent grid; latent diffusion's autoencoders train on crops the same way):
four times the samples per second at 64×64 crops of 128×128 frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..model.autoencoder import Autoencoder, AutoencoderConfig, frames_to_tensor
from .common import load_checkpoint, lr_at, save_checkpoint
from .discriminator import PatchDiscriminator, adversarial_terms, discriminator_step, gradient_loss


def train_autoencoder(frames: np.ndarray, *, steps: int, batch: int = 32, lr: float = 1e-3, seed: int = 0,
                      config: AutoencoderConfig | None = None, checkpoint: Path | None = None,
                      checkpoint_every: int = 200, progress: bool = True, log=print,
                      device: str | torch.device = "cpu", gan_start: float = 0.3, gan_weight: float = 0.5,
                      fm_weight: float = 1.0, latent_noise: float = 0.05, crop: int | None = None,
                      d_lr_factor: float = 2.0) -> Autoencoder:
    """Train on uint8 frames ``(N, H, W, 3)`` for ``steps`` steps on ``device``; resumes from
    ``checkpoint``. Returns the model on the CPU. ``gan_start`` is the share of the steps
    trained on reconstruction alone (1.0: no adversarial loss at all); ``gan_weight`` and
    ``fm_weight`` scale the adversarial and feature-matching terms; ``crop`` (pixels, a
    multiple of the downsampling factor) trains on random crops instead of whole frames; the
    discriminator learns at a constant ``d_lr_factor × lr`` (Heusel et al. 2017's two
    time-scale rule), so it keeps finding what separates decoded frames from real ones."""
    from tqdm import tqdm

    config = config or AutoencoderConfig(resolution=frames.shape[1])
    device = torch.device(device)
    model = Autoencoder(config).to(device)
    disc = PatchDiscriminator().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    start = 0
    state = load_checkpoint(checkpoint) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["rng"])
        if "disc" in state:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        start = int(state["step"])
        log(f"autoencoder: resumed from {checkpoint} at step {start}")
    first_gan = int(gan_start * steps)
    last = model.decoder[-1].weight
    model.train()
    disc.train()

    def save(step: int) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, model=model.state_dict(), opt=opt.state_dict(), rng=g.get_state(), step=step,
                            disc=disc.state_dict(), opt_d=opt_d.state_dict())

    bar = tqdm(range(start, steps), desc="autoencoder", unit="step", disable=not progress, initial=start, total=steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=100)
        for group in opt_d.param_groups:  # two time-scale updates: the discriminator keeps up
            group["lr"] = d_lr_factor * lr
        idx = torch.randint(0, len(frames), (batch,), generator=g).tolist()
        if crop and crop < min(frames.shape[1:3]):
            f = config.downsample
            at = (torch.randint(0, (min(frames.shape[1:3]) - crop) // f + 1, (batch, 2), generator=g) * f).tolist()
            x = frames_to_tensor(np.stack([frames[k][i:i + crop, j:j + crop] for k, (i, j) in zip(idx, at)]))
        else:
            x = frames_to_tensor(frames[idx])
        x = x.to(device)
        z = model.encode(x)
        level = latent_noise * torch.rand(batch, 1, 1, 1, generator=g).to(device)
        z_noisy = z + level * z.detach().std() * torch.randn(z.shape, generator=g).to(device)
        rec = model.decode(z_noisy)
        rec_loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + gradient_loss(rec, x)
        loss = rec_loss + 1e-4 * z.pow(2).mean()
        adv = step >= first_gan and gan_weight > 0
        if adv:
            adv_loss, weight = adversarial_terms(disc, rec, x, rec_loss, last, gan_weight, fm_weight)
            loss = loss + adv_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if adv:
            d_loss = discriminator_step(disc, opt_d, x, rec)
        if step % 20 == 0:
            post = {"rec": f"{rec_loss.item():.4f}"}
            if adv:
                post.update(d=f"{d_loss.item():.3f}", w=f"{weight.item():.2f}")
            bar.set_postfix(**post)
        if (step + 1) % checkpoint_every == 0:
            save(step + 1)
    if start < steps:  # a finished checkpoint is left as it was
        save(steps)
    return model.cpu().eval()


@torch.inference_mode()
def encode_frames(model: Autoencoder, frames: np.ndarray, batch: int = 256,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Encode uint8 ``(N, H, W, 3)`` → float32 latents ``(N, C, h, w)`` (un-normalised, on the CPU)."""
    net = model.to(device)
    out = [net.encode(frames_to_tensor(frames[i:i + batch]).to(device)).cpu() for i in range(0, len(frames), batch)]
    model.cpu()
    return torch.cat(out)
