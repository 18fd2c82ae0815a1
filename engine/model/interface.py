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
        quality_levels: the rungs of its quality ladder, best first (e.g. ``("high",
            "medium", "low")``, see :meth:`set_quality`); ``()`` for a model with one way to
            draw.
    """

    resolution: int
    name: str
    card: dict | None
    quality_levels: tuple[str, ...]

    def set_quality(self, level: str) -> None:
        """Draw the next frames at rung ``level`` of :attr:`quality_levels` (the session
        steps down when frames are late, :mod:`engine.runtime.quality`). Raises
        ``ValueError`` for a name that is not one of them (every name for a model without a
        ladder)."""

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray:
        """Open the world on ``prompt`` and return the opening frame, uint8 ``(H, W, 3)``.
        ``viewer_pose``: the trainee's world pose ``(x, z, yaw, pitch)`` (metres, radians) or
        None. Raises ``ValueError`` for a prompt this model cannot open."""

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray:
        """The next frame, uint8 ``(H, W, 3)``, after ``action`` (float32 ``(4,)``) under
        ``state``; ``viewer_pose`` as for :meth:`reset`, after the action."""

    def reset_views(self, prompts: list[Prompt], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Open one view per trainee of a session with several (one shared world): view ``i``
        from ``prompts[i]`` (the same text; the opening image the view from seat ``i``),
        ``states[i]`` (the world as seat ``i`` sees it: the others are the other trainees)
        and ``viewer_poses[i]``. Returns one opening frame per view. Raises ``ValueError``
        as :meth:`reset` does, or for lists of different lengths."""

    def step_views(self, actions: list, states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """The next frame of every view opened by :meth:`reset_views`, all views in one
        batched pass where the model allows it: view ``i`` after ``actions[i]`` under
        ``states[i]``, at ``viewer_poses[i]``. Returns one frame per view."""

    def snapshot(self) -> Any:
        """Everything needed to resume generation exactly from here (a bookmark), every view."""

    def restore(self, snap: Any) -> None:
        """Go back to a :meth:`snapshot` (a rewind)."""

    def prepare_prompt(self, prompt: Prompt) -> Prompt:
        """``prompt`` made ready for :meth:`update_prompt` or :meth:`reset` (e.g. its text
        embedded). Called off the session thread; must not touch the model's state."""

    def update_prompt(self, prompt: Prompt) -> bool:
        """Condition the next frames on ``prompt``'s text, keeping the context; False (and
        nothing changed) when the model is not conditioned on text."""

    def divergence(self) -> list[float] | None:
        """Per view, how far the last frame lies outside what the model was trained on (1 =
        the edge of that range; above it the rollout is diverging and the session re-anchors
        it, :mod:`engine.runtime.guard`); None when the model cannot tell (it never diverges
        or has no such measure)."""

    def reanchor(self, frames: list[np.ndarray], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Restart every view's context on ``frames[i]`` (uint8 ``(H, W, 3)``) from
        ``viewer_poses[i]`` under ``states[i]``, keeping the prompt, the scene and the clock;
        returns the frames now shown. A model whose :meth:`divergence` is None returns
        its current views unchanged."""

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
    quality_levels: tuple[str, ...] = ()

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

    def reset_views(self, prompts: list[Prompt], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """One view per trainee, all drawn by the one renderer: each from its own pose (the
        room preset's start pose where a pose is None)."""
        if not prompts or len(states) != len(prompts) or len(viewer_poses) != len(prompts):
            raise ValueError("reset_views needs as many prompts, states and poses (at least one)")
        first = self.reset(prompts[0], states[0], viewer_poses[0])
        self._poses = [self.world.pose]
        frames = [first]
        for state, pose in zip(states[1:], viewer_poses[1:]):
            pose = tuple(float(v) for v in pose) if pose is not None else (*self.world.scene.start_pose, 0.0)
            self._poses.append(pose)
            frames.append(self.world.renderer.render(pose, state))
        self.world.pose = self._poses[0]
        return frames

    def step_views(self, actions: list, states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Every trainee's view after its action: the session's floor-plan poses are drawn as
        given (a view without one moves by its action, with the same collisions)."""
        from ..world.motion import apply_action

        if len(actions) != len(self._poses) or len(states) != len(actions) or len(viewer_poses) != len(actions):
            raise ValueError(f"step_views needs one action, state and pose per view ({len(self._poses)})")
        frames = []
        for i, (action, state, pose) in enumerate(zip(actions, states, viewer_poses)):
            if pose is None:
                pose = apply_action(self.world.scene, self._poses[i], np.asarray(action, np.float32))
            self._poses[i] = tuple(float(v) for v in pose)
            frames.append(self.world.renderer.render(self._poses[i], state))
        self.world.pose = self._poses[0]
        return frames

    def snapshot(self):
        return self.world.pose, list(getattr(self, "_poses", []))

    def restore(self, snap) -> None:
        self.world.pose, poses = snap
        self._poses = list(poses)

    def prepare_prompt(self, prompt: Prompt) -> Prompt:
        return prompt

    def update_prompt(self, prompt: Prompt) -> bool:
        """The reference world draws its room preset, not text: False."""
        return False

    def divergence(self) -> None:
        """The reference world is the truth: it never diverges (None)."""
        return None

    def set_quality(self, level: str) -> None:
        """The reference world draws one way: every level is refused (``ValueError``)."""
        raise ValueError(f"the reference world has no quality levels (asked for {level!r})")

    def reanchor(self, frames: list[np.ndarray], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Nothing to re-anchor: the views as they are, drawn again."""
        poses = getattr(self, "_poses", None) or [self.world.pose]
        return [self.world.renderer.render(p, s) for p, s in zip(poses, states)]

    @property
    def viewer_pose(self):
        return self.world.viewer_pose
