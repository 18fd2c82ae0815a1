"""A decoder told where things are: the autoencoder's decoder with its normalisations modulated
by the scene layout at every scale, up to the full output resolution.

The dynamics model works on a 32×32 latent. Where it is unsure (more so the further a
rollout runs) it samples a softened latent, and a plain decoder turns that into a field of
the room's colours: nothing in the latent says any more where the wall ends or the table
stands. The reference world knows, for every view, which class of thing each pixel shows
and how far away it is (:mod:`engine.world.layout`). Here that layout enters the decoder at
full resolution, as SPADE does (Park et al. 2019, spatially-adaptive normalisation): every
group normalisation of the decoder is followed by a per-pixel scale ``1 + γ(layout)`` and
shift ``β(layout)``, predicted by small convolutions from the layout resized to that scale.
The edges are then drawn where the scene graph puts them; the latent only has to carry
colour, light and what changes (blood, the avatar, the lamps).

:class:`LayoutDecoder` wraps the plain decoder of :mod:`engine.model.autoencoder` module by
module, keeping its weights, and adds ``extra_blocks`` modulated residual blocks at full
resolution. Every γ, β and each extra block's last convolution start at zero, so before
training it decodes exactly as the plain decoder it was built from (:meth:`load_plain`), and
training (:mod:`engine.train.layout_decoder`) only has to learn what the layout adds.

The layout input is ``(B, LAYOUT_DIM, H, W)`` float32 at the output resolution:
:func:`decoder_layout` makes it from a class map at full resolution and an inverse-depth
map at half of it, as :class:`engine.world.layout.LayoutRenderer` renders them at half the
output size. A decoder built with ``channels = LAYOUT_DIM + ALBEDO_DIM`` also reads the
view's albedo map (:meth:`engine.world.renderer.Renderer.render_albedo`), the scene graph's
own unlit colour of what each pixel shows, floor tiles included. Without it the decoder has only the latent to go on for colour, and
a rollout's colours drift (teal walls turn beige-grey after a few seconds of turning); with it
the room keeps its colours for the whole session, and a room drawn from text (its scene
inferred from the words, :mod:`engine.model.text_scene`) gets the walls the text named. As a
memory of appearance this plays the part of world-consistent vid2vid's guidance images
(Mallya et al. 2020), taken from the scene graph rather than from earlier frames. The empty
layout (class ``none`` everywhere, zero depth and albedo) stands for "no scene graph" (a
prompt without a room preset); training shows it in a share of the batches.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..world.layout import ALBEDO_DIM, LAYOUT_DIM, N_CLASSES


def decoder_layout(classes: torch.Tensor, inv_depth: torch.Tensor, albedo: torch.Tensor | None = None) -> torch.Tensor:
    """float32 ``(B, LAYOUT_DIM, H, W)``: the one-hot class map of ``classes`` ``(B, H, W)``
    (integer class indices of :data:`engine.world.layout.LAYOUT_CLASSES`) and the inverse
    depth ``inv_depth`` ``(B, H/2, W/2)`` (0..1, any float dtype) upsampled to ``(H, W)``;
    with ``albedo`` uint8 ``(B, H, W, 3)`` (the albedo pass of the same views) it is
    ``(B, LAYOUT_DIM + ALBEDO_DIM, H, W)``, the albedo scaled to 0..1 last."""
    onehot = F.one_hot(classes.long(), N_CLASSES).permute(0, 3, 1, 2).float()
    inv = F.interpolate(inv_depth.float()[:, None], size=classes.shape[-2:], mode="nearest")
    parts = [onehot, inv]
    if albedo is not None:
        parts.append(albedo.permute(0, 3, 1, 2).float() / 255.0)
    return torch.cat(parts, 1)


def empty_decoder_layout(batch: int, size: int, device=None, channels: int = LAYOUT_DIM) -> torch.Tensor:
    """The layout meaning "no layout": class ``none`` everywhere, zero inverse depth (and
    albedo, for ``channels`` > LAYOUT_DIM), float32 ``(batch, channels, size, size)``."""
    out = torch.zeros(batch, channels, size, size, device=device)
    out[:, 0] = 1.0
    return out


class SpatialModulation(nn.Module):
    """``norm(x) · (1 + γ) + β`` with ``γ, β (B, C, h, w)`` predicted from layout features
    ``(B, hidden, h, w)`` by two 3×3 convolutions, zero at initialisation (SPADE)."""

    def __init__(self, norm: nn.GroupNorm, hidden: int):
        super().__init__()
        self.norm = norm
        self.gamma = nn.Conv2d(hidden, norm.num_channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, norm.num_channels, 3, padding=1)
        for conv in (self.gamma, self.beta):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * (1 + self.gamma(feat)) + self.beta(feat)


class ModulatedResBlock(nn.Module):
    """The autoencoder's residual block with both normalisations modulated by the layout."""

    def __init__(self, block: nn.Module, hidden: int):
        super().__init__()
        self.norm1, self.conv1 = SpatialModulation(block.norm1, hidden), block.conv1
        self.norm2, self.conv2 = SpatialModulation(block.norm2, hidden), block.conv2

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x, feat)))
        return x + self.conv2(F.silu(self.norm2(h, feat)))


