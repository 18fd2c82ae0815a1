"""Running a session live: a wall clock that never slows, and frames as fast as the model goes.

:class:`SessionRunner` paced (what a live session uses) runs two loops:

* the **clock** (its own thread) advances the world by the wall clock at the session's tick
  rate — :meth:`~engine.runtime.session.Session.advance_clock`: the trainees' input of the
  tick, the world state, due cues and queued events, the tick's sound. A clock that was held
  up (a game-master request that reopens the world, a pause of the whole process) catches
  up tick by tick, so world time, cues, events, sound and the scenario's duration follow the
  wall clock on a slow machine as on a fast one;
* the **frames** (the runner's thread) — :meth:`~engine.runtime.session.Session.generate`
  after each tick, from the newest tick and the actions of every tick since the last
  frame. A tick the world model was too slow for gets no frame of its own: it is counted in
  :attr:`SessionRunner.missed_ticks`, and the next frame shows where the trainee went.

While the game master has the clock paused, the world stands and the frame loop only
carries out requests. Unpaced (``paced=False``: benches, headless runs) the clock and the
frame go in lock step as fast as the model goes (:meth:`~engine.runtime.session.Session.step`).
"""

from __future__ import annotations

import threading
import time

from .session import Session

__all__ = ["SessionRunner"]


class SessionRunner(threading.Thread):
    """Runs ``session`` (started here if it was not) until :meth:`stop`, an error, or
    ``max_ticks`` ticks of world time (the frame of the last tick included); then ends it.

    Figures: :attr:`frame_times` (seconds each generated frame took), :attr:`missed_ticks`
    (ticks of world time that got no frame of their own), :attr:`clock_lag_max` (seconds the
    clock ran behind the wall clock at worst, paced only). :attr:`error` holds what stopped
    it, if anything (the session then ends with ``reason="error: …"``; the recording is on
    disk). While it runs, the objects that existed at its start are exempt from garbage
    collection (see :func:`_hold_gc`)."""

    def __init__(self, session: Session, *, paced: bool = True, max_ticks: int | None = None):
        super().__init__(name="ved-session", daemon=True)
        self.session, self.paced, self.max_ticks = session, paced, max_ticks
        self.frame_times: list[float] = []
        self.missed_ticks = 0
        self.clock_lag_max = 0.0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.session.ticked.set()

    def run(self) -> None:
        _hold_gc()
        try:
            self._run()
        finally:
            _release_gc()

    def _done(self, tick: int) -> bool:
        return self.max_ticks is not None and tick >= self.max_ticks

    def _run(self) -> None:
        s = self.session
        try:
            if s.tick < 0:
                s.start()
                _release_gc()  # freeze again with what the start made (the opening, the model's first state)
                _hold_gc()
            if self.paced:
                clock = threading.Thread(target=self._clock_loop, name="ved-clock", daemon=True)
                clock.start()
                try:
                    self._frame_loop()
                finally:
                    self._stop_event.set()
                    clock.join()
            else:
                self._lockstep_loop()
        except BaseException as exc:  # surfaced to the owner; the recording is already on disk
            self.error = exc
        if self.error is not None:
            s.end(reason=f"error: {self.error}")
        else:
            s.end()

    def _lockstep_loop(self) -> None:
        s, period = self.session, 1.0 / self.session.tick_hz
        while not self._stop_event.is_set() and not self._done(s.tick):
            if s.paused:  # the clock stands; the game master's requests are still served
                s.apply_commands()
                self._stop_event.wait(period)
                continue
            t0 = time.perf_counter()
            s.step()
            self.frame_times.append(time.perf_counter() - t0)

    def _clock_loop(self) -> None:
        """Advance the world by the wall clock, catching up on ticks it was held up for."""
        s = self.session
        period = 1.0 / s.tick_hz
        deadline = time.perf_counter() + period
        try:
            while not self._stop_event.is_set() and not self._done(s.tick):
                now = time.perf_counter()
                if now < deadline:
                    self._stop_event.wait(deadline - now)
                    continue
                if s.paused:  # the world stands; wake the frame loop to serve requests
                    deadline = now + period
                    s.ticked.set()
                    continue
                s.advance_clock()
                self.clock_lag_max = max(self.clock_lag_max, now - deadline)
                deadline += period
        except BaseException as exc:  # noqa: BLE001 - handed to the frame loop, which ends the session
            self.error = exc
            self._stop_event.set()
        s.ticked.set()

    def _frame_loop(self) -> None:
        """A frame after every tick of the clock, of the newest tick; requests in between."""
        s, period = self.session, 1.0 / self.session.tick_hz
        while not self._stop_event.is_set():
            s.ticked.wait(period)
            s.ticked.clear()
            if self.error is not None:
                return
            s.apply_commands()
            if s.paused or s.ended:
                continue
            last = s.frame_tick
            t0 = time.perf_counter()
            if s.generate() is None:
                if self._done(s.frame_tick):
                    return
                continue
            self.frame_times.append(time.perf_counter() - t0)
            self.missed_ticks += max(0, s.frame_tick - last - 1)
            if self._done(s.frame_tick):
                return


_gc_lock = threading.Lock()
_gc_holders = 0


def _hold_gc() -> None:
    """While a session ticks, Python's garbage collector leaves alone the objects that exist
    at its start (the model's modules and tensors, the scenario, the windows): a full
    collection over them takes 45–60 ms with the shipped model loaded, long enough to miss a
    tick and starve the trainee's sound; frozen, it takes under a millisecond
    (``gc.freeze``, the remedy the CPython docs give for this). Counted, so the last
    runner to stop unfreezes them and a closed session's objects can be collected."""
    import gc

    global _gc_holders
    with _gc_lock:
        if _gc_holders == 0:
            gc.collect()
            gc.freeze()
        _gc_holders += 1


def _release_gc() -> None:
    import gc

    global _gc_holders
    with _gc_lock:
        _gc_holders -= 1
        if _gc_holders == 0:
            gc.unfreeze()
