"""The world's sounds as one trainee hears them, a stereo block per session tick."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..actions import TICK_HZ
from ..world.state import WorldState
from . import SAMPLE_RATE
from .sources import Alarm, Footsteps, MonitorBeep, RoomTone
from .spatial import place


@dataclass(frozen=True)
class SoundSettings:
    """Which of the world's sounds play (the scenario's ``[sounds]`` table): the alarm
    (``"iec_high"`` or ``"off"``), the patient monitor's beep (``None``: where the room has a
    monitor), the room tone, the footsteps of a person entering or leaving, and the overall
    ``volume`` (0–1)."""

    alarm: str = "iec_high"
    monitor: bool | None = None
    room_tone: bool = True
    footsteps: bool = True
    volume: float = 1.0


def _centre(footprint) -> tuple[float, float]:
    x0, z0, x1, z1 = footprint
    return (x0 + x1) / 2, (z0 + z1) / 2


class WorldAudio:
    """Renders what a trainee hears: :meth:`render` takes the world state of a tick and the
    trainee's pose ``(x, z, yaw, pitch)`` and returns float32 ``(SAMPLE_RATE / tick_hz, 2)``
    samples in −1…1 (left, right). The monitor and the alarm sound from the scene's patient
    monitor (the room's centre without one), footsteps from where the person stands.
    ``scene`` is the room's :class:`~engine.world.scene.Scene`, or None (an image scenario:
    room tone and alarm only, from ahead of the start)."""

    def __init__(self, scene=None, settings: SoundSettings | None = None, *, tick_hz: int = TICK_HZ, seed: int = 0):
        self.settings = settings or SoundSettings()
        self.block = SAMPLE_RATE // tick_hz
        monitors = [o for o in (scene.objects if scene is not None else []) if o.kind == "monitor" and o.footprint]
        self.monitor_xz = _centre(monitors[0].footprint) if monitors else (0.0, 0.0)
        self.has_monitor = bool(monitors)
        self._alarm = Alarm()
        self._monitor = MonitorBeep()
        self._room = RoomTone(getattr(scene, "room_type", None), seed)
        self._steps = Footsteps()
        self._avatar: bool | None = None
        self._avatar_xz = (0.0, 0.0)

    def render(self, state: WorldState, head_pose) -> np.ndarray:
        s, n = self.settings, self.block
        out = np.zeros((n, 2), np.float32)
        if s.room_tone:
            out += self._room.render(n)[:, None]
        if s.alarm != "off":
            out += place(self._alarm.render(n, state.alarm), self.monitor_xz, head_pose)
        if s.monitor if s.monitor is not None else self.has_monitor:
            out += place(self._monitor.render(n, state.bleeding), self.monitor_xz, head_pose)
        if self._avatar is not None and state.avatar != self._avatar and s.footsteps:
            self._steps.walk()
        if state.avatar or self._avatar:
            self._avatar_xz = tuple(state.avatar_pose[:2])
        self._avatar = state.avatar
        if s.footsteps:
            out += place(self._steps.render(n), self._avatar_xz, head_pose)
        return np.clip(out * s.volume, -1.0, 1.0)
