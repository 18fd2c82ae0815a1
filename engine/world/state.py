"""Persistent world state and the game-master events that change it.

A game-master event is not an impulse: it changes persistent world state (lights level,
alarm, avatar present, bleeding) that the session holds and feeds to the world model at
every tick (DESIGN.md §4, "World state, not impulses"). The same state drives the
reference-world renderer, so the two agree on what an event means.

State vector layout (float32, shape ``(STATE_DIM,)``):

====  ===============  =====================================================
idx   name             meaning
====  ===============  =====================================================
0     ``light``        room light level, 1.0 = normal, ``DIM_LEVEL`` = dimmed
1     ``alarm``        red alarm light, 0.0 off / 1.0 on
2     ``avatar``       humanoid avatar present, 0.0 / 1.0
3     ``bleeding``     size of the blood pool, 0.0 none .. 1.0 fully spread
====  ===============  =====================================================

Where things stand is state too, but not in that vector: the avatar's floor pose
(``avatar_pose``) and the other participants in the room (``others``: up to
:data:`MAX_OTHERS` people, one per seat, each ``(seat, x, z, yaw)``). The model sees them
through :mod:`engine.world.entities`, relative to the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

STATE_NAMES: tuple[str, ...] = ("light", "alarm", "avatar", "bleeding")
STATE_DIM = len(STATE_NAMES)
DIM_LEVEL = 0.3
#: Growth of the blood pool per tick while bleeding (reaches 1.0 in 2.5 s at 20 Hz).
BLEED_RATE = 0.02
#: Other participants a room can hold besides the viewer (seats 0, 1, 2).
MAX_OTHERS = 3
#: Most trainee seats a session holds: each trainee's view shows the others in their seat's
#: slot and colours, so there are as many seats as slots for other people.
MAX_SEATS = MAX_OTHERS


@dataclass(frozen=True)
class EventSpec:
    """One game-master event: the event vocabulary lives here, so a new event is added in
    this one table (and in :meth:`WorldState.apply`, which says what it does).

    Attributes:
        name: the event's name in scenarios, recordings and the protocol.
        description: what it does to the world, in one line (also embedded for free-text
            matching).
        label: plain words for a person (the debrief's timeline, exports).
        phrases: ways a game master may ask for it in free text
            (:func:`engine.model.text.match_event` matches requests to the nearest).
        undone_by: the event that turns it off again, for events that switch something on
            (the data generator flips these pairs).
    """

    name: str
    description: str
    label: str
    phrases: tuple[str, ...]
    undone_by: str | None = None


EVENTS: dict[str, EventSpec] = {
    e.name: e
    for e in (
        EventSpec("lights_dim", "the room lights dim to 30 %", "Lights dim",
                  ("dim the lights", "switch the lights off", "make the room dark", "lights down"),
                  undone_by="lights_normal"),
        EventSpec("lights_normal", "the room lights return to normal", "Lights back to normal",
                  ("lights back to normal", "switch the lights on", "make the room bright again", "lights up")),
        EventSpec("alarm_on", "a red alarm light floods the room", "Alarm on",
                  ("sound the alarm", "turn on the red alarm light", "emergency alarm", "trigger the alarm"),
                  undone_by="alarm_off"),
        EventSpec("alarm_off", "the alarm light goes off", "Alarm off",
                  ("turn the alarm off", "silence the alarm", "stop the alarm light", "cancel the alarm")),
        EventSpec("avatar_enter", "a person appears two metres in front of the participant", "Person enters",
                  ("a person walks in", "bring in the avatar", "someone enters the room", "show the voice"),
                  undone_by="avatar_leave"),
        EventSpec("avatar_leave", "the person leaves", "Person leaves",
                  ("the person leaves", "remove the avatar", "send the person away", "the voice goes away")),
        EventSpec("bleeding_start", "a pool of blood starts to spread (on the patient, or the floor)",
                  "Bleeding starts",
                  ("start the bleeding", "make the patient bleed", "the patient starts to bleed", "haemorrhage",
                   "blood spills on the floor", "cause a bleed"),
                  undone_by="bleeding_stop"),
        EventSpec("bleeding_stop", "the bleeding is controlled and the blood is cleaned up", "Bleeding stops",
                  ("stop the bleeding", "the bleeding is controlled", "clean up the blood", "haemostasis achieved")),
    )
}
EVENT_NAMES: tuple[str, ...] = tuple(EVENTS)


class UnknownEventError(ValueError):
    """Raised for an event name that the world does not know."""


def check_event(event: str) -> None:
    """Raise :class:`UnknownEventError` (listing the known events) unless ``event`` is known."""
    if event not in EVENTS:
        raise UnknownEventError(f"unknown event {event!r}; known events: {', '.join(EVENT_NAMES)}")


@dataclass(frozen=True)
class WorldState:
    """Persistent world state at one tick. Immutable; events return a new state."""

    light: float = 1.0
    alarm: bool = False
    avatar: bool = False
    bleeding: float = 0.0
    #: True while the blood pool grows (``bleeding`` rises by ``BLEED_RATE`` per tick).
    bleeding_active: bool = False
    #: Avatar position on the floor (x, z metres) and facing (radians); set when it enters.
    avatar_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Other participants in the room: ``(seat, x, z, yaw)`` each (seat 0..MAX_OTHERS-1,
    #: metres, radians; yaw 0 faces +z). They move every tick, so they are left out of
    #: equality (which tells the session when to announce a state change to the game master).
    others: tuple[tuple[int, float, float, float], ...] = field(default=(), compare=False)
    extra: dict = field(default_factory=dict, compare=False)

    def apply(self, event: str, *, viewer_pose: tuple[float, float, float] | None = None) -> "WorldState":
        """Return the state after ``event``.

        ``viewer_pose`` is the participant's ``(x, z, yaw)`` (metres, radians); it decides
        where an entering avatar stands. Raises :class:`UnknownEventError` for an unknown
        name (the message lists the known ones).
        """
        check_event(event)
        if event == "lights_dim":
            return replace(self, light=DIM_LEVEL)
        if event == "lights_normal":
            return replace(self, light=1.0)
        if event == "alarm_on":
            return replace(self, alarm=True)
        if event == "alarm_off":
            return replace(self, alarm=False)
        if event == "avatar_enter":
            pose = self.avatar_pose
            if viewer_pose is not None:
                x, z, yaw = viewer_pose
                # Camera looks along -z at yaw 0; forward = (-sin yaw, -cos yaw).
                pose = (x - 2.0 * np.sin(yaw), z - 2.0 * np.cos(yaw), yaw)
            return replace(self, avatar=True, avatar_pose=pose)
        if event == "avatar_leave":
            return replace(self, avatar=False)
        if event == "bleeding_start":
            return replace(self, bleeding_active=True, bleeding=max(self.bleeding, BLEED_RATE))
        if event == "bleeding_stop":
            return replace(self, bleeding_active=False, bleeding=0.0)
        raise AssertionError(event)  # pragma: no cover - every EVENTS entry is handled above

    def advance(self) -> "WorldState":
        """Return the state one tick later (the blood pool grows while bleeding)."""
        if self.bleeding_active and self.bleeding < 1.0:
            return replace(self, bleeding=min(1.0, self.bleeding + BLEED_RATE))
        return self

    def with_others(self, others) -> "WorldState":
        """This state with the other participants at ``others`` (``(seat, x, z, yaw)`` each).
        Raises ``ValueError`` for more than :data:`MAX_OTHERS` people, a seat out of range or
        a seat used twice."""
        people = tuple((int(s), float(x), float(z), float(y)) for s, x, z, y in others)
        seats = [p[0] for p in people]
        if len(people) > MAX_OTHERS or any(not 0 <= s < MAX_OTHERS for s in seats) or len(set(seats)) != len(seats):
            raise ValueError(f"others: at most {MAX_OTHERS} people on distinct seats 0..{MAX_OTHERS - 1}, got seats {seats}")
        return replace(self, others=people)

    def vector(self) -> np.ndarray:
        """The state as the model sees it: float32 array of shape ``(STATE_DIM,)``."""
        return np.array(
            [self.light, float(self.alarm), float(self.avatar), self.bleeding], dtype=np.float32
        )

    def as_dict(self) -> dict:
        return {name: float(v) for name, v in zip(STATE_NAMES, self.vector())}

    @classmethod
    def from_vector(cls, vec: np.ndarray) -> "WorldState":
        """The state of a :meth:`vector` ``(STATE_DIM,)`` (a dataset's states). What the vector
        does not hold (where the avatar stands, whether the bleed still grows) is left at its
        default."""
        d = dict(zip(STATE_NAMES, np.asarray(vec).tolist()))
        return cls(light=d["light"], alarm=d["alarm"] > 0.5, avatar=d["avatar"] > 0.5, bleeding=d["bleeding"])
