"""The bar that says where a preview's recording went, with *Open debrief*."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class RecordingBar(QFrame):
    """Hidden until :meth:`show_recording`; *Open debrief* calls ``open_debrief(folder)``."""

    def __init__(self, open_debrief: Callable[[Path], object], parent: QWidget | None = None):
        super().__init__(parent)
        self.open_debrief = open_debrief
        self.recording: Path | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("RecordingBar { background-color: #e8f5e9; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.debrief_button = QPushButton("Open debrief", self)
        self.debrief_button.setToolTip("Play the recording with its timeline of events, cues and markers")
        self.debrief_button.clicked.connect(self._open_debrief)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.debrief_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_recording(self, folder: Path | None, details: str = "") -> None:
        """Say where the preview was recorded (``folder`` None: nothing was recorded)."""
        self.recording = folder
        if folder is None:
            self.label.setText("The preview ended; nothing was recorded.")
        else:
            self.label.setText(f"The preview was recorded in {folder}" + (f" ({details})" if details else "") + ".")
        self.debrief_button.setVisible(folder is not None)
        self.show()

    def _open_debrief(self) -> None:
        if self.recording is not None:
            self.open_debrief(self.recording)
