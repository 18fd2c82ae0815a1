"""A simulated OpenXR runtime with XrRuntime's methods, for presenter tests without one."""

from __future__ import annotations

import math
import threading
import time


class SimRuntime:
    """A headset at ``display_hz`` whose head turns ``yaw_amp`` radians back and forth with
    period ``yaw_period`` seconds; it goes through IDLE, READY, SYNCHRONIZED, VISIBLE,
    FOCUSED on open, STOPPING on request_exit, IDLE and EXITING on end_session. ``take_off``
    and ``put_on`` simulate the proximity sensor; ``turn_stick`` pushes the right stick."""

    def __init__(self, display_hz: float = 90.0, yaw_amp: float = 0.6, yaw_period: float = 2.0):
        self.display_hz, self.yaw_amp, self.yaw_period = display_hz, yaw_amp, yaw_period
        self.runtime_name, self.system_name = "SimRuntime 1.0", "Simulated headset"
        self.uploads, self.layers = [], []
        self.turn_stick = (0.0, 0.0)
        self.walk_stick = (0.0, 0.0)
        self.closed = False
        self._states: list[str] = []
        self._lock = threading.Lock()
        self._t0 = None
        self._next = None

    def open(self, resolution: int) -> None:
        self.resolution = resolution
        self._t0 = time.monotonic()
        self._queue("IDLE", "READY")

    def _queue(self, *states: str) -> None:
        with self._lock:
            self._states += states

    def poll_states(self) -> list[str]:
        with self._lock:
            out, self._states = self._states, []
        return out

    def begin_session(self) -> None:
        self._queue("SYNCHRONIZED", "VISIBLE", "FOCUSED")

    def end_session(self) -> None:
        self._queue("IDLE", "EXITING")

    def request_exit(self) -> None:
        self._queue("STOPPING")

    def take_off(self) -> None:
        self._queue("VISIBLE", "SYNCHRONIZED")

    def put_on(self) -> None:
        self._queue("VISIBLE", "FOCUSED")

    def wait_frame(self):
        period = 1.0 / self.display_hz
        now = time.monotonic()
        self._next = max(now, (self._next or now) + period)
        time.sleep(max(0.0, self._next - now))
        return int((self._next + period) * 1e9), True, period

    def head_yaw_at(self, t: float) -> float:
        return self.yaw_amp * math.sin(2 * math.pi * (t - self._t0) / self.yaw_period)

    def head(self, display_time: int):
        return self.head_yaw_at(display_time / 1e9), 0.0, (0.0, 1.6, 0.0)

    def controllers(self):
        return self.walk_stick, self.turn_stick, False

    def upload(self, frame) -> None:
        self.uploads.append(frame.copy())

    def end_frame(self, display_time: int, layer) -> None:
        self.layers.append((display_time, layer))

    def to_monotonic(self, display_time: int) -> float:
        return display_time / 1e9

    def close(self) -> None:
        self.closed = True