def _fresh_block(ch: int) -> nn.Module:
    from .autoencoder import ResBlock

    block = ResBlock(ch)
    nn.init.zeros_(block.conv2.weight)  # an identity until trained
    nn.init.zeros_(block.conv2.bias)
    return block


class LayoutDecoder(nn.Module):
    """The plain decoder ``plain`` (an ``nn.Sequential`` built by
    :func:`engine.model.autoencoder.build_decoder`) with every group normalisation modulated
    by the layout, plus ``extra_blocks`` modulated residual blocks before the last
    normalisation. ``forward(z, layout)``: latent float32 ``(B, C, h, w)`` and layout
    ``(B, channels, H, W)`` → frame in [-1, 1] (unclamped) ``(B, 3, H, W)``. ``hidden``:
    channels of the layout features each scale's trunk computes; ``channels``: LAYOUT_DIM, or
    LAYOUT_DIM + ALBEDO_DIM for a decoder that reads the albedo map too."""

    def __init__(self, plain: nn.Sequential, *, hidden: int = 32, extra_blocks: int = 1, channels: int = LAYOUT_DIM):
        super().__init__()
        from .autoencoder import ResBlock

        if channels not in (LAYOUT_DIM, LAYOUT_DIM + ALBEDO_DIM):
            raise ValueError(f"a layout decoder reads {LAYOUT_DIM} or {LAYOUT_DIM + ALBEDO_DIM} layout channels, not {channels}")
        self.channels = channels
        mods = list(plain)
        ups = sum(isinstance(m, nn.Upsample) for m in mods)
        last_norm = max(i for i, m in enumerate(mods) if isinstance(m, nn.GroupNorm))
        layers: list[nn.Module] = []
        self.pools: list[int] = []  # per layer: log2 of the layout's pooling for it, -1: not modulated
        self._plain_index: dict[int, int] = {}  # plain decoder's index -> ours
        level = ups  # the layout is pooled 2^level times at the latent's scale
        for i, m in enumerate(mods):
            if isinstance(m, nn.Upsample):
                level -= 1
            if i == last_norm:
                for _ in range(extra_blocks):
                    layers.append(ModulatedResBlock(_fresh_block(m.num_channels), hidden))
                    self.pools.append(level)
                m = SpatialModulation(m, hidden)
            elif isinstance(m, ResBlock):
                m = ModulatedResBlock(m, hidden)
            self._plain_index[i] = len(layers)
            layers.append(m)
            self.pools.append(level if isinstance(m, (SpatialModulation, ModulatedResBlock)) else -1)
        self.layers = nn.ModuleList(layers)
        self.trunks = nn.ModuleDict({str(s): nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU())
                                     for s in sorted({p for p in self.pools if p >= 0})})

    def load_plain(self, state: dict) -> None:
        """Take the weights of a plain decoder (its ``state_dict``) into the wrapped layers;
        the modulation keeps its zero initialisation. Raises ``KeyError`` for a state dict of
        another architecture."""
        own = self.state_dict()
        for key, value in state.items():
            idx, rest = key.split(".", 1)
            i = self._plain_index[int(idx)]
            head, _, leaf = rest.rpartition(".")
            cands = [f"layers.{i}.{rest}", f"layers.{i}.{head + '.' if head else ''}norm.{leaf}"]
            target = next((c for c in cands if c in own), None)
            if target is None:
                raise KeyError(f"the plain decoder's {key} has no place in this layout decoder")
            own[target] = value
        self.load_state_dict(own)

    def forward(self, z: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        feats = {int(k): trunk(F.avg_pool2d(layout, 2 ** int(k)) if int(k) else layout)
                 for k, trunk in self.trunks.items()}
        h = z
        for layer, level in zip(self.layers, self.pools):
            h = layer(h, feats[level]) if level >= 0 else layer(h)
        return h
