"""The debrief window: replay a recorded session with its timeline, summary and exports.

``ved debrief RECORDING`` opens :class:`DebriefWindow` through :func:`run_debrief`. The
window decodes the recording on a background :class:`~app.jobs.Job` (showing "Loading…"),
then plays it: a frame view with play/pause, a position slider and the session time; a
:class:`TimelineWidget` with one coloured tick per moment (click one to jump there); the
list of moments in plain words; a summary (duration, events fired, markers with their
notes, contact sheet); and exports of the video (whole or a time range) and of the event
log as CSV, each on a cancellable job. Everything it reads comes from
:mod:`engine.recording.debrief`, the same functions the CLI uses.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QElapsedTimer, QEvent, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPainter, QPixmap, QPolygon, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QSlider, QSplitter, QToolTip, QVBoxLayout,
                               QWidget)

from engine.recording.debrief import (KINDS, FrameIndex, TimelineItem, export_events_csv, export_video, format_time,
                                    parse_time, session_summary, timeline)
from engine.recording import Recording, read_recording

from ..jobs import Job, ProgressPanel
from ..session_worker import Hook
from ..trainee.window import FrameView

#: Colour of each timeline kind (also the list's icons and the legend).
KIND_COLOURS: dict[str, QColor] = {
    "event": QColor(232, 72, 60),
    "cue": QColor(246, 150, 40),
    "marker": QColor(244, 214, 64),
    "bookmark": QColor(84, 152, 240),
    "rewind": QColor(176, 104, 232),
    "prompt": QColor(84, 196, 124),
    "pause": QColor(150, 150, 150),
    "resume": QColor(210, 210, 210),
}
_OTHER_COLOUR = QColor(120, 120, 120)
#: Longest side of the contact sheet thumbnail, pixels.
SHEET_THUMB_PX = 180
#: How far ahead of the shown frame the player queues the sound (seconds): a little more
#: than the output's jitter buffer, so a slow GUI tick does not starve it.
SOUND_LEAD_S = 0.15

#: Save-path chooser: ``(caption, default path, file filter) -> chosen path or None``.
SavePathProvider = Callable[[str, str, str], "str | None"]


@dataclass(frozen=True)
class DebriefData:
    """What the load job produces: the recording, its decoded frames, its moments and its
    summary (see :mod:`engine.recording.debrief`)."""

    recording: Recording
    frames: FrameIndex
    items: list[TimelineItem]
    summary: dict
    #: What the trainee heard: ``(float32 (n, 2), sample rate, first tick)``, None without sound.
    sound: tuple | None = None


def load_debrief(directory: Path, progress: Callable[..., None], seat: int = 0) -> DebriefData:
    """Read and decode a recording for the window (runs on a job's thread): the view of
    trainee seat ``seat`` (a session with several trainees records each seat's view), with
    the session's log.

    Raises:
        engine.recording.RecordingError: ``directory`` is not a readable recording, or has
            no recording of that seat.
        engine.progress.Cancelled: from ``progress``.
    """
    progress(0.0, "reading the log")
    recording = read_recording(directory).seat(seat)
    frames = FrameIndex.load(recording, progress=lambda f=None, t=None: progress(None if f is None else 0.9 * f, t))
    progress(0.9, "summarising")
    sound = recording.audio()
    return DebriefData(recording, frames, timeline(recording), session_summary(recording, frames=frames), sound)


def item_tooltip(item: TimelineItem) -> str:
    """Tooltip of a moment: its time and tick, its label, and a note when it has one that
    the label does not already show."""
    text = f"{format_time(item.time_s)} · tick {item.tick}\n{item.label}"
    note = item.detail.get("note")
    if note and item.kind != "marker":
        text += f"\n{note}"
    return text


def _clock_precise(tick: int, tick_hz: int) -> str:
    """``mm:ss.ss`` of session time; :func:`engine.recording.debrief.parse_time` reads it back."""
    m, s = divmod(tick / tick_hz, 60)
    return f"{int(m):02d}:{s:05.2f}"


def _esc(text: object) -> str:
    """``text`` safe inside a rich-text label (apostrophes kept as they are)."""
    return html.escape(str(text), quote=False)


def _swatch(colour: QColor, size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(colour)
    return QIcon(pix)


class TimelineWidget(QWidget):
    """A bar over the session's span of ticks: where frames exist (gaps darker), a coloured
    tick per :class:`TimelineItem`, and the player's position as a white line.

    Clicking within :attr:`SNAP_PX` pixels of an item calls ``jumped(item.tick)``; clicking
    elsewhere, or dragging, calls ``jumped(tick under the pointer)``. Hovering an item shows
    its tooltip.
    """

    MARGIN = 10
    SNAP_PX = 6

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.jumped = Hook()
        self.items: list[TimelineItem] = []
        self.first_tick, self.last_tick = 0, 1
        self.cursor_tick: int | None = None
        self._covered: list[tuple[int, int]] = []  # inclusive tick runs with frames
        self.setMinimumHeight(52)
        self.setMouseTracking(True)

    def set_data(self, items: list[TimelineItem], frame_ticks: list[int]) -> None:
        """Show ``items`` over the span of ``frame_ticks`` and the items' ticks."""
        self.items = list(items)
        ticks = list(frame_ticks) + [it.tick for it in items]
        self.first_tick = min(ticks, default=0)
        self.last_tick = max(max(ticks, default=0), self.first_tick + 1)
        runs: list[tuple[int, int]] = []
        for t in frame_ticks:
            if runs and t == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], t)
            else:
                runs.append((t, t))
        self._covered = runs
        self.update()

    def set_cursor(self, tick: int) -> None:
        self.cursor_tick = tick
        self.update()

    def x_for_tick(self, tick: float) -> int:
        """Widget x (pixels) of a session tick."""
        width = max(1, self.width() - 2 * self.MARGIN)
        return self.MARGIN + round((tick - self.first_tick) * width / (self.last_tick - self.first_tick))

    def tick_for_x(self, x: float) -> int:
        """Session tick at widget x, clamped to the span."""
        width = max(1, self.width() - 2 * self.MARGIN)
        tick = self.first_tick + round((x - self.MARGIN) * (self.last_tick - self.first_tick) / width)
        return min(self.last_tick, max(self.first_tick, tick))

    def item_near(self, x: float) -> TimelineItem | None:
        """The item closest to widget x within :attr:`SNAP_PX` pixels, or None."""
        best = min(self.items, key=lambda it: abs(self.x_for_tick(it.tick) - x), default=None)
        if best is None or abs(self.x_for_tick(best.tick) - x) > self.SNAP_PX:
            return None
        return best

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(34, 34, 40))
        bar = QRect(self.MARGIN, 20, self.width() - 2 * self.MARGIN, self.height() - 28)
        p.fillRect(bar, QColor(52, 52, 60))
        for a, b in self._covered:
            x0, x1 = self.x_for_tick(a), self.x_for_tick(b + 1)
            p.fillRect(QRect(x0, bar.y(), max(1, x1 - x0), bar.height()), QColor(88, 88, 100))
        for item in self.items:
            x = self.x_for_tick(item.tick)
            colour = KIND_COLOURS.get(item.kind, _OTHER_COLOUR)
            p.fillRect(QRect(x - 1, 10, 3, self.height() - 14), colour)
            p.setBrush(colour)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawPolygon(QPolygon([QPoint(x - 5, 4), QPoint(x + 5, 4), QPoint(x, 12)]))
        if self.cursor_tick is not None:
            x = self.x_for_tick(self.cursor_tick)
            p.fillRect(QRect(x, 0, 2, self.height()), QColor(255, 255, 255))
        p.end()

    def event(self, e) -> bool:  # noqa: D401 (Qt API)
        if e.type() == QEvent.Type.ToolTip:
            item = self.item_near(e.pos().x())
            if item is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(e.globalPos(), item_tooltip(item), self)
            return True
        return super().event(e)

    def mousePressEvent(self, e) -> None:  # noqa: N802 (Qt API)
        if e.button() == Qt.MouseButton.LeftButton:
            x = e.position().x()
            item = self.item_near(x)
            self.jumped(item.tick if item is not None else self.tick_for_x(x))

    def mouseMoveEvent(self, e) -> None:  # noqa: N802 (Qt API)
        if e.buttons() & Qt.MouseButton.LeftButton:
            self.jumped(self.tick_for_x(e.position().x()))


