"""Panels of the game-master console (:mod:`app.console.window`): timed cues, bookmarks, the
live world prompt, and the marker bar. Each panel only shows and asks; the console routes
its requests (plain :class:`~app.session_worker.Hook` callbacks) to the session client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from engine.actions import TICK_HZ
from engine.recording.debrief import format_time

from ..session_worker import Hook

FIRED_COLOR = QColor(150, 150, 150)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp)"


def clock_text(tick: int, tick_hz: int = TICK_HZ) -> str:
    """``tick`` as ``mm:ss`` of session time (ticks at ``tick_hz`` Hz; ``h:mm:ss`` from an hour on)."""
    return format_time(max(0, int(tick)) // tick_hz)


class CuePanel(QGroupBox):
    """The scenario's timed cues: when each is due, its event and note, whether it fired,
    and a *Fire now* button per pending cue. ``fire_requested(index)`` on a click."""

    COLUMNS = ("Due", "Event", "Note", "Status", "")

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Timed cues", parent)
        self.fire_requested = Hook()
        self.tick_hz = TICK_HZ
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for col in (0, 1, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel("This scenario has no timed cues.", self)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(self.empty)
        self.cues: list[dict] = []
        self.fire_buttons: dict[int, QPushButton] = {}
        self.set_cues([])

    def set_cues(self, cues: list[dict]) -> None:
        """Show ``cues`` (the session's "cues" message: index, event, note, due_tick, fired_tick)."""
        self.cues = list(cues)
        self.empty.setVisible(not self.cues)
        self.table.setVisible(bool(self.cues))
        self.table.setRowCount(len(self.cues))
        self.fire_buttons = {}
        for row, cue in enumerate(self.cues):
            fired = cue.get("fired_tick")
            cells = (clock_text(cue["due_tick"], self.tick_hz), cue["event"], cue.get("note") or "",
                     "pending" if fired is None else f"fired {clock_text(fired, self.tick_hz)}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if fired is not None:
                    item.setForeground(FIRED_COLOR)
                self.table.setItem(row, col, item)
            button = QPushButton("Fire now", self.table)
            button.setEnabled(fired is None)
            button.setToolTip("Fire this cue at the next tick instead of when it is due")
            button.clicked.connect(lambda _=False, i=cue["index"]: self.fire_requested(i))
            self.table.setCellWidget(row, 4, button)
            self.fire_buttons[cue["index"]] = button

    def status_of(self, index: int) -> str:
        """The Status cell of cue ``index`` ("pending" or "fired mm:ss")."""
        row = next(r for r, c in enumerate(self.cues) if c["index"] == index)
        return self.table.item(row, 3).text()


class BookmarkPanel(QGroupBox):
    """Bookmarks of the session: *Bookmark now* and *Rewind to selected* (or double-click).
    Hooks: ``bookmark_requested(label)``, ``rewind_requested(bookmark_id)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Bookmarks", parent)
        self.bookmark_requested, self.rewind_requested = Hook(), Hook()
        self.tick_hz = TICK_HZ
        self.label_edit = QLineEdit(self)
        self.label_edit.setPlaceholderText("name (optional)")
        self.add_button = QPushButton("Bookmark now", self)
        self.add_button.setToolTip("Remember the world as it is now, to rewind to it later (Ctrl+B)")
        self.list = QListWidget(self)
        self.rewind_button = QPushButton("Rewind to selected", self)
        self.rewind_button.setToolTip("Put the world back as it was at the bookmark; the recording goes on")
        self.rewind_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.label_edit, 1)
        top.addWidget(self.add_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.list)
        lay.addWidget(self.rewind_button)
        self.add_button.clicked.connect(self.request_bookmark)
        self.label_edit.returnPressed.connect(self.request_bookmark)
        self.rewind_button.clicked.connect(self.request_rewind)
        self.list.itemDoubleClicked.connect(lambda _item: self.request_rewind())
        self.list.currentRowChanged.connect(lambda row: self.rewind_button.setEnabled(row >= 0 and self.isEnabled()))

    def request_bookmark(self) -> None:
        self.bookmark_requested(self.label_edit.text().strip())
        self.label_edit.clear()

    def request_rewind(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.rewind_requested(int(item.data(Qt.ItemDataRole.UserRole)))

    def add(self, bookmark_id: int, label: str, tick: int) -> None:
        item = QListWidgetItem(f"{clock_text(tick, self.tick_hz)}  {label}")
        item.setData(Qt.ItemDataRole.UserRole, bookmark_id)
        self.list.addItem(item)
        self.list.setCurrentItem(item)


class PromptPanel(QGroupBox):
    """The world prompt, editable live: *Apply at next tick*, and *New scene from image…*.
    ``prompt_requested(text, image_path_or_None)``. ``choose_image`` returns a path or None
    (a file dialog by default; tests replace it)."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__("World prompt", parent)
        self.prompt_requested = Hook()
        self.choose_image: Callable[[], str | None] = self._dialog
        self.edit = QPlainTextEdit(text.strip(), self)
        self.edit.setMaximumHeight(80)
        self.apply_button = QPushButton("Apply at next tick", self)
        self.apply_button.setToolTip("Condition the world on this text from the next tick on")
        self.image_button = QPushButton("New scene from image…", self)
        self.image_button.setToolTip("Open a new scene whose first frame is an image (the prompt text goes with it)")
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.apply_button)
        row.addWidget(self.image_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.edit)
        lay.addLayout(row)
        lay.addWidget(self.status)
        self.apply_button.clicked.connect(lambda: self._request(None))
        self.image_button.clicked.connect(self._request_image)

    def _request(self, image: str | None) -> None:
        text = self.edit.toPlainText().strip()
        if not text:
            self.status.setText("Write a prompt first.")
            return
        self.status.setText("Preparing the new scene…" if image else "Preparing the prompt…")
        self.prompt_requested(text, image)

    def _request_image(self) -> None:
        path = self.choose_image()
        if path:
            self._request(str(path))

    def _dialog(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "New scene from image", str(Path.home()), IMAGE_FILTER)
        return path or None

    def applied(self, msg, tick_hz: int) -> None:
        """Say what became of a request (the session's
        :class:`~engine.runtime.protocol.PromptChange` message)."""
        what = f"new scene from {msg.image}" if msg.image else "prompt"
        if msg.applied:
            self.status.setText(f"{clock_text(msg.tick, tick_hz)}: {what} applied.")
        else:
            self.status.setText(f"{clock_text(msg.tick, tick_hz)}: {msg.note or 'not applied'}")


class MarkerBar(QWidget):
    """A note line and *Mark*: a marker for the debrief at the current tick (Ctrl+M).
    ``marker_requested(note)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.marker_requested = Hook()
        self.note_edit = QLineEdit(self)
        self.note_edit.setPlaceholderText("note for the debrief (Enter to mark)")
        self.button = QPushButton("Mark moment", self)
        self.button.setToolTip("Put a marker with this note on the recording's timeline (Ctrl+M)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note_edit, 1)
        lay.addWidget(self.button)
        self.button.clicked.connect(self.request)
        self.note_edit.returnPressed.connect(self.request)

    def request(self) -> None:
        self.marker_requested(self.note_edit.text().strip())
        self.note_edit.clear()
