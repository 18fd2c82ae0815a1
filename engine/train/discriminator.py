"""The adversarial part of the autoencoder's training: a PatchGAN discriminator and its losses.

A pixel loss alone (L1, MSE) makes a decoder paint the average of every frame its latent
could stand for, which is a blur wherever the latent is unsure. Latent-diffusion
autoencoders (Esser et al. 2021, VQGAN; Rombach et al. 2022) add a patch discriminator
(Isola et al. 2017, PatchGAN) that judges each ~30-pixel patch as real or generated, so the
decoder commits to sharp edges. Here with the hinge loss, spectral normalisation (Miyato et
al. 2018) for a stable discriminator, a feature-matching term (Wang et al. 2018,
pix2pixHD) and the adaptive weight of VQGAN, which scales the adversarial gradient to the
reconstruction gradient at the decoder's last layer.

Used in training only; the discriminator is never shipped.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """float32 ``(B, 3, H, W)`` frames in [0, 1] → realness logits ``(B, 1, H/8, W/8)``, plus
    the intermediate feature maps (for feature matching). ``width`` channels in the first
    layer, doubled at each of the three stride-2 stages."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.layers = nn.ModuleList([
            nn.Sequential(spectral_norm(nn.Conv2d(3, w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)),
            nn.Sequential(spectral_norm(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)),
            nn.Sequential(spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)),
            nn.Sequential(spectral_norm(nn.Conv2d(4 * w, 4 * w, 3, 1, 1)), nn.LeakyReLU(0.2, inplace=True)),
        ])
        self.head = spectral_norm(nn.Conv2d(4 * w, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, feats = x * 2 - 1, []
        for layer in self.layers:
            h = layer(h)
            feats.append(h)
        return self.head(h), feats


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss (Lim & Ye 2017)."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's (decoder's) side of the hinge loss."""
    return -fake_logits.mean()


def feature_matching(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between the discriminator's features of real and decoded frames (pix2pixHD)."""
    return sum(F.l1_loss(f, r.detach()) for r, f in zip(real_feats, fake_feats)) / len(real_feats)


def adaptive_weight(rec_loss: torch.Tensor, adv_loss: torch.Tensor, last_layer: torch.Tensor,
                    max_weight: float = 1e3) -> torch.Tensor:
    """VQGAN's balance: ``|∇ rec| / |∇ adv|`` at ``last_layer``'s weight (detached), so the
    adversarial term pushes the decoder about as hard as the reconstruction term."""
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, max_weight).detach()


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical finite differences of ``(B, C, H, W)``: ``(B, C, H, W-1)``,
    ``(B, C, H-1, W)``."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def gradient_loss(rec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the image gradients of ``rec`` and ``target``: edges in the right place
    and as strong as the target's."""
    (rx, ry), (tx, ty) = image_gradients(rec), image_gradients(target)
    return F.l1_loss(rx, tx) + F.l1_loss(ry, ty)


def adversarial_terms(disc: PatchDiscriminator, rec: torch.Tensor, target: torch.Tensor, rec_loss: torch.Tensor,
                      last_layer: torch.Tensor, gan_weight: float, fm_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's side of one adversarial step: ``(loss, weight)``, where ``loss`` is the
    adaptively weighted hinge term plus ``fm_weight`` × feature matching against ``target``
    (both ``(B, 3, H, W)`` in [0, 1]), to be added to ``rec_loss``; ``weight`` is the
    adaptive weight times ``gan_weight`` (detached, for logging)."""
    fake_logits, fake_feats = disc(rec)
    with torch.no_grad():
        _, real_feats = disc(target)
    g_loss = g_hinge_loss(fake_logits)
    weight = adaptive_weight(rec_loss, g_loss, last_layer) * gan_weight
    return weight * g_loss + fm_weight * feature_matching(real_feats, fake_feats), weight


def discriminator_step(disc: PatchDiscriminator, opt: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor) -> torch.Tensor:
    """One hinge-loss update of ``disc`` on ``real`` and (detached) ``fake`` frames; returns
    the loss before the update."""
    real_logits, _ = disc(real)
    fake_logits, _ = disc(fake.detach())
    d_loss = d_hinge_loss(real_logits, fake_logits)
    opt.zero_grad(set_to_none=True)
    d_loss.backward()
    opt.step()
    return d_loss


class DecoderAdversary:
    """What a decoder's adversarial training keeps besides the decoder: the discriminator
    (continued from ``disc_state``, the autoencoder's, when given), both optimisers (the
    decoder's is ``opt``), a random generator seeded with ``seed``, and their checkpoint.
    Shared by the decoder fine-tune and the layout decoder's training."""

    def __init__(self, decoder: nn.Module, opt: torch.optim.Optimizer, *, lr: float, seed: int,
                 disc_state: dict | None = None, device: str | torch.device = "cpu"):
        self.decoder, self.opt = decoder, opt
        self.disc = PatchDiscriminator().to(device)
        if disc_state is not None:
            self.disc.load_state_dict(disc_state)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=lr, betas=(0.5, 0.9))
        self.g = torch.Generator().manual_seed(seed)

    def resume(self, checkpoint, log, what: str) -> int:
        """Load ``checkpoint`` if there is one; returns the step to go on from (0 without)."""
        from .common import load_checkpoint

        state = load_checkpoint(checkpoint) if checkpoint else None
        if state is None:
            return 0
        self.decoder.load_state_dict(state["decoder"])
        self.disc.load_state_dict(state["disc"])
        self.opt.load_state_dict(state["opt"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.g.set_state(state["rng"])
        log(f"{what}: resumed from {checkpoint} at step {int(state['step'])}")
        return int(state["step"])

    def update(self, rec: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, last_layer: torch.Tensor,
               gan_weight: float, fm_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step of both players on decoded frames ``rec`` against ``target`` ``(B, 3, H,
        W)``: the decoder's loss is the pixel (L1 + L2) and gradient terms weighted per sample
        by ``weight`` ``(B, 1, 1, 1)``, plus the adaptively weighted adversarial and
        feature-matching terms; then the discriminator's hinge step. Returns ``(reconstruction
        loss, discriminator loss, adversarial weight)``, detached."""
        pix = (weight * ((rec - target).abs() + (rec - target).pow(2))).mean()
        rec_loss = pix + gradient_loss(weight * rec, weight * target)
        adv_loss, adv_w = adversarial_terms(self.disc, rec, target, rec_loss, last_layer, gan_weight, fm_weight)
        self.opt.zero_grad(set_to_none=True)
        (rec_loss + adv_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.decoder.parameters(), 1.0)
        self.opt.step()
        d_loss = discriminator_step(self.disc, self.opt_d, target, rec)
        return rec_loss.detach(), d_loss.detach(), adv_w

    def save(self, checkpoint, step: int) -> None:
        from .common import save_checkpoint

        if checkpoint is not None:
            save_checkpoint(checkpoint, decoder=self.decoder.state_dict(), disc=self.disc.state_dict(),
                            opt=self.opt.state_dict(), opt_d=self.opt_d.state_dict(), rng=self.g.get_state(),
                            step=step)
