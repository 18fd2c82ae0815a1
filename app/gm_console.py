"""The game master's console (DESIGN.md §1, §4 "Windows and roles").

A separate top-level window, connected with a GAME_MASTER client: the trainee's live view
(small), the session clock, the scenario's title and briefing, one button per palette entry
(with its keyboard shortcut, scoped to this window), the timed cues (pending / fired), the
event log and the current world state. Palette buttons fire events through the client;
what happened comes back as the session's "event" and "state" messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from engine.actions import TICK_HZ
from engine.runtime.session import Client, Message, Role
from engine.world.state import EVENTS

from .session_worker import Hook
from .trainee_window import FrameView

FIRED_COLOR = QColor(150, 150, 150)


def clock_text(tick: int, tick_hz: int = TICK_HZ) -> str:
    """``tick`` as ``mm:ss`` of session time (ticks at ``tick_hz`` Hz)."""
    s = max(0, int(tick)) // tick_hz
    return f"{s // 60:02d}:{s % 60:02d}"


def state_text(state: dict) -> str:
    """The world state (``WorldState.as_dict()``) in words, one item per line."""
    light = state.get("light", 1.0)
    bleeding = state.get("bleeding", 0.0)
    return "\n".join([
        f"lights: {light:.0%}",
        f"alarm: {'ON' if state.get('alarm') else 'off'}",
        f"person present: {'yes' if state.get('avatar') else 'no'}",
        f"bleeding: {'none' if bleeding <= 0 else f'{bleeding:.0%} spread'}",
    ])


@dataclass
class CueRow:
    """One timed cue as listed on the console. ``tick`` is when it is due (20 Hz ticks)."""

    tick: int
    event: str
    note: str | None
    fired_tick: int | None = None


class GameMasterConsole(QWidget):
    """Top-level console for ``scenario``. Call :meth:`attach` with a GAME_MASTER client
    once the session runs, and :meth:`refresh` from the GUI poll timer.

    Attributes for tests and tools: :attr:`palette_buttons` (palette order),
    :attr:`shortcuts`, :attr:`cue_rows`, :attr:`log_list`, :attr:`cue_list`.
    """

    def __init__(self, scenario, parent: QWidget | None = None):
        super().__init__(parent)
        self.scenario = scenario
        self.client: Client | None = None
        #: Called (no arguments) after the window is closed.
        self.closed = Hook()
        self.tick_hz = TICK_HZ
        self.tick = 0
        self.state: dict = scenario.world.initial_state().as_dict()
        self._frame_msg: Message | None = None
        self.setWindowTitle(f"ved — game master: {scenario.title}")

        # left: the trainee's view, clock, world state, status
        self.view = FrameView(self, smooth=False)
        self.view.setFixedSize(256, 256)
        self.clock_label = QLabel(self)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.clock_label.setFont(mono)
        self.state_label = QLabel(self)
        self.status_label = QLabel("Loading the world model…", self)
        self.status_label.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(QLabel("Trainee's view"))
        left.addWidget(self.view)
        left.addWidget(self.clock_label)
        state_box = QGroupBox("World state")
        QVBoxLayout(state_box).addWidget(self.state_label)
        left.addWidget(state_box)
        left.addWidget(self.status_label)
        left.addStretch(1)

        # right: title, briefing, palette, cues, log
        title = QLabel(scenario.title, self)
        tf = title.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.4)
        tf.setBold(True)
        title.setFont(tf)
        title.setWordWrap(True)
        briefing = QPlainTextEdit(scenario.briefing, self)
        briefing.setReadOnly(True)
        briefing.setMaximumHeight(110)

        palette_box = QGroupBox("Palette")
        grid = QGridLayout(palette_box)
        self.palette_buttons: list[QPushButton] = []
        self.shortcuts: list[QShortcut] = []
        for i, entry in enumerate(scenario.palette):
            button = self._palette_button(entry)
            grid.addWidget(button, i // 2, i % 2)

        self.cue_rows = [CueRow(round(c.at * self.tick_hz), c.event, c.note)
                         for c in sorted(scenario.cues, key=lambda c: c.at)]
        self.cue_list = QListWidget(self)
        for _ in self.cue_rows:
            self.cue_list.addItem(QListWidgetItem())
        self._update_cues()
        self.log_list = QListWidget(self)
        self.log_list.setFont(mono)

        right = QVBoxLayout()
        right.addWidget(title)
        right.addWidget(briefing)
        right.addWidget(palette_box)
        cues_log = QHBoxLayout()
        cue_col, log_col = QVBoxLayout(), QVBoxLayout()
        cue_col.addWidget(QLabel("Cues"))
        cue_col.addWidget(self.cue_list)
        log_col.addWidget(QLabel("Event log"))
        log_col.addWidget(self.log_list)
        cues_log.addLayout(cue_col, 2)
        cues_log.addLayout(log_col, 3)
        right.addLayout(cues_log, 1)

        root = QHBoxLayout(self)
        root.addLayout(left)
        root.addLayout(right, 1)
        self._update_clock()
        self.state_label.setText(state_text(self.state))
        self.resize(900, 640)

    def _palette_button(self, entry) -> QPushButton:
        key = f"  [{entry.key}]" if entry.key else ""
        button = QPushButton(f"{entry.label}{key}", self)
        button.setProperty("label", entry.label)
        button.setProperty("event", entry.event)
        button.setProperty("fired", False)
        tip = [entry.note] if entry.note else []
        tip.append(f"Event: {entry.event} — {EVENTS[entry.event].description}")
        if entry.key:
            tip.append(f"Shortcut: {entry.key}")
        button.setToolTip("\n".join(tip))
        button.setEnabled(False)  # until the session runs
        button.clicked.connect(lambda _=False, e=entry.event, lab=entry.label: self.fire(e, lab))
        if entry.key:
            sc = QShortcut(QKeySequence(entry.key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(button.click)
            self.shortcuts.append(sc)
        self.palette_buttons.append(button)
        return button

    # ------------------------------------------------------------ session
    def attach(self, client: Client) -> None:
        """Follow the session through ``client`` (role GAME_MASTER). Raises ValueError otherwise."""
        if client.role is not Role.GAME_MASTER:
            raise ValueError(f"the console takes a game-master client, not a {client.role.value} one")
        self.client = client
        self.tick_hz = client.session.tick_hz
        for b in self.palette_buttons:
            b.setEnabled(True)
        self.status_label.setText("Session running.")

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def show_error(self, text: str) -> None:
        """An error for the game master (runner or start-up failure); buttons stop working."""
        self.status_label.setText(f"<b style='color:#c00'>{text}</b>")
        for b in self.palette_buttons:
            b.setEnabled(False)

    def fire(self, event: str, label: str | None = None) -> None:
        """Queue ``event`` for the next tick (what a palette button does)."""
        if self.client is None:
            return
        try:
            self.client.fire(event, label=label)
        except Exception as exc:  # e.g. an unknown event: say so, never crash
            self.status_label.setText(f"could not fire {event}: {exc}")

    def refresh(self) -> None:
        """Apply what the client received since the last call. GUI thread only."""
        if self.client is None:
            return
        for msg in self.client.poll():
            self.handle(msg)
        latest = self.client.latest_frame
        if latest is not None and latest is not self._frame_msg:
            self._frame_msg = latest
            self.view.set_frame(latest.frame)
            self.tick = latest.tick
            self._update_clock()

    def handle(self, msg: Message) -> None:
        """Update the console for one message."""
        if msg.kind == "event":
            self._log_event(msg)
        elif msg.kind == "state":
            self.state = dict(msg.data)
            self.state_label.setText(state_text(self.state))
        elif msg.kind == "start":
            notice = msg.data.get("notice")
            self.status_label.setText(f"Session running (model: {msg.data.get('model', '?')})."
                                      + (f"<br><i>{notice}</i>" if notice else ""))
        elif msg.kind == "end":
            self.status_label.setText(f"Session ended ({msg.data.get('reason', '')}).")
            for b in self.palette_buttons:
                b.setEnabled(False)

    def _log_event(self, msg: Message) -> None:
        event, source, label = msg.data.get("event"), msg.data.get("source"), msg.data.get("label")
        text = f"{msg.tick:>5} {clock_text(msg.tick, self.tick_hz)}  {event}  ({source})"
        if label:
            text += f"  “{label}”"
        self.log_list.addItem(text)
        self.log_list.scrollToBottom()
        if source == "cue":
            for row in self.cue_rows:
                if row.fired_tick is None and row.event == event and row.tick <= msg.tick:
                    row.fired_tick = msg.tick
                    break
            self._update_cues()
        else:
            for b in self.palette_buttons:
                if b.property("label") == label and b.property("event") == event:
                    self._mark_fired(b, msg.tick)

    def _mark_fired(self, button: QPushButton, tick: int) -> None:
        button.setProperty("fired", True)
        key = next((e.key for e in self.scenario.palette if e.label == button.property("label")), None)
        button.setText(f"✓ {button.property('label')}{f'  [{key}]' if key else ''}  · {clock_text(tick, self.tick_hz)}")

    def _update_cues(self) -> None:
        for i, row in enumerate(self.cue_rows):
            item = self.cue_list.item(i)
            status = "pending" if row.fired_tick is None else f"fired {clock_text(row.fired_tick, self.tick_hz)}"
            item.setText(f"{clock_text(row.tick, self.tick_hz)}  {row.event}  [{status}]")
            item.setToolTip(row.note or "")
            item.setForeground(FIRED_COLOR if row.fired_tick is not None else self.palette().text().color())

    def _update_clock(self) -> None:
        total = f" / {clock_text(round(self.scenario.duration * self.tick_hz), self.tick_hz)}" \
            if self.scenario.duration else ""
        self.clock_label.setText(f"tick {self.tick:>6}   {clock_text(self.tick, self.tick_hz)}{total}")

    def closeEvent(self, event) -> None:  # noqa: N802
        super().closeEvent(event)
        self.closed()
