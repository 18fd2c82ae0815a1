"""``ved run SCENARIO`` with a display: the trainee window and the game-master console.

:func:`run_app` is what the CLI calls; :func:`build_app` wires the two windows to a
:class:`~app.session_worker.SessionWorker` without entering the event loop (tests use it).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from .console.window import GameMasterConsole
from .qtapp import ensure_app  # noqa: F401 (re-exported)
from .session_worker import SessionWorker
from .trainee.window import TraineeWindow

#: Gap between the two windows when placed side by side, pixels.
WINDOW_GAP = 16


def build_app(scenario, model_obj, record_dir: str | Path | None = None, *, seed: int = 0,
              paced: bool = True, on_close=None, xr: bool = False,
              xr_runtime_factory=None) -> tuple[TraineeWindow, GameMasterConsole, SessionWorker]:
    """Create and show both windows and start the session worker; returns at once.

    ``model_obj`` is a world model or a zero-argument callable returning one (run on the
    worker thread, while the windows show a loading state). Closing either window closes
    the other, stops the session and closes the recording (:meth:`SessionWorker.close`).
    With ``on_close``, the recording is finished on a background job (remuxing a long
    session takes a while) and ``on_close(summary)`` is called on the GUI thread after;
    without it, :meth:`SessionWorker.close` runs at once on the GUI thread.

    With ``xr`` the trainee is also put in the headset (:class:`app.xr.launch.HeadsetLink`,
    a presenter on its own thread); the trainee window stays as its mirror, or is the
    trainee's view when no OpenXR runtime answers (the window says why).
    """
    ensure_app()
    worker = SessionWorker(scenario, model_obj, record_dir, seed=seed, paced=paced)
    trainee = TraineeWindow(play_sound=True)
    console = GameMasterConsole(scenario)

    headset = []

    def on_ready() -> None:
        trainee.attach(worker.trainee_client)
        console.attach(worker.gm_client)
        if trainee.sound_note:
            console.add_note(f"Trainee: {trainee.sound_note}")
        if xr:
            from engine.runtime.session import Role

            from .xr.launch import HeadsetLink

            headset.append(HeadsetLink(worker.session.connect(Role.TRAINEE), worker.session.model.resolution,
                                       vignette=scenario.headset.vignette, runtime_factory=xr_runtime_factory))

    def poll_headset() -> None:
        line = headset[0].poll() if headset else None
        if line:
            trainee.setWindowTitle(f"ved — trainee view: {line}")
            console.show_status(f"Trainee {line}")

    def on_failed(message: str) -> None:
        trainee.show_status("The session has stopped.")
        console.show_error(message)

    worker.ready.connect(on_ready)
    worker.failed.connect(on_failed)
    worker.pulse.connect(trainee.refresh)
    worker.pulse.connect(console.refresh)
    worker.pulse.connect(poll_headset)

    shutting_down = []

    def shut_down() -> None:
        if shutting_down:
            return
        shutting_down.append(True)
        for link in headset:
            link.close()
        trainee.close()
        console.close()
        if on_close is None:
            worker.close()
            return
        from .jobs import Job

        worker.stop_polling()
        job = Job(lambda progress: worker.close(), title="Finishing the recording", parent=worker)
        job.done.connect(on_close)
        job.failed.connect(lambda message: on_close(worker.summary))
        job.start()

    trainee.closed.connect(shut_down)
    console.closed.connect(shut_down)

    trainee.show_status("Loading the world model…")
    _place_side_by_side(trainee, console)
    trainee.show()
    console.show()
    trainee.raise_()
    trainee.activateWindow()
    worker.start()
    return trainee, console, worker


def _place_side_by_side(left, right) -> None:
    """Trainee on the left, console on the right, within the primary screen when they fit."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    width = left.width() + WINDOW_GAP + right.width()
    x = area.x() + max(0, (area.width() - width) // 2)
    y = area.y() + max(0, (area.height() - max(left.height(), right.height())) // 2)
    left.move(x, y)
    right.move(x + left.width() + WINDOW_GAP, y)


def run_app(scenario, *, model=None, record_dir=None, seed: int = 0, xr: bool = False,
            device: str | None = None, path: str = "auto") -> int:
    """Play ``scenario`` live: trainee window + game-master console, recorded.

    ``model``: a model folder, ``"reference"`` or None (the shipped model); it loads on the
    session thread while the windows say so, on ``device`` (``auto``: a CUDA GPU where torch
    sees one). Returns 0 after a clean session, 1 when the
    session could not start or stopped on an error (the message is printed).
    """
    from engine.runtime.wiring import load_model

    app = ensure_app()
    trainee, console, worker = build_app(scenario, lambda: load_model(model, seed=seed, device=device, path=path), record_dir, seed=seed, xr=xr)
    trainee.closed.connect(app.quit)
    console.closed.connect(app.quit)
    previous = signal.signal(signal.SIGINT, lambda *_: app.quit())  # Ctrl+C in the terminal
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, previous)
        summary = worker.close()
        trainee.close()
        console.close()
    if summary is not None:
        print(f"recording written to {summary.directory} ({summary.frames} frames, {summary.events} events; "
              f"video: {summary.session_mp4}, contact sheet: {summary.contact_sheet})")
    else:
        print("no recording was made", file=sys.stderr)
    if worker.error:
        print(f"ved: error: {worker.error}", file=sys.stderr)
        return 1
    return 0
