"""Progress and cancellation for long work (export, model loading), with no UI in it.

Engine functions that take a while accept a :class:`Progress` and call it as they go; the
app's job runner (:mod:`app.jobs`) reads it from the GUI thread and cancels through it. The
idea follows napari's ``thread_worker`` and Anki's ``CollectionOp``: the work reports, the
UI polls, and cancelling is a request the work honours at its next report.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside long work when the person asked to cancel it."""


class Progress:
    """Thread-safe progress of one piece of work.

    The work calls ``progress(fraction, text)`` (``fraction`` in 0..1, or None when
    unknown); each call raises :class:`Cancelled` once :meth:`cancel` has been called, so the
    work stops at its next report. Readers use :attr:`fraction`, :attr:`text` and
    :attr:`cancelled`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self.fraction: float | None = None
        self.text = ""

    def __call__(self, fraction: float | None = None, text: str | None = None) -> None:
        with self._lock:
            if fraction is not None:
                self.fraction = min(1.0, max(0.0, float(fraction)))
            if text is not None:
                self.text = text
        self.check()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancelling was asked for."""
        if self._cancel.is_set():
            raise Cancelled(self.text or "cancelled")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


def null_progress(fraction: float | None = None, text: str | None = None) -> None:
    """A progress callback that ignores everything (the default for callers without a UI)."""
