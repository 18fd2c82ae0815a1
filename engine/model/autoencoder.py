"""Convolutional autoencoder: frames to a compact continuous latent and back.

A frame becomes a latent ``downsample`` times smaller on each side (one stride-2 stage per
entry of ``widths`` after the first): the shipped model maps 128×128×3 to 16×16×4, the f8c4
shape of latent diffusion's autoencoders (Rombach et al. 2022). A finer f4 latent
(32×32×4) reconstructs sharper and trains faster, but the dynamics model must then carry
256 numbers per token through a 256-wide transformer and never learned to; at f8c4 a token
is 64 numbers. The detail an f8 latent cannot hold is drawn by the adversarially trained
decoder. The dynamics model
works only in this latent space; every dataset frame is encoded once and cached before
dynamics training (the tokenizer-first recipe of Genie, Oasis and DIAMOND's successors).
The decoder is trained adversarially as well (:mod:`engine.train.autoencoder`), so it draws
sharp edges instead of the blurred average a pixel loss alone settles on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class AutoencoderConfig:
    resolution: int = 128
    latent_channels: int = 4
    #: One width per scale, full resolution first: thin at full resolution, where a layer
    #: costs the most (decoding a 128×128 frame takes ~8 ms on 2 CPU cores, channels-last).
    widths: tuple[int, ...] = (16, 32, 96, 192)
    #: Residual blocks at every scale whose width is at least this (64 in the first models).
    res_from_width: int = 32
    #: Residual blocks at the latent's scale at the start of the decoder.
    mid_blocks: int = 2
    #: Channels of the scene layout the decoder is modulated by (0: a plain decoder; else
    #: engine.world.layout.LAYOUT_DIM, or LAYOUT_DIM + ALBEDO_DIM for a decoder that reads the
    #: albedo map too, see engine.model.layout_decoder), the width of its
    #: layout features, and its extra modulated blocks at full resolution.
    layout: int = 0
    layout_hidden: int = 32
    layout_blocks: int = 1

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.widths) - 1)

    @property
    def latent_size(self) -> int:
        return self.resolution // self.downsample

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        """A config saved by :meth:`to_dict`; a card from before ``res_from_width`` and
        ``mid_blocks`` existed gets the values those models were built with (64 and 1)."""
        return cls(**{"res_from_width": 64, "mid_blocks": 1, **d, "widths": tuple(d["widths"])})


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, ch), nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Autoencoder(nn.Module):
    """``encode``: float32 ``(B, 3, H, W)`` in [0, 1] → ``(B, C, H/8, W/8)``;
    ``decode``: the reverse, output clamped to [0, 1] at inference.
    """

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.config = config
        w = config.widths
        # Residual blocks only at the coarse scales (width >= 64): the full-resolution layers
        # stay thin so that decoding a frame costs ~3 ms on 2 CPU cores.
        enc: list[nn.Module] = [nn.Conv2d(3, w[0], 3, padding=1)]
        for a, b in zip(w[:-1], w[1:]):
            enc += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.SiLU()]
            if b >= config.res_from_width:
                enc.append(ResBlock(b))
        enc += [nn.GroupNorm(8, w[-1]), nn.SiLU(), nn.Conv2d(w[-1], config.latent_channels, 1)]
        self.encoder = nn.Sequential(*enc)
        self.decoder = build_decoder(config)
        if config.layout:
            from .layout_decoder import LayoutDecoder

            self.decoder = LayoutDecoder(self.decoder, hidden=config.layout_hidden, extra_blocks=config.layout_blocks,
                                         channels=config.layout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x * 2 - 1)

    def decode(self, z: torch.Tensor, layout: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``(B, C, h, w)`` → frames ``(B, 3, H, W)`` (about [0, 1]). ``layout``
        float32 ``(B, config.layout, H, W)`` (:func:`engine.model.layout_decoder.decoder_layout`)
        is read by a layout decoder only; None gives it the empty layout."""
        if not self.config.layout:
            return self.decoder(z) * 0.5 + 0.5
        if layout is None:
            from .layout_decoder import empty_decoder_layout

            layout = empty_decoder_layout(z.shape[0], self.config.resolution, z.device, self.config.layout)
        return self.decoder(z, layout.to(z.dtype)) * 0.5 + 0.5

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return self.decode(z), z


def build_decoder(config: AutoencoderConfig) -> nn.Sequential:
    """The plain decoder of ``config``: latent ``(B, C, h, w)`` → frame in [-1, 1]."""
    w = config.widths
    dec: list[nn.Module] = [nn.Conv2d(config.latent_channels, w[-1], 3, padding=1)]
    dec += [ResBlock(w[-1]) for _ in range(config.mid_blocks)]
    for a, b in zip(w[::-1][:-1], w[::-1][1:]):
        dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, padding=1)]
        dec.append(ResBlock(b) if b >= config.res_from_width else nn.SiLU())
    dec += [nn.GroupNorm(8, w[0]), nn.SiLU(), nn.Conv2d(w[0], 3, 3, padding=1)]
    return nn.Sequential(*dec)


def frames_to_tensor(frames) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` numpy/tensor → float32 ``(..., 3, H, W)`` in [0, 1]."""
    t = torch.as_tensor(frames)
    return t.movedim(-1, -3).float() / 255.0


def tensor_to_frames(x: torch.Tensor):
    """float32 ``(..., 3, H, W)`` in [0, 1] → uint8 numpy ``(..., H, W, 3)``."""
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).movedim(-3, -1).cpu().numpy()
