"""The game master's console (DESIGN.md §1, §4 "Windows and roles").

A separate top-level window, connected with a GAME_MASTER client. Left: the trainee's live
view (with several trainees: the chosen one's, a strip of every trainee's view and a
floor-plan inset of where each stands and looks), the session clock with Pause/Resume, the
world state, the status line. Right: the
scenario's title and briefing (with the roles' briefs), the palette (one button per entry,
with its keyboard shortcut scoped to this window), the marker bar, and tabs for the timed
cues (fire now), bookmarks (rewind), the live world prompt (and a new scene from an image)
and the event log; below the palette, whom to address (every trainee or one seat: captions
go to them, an entering person stands before them) and a line to say something to them as a
caption. Every request goes through the client; what happened comes back as the
session's messages, so the console shows the session's truth, not its own guesses.

Shortcuts: the palette's keys (letters, digits, F-keys; typing in a text field does not
trigger letters), Ctrl+B bookmark, Ctrl+M marker, Ctrl+P pause/resume.
"""

from __future__ import annotations

import math

from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QPlainTextEdit,
                               QPushButton, QTabWidget, QVBoxLayout, QWidget)

from engine.actions import TICK_HZ
from engine.runtime.control import cue_states
from engine.runtime.protocol import (Bookmark, Caption, Cues, End, Event, Frame, Headset, Marker, Message, Notice,
                                     Pause, PromptChange, Quality, Recovery, Resume, Rewind, Start, State)
from engine.runtime.session import Client, Role
from engine.world.state import EVENTS

from .panels import BookmarkPanel, CuePanel, MarkerBar, PromptPanel, clock_text
from .seats import AddressBox, FloorPlan, SeatStrip
from ..session_worker import Hook
from ..trainee.window import FrameView

__all__ = ["GameMasterConsole", "clock_text", "state_text"]


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


def headset_text(name: str, msg: Headset) -> str:
    """One line on where a trainee sees the world from: in the headset (worn or not, the
    session state) and where the head actually looks."""
    if msg.device == "desktop":
        return f"{name}: desktop window"
    if not msg.worn:
        state = msg.state.lower()
        what = "the headset is off" if state not in ("exiting", "lost") else (
            "left the headset" if state == "exiting" else "the headset runtime was lost")
        return f"<span style='color:#c00'>{name}: {what} ({state})</span>"
    look = ""
    if msg.head_yaw is not None and msg.head_pitch is not None:
        look = f", looking {abs(math.degrees(msg.head_yaw)):.0f}° {'left' if msg.head_yaw >= 0 else 'right'}" \
               f" of the room's start, {abs(math.degrees(msg.head_pitch)):.0f}° {'up' if msg.head_pitch >= 0 else 'down'}"
    return f"{name}: in the headset ({msg.state.lower()}){look}"


def _briefing_text(scenario) -> str:
    parts = [scenario.briefing.strip()]
    for role in scenario.roles:
        kind = role.kind.replace("_", " ")
        parts.append(f"• {role.name} ({kind})" + (f": {role.brief}" if role.brief else ""))
    return "\n".join(parts)


