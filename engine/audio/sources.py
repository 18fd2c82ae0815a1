"""The world's sounds, synthesised (no recorded samples, so nothing to license).

Each source renders float32 mono blocks on a running sample clock, so consecutive blocks
join without clicks:

- :class:`Alarm` — the high-priority alarm pattern of IEC 60601-1-8 (medical electrical
  equipment, alarm systems): bursts of 10 pulses (3 + 2, pause, 3 + 2), a 523 Hz (C5) tone
  with four harmonics, repeated every 5 s while the alarm is on.
- :class:`MonitorBeep` — the pulse oximeter's beep, once per heartbeat (a 40 ms, 880 Hz
  tone); the heart rate rises from 72 to 140 beats per minute as the bleed spreads.
- :class:`RoomTone` — the room's ambience: filtered noise, with the ventilation hum of an
  operating room.
- :class:`Footsteps` — six steps (0.5 s apart) when a person walks in or out.
"""

from __future__ import annotations

import numpy as np

from . import SAMPLE_RATE


def _envelope(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n, np.float32)
    a, r = min(attack, n), min(release, n)
    if a:
        env[:a] = np.linspace(0.0, 1.0, a, dtype=np.float32)
    if r:
        env[n - r:] *= np.linspace(1.0, 0.0, r, dtype=np.float32)
    return env


class _Pattern:
    """A pattern of tone pulses ``(start s, length s)`` repeated every ``period`` seconds,
    rendered from a sample clock that runs while the source is on."""

    def __init__(self, pulses: list[tuple[float, float]], period: float, tone: np.ndarray):
        self.period = period
        n = int(round(period * SAMPLE_RATE))
        self._loop = np.zeros(n, np.float32)
        for start, length in pulses:
            i, m = int(start * SAMPLE_RATE), int(length * SAMPLE_RATE)
            self._loop[i:i + m] += tone[:m] * _envelope(m, 240, 480)
        self._pos = 0

    def render(self, n: int) -> np.ndarray:
        idx = (self._pos + np.arange(n)) % len(self._loop)
        self._pos = (self._pos + n) % len(self._loop)
        return self._loop[idx]

    def reset(self) -> None:
        self._pos = 0


def _tone(freq: float, seconds: float, harmonics: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return (out / np.max(np.abs(out))).astype(np.float32)


class Alarm:
    """IEC 60601-1-8 high-priority alarm (see the module docstring); ``render(n, on)``."""

    def __init__(self, level: float = 0.35):
        starts = [0.0, 0.25, 0.5, 0.95, 1.2, 2.0, 2.25, 2.5, 2.95, 3.2]  # 3 + 2, pause, 3 + 2
        self._pattern = _Pattern([(s, 0.15) for s in starts], 5.0, _tone(523.25, 0.2, harmonics=5) * level)

    def render(self, n: int, on: bool) -> np.ndarray:
        if not on:
            self._pattern.reset()  # a new alarm starts with its first pulse
            return np.zeros(n, np.float32)
        return self._pattern.render(n)


def heart_rate_bpm(bleeding: float) -> float:
    """The patient's heart rate (beats per minute) at bleed spread ``bleeding`` (0–1): 72 at
    rest, rising to 140 (the tachycardia of haemorrhagic shock)."""
    return 72.0 + 68.0 * float(np.clip(bleeding, 0.0, 1.0))


class MonitorBeep:
    """A beep per heartbeat at :func:`heart_rate_bpm`; ``render(n, bleeding)``. The next
    beat is due one period (at the heart rate of the moment) after the last."""

    def __init__(self, level: float = 0.25, freq: float = 880.0):
        self._beep = _tone(freq, 0.04, harmonics=2) * level * _envelope(int(0.04 * SAMPLE_RATE), 96, 480)
        self._countdown: int | None = None  # samples until the next beat
        self._ringing = len(self._beep)  # samples of the current beep already played

    def render(self, n: int, bleeding: float) -> np.ndarray:
        out = np.zeros(n, np.float32)
        period = int(round(60.0 / heart_rate_bpm(bleeding) * SAMPLE_RATE))
        if self._countdown is None:
            self._countdown = period
        i = 0
        while i < n:
            if self._ringing < len(self._beep):  # the beep under way
                m = min(n - i, len(self._beep) - self._ringing)
                out[i:i + m] += self._beep[self._ringing:self._ringing + m]
                self._ringing += m
            step = min(n - i, self._countdown)
            self._countdown -= step
            i += step
            if self._countdown == 0:  # a beat: its beep starts here
                self._countdown, self._ringing = period, 0
                m = min(n - i, len(self._beep))
                out[i:i + m] += self._beep[:m]
                self._ringing = m
        return out


#: Room tone per room type: (noise level, low-pass pole 0–1, hum Hz or 0, hum level).
ROOM_TONES: dict[str, tuple[float, float, float, float]] = {
    "operating_room": (0.020, 0.95, 100.0, 0.012),  # ventilation and equipment hum
    "therapy_room": (0.008, 0.97, 0.0, 0.0),
    "classroom": (0.014, 0.90, 0.0, 0.0),
}


class RoomTone:
    """The room's ambience (see :data:`ROOM_TONES`); ``render(n)``."""

    def __init__(self, room_type: str | None, seed: int = 0):
        self.level, self.pole, self.hum_hz, self.hum_level = ROOM_TONES.get(room_type or "", (0.008, 0.97, 0.0, 0.0))
        self._rng = np.random.default_rng(seed)
        self._state = 0.0
        self._t = 0

    def render(self, n: int) -> np.ndarray:
        from scipy.signal import lfilter

        white = self._rng.standard_normal(n).astype(np.float32)
        a = self.pole
        y, zf = lfilter([1.0 - a], [1.0, -a], white, zi=[self._state])
        self._state = float(zf[0])
        out = (y * (self.level / np.sqrt((1 - a) / (1 + a)))).astype(np.float32)  # unit variance, then level
        if self.hum_hz:
            t = (self._t + np.arange(n)) / SAMPLE_RATE
            out += (self.hum_level * (np.sin(2 * np.pi * self.hum_hz * t) + 0.4 * np.sin(4 * np.pi * self.hum_hz * t))
                    ).astype(np.float32)
        self._t += n
        return out


class Footsteps:
    """Six footsteps, 0.5 s apart, started by :meth:`walk`; ``render(n)``."""

    def __init__(self, level: float = 0.3, seed: int = 1):
        rng = np.random.default_rng(seed)
        m = int(0.06 * SAMPLE_RATE)
        from scipy.signal import lfilter

        thump = lfilter([0.05], [1.0, -0.95], rng.standard_normal(m)).astype(np.float32)
        self._step = (thump / np.max(np.abs(thump)) * level * _envelope(m, 48, m - 48)).astype(np.float32)
        gap = int(0.5 * SAMPLE_RATE)
        self._walk = np.zeros(gap * 6, np.float32)
        for k in range(6):
            self._walk[k * gap:k * gap + m] += self._step * (0.8 if k % 2 else 1.0)
        self._pos = len(self._walk)

    def walk(self) -> None:
        self._pos = 0

    def render(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        m = min(n, len(self._walk) - self._pos)
        if m > 0:
            out[:m] = self._walk[self._pos:self._pos + m]
            self._pos += m
        return out
