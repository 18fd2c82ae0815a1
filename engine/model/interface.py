"""The small interface between the session runtime and any world model (DESIGN.md §2).

``reset(prompt, state) -> frame``, ``step(action, state) -> frame`` and
``snapshot()``/``restore()`` for bookmarks and rewind. Frames are uint8 ``(H, W, 3)``;
actions float32 ``(4,)`` as in :mod:`engine.actions`; ``state`` the persistent
:class:`~engine.world.state.WorldState` that the session holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..world.state import WorldState


@dataclass
class Prompt:
    """What a scenario asks the world to be.

    ``text`` is the world prompt. A text-conditioned model (``text_dim`` in its card) is
    conditioned on its sentence embedding and, without an image, draws the opening frame from
    it; older models carry it along unused. ``image`` is the opening frame, uint8 ``(H, W,
    3)`` at the model's resolution, or None. ``room``/``seed`` name the reference-world preset
    the image came from, if any (the reference backend and the scripted trainee use its floor
    plan). ``text_embedding`` float32 ``(384,)`` skips the encoder when already known.
    """

    text: str
    image: np.ndarray | None = None
    room: str | None = None
    seed: int = 0
    text_embedding: np.ndarray | None = None


class WorldModel(Protocol):
    resolution: int
    name: str

    def reset(self, prompt: Prompt, state: WorldState) -> np.ndarray: ...

    def step(self, action: np.ndarray, state: WorldState) -> np.ndarray: ...

    def snapshot(self) -> Any: ...

    def restore(self, snap: Any) -> None: ...


class ReferenceWorldModel:
    """The reference world behind the world-model interface: ground truth, for tests and
    evaluation. Needs ``prompt.room`` (it renders the preset, not the image)."""

    name = "reference-world"

    def __init__(self, resolution: int = 64):
        from ..world.env import ReferenceWorld

        self.resolution = resolution
        self.world = ReferenceWorld(resolution)

    def reset(self, prompt: Prompt, state: WorldState) -> np.ndarray:
        if prompt.room is None:
            raise ValueError("the reference world renders room presets only; this scenario opens on an image")
        return self.world.reset(prompt.room, prompt.seed, state)

    def step(self, action: np.ndarray, state: WorldState) -> np.ndarray:
        return self.world.step(action, state)

    def snapshot(self):
        return self.world.pose

    def restore(self, snap) -> None:
        self.world.pose = snap

    @property
    def viewer_pose(self):
        return self.world.viewer_pose
