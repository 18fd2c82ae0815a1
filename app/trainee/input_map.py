"""Keyboard and mouse → the participant's action vector (DESIGN.md §4 "Actions").

Pure logic, no Qt import: keys are Qt key codes as plain ints (the values of ``Qt.Key``),
so the mapping is unit-testable without a window.

The action is ``(forward, strafe, yaw, pitch)`` in metres and radians per tick
(:mod:`engine.actions`). Per tick, with the keys held:

=====  ==============  =========================================
key    component       value
=====  ==============  =========================================
W / S  forward         +/- :data:`WALK_SPEED` m/tick
D / A  strafe          +/- :data:`WALK_SPEED` m/tick (D = right)
← / →  yaw             +/- :data:`TURN_SPEED` rad/tick (← = turn left)
↑ / ↓  pitch           +/- :data:`TURN_SPEED` rad/tick (↑ = look up)
=====  ==============  =========================================

Opposite keys held together cancel. Mouse-look deltas (pixels) are turned into radians
with :attr:`KeyboardActionMapper.sensitivity`, accumulated between ticks and consumed once
per tick by :meth:`KeyboardActionMapper.next_action`; the sum is clamped to
:data:`~engine.actions.ACTION_LIMITS`.
"""

from __future__ import annotations

import threading

import numpy as np

from engine.actions import ACTION_LIMITS

#: Walking speed, metres per tick (1.4 m/s at 20 Hz).
WALK_SPEED = 0.07
#: Turning and looking speed, radians per tick (about 69 °/s at 20 Hz).
TURN_SPEED = 0.06
#: Default mouse-look sensitivity, radians per pixel.
MOUSE_SENSITIVITY = 0.003

# Qt key codes (Qt.Key values), so this module needs no Qt import.
KEY_W, KEY_A, KEY_S, KEY_D = 0x57, 0x41, 0x53, 0x44
KEY_LEFT, KEY_UP, KEY_RIGHT, KEY_DOWN = 0x01000012, 0x01000013, 0x01000014, 0x01000015

#: key → (component index, sign): which action component a held key drives, and which way.
KEY_BINDINGS: dict[int, tuple[int, float]] = {
    KEY_W: (0, +1.0), KEY_S: (0, -1.0),
    KEY_D: (1, +1.0), KEY_A: (1, -1.0),
    KEY_LEFT: (2, +1.0), KEY_RIGHT: (2, -1.0),
    KEY_UP: (3, +1.0), KEY_DOWN: (3, -1.0),
}
#: Speed of each component per held key: (m/tick, m/tick, rad/tick, rad/tick).
KEY_SPEEDS = np.array([WALK_SPEED, WALK_SPEED, TURN_SPEED, TURN_SPEED], dtype=np.float32)

assert np.all(KEY_SPEEDS <= ACTION_LIMITS), "key speeds must lie within ACTION_LIMITS"


def key_code(key) -> int:
    """A Qt key (``Qt.Key`` enum member or int) as a plain int."""
    return int(getattr(key, "value", key))


class KeyboardActionMapper:
    """Tracks held movement keys and mouse-look motion; yields one action per tick.

    Thread-safe. The trainee window pushes :meth:`key_action` and :meth:`take_look` to the
    session as they change; :meth:`next_action` gives both as one action, for a caller that
    polls once per tick.
    """

    def __init__(self, *, sensitivity: float = MOUSE_SENSITIVITY):
        #: Mouse-look sensitivity, radians per pixel.
        self.sensitivity = float(sensitivity)
        self._held: set[int] = set()
        self._mouse = np.zeros(2, np.float64)  # accumulated (dx, dy) in pixels since the last tick
        self._lock = threading.Lock()

    @staticmethod
    def handles(key) -> bool:
        """True if ``key`` (a Qt key code) is a movement key."""
        return key_code(key) in KEY_BINDINGS

    def press(self, key) -> bool:
        """Note ``key`` as held. Returns True if it is a movement key."""
        k = key_code(key)
        if k not in KEY_BINDINGS:
            return False
        with self._lock:
            self._held.add(k)
        return True

    def release(self, key) -> bool:
        """Note ``key`` as released. Returns True if it is a movement key."""
        k = key_code(key)
        if k not in KEY_BINDINGS:
            return False
        with self._lock:
            self._held.discard(k)
        return True

    def clear(self) -> None:
        """Release every key and drop pending mouse motion (on focus loss or hide)."""
        with self._lock:
            self._held.clear()
            self._mouse[:] = 0.0

    @property
    def held(self) -> frozenset[int]:
        """The movement keys held now (Qt key codes)."""
        with self._lock:
            return frozenset(self._held)

    def add_mouse_delta(self, dx: float, dy: float) -> None:
        """Accumulate mouse motion in pixels (``dx`` right, ``dy`` down, screen convention)."""
        with self._lock:
            self._mouse += (float(dx), float(dy))

    def key_action(self) -> np.ndarray:
        """The action from the held keys alone, float32 ``(4,)``; consumes nothing."""
        with self._lock:
            return self._key_action_locked()

    def _key_action_locked(self) -> np.ndarray:
        a = np.zeros(4, np.float32)
        for k in self._held:
            i, sign = KEY_BINDINGS[k]
            a[i] += sign
        return a * KEY_SPEEDS

    def take_look(self) -> tuple[float, float]:
        """The mouse motion accumulated since the last call as ``(yaw, pitch)`` radians
        (consumed). Mouse right turns right (negative yaw); mouse down looks down (negative
        pitch)."""
        with self._lock:
            dx, dy = self._mouse
            self._mouse[:] = 0.0
        return -float(dx) * self.sensitivity, -float(dy) * self.sensitivity

    def next_action(self) -> np.ndarray:
        """This tick's action, float32 ``(4,)`` within ACTION_LIMITS: keys plus the mouse
        motion accumulated since the previous call (which it consumes).

        Mouse right turns right (negative yaw); mouse down looks down (negative pitch).
        """
        with self._lock:
            a = self._key_action_locked()
            dx, dy = self._mouse
            self._mouse[:] = 0.0
        a[2] -= dx * self.sensitivity
        a[3] -= dy * self.sensitivity
        return np.clip(a, -ACTION_LIMITS, ACTION_LIMITS).astype(np.float32)
