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
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class WorldModel(Protocol):
    """Everything the session asks of a world model: the contract between
    :class:`~engine.runtime.session.Session` and any model (the learned
    :class:`~engine.model.world_model.LatentWorldModel`, the regressor baseline, the
    :class:`ReferenceWorldModel`). The session calls these and nothing else, all on its own
    thread except :meth:`prepare_prompt`.

    Attributes:
        resolution: side of the square frames it makes (pixels).
        name: a short name for logs, recordings and the console.
        card: the model card (dict, ``model_card.json``) of a trained model, or None.
    """

    resolution: int
    name: str
    card: dict | None

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray:
        """Open the world on ``prompt`` and return the opening frame, uint8 ``(H, W, 3)``.
        ``viewer_pose``: the trainee's world pose ``(x, z, yaw, pitch)`` (metres, radians) or
        None. Raises ``ValueError`` for a prompt this model cannot open."""

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray:
        """The next frame, uint8 ``(H, W, 3)``, after ``action`` (float32 ``(4,)``) under
        ``state``; ``viewer_pose`` as for :meth:`reset`, after the action."""

    def snapshot(self) -> Any:
        """Everything needed to resume generation exactly from here (a bookmark)."""

    def restore(self, snap: Any) -> None:
        """Go back to a :meth:`snapshot` (a rewind)."""

    def prepare_prompt(self, prompt: Prompt) -> Prompt:
        """``prompt`` made ready for :meth:`update_prompt` or :meth:`reset` (e.g. its text
        embedded). Called off the session thread; must not touch the model's state."""

    def update_prompt(self, prompt: Prompt) -> bool:
        """Condition the next frames on ``prompt``'s text, keeping the context; False (and
        nothing changed) when the model is not conditioned on text."""

    @property
    def viewer_pose(self) -> tuple | None:
        """Where the model's own camera stands ``(x, z, yaw)`` (metres, radians) when it
        tracks one (the reference world), else None: the session's floor-plan pose is used
        to place events relative to the trainee."""


class ReferenceWorldModel:
    """The reference world behind the world-model interface: ground truth, for tests and
    evaluation. Needs ``prompt.room`` (it renders the preset, not the image)."""

    name = "reference-world"
    card: dict | None = None

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

    def prepare_prompt(self, prompt: Prompt) -> Prompt:
        return prompt

    def update_prompt(self, prompt: Prompt) -> bool:
        """The reference world draws its room preset, not text: False."""
        return False

    @property
    def viewer_pose(self):
        return self.world.viewer_pose
