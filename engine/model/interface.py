"""The small interface between the session runtime and any world model (DESIGN.md §2).

``reset(prompt, state, viewer_pose=None) -> frame``, ``step(action, state,
viewer_pose=None) -> frame`` and ``snapshot()``/``restore()`` for bookmarks and rewind.
Frames are uint8 ``(H, W, 3)``; actions float32 ``(4,)`` as in :mod:`engine.actions`;
``state`` the persistent :class:`~engine.world.state.WorldState` that the session holds
(the other participants' poses included); ``viewer_pose`` the trainee's world pose ``(x, z,
yaw, pitch)`` in metres and radians as the session tracks it on the floor plan, after the
action (a model may use it to place the avatar and the others in the view, or ignore it).
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

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray: ...

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray: ...

    def snapshot(self) -> Any: ...

    def restore(self, snap: Any) -> None: ...


class ReferenceWorldModel:
    """The reference world behind the world-model interface: ground truth, for tests and
    evaluation. Needs ``prompt.room`` (it renders the preset, not the image)."""

    name = "reference-world"

    def __init__(self, resolution: int = 128):
        from ..world.env import ReferenceWorld

        self.resolution = resolution
        self.world = ReferenceWorld(resolution)

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray:
        if prompt.room is None:
            raise ValueError("the reference world renders room presets only; this scenario opens on an image")
        return self.world.reset(prompt.room, prompt.seed, state,
                                pose=None if viewer_pose is None else tuple(float(v) for v in viewer_pose))

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray:
        """The view after ``action``; the reference world moves its own camera (with the same
        collisions as the session), so ``viewer_pose`` is not needed."""
        return self.world.step(action, state)

    def snapshot(self):
        return self.world.pose

    def restore(self, snap) -> None:
        self.world.pose = snap

    @property
    def viewer_pose(self):
        return self.world.viewer_pose