class GameMasterConsole(QWidget):
    """Top-level console for ``scenario``. Call :meth:`attach` with a GAME_MASTER client
    once the session runs, and :meth:`refresh` from the GUI poll timer.

    Attributes for tests and tools: :attr:`palette_buttons` (palette order),
    :attr:`shortcuts`, :attr:`cue_panel`, :attr:`bookmark_panel`, :attr:`prompt_panel`,
    :attr:`marker_bar`, :attr:`pause_button`, :attr:`log_list`, :attr:`paused`,
    :attr:`seats` (the trainee seats' names), :attr:`shown_seat` (whose view is large),
    :attr:`seat_strip` and :attr:`floor_plan` (None with one trainee), :attr:`address`,
    :attr:`say_edit`.
    """

    def __init__(self, scenario, parent: QWidget | None = None):
        super().__init__(parent)
        self.scenario = scenario
        self.client: Client | None = None
        #: Called (no arguments) after the window is closed.
        self.closed = Hook()
        self.tick_hz = TICK_HZ
        self.tick = 0
        self.paused = False
        self.state: dict = scenario.world.initial_state().as_dict()
        self._frame_msg: Frame | None = None
        self._seat_msgs: dict[int, Frame] = {}
        self.seats: list[str] = list(scenario.seats)
        self.shown_seat = 0
        self.setWindowTitle(f"ved — game master: {scenario.title}")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)

        # left: the trainee's view, clock and pause, world state, status
        self.view = FrameView(self, smooth=False)
        self.view.setFixedSize(320, 320)
        self.clock_label = QLabel(self)
        self.clock_label.setFont(mono)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setToolTip("Stop / restart the session clock (Ctrl+P); the trainee sees the last frame")
        self.pause_button.clicked.connect(self.toggle_pause)
        clock_row = QHBoxLayout()
        clock_row.addWidget(self.clock_label, 1)
        clock_row.addWidget(self.pause_button)
        self.state_label = QLabel(self)
        #: The world model's quality rung in use (engine.runtime.quality), when it has a ladder.
        self.quality_label = QLabel(self)
        self.quality_label.setToolTip("The world model's quality rung: on auto the session steps down when frames "
                                      "are late and back up when there is room (docs/benchmarks.md lists each rung)")
        self.status_label = QLabel("Loading the world model…", self)
        self.status_label.setWordWrap(True)
        #: Where each trainee sees the world from (a headset, and where they look), when known.
        self.headset_label = QLabel(self)
        self.headset_label.setWordWrap(True)
        #: Lasting notes for the game master (no sound device, …), under the status line.
        self.notes_label = QLabel(self)
        self.notes_label.setWordWrap(True)
        self._headsets: dict[int, Headset] = {}
        left = QVBoxLayout()
        self.view_title = QLabel("Trainee's view" if len(self.seats) == 1 else f"{self.seats[0]}'s view")
        left.addWidget(self.view_title)
        left.addWidget(self.view)
        self.seat_strip: SeatStrip | None = None
        self.floor_plan: FloorPlan | None = None
        if len(self.seats) > 1:
            seats_row = QHBoxLayout()
            self.seat_strip = SeatStrip(self.seats, self)
            self.seat_strip.chosen.connect(self.show_seat)
            self.floor_plan = FloorPlan(self)
            self.floor_plan.setFixedSize(110, 110)
            self.floor_plan.selected = 0
            if scenario.world.room is not None:
                from engine.world.scene import make_scene

                self.floor_plan.set_scene(make_scene(scenario.world.room, scenario.world.seed))
            seats_row.addWidget(self.seat_strip, 1)
            seats_row.addWidget(self.floor_plan)
            left.addLayout(seats_row)
        left.addLayout(clock_row)
        state_box = QGroupBox("World state")
        QVBoxLayout(state_box).addWidget(self.state_label)
        left.addWidget(state_box)
        left.addWidget(self.quality_label)
        left.addWidget(self.headset_label)
        left.addWidget(self.status_label)
        left.addWidget(self.notes_label)
        left.addStretch(1)

        # right: title, briefing, palette, marker bar, tabs
        title = QLabel(scenario.title, self)
        tf = title.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.4)
        tf.setBold(True)
        title.setFont(tf)
        title.setWordWrap(True)
        briefing = QPlainTextEdit(_briefing_text(scenario), self)
        briefing.setReadOnly(True)
        briefing.setMaximumHeight(100)

        palette_box = QGroupBox("Palette")
        grid = QGridLayout(palette_box)
        self.palette_buttons: list[QPushButton] = []
        self.shortcuts: list[QShortcut] = []
        for i, entry in enumerate(scenario.palette):
            grid.addWidget(self._palette_button(entry), i // 3, i % 3)

        self.address = AddressBox(self.seats, self)
        self.say_edit = QLineEdit(self)
        self.say_edit.setPlaceholderText("Say to the trainee (shown as a caption)… Enter sends")
        self.say_edit.setMaxLength(500)
        self.say_edit.returnPressed.connect(self._say)
        address_row = QHBoxLayout()
        address_row.addWidget(QLabel("Address:"))
        address_row.addWidget(self.address)
        address_row.addWidget(self.say_edit, 1)
        if len(self.seats) == 1:
            self.address.hide()
            address_row.itemAt(0).widget().hide()

        from .voice import VoiceBox

        avatar = next((r for r in getattr(scenario, "roles", []) if getattr(r, "kind", None) == "avatar"), None)
        self.voice_box = VoiceBox(getattr(avatar, "voice", None), getattr(avatar, "name", None), self)
        self.voice_box.talk_pressed.connect(self._talk)
        self.voice_box.talk_released.connect(self._stop_talking)
        #: The microphone and push-to-talk (app.audio.microphone), from attach() on.
        self.push_to_talk = None
        #: Opens the microphone: ``(on_block) -> (microphone or None, reason)`` (tests replace it).
        self.open_microphone = None

        self.marker_bar = MarkerBar(self)
        self.cue_panel = CuePanel(self)
        self.bookmark_panel = BookmarkPanel(self)
        self.prompt_panel = PromptPanel(scenario.world.prompt, self)
        self.log_list = QListWidget(self)
        self.log_list.setFont(mono)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.cue_panel, "Cues")
        self.tabs.addTab(self.bookmark_panel, "Bookmarks")
        self.tabs.addTab(self.prompt_panel, "World prompt")
        self.tabs.addTab(self.log_list, "Event log")
        self.cue_panel.set_cues([c.as_dict() for c in cue_states(scenario, self.tick_hz)])

        self.marker_bar.marker_requested.connect(lambda note: self._ask(lambda c: c.mark(note)))
        self.cue_panel.fire_requested.connect(lambda i: self._ask(lambda c: c.fire_cue(i)))
        self.bookmark_panel.bookmark_requested.connect(lambda label: self._ask(lambda c: c.bookmark(label)))
        self.bookmark_panel.rewind_requested.connect(lambda bid: self._ask(lambda c: c.rewind(bid)))
        self.prompt_panel.prompt_requested.connect(lambda text, image: self._ask(lambda c: c.set_prompt(text, image)))
        for keys, slot in (("Ctrl+B", self.bookmark_panel.request_bookmark), ("Ctrl+M", self.marker_bar.request),
                           ("Ctrl+P", self.toggle_pause)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)

        right = QVBoxLayout()
        right.addWidget(title)
        right.addWidget(briefing)
        right.addWidget(palette_box)
        right.addLayout(address_row)
        right.addWidget(self.voice_box)
        right.addWidget(self.marker_bar)
        right.addWidget(self.tabs, 1)

        root = QHBoxLayout(self)
        root.addLayout(left)
        root.addLayout(right, 1)
        self._controls = [*self.palette_buttons, self.pause_button, self.marker_bar, self.cue_panel,
                          self.bookmark_panel, self.prompt_panel, self.address, self.say_edit, self.voice_box]
        self._set_controls(False)  # until the session runs
        self._update_clock()
        self.state_label.setText(state_text(self.state))
        self.resize(1000, 700)

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
        button.clicked.connect(lambda _=False, e=entry.event, lab=entry.label: self.fire(e, lab))
        if entry.key:
            sc = QShortcut(QKeySequence(entry.key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(button.click)
            self.shortcuts.append(sc)
        self.palette_buttons.append(button)
        return button

    def _set_controls(self, enabled: bool) -> None:
        for w in self._controls:
            w.setEnabled(enabled)

    # ------------------------------------------------------------ session
    def attach(self, client: Client) -> None:
        """Follow the session through ``client`` (role GAME_MASTER). Raises ValueError otherwise."""
        if client.role is not Role.GAME_MASTER:
            raise ValueError(f"the console takes a game-master client, not a {client.role.value} one")
        self.client = client
        self.tick_hz = client.tick_hz
        self.cue_panel.tick_hz = self.bookmark_panel.tick_hz = self.tick_hz
        self._set_controls(True)
        self.status_label.setText("Session running.")
        from ..audio.microphone import PushToTalk, open_microphone

        self.push_to_talk = PushToTalk(client.send, self.open_microphone or open_microphone)
        self.voice_box.set_note(self.push_to_talk.note)

    def _talk(self, mode: str) -> None:
        if self.push_to_talk is not None:
            self.push_to_talk.press(mode, self.address.seat)

    def _stop_talking(self) -> None:
        if self.push_to_talk is not None:
            self.push_to_talk.release()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - the talk key, held
        from .voice import TALK_KEY

        if event.key() == TALK_KEY and not event.isAutoRepeat():
            self.voice_box.press()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        from .voice import TALK_KEY

        if event.key() == TALK_KEY and not event.isAutoRepeat():
            self.voice_box.release()
            return
        super().keyReleaseEvent(event)

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def add_note(self, text: str) -> None:
        """A note that stays (the status line changes as the session goes)."""
        lines = [t for t in self.notes_label.text().split("<br>") if t]
        self.notes_label.setText("<br>".join(lines + [f"<i>{text}</i>"]))

    def show_error(self, text: str) -> None:
        """An error for the game master (runner or start-up failure); controls stop working."""
        self.status_label.setText(f"<b style='color:#c00'>{text}</b>")
        self._set_controls(False)

    def _ask(self, request) -> None:
        """Send one request through the client; a refusal is shown, never raised."""
        if self.client is None:
            return
        try:
            request(self.client)
        except Exception as exc:
            self.status_label.setText(f"<span style='color:#c00'>{exc}</span>")

    def fire(self, event: str, label: str | None = None) -> None:
        """Queue ``event`` for the next tick (what a palette button does), aimed at the seat
        chosen under Address (None: the room)."""
        seat = self.address.seat
        self._ask(lambda c: c.fire(event, label=label, seat=seat))

    def _say(self) -> None:
        text = self.say_edit.text().strip()
        if text:
            seat = self.address.seat
            self._ask(lambda c: c.say(text, seat=seat))
            self.say_edit.clear()

    def show_seat(self, seat: int) -> None:
        """Show trainee seat ``seat``'s view in the large view."""
        self.shown_seat = seat
        self.view_title.setText(f"{self.seats[seat]}'s view")
        if self.floor_plan is not None:
            self.floor_plan.selected = seat
            self.floor_plan.update()
        msg = self._seat_msgs.get(seat)
        if msg is not None:
            self.view.set_frame(msg.frame)

    def toggle_pause(self) -> None:
        """Pause a running session, resume a paused one (applied at the next tick boundary)."""
        self._ask(lambda c: c.resume() if self.paused else c.pause())

    def refresh(self) -> None:
        """Apply what the client received since the last call. GUI thread only."""
        if self.push_to_talk is not None:  # a microphone unplugged, or plugged in
            note = self.push_to_talk.check()
            if note != getattr(self, "_voice_note", None):
                self._voice_note = note
                self.voice_box.set_note(note)
        if self.client is None:
            return
        for msg in self.client.poll():
            self.handle(msg)
        frames = dict(getattr(self.client, "latest_frames", None) or {})
        if not frames and self.client.latest_frame is not None:
            frames = {0: self.client.latest_frame}
        for seat, msg in frames.items():
            if self._seat_msgs.get(seat) is msg:
                continue
            self._seat_msgs[seat] = msg
            if self.seat_strip is not None and seat < len(self.seat_strip.views):
                self.seat_strip.views[seat].set_frame(msg.frame)
            if self.floor_plan is not None:
                self.floor_plan.set_pose(seat, msg.pose)
            if seat == self.shown_seat:
                self._frame_msg = msg
                self.view.set_frame(msg.frame)
            if msg.tick != self.tick:
                self.tick = msg.tick
                self._update_clock()

    def handle(self, msg: Message) -> None:
        """Update the console for one message (:mod:`engine.runtime.protocol`)."""
        match msg:
            case Event():
                self._log_event(msg)
            case State():
                self.state = dict(msg.state)
                self.state_label.setText(state_text(self.state))
            case Cues():
                self.cue_panel.set_cues([c.model_dump() for c in msg.cues])
            case Bookmark():
                self.bookmark_panel.add(msg.id, msg.label, msg.tick)
                self._log(msg.tick, f"bookmark “{msg.label}”")
            case Rewind():
                self._log(msg.tick, f"rewind to “{msg.label}” ({clock_text(msg.to_tick, self.tick_hz)})")
            case Marker():
                self._log(msg.tick, "marker" + (f": {msg.note}" if msg.note else ""))
            case Headset():
                self._headsets[msg.seat] = msg
                names = self.seats
                self.headset_label.setText("<br>".join(
                    headset_text(names[k] if k < len(names) else f"seat {k}", m)
                    for k, m in sorted(self._headsets.items())))
            case Caption():
                who = "everyone" if msg.seat is None or msg.seat >= len(self.seats) else self.seats[msg.seat]
                self._log(msg.tick, f"said to {who}: “{msg.text}”")
            case PromptChange():
                self.prompt_panel.applied(msg, self.tick_hz)
                what = f"new scene from {msg.image}" if msg.image else "prompt changed"
                self._log(msg.tick, what + ("" if msg.applied else " (recorded only)"))
            case Pause() | Resume():
                self.paused = isinstance(msg, Pause)
                self.pause_button.setText("Resume" if self.paused else "Pause")
                self._log(msg.tick, "paused" if self.paused else "resumed")
                self._update_clock()
            case Recovery():
                who = ", ".join(self.seats[k] if k < len(self.seats) else f"seat {k}" for k in msg.seats)
                self._log(msg.tick, f"world model re-anchored ({who}; divergence {msg.score:.2f})")
                self.status_label.setText(f"<span style='color:#c60'>The world model drifted out of its trained range "
                                          f"and was re-anchored on the last good view ({msg.recoveries}× so far). "
                                          f"The trainee saw no dissolved frame.</span>")
            case Quality():
                self.quality_label.setText(f"World model quality: <b>{msg.level}</b>"
                                           + (" (auto)" if msg.auto else " (fixed)"))
                self.quality_label.setToolTip(msg.reason)
                if msg.tick > 0:
                    self._log(msg.tick, f"quality {msg.level}: {msg.reason}")
            case Notice():
                self.status_label.setText(f"<span style='color:#c00'>{msg.text}</span>")
                self.prompt_panel.status.setText("")
            case Start():
                self.status_label.setText(f"Session running (model: {msg.model})."
                                          + (f"<br><i>{msg.notice}</i>" if msg.notice else ""))
            case End():
                self.status_label.setText(f"Session ended ({msg.reason}).")
                self._set_controls(False)

    def _log(self, tick: int, text: str) -> None:
        self.log_list.addItem(f"{tick:>5} {clock_text(tick, self.tick_hz)}  {text}")
        self.log_list.scrollToBottom()

    def _log_event(self, msg: Event) -> None:
        event, label = msg.event, msg.label
        aimed = f"  → {self.seats[msg.seat]}" if msg.seat is not None and msg.seat < len(self.seats) else ""
        self._log(msg.tick, f"{event}  ({msg.source})" + (f"  “{label}”" if label else "") + aimed)
        if not msg.from_cue:
            for b in self.palette_buttons:
                if b.property("label") == label and b.property("event") == event:
                    self._mark_fired(b, msg.tick)

    def _mark_fired(self, button: QPushButton, tick: int) -> None:
        button.setProperty("fired", True)
        key = next((e.key for e in self.scenario.palette if e.label == button.property("label")), None)
        button.setText(f"✓ {button.property('label')}{f'  [{key}]' if key else ''}  · {clock_text(tick, self.tick_hz)}")

    def _update_clock(self) -> None:
        total = f" / {clock_text(round(self.scenario.duration * self.tick_hz), self.tick_hz)}" \
            if self.scenario.duration else ""
        paused = "   PAUSED" if self.paused else ""
        self.clock_label.setText(f"tick {self.tick:>6}   {clock_text(self.tick, self.tick_hz)}{total}{paused}")

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.push_to_talk is not None:
            self.push_to_talk.close()
            self.push_to_talk = None
        super().closeEvent(event)
        self.closed()
