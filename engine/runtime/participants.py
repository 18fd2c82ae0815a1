"""The trainees of a session: one :class:`Participant` per seat of the scenario.

Every trainee has their own pose, input and view; the world state is shared (an event the
game master fires is seen by everyone). The session steps all of them in one batched pass of
the world model per tick (:meth:`~engine.model.interface.WorldModel.step_views`), each view
showing the others where they stand (:func:`engine.world.seats.others_seen_by`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Participant:
    """The trainee in seat ``seat`` (0 first; the scenario's trainee role ``name``):
    ``pose`` ``(x, z, yaw, pitch)`` on the floor plan (metres, radians); ``action`` float32
    ``(4,)`` held from the last ``set_action``; ``look`` ``(yaw, pitch)`` radians received
    since the last tick; ``unseen`` float32 ``(4,)``: the actions of the ticks since the
    last generated frame, summed (what the world model's next step takes, so a late frame
    still shows where the trainee went); the newest input's ``seq`` received and the one the
    last tick applied; the last frame the seat saw, uint8 ``(H, W, 3)``."""

    seat: int
    name: str
    pose: tuple[float, float, float, float]
    action: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    look: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float64))
    unseen: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    input_seq: int = 0
    applied_seq: int = 0
    last_frame: np.ndarray | None = field(default=None, repr=False)

    def take_input(self) -> np.ndarray:
        """This tick's action: the held action plus the looks since the last tick (which
        are used up). Call with the session's lock held."""
        action = self.action.copy()
        action[2:] += self.look
        self.look[:] = 0.0
        self.applied_seq = self.input_seq
        return action

    def take_unseen(self) -> np.ndarray:
        """The summed actions of the ticks since the last frame, float32 ``(4,)`` (used up).
        Call with the session's lock held."""
        action = self.unseen.copy()
        self.unseen[:] = 0.0
        return action
