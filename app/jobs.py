"""Long work off the GUI thread, with progress and cancellation (DESIGN.md §2).

A :class:`Job` runs ``work(progress)`` on a worker thread; ``progress`` is an
:class:`engine.progress.Progress` the work reports to (and that raises
:class:`~engine.progress.Cancelled` once cancelled). A ``QTimer`` on the GUI thread polls it
and calls the job's hooks there, so widgets are only ever touched on the GUI thread. Hooks
are plain callbacks (:class:`app.session_worker.Hook`), not Qt signals emitted from Python:
see that module for the PySide6 6.12 bug this avoids.

:class:`ProgressPanel` is the small widget (text, bar, Cancel) that follows a job.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine.progress import Cancelled, Progress

from .session_worker import Hook

log = logging.getLogger(__name__)

#: How often the GUI thread looks at a running job, milliseconds.
JOB_POLL_MS = 50


class Job(QObject):
    """``work(progress) -> result`` on its own thread.

    Hooks, called on the GUI thread: ``progressed(fraction | None, text)`` while it runs,
    then exactly one of ``done(result)``, ``failed(message)`` or ``cancelled()``.
    :attr:`state` is ``"idle"``, ``"running"``, ``"done"``, ``"failed"`` or ``"cancelled"``.
    """

    def __init__(self, work: Callable[[Progress], Any], *, title: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self.work, self.title = work, title
        self.progress = Progress()
        self.progressed, self.done, self.failed, self.cancelled = Hook(), Hook(), Hook(), Hook()
        self.state = "idle"
        self.result: Any = None
        self.error: str | None = None
        self._outcome: tuple[str, Any] | None = None
        self._last: tuple = ()
        self._thread = threading.Thread(target=self._run, name=f"ved-job-{title or 'work'}", daemon=True)
        self._timer = QTimer(self)
        self._timer.setInterval(JOB_POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> "Job":
        if self.state != "idle":
            raise RuntimeError("a job can be started once")
        self.state = "running"
        self._thread.start()
        self._timer.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self.progress.cancel()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work thread ends (tests, shutdown); True if it has. Hooks still
        run on the next poll."""
        if self.state == "idle":
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = self.work(self.progress)
            self._outcome = ("done", result)
        except Cancelled:
            self._outcome = ("cancelled", None)
        except Exception as exc:  # shown to the person; the app keeps running
            log.info("job %s failed", self.title, exc_info=True)
            self._outcome = ("failed", f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))

    def _poll(self) -> None:
        now = (self.progress.fraction, self.progress.text)
        if now != self._last:
            self._last = now
            self.progressed(*now)
        if self._outcome is None:
            return
        self._timer.stop()
        kind, value = self._outcome
        self.state = kind
        if kind == "done":
            self.result = value
            self.done(value)
        elif kind == "failed":
            self.error = value
            self.failed(value)
        else:
            self.cancelled()


class ProgressPanel(QWidget):
    """A line of text, a progress bar and a Cancel button following one :class:`Job` at a
    time; hidden when no job runs. Unknown fractions show a busy bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel", self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self.job: Job | None = None
        self.cancel_button.clicked.connect(self._cancel)
        self.hide()

    def follow(self, job: Job) -> None:
        self.job = job
        self.label.setText(job.title)
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        job.progressed.connect(self._on_progress)
        for hook in (job.done, job.failed, job.cancelled):
            hook.connect(self._on_end)
        self.show()

    def _on_progress(self, fraction, text) -> None:
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(fraction * 1000))
        self.label.setText(f"{self.job.title}: {text}" if text and self.job and self.job.title else text or "")

    def _on_end(self, *_) -> None:
        self.job = None
        self.hide()

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText("Cancelling…")
