"""``ved join URL --code CODE`` with a display: the window the code's role gets.

A trainee code opens the trainee window, a game-master code the game-master console (its
palette, cues and briefing come from the scenario the server sends game masters), an
observer code a view of the trainee's frames with the session clock. Each window works
through a :class:`~engine.net.client.RemoteClient`, which has the in-process client's API,
so these are the very windows ``ved run`` opens; a GUI timer polls the client at 60 Hz (the
client's own thread receives; nothing on the GUI thread waits on the network).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.runtime.protocol import End, Frame, Role

from .console.window import GameMasterConsole
from .qtapp import ensure_app
from .session_worker import Hook
from .trainee.window import FrameView, TraineeWindow

#: GUI poll period of a joined window, milliseconds.
POLL_MS = 16


class ObserverWindow(QWidget):
    """What an observer sees: every trainee's view side by side (named, in the seat's
    colour) and the session clock, nothing to press."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ved — observer")
        self.closed = Hook()
        self.client = None
        self.frame_message: Frame | None = None
        #: One view per trainee seat (made when the client is attached).
        self.views: list[FrameView] = []
        self._shown: dict[int, Frame] = {}
        self._row = QHBoxLayout()
        self.status = QLabel("Waiting for the first frame…", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._row, 1)
        layout.addWidget(self.status)
        self.resize(640, 680)

    @property
    def view(self) -> FrameView:
        """The first trainee's view."""
        return self.views[0]

    def attach(self, client) -> None:
        if client.role is not Role.OBSERVER:
            raise ValueError(f"the observer window takes an observer client, not a {client.role.value} one")
        from .console.seats import seat_colour

        self.client = client
        seats = list(getattr(client, "seats", None) or ["Trainee"])
        for k, name in enumerate(seats):
            col = QVBoxLayout()
            view = FrameView(self, smooth=True)
            self.views.append(view)
            col.addWidget(view, 1)
            if len(seats) > 1:
                label = QLabel(name, self)
                label.setStyleSheet(f"color: {seat_colour(k).name()}; font-weight: bold")
                col.addWidget(label)
            self._row.addLayout(col, 1)
        if len(seats) > 1:
            self.resize(360 * len(seats), 420)

    def refresh(self) -> None:
        if self.client is None:
            return
        for msg in self.client.poll():
            if isinstance(msg, End):
                self.status.setText("The session has ended.")
        frames = dict(getattr(self.client, "latest_frames", None) or {})
        if not frames and self.client.latest_frame is not None:
            frames = {0: self.client.latest_frame}
        for seat, msg in frames.items():
            if self._shown.get(seat) is msg or seat >= len(self.views):
                continue
            self._shown[seat] = msg
            self.views[seat].set_frame(msg.frame)
            if seat == 0:
                self.frame_message = msg
                s = msg.tick / max(1, self.client.tick_hz)
                self.status.setText(f"{int(s // 60):02d}:{s % 60:04.1f}  (tick {msg.tick})")

    def closeEvent(self, event) -> None:  # noqa: N802
        super().closeEvent(event)
        self.closed()


def open_join_window(url: str, code: str, *, xr: bool = False, xr_runtime_factory=None):
    """Join the session at ``url`` with ``code`` and open the window of its role; returns
    ``(window, client, timer)`` with the poll timer running. With ``xr`` a trainee is also
    put in the headset (the window mirrors it, or stands in when no runtime answers). Raises
    :class:`~engine.net.client.JoinError` when it cannot join, and
    :class:`~engine.scenario.ScenarioError` when a game master's scenario cannot be read."""
    from engine.net.client import RemoteClient

    ensure_app()
    client = RemoteClient(url, code, name="ved join")
    if client.role is Role.TRAINEE:
        window = TraineeWindow(play_sound=True)
    elif client.role is Role.GAME_MASTER:
        from engine.scenario.loader import loads_scenario

        if not client.scenario_text:
            client.close()
            raise ConnectionError("the server sent no scenario for the console; update the server")
        window = GameMasterConsole(loads_scenario(client.scenario_text, "the session's scenario", check_files=False))
    else:
        window = ObserverWindow()
    window.attach(client)
    timer = QTimer(window)
    timer.timeout.connect(window.refresh)
    if xr and client.role is Role.TRAINEE:
        from .xr.launch import HeadsetLink

        link = HeadsetLink(client, client.resolution, vignette=client.vignette, runtime_factory=xr_runtime_factory)
        window.headset_link = link

        def poll_headset() -> None:
            line = link.poll()
            if line:
                window.setWindowTitle(f"ved — trainee view: {line}")

        timer.timeout.connect(poll_headset)
        window.closed.connect(link.close)
    timer.timeout.connect(lambda: _notice_drop(window, client))
    timer.start(POLL_MS)
    window.closed.connect(client.close)
    window.setWindowTitle(f"{window.windowTitle()} — {client.seat}")
    window.show()
    return window, client, timer


def _notice_drop(window, client) -> None:
    if not client.connected and not getattr(window, "_drop_shown", False):
        window._drop_shown = True
        text = ("The session has ended." if client.session_ended
                else f"Disconnected: {client.ended_reason}. Join again with the same code within a minute.")
        if hasattr(window, "show_status"):
            window.show_status(text)
        else:
            window.status.setText(text)


def run_join_app(url: str, code: str, *, xr: bool = False) -> int:
    """The event loop of :func:`open_join_window` until the window closes; 0 after a
    session that ended or a window closed by the user."""
    import signal

    app = ensure_app()
    window, client, timer = open_join_window(url, code, xr=xr)
    window.closed.connect(app.quit)
    previous = signal.signal(signal.SIGINT, lambda *_: app.quit())
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, previous)
        timer.stop()
        client.close()
    if client.ended_reason and not client.session_ended:
        print(f"ved: {client.ended_reason}", file=sys.stderr)
    return 0
