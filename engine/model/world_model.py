"""The learned world model: autoencoder + dynamics model, stepped live with a KV cache."""

from __future__ import annotations

import numpy as np
import torch

from ..actions import ACTION_LIMITS
from ..world.state import WorldState
from .autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from .dynamics import DynamicsModel
from .interface import Prompt


class LatentWorldModel:
    """Generates one frame per tick from the participant's action and the world state.

    Context: the *anchor* (opening frame, always kept) plus a sliding window of the last
    frames, each stored as per-block keys/values (a KV cache). A finished frame is first
    *pending*: lightly noised (``ctx_noise``, against drift) and passed through the network
    together with the next frame's first denoising step, which fills its cache entry at no
    extra pass. So a tick costs ``steps`` transformer passes and one decoder pass.

    ``latent_mean``/``latent_std``: float32 ``(C,)`` per-channel latent normalisation.
    ``seed`` fixes the sampling noise: the same seed, state and actions give the same frames.
    """

    name = "latent-world-model"

    def __init__(self, autoencoder: Autoencoder, dynamics: DynamicsModel, latent_mean: torch.Tensor,
                 latent_std: torch.Tensor, *, steps: int = 2, ctx_noise: float = 0.1, seed: int = 0,
                 device: str | torch.device = "cpu"):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.ae = autoencoder.eval().to(device)
        self.dyn = dynamics.eval().to(device)
        self.device = torch.device(device)
        self.mean = latent_mean.to(device).view(1, -1, 1, 1)
        self.std = latent_std.to(device).view(1, -1, 1, 1)
        self.steps, self.ctx_noise = int(steps), float(ctx_noise)
        self.resolution = autoencoder.config.resolution
        self.seed = seed
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(seed)
        self._limits = torch.as_tensor(ACTION_LIMITS, device=self.device)
        self._anchor: list | None = None
        self._window: list[list] = []
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None  # (latent, cond) not yet cached
        self.tick = 0

    # ------------------------------------------------------------ helpers
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(N, H, W, 3)`` → normalised latents ``(N, C, h, w)``."""
        with torch.inference_mode():
            return (self.ae.encode(frames_to_tensor(frames).to(self.device)) - self.mean) / self.std

    def decode(self, z: torch.Tensor) -> np.ndarray:
        """Normalised latents ``(N, C, h, w)`` → uint8 ``(N, H, W, 3)``."""
        with torch.inference_mode():
            return tensor_to_frames(self.ae.decode(z * self.std + self.mean))

    def _cond(self, t: float, action: np.ndarray, state: WorldState, anchor: bool = False) -> torch.Tensor:
        a = torch.as_tensor(np.asarray(action, np.float32), device=self.device).view(1, 1, -1) / self._limits
        s = torch.as_tensor(state.vector(), device=self.device).view(1, 1, -1)
        tt = torch.full((1, 1), t, device=self.device)
        flag = torch.tensor([anchor], device=self.device)
        return self.dyn.frame_cond(tt, a, s, anchor=flag)

    def _cache(self):
        """Per-block ``(k, v)`` of anchor + window, keys rotated, and their frame positions."""
        entries = [self._anchor] + self._window
        P = self.dyn.cfg.tokens_per_frame
        pos = torch.arange(len(entries), device=self.device).repeat_interleave(P)
        cache = [(torch.cat([e[i][0] for e in entries], 2), torch.cat([e[i][1] for e in entries], 2))
                 for i in range(len(self.dyn.blocks))]
        return self.dyn.rotate_cache(cache, pos), pos

    def _set_pending(self, z: torch.Tensor, action, state: WorldState) -> None:
        """Queue frame latent ``z`` ``(1, C, h, w)`` for the cache, lightly noised."""
        c = self.ctx_noise
        noise = torch.randn(z.shape, generator=self.gen, device=self.device)
        self._pending = (((1 - c) * z + c * noise).unsqueeze(1), self._cond(c, action, state))

    # ------------------------------------------------------------ interface
    @torch.inference_mode()
    def reset(self, prompt: Prompt, state: WorldState) -> np.ndarray:
        """Start from the prompt's opening image; returns its reconstruction uint8 ``(H, W, 3)``.

        Raises ``ValueError`` if the image is not ``(resolution, resolution, 3)``.
        """
        img = np.asarray(prompt.image)
        if img.shape != (self.resolution, self.resolution, 3):
            raise ValueError(f"opening image has shape {img.shape}; the model needs "
                             f"({self.resolution}, {self.resolution}, 3)")
        self.gen.manual_seed(self.seed)
        z = self.encode(img[None])
        zero = np.zeros(4, np.float32)
        pos0 = torch.zeros(1, dtype=torch.long, device=self.device)
        _, self._anchor = self.dyn.forward_cached(z.unsqueeze(1), self._cond(0.0, zero, state, anchor=True), pos0,
                                                  None, None)
        self._window = []
        self._set_pending(z, zero, state)
        self.tick = 0
        return self.decode(z)[0]

    @torch.inference_mode()
    def step(self, action: np.ndarray, state: WorldState) -> np.ndarray:
        """Generate the next frame, uint8 ``(H, W, 3)``, for ``action`` (float32 ``(4,)``,
        see :mod:`engine.actions`) under ``state``. Raises ``RuntimeError`` before reset."""
        if self._anchor is None:
            raise RuntimeError("LatentWorldModel.step called before reset")
        cfg = self.dyn.cfg
        cache, cache_pos = self._cache()
        n = len(self._window)
        x = torch.randn((1, 1, cfg.latent_channels, cfg.latent_size, cfg.latent_size), generator=self.gen,
                        device=self.device)
        ts = torch.linspace(1.0, 0.0, self.steps + 1).tolist()
        pz, pcond = self._pending
        # First pass: the pending frame (fills its cache entry) and the new frame's first step.
        v, kv = self.dyn.forward_cached(torch.cat([pz, x], 1), torch.cat([pcond, self._cond(ts[0], action, state)], 1),
                                        torch.tensor([n + 1, n + 2], device=self.device), cache, cache_pos, rotated=True)
        x = x - (ts[0] - ts[1]) * v[:, 1:]
        P = cfg.tokens_per_frame
        self._window.append([(k[:, :, :P], vv[:, :, :P]) for k, vv in kv])
        if self.steps > 1:
            cache, cache_pos = self._cache()
            pos = torch.tensor([n + 2], device=self.device)
            for t, t_next in zip(ts[1:-1], ts[2:]):
                v, _ = self.dyn.forward_cached(x, self._cond(t, action, state), pos, cache, cache_pos, rotated=True)
                x = x - (t - t_next) * v
        # Slide: at most context-2 cached frames, so pending + new fill the window exactly.
        while len(self._window) > cfg.context - 2:
            self._window.pop(0)
        z = x[:, 0]
        self._set_pending(z, action, state)
        self.tick += 1
        return self.decode(z)[0]

    def snapshot(self) -> dict:
        """Everything needed to resume generation exactly from here (bookmarks, rewind)."""
        return {"anchor": self._anchor, "window": list(self._window), "pending": self._pending,
                "tick": self.tick, "rng": self.gen.get_state().clone()}

    def restore(self, snap: dict) -> None:
        self._anchor = snap["anchor"]
        self._window = list(snap["window"])
        self._pending = snap["pending"]
        self.tick = snap["tick"]
        self.gen.set_state(snap["rng"])