class DebriefWindow(QWidget):
    """Review one recording folder: player, timeline, moments, summary, exports.

    Loading runs on :attr:`load_job` (the window shows "Loading…"); a folder that is not a
    readable recording leaves the message in :attr:`error` and on screen. After loading,
    :attr:`data` holds the :class:`DebriefData`. :meth:`seek` moves the player;
    :attr:`player_tick` is its position and :attr:`frame_tick` the tick of the frame shown
    (the last frame at or before the position). :meth:`export_video` and
    :meth:`export_csv` start :attr:`export_job`; the buttons ask for a path through
    :attr:`save_path_provider` (a QFileDialog unless replaced, e.g. in tests).
    """

    def __init__(self, directory: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.directory = Path(directory)
        self.setWindowTitle(f"ved — debrief: {self.directory.name}")
        self.data: DebriefData | None = None
        self.error: str | None = None
        self.export_job: Job | None = None
        self.frame_tick: int | None = None
        self._player_tick = 0
        self.save_path_provider: SavePathProvider = self._ask_save_path
        #: Whether playing plays the recording's sound; the output (app.audio.output), opened on first play.
        self.play_sound = True
        self.sound_output = None
        self._sound_pos = 0  # the next sample of the recording's sound to queue
        self._build()
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._advance)
        self._play_clock = QElapsedTimer()
        self._play_origin = 0
        #: The trainee seat whose view plays (several trainees: each seat's view is recorded).
        self.seat = 0
        self._start_load(0)

    def _start_load(self, seat: int) -> None:
        self.load_job = Job(lambda progress: load_debrief(self.directory, progress, seat), title="Loading recording",
                            parent=self)
        self.load_job.progressed.connect(self._on_load_progress)
        self.load_job.done.connect(self._on_loaded)
        self.load_job.failed.connect(self._on_load_failed)
        self.load_job.cancelled.connect(lambda: self._on_load_failed("loading was cancelled"))
        self.progress_panel.follow(self.load_job)
        self.load_job.start()

    def show_seat(self, seat: int) -> None:
        """Play trainee seat ``seat``'s view (decoded on a job; the position is kept)."""
        if seat == self.seat or self.load_job.running:
            return
        self.seat = seat
        self._set_enabled(False)
        self.frame_view.set_text("Loading…")
        self._start_load(seat)

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        self.header = QLabel(f"<b>{_esc(self.directory.name)}</b>", self)
        self.seat_box = QComboBox(self)
        self.seat_box.setToolTip("Whose view to play: each trainee's view is recorded")
        self.seat_box.hide()
        self.seat_box.currentIndexChanged.connect(lambda i: i >= 0 and self.show_seat(i))
        self.frame_view = FrameView(self)
        self.frame_view.set_text("Loading…")
        self.play_button = QPushButton("Play", self)
        self.prev_button = QPushButton("‹", self)
        self.next_button = QPushButton("›", self)
        self.prev_button.setToolTip("Previous frame (Left)")
        self.next_button.setToolTip("Next frame (Right)")
        for w in (self.prev_button, self.next_button):
            w.setMaximumWidth(36)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.time_label = QLabel("--:--", self)
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("00:00:00 · tick 000000 / 00:00:00"))
        self.timeline_widget = TimelineWidget(self)
        legend = "  ".join(f"<span style='color:{KIND_COLOURS[k].name()}'>■</span> {k}" for k in KINDS)
        self.legend_label = QLabel(legend, self)

        controls = QHBoxLayout()
        for w in (self.prev_button, self.play_button, self.next_button):
            controls.addWidget(w)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        player = QWidget(self)
        left = QVBoxLayout(player)
        head = QHBoxLayout()
        head.addWidget(self.header, 1)
        head.addWidget(self.seat_box)
        left.addLayout(head)
        left.addWidget(self.frame_view, 1)
        left.addLayout(controls)
        left.addWidget(self.timeline_widget)
        left.addWidget(self.legend_label)

        self.item_list = QListWidget(self)
        self.item_list.setWordWrap(True)
        self.item_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.sheet_label = QLabel(self)
        side = QWidget(self)
        right = QVBoxLayout(side)
        right.addWidget(QLabel("<b>Moments</b> (click to jump there)", self))
        right.addWidget(self.item_list, 2)
        right.addWidget(self.summary_label)
        right.addWidget(self.sheet_label)
        right.addWidget(self._build_exports())

        splitter = QSplitter(self)
        splitter.addWidget(player)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.progress_panel = ProgressPanel(self)
        root = QVBoxLayout(self)
        root.addWidget(splitter, 1)
        root.addWidget(self.status_label)
        root.addWidget(self.progress_panel)

        self.play_button.clicked.connect(self.toggle_play)
        self.prev_button.clicked.connect(lambda: self.step_frame(-1))
        self.next_button.clicked.connect(lambda: self.step_frame(1))
        self.slider.valueChanged.connect(self.seek)
        self.timeline_widget.jumped.connect(self.seek)
        self.item_list.itemClicked.connect(self._on_item_clicked)
        self.item_list.currentRowChanged.connect(self._on_row_changed)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.toggle_play)
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, lambda: self.step_frame(-1))
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, lambda: self.step_frame(1))
        self._set_enabled(False)

    def _build_exports(self) -> QGroupBox:
        box = QGroupBox("Export", self)
        self.from_edit = QLineEdit(self)
        self.to_edit = QLineEdit(self)
        self.from_edit.setPlaceholderText("start")
        self.to_edit.setPlaceholderText("end")
        for edit in (self.from_edit, self.to_edit):
            edit.setToolTip("Session time as minutes:seconds (1:15) or seconds (75); empty for the whole recording")
        from_here, to_here = QPushButton("Here", self), QPushButton("Here", self)
        from_here.setToolTip("Start the video at the player's position")
        to_here.setToolTip("End the video at the player's position")
        from_here.clicked.connect(lambda: self.from_edit.setText(_clock_precise(self.player_tick, self._hz)))
        to_here.clicked.connect(lambda: self.to_edit.setText(_clock_precise(self.player_tick, self._hz)))
        self.export_video_button = QPushButton("Export video…", self)
        self.export_csv_button = QPushButton("Export event log (CSV)…", self)
        self.export_video_button.clicked.connect(self._export_video_clicked)
        self.export_csv_button.clicked.connect(self._export_csv_clicked)
        grid = QGridLayout(box)
        grid.addWidget(QLabel("From", self), 0, 0)
        grid.addWidget(self.from_edit, 0, 1)
        grid.addWidget(from_here, 0, 2)
        grid.addWidget(QLabel("To", self), 1, 0)
        grid.addWidget(self.to_edit, 1, 1)
        grid.addWidget(to_here, 1, 2)
        grid.addWidget(self.export_video_button, 2, 0, 1, 3)
        grid.addWidget(self.export_csv_button, 3, 0, 1, 3)
        self._export_widgets = [self.from_edit, self.to_edit, from_here, to_here,
                                self.export_video_button, self.export_csv_button]
        return box

    def _set_enabled(self, on: bool) -> None:
        for w in (self.play_button, self.prev_button, self.next_button, self.slider, self.timeline_widget,
                  self.item_list, *self._export_widgets):
            w.setEnabled(on)

    # ------------------------------------------------------------ loading
    @property
    def _hz(self) -> int:
        return self.data.recording.tick_hz if self.data else 20

    def _on_load_progress(self, fraction: float | None, text: str) -> None:
        pct = "" if fraction is None else f" {round(100 * fraction)} %"
        self.frame_view.set_text(f"Loading…{pct}")

    def _on_load_failed(self, message: str) -> None:
        self.error = message
        self.frame_view.set_text(f"Cannot open this recording.\n\n{message}")
        self.status_label.setText(f"<span style='color:#e85040'>Cannot open {_esc(self.directory)}: "
                                  f"{_esc(message)}</span>")

    def _on_loaded(self, data: DebriefData) -> None:
        self.data = data
        seats = data.recording.seats
        if len(seats) > 1 and self.seat_box.count() != len(seats):
            self.seat_box.blockSignals(True)
            self.seat_box.clear()
            self.seat_box.addItems([f"View: {name}" for name in seats])
            self.seat_box.blockSignals(False)
            self.seat_box.show()
        s = data.summary
        title = s.get("title") or self.directory.name
        self.setWindowTitle(f"ved — debrief: {title}")
        self.header.setText(f"<b>{_esc(title)}</b> — {_esc(self.directory)}")
        ticks = data.frames.ticks.tolist()
        self.timeline_widget.set_data(data.items, ticks)
        self.slider.blockSignals(True)
        self.slider.setRange(self.timeline_widget.first_tick, self.timeline_widget.last_tick)
        self.slider.blockSignals(False)
        self.item_list.blockSignals(True)
        self.item_list.clear()
        for item in data.items:
            row = QListWidgetItem(_swatch(KIND_COLOURS.get(item.kind, _OTHER_COLOUR)),
                                  f"{format_time(item.time_s)}  {item.label}")
            row.setToolTip(item_tooltip(item))
            self.item_list.addItem(row)
        self.item_list.blockSignals(False)
        self.summary_label.setText(self._summary_html(s))
        if s.get("contact_sheet"):
            pix = QPixmap(s["contact_sheet"])
            if not pix.isNull():
                self.sheet_label.setPixmap(pix.scaled(SHEET_THUMB_PX, SHEET_THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation))
                self.sheet_label.setToolTip(s["contact_sheet"])
        self._set_enabled(True)
        if not ticks:
            self.frame_view.set_text("This recording has no frames.")
            for w in (self.play_button, self.prev_button, self.next_button, self.export_video_button):
                w.setEnabled(False)
        else:
            self.frame_view.set_text("")
        keep = self.seat_box.isVisible() and ticks and ticks[0] <= self._player_tick <= ticks[-1]
        self.seek(self._player_tick if keep else ticks[0] if ticks else self.timeline_widget.first_tick)

    @staticmethod
    def _summary_html(s: dict) -> str:
        lines = [f"Duration <b>{s['duration']}</b> ({s['frames']} frames)"]
        if s["complete"]:
            lines.append("Recording closed cleanly.")
        else:
            lines.append("<span style='color:#f0a030'>The session did not close cleanly: "
                         "shown up to the last saved second.</span>")
        lines.append(f"Events fired: <b>{s['events_fired']}</b>")
        counts = [f"{len(s[k])} {name}{'' if len(s[k]) == 1 else 's'}" for k, name in (
            ("bookmarks", "bookmark"), ("rewinds", "rewind"), ("pauses", "pause"), ("prompt_changes", "prompt change"))]
        lines.append(" · ".join(counts))
        if s["markers"]:
            notes = "".join(f"<li>{m['time']} — {_esc(m['note']) or '(no note)'}</li>" for m in s["markers"])
            lines.append(f"Markers:<ul style='margin:0'>{notes}</ul>")
        else:
            lines.append("No markers.")
        return "<br>".join(lines)

    # ------------------------------------------------------------ player
    @property
    def player_tick(self) -> int:
        """The player's position, session ticks."""
        return self._player_tick

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def seek(self, tick: int) -> None:
        """Move the player to session tick ``tick`` (clamped to the recording's span) and
        show the frame on screen at that moment. Ignored before loading."""
        self._show(tick)
        if self.playing:
            self._play_origin = self._player_tick
            self._play_clock.restart()
            self._start_sound(self._player_tick)

    def _show(self, tick: int) -> None:
        if self.data is None:
            return
        tl = self.timeline_widget
        tick = min(tl.last_tick, max(tl.first_tick, int(tick)))
        self._player_tick = tick
        frames = self.data.frames
        if len(frames):
            shown, frame = frames.frame_at(tick)
            if shown != self.frame_tick:
                self.frame_tick = shown
                self.frame_view.set_frame(frame)
        hz = self._hz
        self.time_label.setText(f"{format_time(tick / hz)} · tick {tick} / {format_time(tl.last_tick / hz)}")
        self.slider.blockSignals(True)
        self.slider.setValue(tick)
        self.slider.blockSignals(False)
        tl.set_cursor(tick)

    def toggle_play(self) -> None:
        """Play from the position at the session's pace, or pause."""
        if self.data is None or not len(self.data.frames):
            return
        if self.playing:
            self._play_timer.stop()
            self.play_button.setText("Play")
            if self.sound_output is not None:
                self.sound_output.clear()
            return
        if self._player_tick >= int(self.data.frames.ticks[-1]):
            self._show(int(self.data.frames.ticks[0]))
        self._play_origin = self._player_tick
        self._play_clock.start()
        self._play_timer.start(max(1, 1000 // self._hz))
        self.play_button.setText("Pause")
        self._start_sound(self._player_tick)

    def _start_sound(self, tick: int) -> None:
        """Play the recording's sound from ``tick`` with the frames (the output opened on
        first use; without a device a note says so and the frames play on)."""
        if self.data is None or self.data.sound is None:
            return
        if self.sound_output is None and self.play_sound:
            from ..audio.output import open_output

            self.sound_output, note = open_output()
            if note:
                self.summary_label.setText(self.summary_label.text() + f"<br><i>{_esc(note)}</i>")
                self.play_sound = False
        if self.sound_output is not None:
            self.sound_output.clear()
        samples, rate, first = self.data.sound
        self._sound_pos = max(0, round((tick - first) * rate / self._hz))

    def _feed_sound(self, tick: int) -> None:
        """Queue the sound up to :data:`SOUND_LEAD_S` ahead of ``tick``."""
        if self.data is None or self.data.sound is None or self.sound_output is None:
            return
        samples, rate, first = self.data.sound
        end = min(len(samples), max(0, round((tick - first) * rate / self._hz + SOUND_LEAD_S * rate)))
        if end > self._sound_pos:
            self.sound_output.push(samples[self._sound_pos:end])
            self._sound_pos = end

    def _advance(self) -> None:
        assert self.data is not None
        last = int(self.data.frames.ticks[-1])
        tick = self._play_origin + self._play_clock.elapsed() * self._hz // 1000
        self._show(min(tick, last))
        self._feed_sound(tick)
        if tick >= last:
            self.toggle_play()

    def step_frame(self, direction: int) -> None:
        """Move to the previous (-1) or next (+1) recorded frame."""
        if self.data is None or not len(self.data.frames):
            return
        ticks = self.data.frames.ticks
        i = self.data.frames.position(self._player_tick)
        if direction > 0 or ticks[i] == self._player_tick:
            i += direction
        self.seek(int(ticks[min(len(ticks) - 1, max(0, i))]))

    def _on_item_clicked(self, row: QListWidgetItem) -> None:
        self._on_row_changed(self.item_list.row(row))

    def _on_row_changed(self, row: int) -> None:
        if self.data is not None and 0 <= row < len(self.data.items):
            self.seek(self.data.items[row].tick)

    # ------------------------------------------------------------ exports
    def _ask_save_path(self, caption: str, default: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, caption, default, file_filter)
        return path or None

    def _range_ticks(self) -> tuple[int | None, int | None]:
        """The From/To fields as session ticks (None when empty). Raises ValueError with a
        message for a person."""
        out = []
        for edit in (self.from_edit, self.to_edit):
            seconds = parse_time(edit.text())
            out.append(None if seconds is None else round(seconds * self._hz))
        return out[0], out[1]

    def _export_video_clicked(self) -> None:
        try:
            start, end = self._range_ticks()
        except ValueError as exc:
            self.status_label.setText(_esc(exc))
            return
        name = self.directory.name
        if start is not None or end is not None:
            a = format_time((start or 0) / self._hz).replace(":", "m") + "s"
            b = "end" if end is None else format_time(end / self._hz).replace(":", "m") + "s"
            name += f"_{a}-{b}"
        path = self.save_path_provider("Export video", str(self.directory.parent / f"{name}.mp4"), "MP4 video (*.mp4)")
        if path:
            self.export_video(path if Path(path).suffix else f"{path}.mp4", start, end)

    def _export_csv_clicked(self) -> None:
        default = str(self.directory.parent / f"{self.directory.name}_events.csv")
        path = self.save_path_provider("Export event log", default, "CSV table (*.csv)")
        if path:
            self.export_csv(path if Path(path).suffix else f"{path}.csv")

    def export_video(self, path: str | Path, start_tick: int | None = None, end_tick: int | None = None) -> Job:
        """Export the video (ticks ``start_tick..end_tick`` inclusive; None: from the
        start / to the end) to ``path`` on :attr:`export_job`.

        Raises:
            RuntimeError: the recording is not loaded, or another export is running.
        """
        rec = self._recording_for_export()
        return self._start_export(
            lambda progress: export_video(rec, path, start_tick=start_tick, end_tick=end_tick, progress=progress),
            "Exporting video", "Video saved")

    def export_csv(self, path: str | Path) -> Job:
        """Export the event log as CSV to ``path`` on :attr:`export_job`.

        Raises:
            RuntimeError: the recording is not loaded, or another export is running.
        """
        rec = self._recording_for_export()
        return self._start_export(lambda progress: export_events_csv(rec, path), "Exporting event log",
                                  "Event log saved")

    def _recording_for_export(self) -> Recording:
        if self.data is None:
            raise RuntimeError("the recording is not loaded yet")
        if self.export_job is not None and self.export_job.running:
            raise RuntimeError("an export is already running; wait for it or cancel it")
        return self.data.recording

    def _start_export(self, work: Callable, title: str, saved: str) -> Job:
        job = Job(work, title=title, parent=self)
        self.export_job = job
        for w in (self.export_video_button, self.export_csv_button):
            w.setEnabled(False)
        job.done.connect(lambda path: self._export_ended(f"{saved}: {_esc(path)}"))
        job.failed.connect(lambda msg: self._export_ended(
            f"<span style='color:#e85040'>{title} failed: {_esc(msg)}</span>"))
        job.cancelled.connect(lambda: self._export_ended(f"{title} cancelled; no file was left behind."))
        self.progress_panel.follow(job)
        self.status_label.setText("")
        return job.start()

    def _export_ended(self, message: str) -> None:
        self.status_label.setText(message)
        self.export_video_button.setEnabled(bool(self.data and len(self.data.frames)))
        self.export_csv_button.setEnabled(True)

    # ------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Stop playing and cancel running jobs (an export removes its partial file)."""
        self._play_timer.stop()
        if self.sound_output is not None:
            self.sound_output.close()
            self.sound_output = None
        for job in (self.load_job, self.export_job):
            if job is not None and job.running:
                job.cancel()
                job.wait(5.0)
        super().closeEvent(event)


def run_debrief(path: str | Path) -> int:
    """``ved debrief RECORDING``: show a :class:`DebriefWindow` on ``path`` and run the Qt
    event loop until it is closed. Returns the event loop's exit code (0). A folder that is
    not a recording opens the window with the reason shown in it."""
    from ..qtapp import ensure_app

    app = ensure_app()
    window = DebriefWindow(path)
    window.resize(1200, 760)
    window.show()
    return app.exec()
