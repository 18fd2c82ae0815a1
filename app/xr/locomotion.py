"""Walking and turning with controllers, and the comfort vignette while walking.

The left thumbstick (or a Vive trackpad) walks: pushing it forward walks where the head
looks, sideways steps sideways, at up to :data:`WALK_SPEED` metres a second. The right
thumbstick turns in snaps of :data:`SNAP_TURN_RAD` (no smooth turning, which is the usual
cause of simulator sickness): a snap fires when the stick passes :data:`SNAP_ON` to one side
and re-arms only once it is back under :data:`SNAP_OFF` (hysteresis). While the trainee walks
the edges of the view darken (a *comfort vignette*, as Fernandes & Feiner 2016 found to
reduce sickness), on by default and set in the scenario's ``[headset]`` table.
"""

from __future__ import annotations

import math

import numpy as np

from engine.actions import ACTION_LIMITS, TICK_HZ

#: Stick deflection under which it counts as at rest.
DEADZONE = 0.15
#: Top walking speed (m/s): the session's per-tick limit, 3 m/s at 20 Hz.
WALK_SPEED = float(ACTION_LIMITS[0]) * TICK_HZ
#: One snap turn (radians): 30°.
SNAP_TURN_RAD = math.radians(30.0)
SNAP_ON, SNAP_OFF = 0.7, 0.3


def walk_action(stick: tuple[float, float], speed: float = 1.0) -> np.ndarray:
    """The session action ``(forward, strafe, 0, 0)`` (metres per tick) of a thumbstick at
    ``(x, y)`` (each −1…1; y forward), scaled so a full push walks at ``speed`` times
    :data:`WALK_SPEED`; zero inside :data:`DEADZONE`."""
    x, y = float(stick[0]), float(stick[1])
    r = math.hypot(x, y)
    if r < DEADZONE:
        return np.zeros(4, np.float32)
    scale = min(1.0, (r - DEADZONE) / (1.0 - DEADZONE)) / r  # rescaled past the deadzone
    per_tick = speed * WALK_SPEED / TICK_HZ
    return np.array([y * scale * per_tick, x * scale * per_tick, 0.0, 0.0], np.float32)


class SnapTurn:
    """Snap turns from the right stick's x (−1…1). :meth:`update` returns the turn
    (radians; positive = left, as yaw) to apply now, 0 otherwise."""

    def __init__(self, step: float = SNAP_TURN_RAD):
        self.step = step
        self._armed = True

    def update(self, x: float) -> float:
        if self._armed and abs(x) >= SNAP_ON:
            self._armed = False
            return -math.copysign(self.step, x)  # stick right turns right: negative yaw
        if abs(x) <= SNAP_OFF:
            self._armed = True
        return 0.0


class Vignette:
    """The comfort vignette's strength: rises to 1 within :attr:`rise_s` seconds while
    walking and fades in :attr:`fall_s` after; :meth:`apply` darkens a frame's edges by it."""

    def __init__(self, enabled: bool = True, rise_s: float = 0.15, fall_s: float = 0.4, inner: float = 0.55):
        self.enabled, self.rise_s, self.fall_s, self.inner = enabled, rise_s, fall_s, inner
        self.strength = 0.0
        self._mask: dict[tuple[int, int], np.ndarray] = {}

    def update(self, moving: bool, dt: float) -> float:
        """Advance by ``dt`` seconds; returns the strength (0…1)."""
        if not self.enabled:
            self.strength = 0.0
        elif moving:
            self.strength = min(1.0, self.strength + dt / self.rise_s)
        else:
            self.strength = max(0.0, self.strength - dt / self.fall_s)
        return self.strength

    def _radial(self, h: int, w: int) -> np.ndarray:
        m = self._mask.get((h, w))
        if m is None:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            r = np.hypot((xx + 0.5) / w * 2 - 1, (yy + 0.5) / h * 2 - 1)  # 0 centre, 1 edge midpoints
            m = np.clip((r - self.inner) / (1.0 - self.inner), 0.0, 1.0)[..., None]
            m = m * m * (3 - 2 * m)  # smoothstep
            self._mask[(h, w)] = m
        return m

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` with the edges darkened by the current strength (the frame
        itself when the strength is 0)."""
        if self.strength <= 0.0:
            return frame
        keep = 1.0 - 0.9 * self.strength * self._radial(*frame.shape[:2])
        return (frame.astype(np.float32) * keep).astype(np.uint8)
