"""The opening picture: a thumbnail that takes a dropped image file, and a Choose button."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .fields import set_help

#: File types the opening picture may be.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
THUMBNAIL_SIZE = (176, 132)


def dropped_image(event: QDragEnterEvent | QDropEvent) -> Path | None:
    """The first local image file a drag carries, or None."""
    if not event.mimeData().hasUrls():
        return None
    for url in event.mimeData().urls():
        path = Path(url.toLocalFile()) if url.isLocalFile() else None
        if path is not None and path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    return None


class Thumbnail(QLabel):
    """A small view of the picture; an image file dropped on it calls ``on_drop(path)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.on_drop: Callable[[Path], None] = lambda path: None
        self.setAcceptDrops(True)
        self.setFixedSize(*THUMBNAIL_SIZE)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if dropped_image(event) is not None:
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if dropped_image(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        if (path := dropped_image(event)) is not None:
            event.acceptProposedAction()
            self.on_drop(path)


class ImageField(QWidget):
    """Thumbnail, file name and *Choose picture…*; ``on_choose()`` is called by the button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.on_choose: Callable[[], None] = lambda: None
        self._shown: tuple | None = None
        self.thumbnail = Thumbnail(self)
        set_help(self.thumbnail, "The picture the world opens on. Drop an image file here, or choose one.")
        self.name_label = QLabel(self)
        self.name_label.setWordWrap(True)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button = QPushButton("Choose picture…", self)
        set_help(self.choose_button, "Pick a PNG or JPEG file; it is copied next to the scenario when you save")
        self.choose_button.clicked.connect(lambda: self.on_choose())
        side = QVBoxLayout()
        side.addWidget(self.name_label)
        side.addWidget(self.choose_button)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.thumbnail)
        layout.addLayout(side, 1)

    def show_image(self, value: str | None, file: Path | None) -> None:
        """Show picture ``value`` (as written in the scenario) found at ``file``."""
        shown = (value, file, file.stat().st_mtime if file is not None and file.is_file() else None)
        if shown == self._shown:
            return
        self._shown = shown
        if not value:
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText("No picture yet.\nDrop an image here.")
            self.name_label.setText("")
            return
        self.name_label.setText(value)
        pixmap = QPixmap(str(file)) if file is not None and file.is_file() else QPixmap()
        if pixmap.isNull():
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText("Picture not found")
        else:
            self.thumbnail.setPixmap(pixmap.scaled(*THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation))
