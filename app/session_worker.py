"""Runs a live session off the GUI thread and bridges it to Qt (DESIGN.md §2).

:class:`SessionWorker` owns one worker thread that prepares the session (loads the model
when given a factory, opens the scenario, creates the recorder) and then ticks it with the
engine's :class:`~engine.runtime.session.SessionRunner`, paced at the 20 Hz tick. The GUI
thread never calls ``model.step``: it only polls, through a ``QTimer`` at about 60 Hz,
what the session's clients have received (``client.poll()`` / ``client.latest_frame``).

Hooks (plain Python callbacks, called on the GUI thread from the poll timer):

- ``ready``: the session exists; :attr:`trainee_client` and :attr:`gm_client` can be used.
- ``pulse``: once per poll (~16 ms); windows read their client then.
- ``failed(str)``: start-up or the runner failed; the message is for a person. The
  recording made so far stays on disk and is closed by :meth:`close`.

They are :class:`Hook` objects rather than Qt signals on purpose: with PySide6 6.12 on
Python 3.11, every ``Signal.emit()`` called *from Python* drops one reference to ``True``,
and the interpreter aborts ("bool_dealloc: deallocating True or False") after a few
hundred emits, i.e. seconds at 60 Hz. Signals emitted by Qt itself (``QTimer.timeout``,
``QPushButton.clicked``) are not affected, so the app never calls ``.emit()`` itself.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer

from engine.recording import Recorder, RecordingSummary
from engine.runtime.runner import SessionRunner
from engine.runtime.session import Client, Role, Session
from engine.runtime.wiring import default_record_dir, open_live_session

log = logging.getLogger(__name__)

#: Poll interval of the GUI bridge, milliseconds (~60 Hz).
POLL_MS = 16
#: How long :meth:`SessionWorker.close` waits for the worker thread, seconds.
JOIN_TIMEOUT_S = 15.0


class Hook:
    """A list of callbacks called in order with the same arguments; a stand-in for a Qt
    signal emitted from Python (see the module docstring for why)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable) -> None:
        self._callbacks.remove(callback)

    def __call__(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    emit = __call__


class SessionWorker(QObject):
    """A session of ``scenario`` on ``model``, ticking on its own thread, recorded.

    Args:
        scenario: an :class:`engine.scenario.Scenario`.
        model: a world model (``reset``/``step``, see :mod:`engine.model.interface`), or a
            zero-argument callable returning one; the callable runs on the worker thread,
            so slow loading keeps the windows responsive.
        record_dir: recording folder (default :func:`default_record_dir` of the title).
        seed: sampling seed, written to the recording's metadata.
        paced: tick at the session rate (20 Hz); False steps as fast as the model goes.

    Call :meth:`start` once and :meth:`close` once at the end (idempotent).
    """

    def __init__(self, scenario, model, record_dir: str | Path | None = None, *, seed: int = 0,
                 paced: bool = True, quality: str | None = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.ready, self.pulse, self.failed = Hook(), Hook(), Hook()
        self.scenario = scenario
        self._model_arg = model
        self.record_dir = Path(record_dir) if record_dir else default_record_dir(scenario.title)
        self.seed, self.paced, self.quality = seed, paced, quality
        self.model = None
        self.session: Session | None = None
        self.runner: SessionRunner | None = None
        self.recorder: Recorder | None = None
        self.trainee_client: Client | None = None
        self.gm_client: Client | None = None
        #: What :meth:`Recorder.close` returned, once closed.
        self.summary: RecordingSummary | None = None
        #: The first error, as shown to the user (None while all is well).
        self.error: str | None = None
        self._startup_error: BaseException | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._cancel = threading.Event()
        self._announced_ready = False
        self._closed = False
        self._thread = threading.Thread(target=self._main, name="ved-session-worker", daemon=True)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # ------------------------------------------------------------ GUI thread
    def start(self) -> None:
        """Start the worker thread and the GUI poll timer."""
        self._thread.start()
        self._timer.start()

    @property
    def state(self) -> str:
        """``"loading"``, ``"running"``, ``"failed"``, ``"ended"`` or ``"closed"``."""
        if self._closed:
            return "closed"
        if self._startup_error is not None or (self.runner is not None and self.runner.error is not None):
            return "failed"
        if not self._ready.is_set():
            return "loading"
        return "ended" if self.session is not None and self.session.ended else "running"

    def _poll(self) -> None:
        if self._ready.is_set() and not self._announced_ready:
            self._announced_ready = True
            self.ready()
        if self.error is None and self._check_error():
            self.failed(self.error)
        self.pulse()

    def _check_error(self) -> bool:
        """Set :attr:`error` from a start-up or runner failure; True if one was found now."""
        if self.error is not None:
            return False
        exc = self._startup_error or (self.runner.error if self.runner is not None else None)
        if exc is None:
            return False
        where = "could not start the session" if self._startup_error is not None else "the session stopped"
        self.error = f"{where}: {type(exc).__name__}: {exc}"
        log.info("%s", self.error)
        return True

    def stop_polling(self) -> None:
        """Stop the GUI poll timer (GUI thread). :meth:`close` may then run on another thread."""
        if self._timer.isActive():
            self._timer.stop()

    def close(self) -> RecordingSummary | None:
        """Stop the runner, join the thread, end the session and close the recording.

        Blocks for at most one tick plus the recorder's close (remux, contact sheet), or
        until model loading finishes. Returns the recording summary (None when no recording
        was started). Safe to call more than once.
        """
        if self._closed:
            return self.summary
        self.stop_polling()
        with self._lock:
            self._cancel.set()
            runner = self.runner
        if runner is not None:
            runner.stop()
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("the session thread did not stop within %.0f s", JOIN_TIMEOUT_S)
        self._check_error()
        if self.session is not None:
            self.session.end(reason="closed")
        for client in (self.trainee_client, self.gm_client):
            if client is not None:
                client.close()
        if self.recorder is not None and not self.recorder.closed:
            try:
                self.summary = self.recorder.close()
            except Exception as exc:  # the segments on disk stay readable
                log.error("closing the recording in %s failed: %s", self.record_dir, exc)
        self._closed = True
        return self.summary

    # ------------------------------------------------------------ worker thread
    def _main(self) -> None:
        try:
            model = self._model_arg if hasattr(self._model_arg, "step") else self._model_arg()
            live = open_live_session(self.scenario, model, seed=self.seed, record_dir=self.record_dir,
                                     meta={"app": "ved run"}, quality=self.quality)
            session = live.session
            self.recorder = live.recorder  # closed by close() even if what follows fails
            trainee = session.connect(Role.TRAINEE, maxlen=8)
            gm = session.connect(Role.GAME_MASTER, maxlen=4096)
            runner = SessionRunner(session, paced=self.paced)
        except BaseException as exc:
            self._startup_error = exc
            return
        with self._lock:
            self.model, self.session = model, session
            self.trainee_client, self.gm_client, self.runner = trainee, gm, runner
            cancelled = self._cancel.is_set()
        if cancelled:
            return
        self._ready.set()
        runner.run()  # ticks here, on this thread, until stopped; errors land in runner.error
