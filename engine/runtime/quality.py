"""Quality that holds the tick: the rung of the world model's quality ladder a live session
draws at, chosen from its own frame times (issue 26).

A world model offers its rungs best first (:attr:`~engine.model.interface.WorldModel.quality_levels`,
e.g. ``("high", "medium", "low")``; docs/benchmarks.md gives each rung's speed and what it
costs in ``ved eval``'s figures). :class:`QualityGovernor` watches the time of every frame:

* **down** one rung when the 95th percentile over the last ``window_s`` seconds passes
  ``budget`` (85 %) of the tick;
* **up** one rung when the frames have left room for the rung above for ``up_after_s``
  seconds in a row: this rung's p95 times the cost ratio between the two rungs (measured across
  the last step down between them, seconds apart and so under the same load; else
  :data:`DEFAULT_RATIO`) stays under the budget;
* a step up that has to come back down within ``up_after_s`` doubles the wait before the
  next try (up to ``max_wait_s``), so a machine on the edge of a rung does not oscillate;
* after any change the window starts afresh and nothing changes for ``settle_s``.

The governor is pure logic over ``(frame seconds, wall seconds)``; the session feeds it each
frame's time and applies its decisions between frames, on the generating thread, telling
the game master and the recording (:meth:`~engine.runtime.session.Session.generate`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

#: The modes a session's quality can be set to: ``auto`` (the governor) or a fixed rung.
QUALITY_MODES = ("auto", "high", "medium", "low")
#: What a rung above is assumed to cost, relative to the rung below, until measured.
DEFAULT_RATIO = 1.3


@dataclass
class QualityGovernor:
    """Chooses a rung of ``levels`` (names, best first) for frames due every ``tick_s``
    seconds; starts at ``start`` (index into ``levels``). Raises ``ValueError`` without
    levels or for a start outside them."""

    levels: tuple[str, ...]
    tick_s: float
    start: int = 0
    budget: float = 0.85
    window_s: float = 2.0
    min_frames: int = 10
    settle_s: float = 1.0
    up_after_s: float = 10.0
    max_wait_s: float = 120.0
    level: int = field(init=False)
    _times: deque = field(init=False, repr=False)
    _ratio: dict = field(init=False, repr=False)  # rung above -> its cost over the rung below's
    _left: tuple | None = field(init=False, default=None, repr=False)  # (rung left, its p95) after a step down
    _since: float | None = field(init=False, default=None, repr=False)
    _wait_s: float = field(init=False, repr=False)
    _went_up_at: float | None = field(init=False, default=None, repr=False)
    _room_since: float | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("a quality governor needs at least one level")
        if not 0 <= self.start < len(self.levels):
            raise ValueError(f"start level {self.start} is not one of {len(self.levels)} levels")
        self.level = self.start
        self._times = deque()
        self._ratio = {}
        self._wait_s = self.up_after_s

    @property
    def name(self) -> str:
        """The rung in use."""
        return self.levels[self.level]

    def p95(self) -> float | None:
        """The 95th percentile frame time (seconds) over the window, None with too few frames."""
        if len(self._times) < self.min_frames:
            return None
        return float(np.percentile([s for _, s in self._times], 95))

    def observe(self, frame_s: float, now: float) -> tuple[str, str] | None:
        """Record a frame that took ``frame_s`` seconds, finished at wall time ``now``
        (seconds, any monotonic origin). Returns ``(new level, reason)`` when the rung
        changes, else None."""
        if self._since is None:
            self._since = now
        self._times.append((now, frame_s))
        while self._times and self._times[0][0] < now - self.window_s:
            self._times.popleft()
        p95 = self.p95()
        if p95 is None or now - self._since < self.settle_s:
            return None
        if self._left is not None:  # the first p95 since stepping down: what the rung above costs more
            upper, upper_p95 = self._left
            self._ratio[upper] = max(upper_p95 / p95, 1.0)
            self._left = None
        limit = self.budget * self.tick_s
        if p95 > limit and self.level < len(self.levels) - 1:
            if self._went_up_at is not None and now - self._went_up_at < self.up_after_s:
                self._wait_s = min(2 * self._wait_s, self.max_wait_s)  # the step up did not hold
            self._went_up_at = None
            self._left = (self.level, p95)
            return self._change(self.level + 1, now, f"frames took {p95 * 1e3:.0f} ms (p95) of a "
                                                     f"{self.tick_s * 1e3:.0f} ms tick")
        room = self.level > 0 and p95 * self._ratio.get(self.level - 1, DEFAULT_RATIO) < limit
        if not room:
            self._room_since = None
        elif self._room_since is None:
            self._room_since = now
        elif now - self._room_since >= self._wait_s:
            self._went_up_at = now
            return self._change(self.level - 1, now, f"room for {self.levels[self.level - 1]}: frames took "
                                                     f"{p95 * 1e3:.0f} ms (p95)")
        if self._went_up_at is not None and now - self._went_up_at >= self.up_after_s:
            self._went_up_at, self._wait_s = None, self.up_after_s  # the step up held
        return None

    def _change(self, level: int, now: float, reason: str) -> tuple[str, str]:
        self.level = level
        self._room_since = None
        self._times.clear()
        self._since = now
        return self.name, reason
