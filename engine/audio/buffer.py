"""A jitter buffer between the session's 50 ms sound blocks and a sound card's callback.

The session delivers a tick's block at a time (with the jitter of its tick and, across the
network, of the link); the device asks for a few milliseconds at a time on its own clock.
:class:`JitterBuffer` keeps about ``target_ms`` of sound queued: it plays silence until that
much has arrived (so one late block does not click), counts an *underrun* each time the
device asks for more than is queued (filling the gap with silence), and drops the oldest
sound when more than ``max_ms`` piles up (a device slower than the session), so latency
stays bounded. It adapts, as a VoIP jitter buffer does: each underrun raises the target
by ``grow_ms`` (up to ``max_target_ms``), so a machine whose ticks stall now and then
trades a little latency for no further gaps.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np


class JitterBuffer:
    """Stereo float32 blocks in (:meth:`push`), any number of frames out (:meth:`pull`).
    Thread-safe: the session's side and the device's callback may be different threads."""

    def __init__(self, sample_rate: int = 48_000, *, target_ms: float = 80.0, max_ms: float = 250.0,
                 grow_ms: float = 20.0, max_target_ms: float = 140.0):
        self.sample_rate = sample_rate
        self.target = int(sample_rate * target_ms / 1000)
        self.max = int(sample_rate * max_ms / 1000)
        self._grow = int(sample_rate * grow_ms / 1000)
        self._max_target = max(self.target, int(sample_rate * max_target_ms / 1000))
        self._blocks: deque[np.ndarray] = deque()
        self._queued = 0
        self._primed = False
        self._lock = threading.Lock()
        self.underruns = 0
        self.dropped_frames = 0

    @property
    def primed(self) -> bool:
        """True while playing (the target was reached and no underrun since)."""
        return self._primed

    @property
    def queued(self) -> int:
        """Frames (sample pairs) waiting."""
        return self._queued

    def push(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32)
        with self._lock:
            self._blocks.append(block)
            self._queued += len(block)
            while self._queued > self.max and len(self._blocks) > 1:
                old = self._blocks.popleft()
                self._queued -= len(old)
                self.dropped_frames += len(old)
            if self._queued >= self.target:
                self._primed = True

    def clear(self) -> None:
        """Drop everything queued; the buffer primes again before playing."""
        with self._lock:
            self._blocks.clear()
            self._queued = 0
            self._primed = False

    def pull(self, n: int) -> np.ndarray:
        """``n`` frames, float32 ``(n, 2)``: what is queued, silence for the rest (an
        underrun once primed)."""
        out = np.zeros((n, 2), np.float32)
        with self._lock:
            if not self._primed:
                return out
            i = 0
            while i < n and self._blocks:
                block = self._blocks[0]
                m = min(n - i, len(block))
                out[i:i + m] = block[:m]
                i += m
                self._queued -= m
                if m == len(block):
                    self._blocks.popleft()
                else:
                    self._blocks[0] = block[m:]
            if i < n:
                self.underruns += 1
                self._primed = False  # wait for the target again before playing on
                self.target = min(self.target + self._grow, self._max_target)
        return out
