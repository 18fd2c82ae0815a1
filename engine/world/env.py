"""The reference world: a scene, a camera pose and a renderer, stepped one tick at a time."""

from __future__ import annotations

import numpy as np

from ..actions import sanitize_action
from .motion import apply_action
from .renderer import Renderer
from .scene import Scene, make_scene
from .state import WorldState


class ReferenceWorld:
    """Ground-truth first-person world (procedural rooms rendered by :class:`Renderer`).

    ``reset`` places the participant at the scene's start pose; ``step(action, state)``
    applies one tick's action (see :mod:`engine.actions`) and renders the view under the
    world state. Frames are uint8 ``(H, W, 3)``.
    """

    def __init__(self, resolution: int = 64, renderer: Renderer | None = None):
        self.renderer = renderer or Renderer(resolution, resolution)
        self.scene: Scene | None = None
        self.pose = (0.0, 0.0, 0.0, 0.0)

    def reset(self, room_type: str | Scene, seed: int = 0, state: WorldState | None = None,
              pose: tuple[float, float, float, float] | None = None) -> np.ndarray:
        scene = room_type if isinstance(room_type, Scene) else make_scene(room_type, seed)
        if scene is not self.scene:
            self.renderer.set_scene(scene)
            self.scene = scene
        self.pose = pose or (*scene.start_pose, 0.0)
        return self.renderer.render(self.pose, state or WorldState())

    def step(self, action, state: WorldState) -> np.ndarray:
        if self.scene is None:
            raise RuntimeError("ReferenceWorld.step called before reset")
        self.pose = apply_action(self.scene, self.pose, sanitize_action(action))
        return self.renderer.render(self.pose, state)

    @property
    def viewer_pose(self) -> tuple[float, float, float]:
        """``(x, z, yaw)`` of the participant, for events placed relative to them."""
        return self.pose[0], self.pose[1], self.pose[2]
