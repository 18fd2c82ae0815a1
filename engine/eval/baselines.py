"""Baselines that run beside the world model in ``ved eval`` (DESIGN.md, evaluation vocabulary).

* *copy last frame*: the opening frame held still — what a model that learned nothing would
  show. (It is perfect on revisits and useless everywhere else.)
* the *deterministic one-step regressor* is the same network as the dynamics model trained
  to regress the next latent from clean context (:func:`engine.model.io.load_regressor`).
"""

from __future__ import annotations

import numpy as np

from ..model.interface import Prompt
from ..world.state import WorldState


class CopyLastFrame:
    """World-model interface that always returns the opening frame."""

    name = "copy_last"

    def __init__(self, resolution: int = 128):
        self.resolution = resolution
        self._frame: np.ndarray | None = None

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray:
        if prompt.image is None:
            raise ValueError("copy-last-frame needs an opening image")
        self._frame = np.asarray(prompt.image).copy()
        return self._frame

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray:
        if self._frame is None:
            raise RuntimeError("step before reset")
        return self._frame

    def divergence(self) -> None:
        """The opening frame never diverges (None, as the reference world)."""
        return None

    quality_levels: tuple[str, ...] = ()

    def set_quality(self, level: str) -> None:
        """Copying has one way to draw: every level is refused (``ValueError``)."""
        raise ValueError(f"copy-last-frame has no quality levels (asked for {level!r})")

    def snapshot(self):
        return self._frame

    def restore(self, snap) -> None:
        self._frame = snap
