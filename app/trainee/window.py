"""The trainee's window: the generated world and nothing else (DESIGN.md §4 "Windows and roles").

:class:`TraineeWindow` is a top-level window that shows the latest generated frame, scaled
to fill the window with its aspect kept, and owns the movement keys (see
:mod:`app.trainee.input_map`). It is connected with a TRAINEE client only, so it can receive
nothing of the game master; it never draws any part of the console.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.runtime.protocol import Caption, End, Frame, Sound, Voice
from engine.runtime.session import Client, Role

from .input_map import KeyboardActionMapper
from ..session_worker import Hook


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """uint8 ``(H, W, 3)`` RGB → a QImage that owns a copy of the pixels."""
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def fit_rect(src_w: int, src_h: int, dst: QRect) -> QRect:
    """The largest rectangle of aspect ``src_w:src_h`` centred in ``dst`` (pixels)."""
    if src_w <= 0 or src_h <= 0 or dst.width() <= 0 or dst.height() <= 0:
        return QRect()
    scale = min(dst.width() / src_w, dst.height() / src_h)
    w, h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return QRect(dst.x() + (dst.width() - w) // 2, dst.y() + (dst.height() - h) // 2, w, h)


class FrameView(QWidget):
    """Paints one RGB frame scaled to fill the widget, aspect kept, on black; or a line of
    status text (loading, stopped) when there is no frame to show.

    ``smooth`` picks bilinear scaling; otherwise nearest neighbour (crisp pixels).
    """

    def __init__(self, parent: QWidget | None = None, *, smooth: bool = True):
        super().__init__(parent)
        self.smooth = smooth
        self._image: QImage | None = None
        self._text = ""
        self._caption = ""
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(64, 64)

    @property
    def image(self) -> QImage | None:
        return self._image

    def set_frame(self, frame: np.ndarray) -> None:
        self._image = frame_to_qimage(frame)
        self.update()

    def set_text(self, text: str) -> None:
        """Status text drawn over the view (empty string: none)."""
        self._text = text
        self.update()

    @property
    def caption(self) -> str:
        return self._caption

    def set_caption(self, text: str) -> None:
        """A caption along the bottom of the view, as subtitles are (empty string: none)."""
        self._caption = text
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            p.drawImage(fit_rect(self._image.width(), self._image.height(), self.rect()), self._image)
        if self._text:
            p.setPen(QColor(235, 235, 235))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
        if self._caption:
            font = p.font()
            font.setPointSizeF(max(10.0, self.height() / 28))
            p.setFont(font)
            band = QRect(self.rect().x() + 12, self.rect().bottom() - self.height() // 5, self.width() - 24,
                         self.height() // 5 - 8)
            flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap
            bound = p.boundingRect(band, flags, self._caption).adjusted(-8, -4, 8, 4)
            p.fillRect(bound, QColor(0, 0, 0, 170))
            p.setPen(QColor(255, 255, 255))
            p.drawText(band, flags, self._caption)
        p.end()


#: Seconds a caption from the game master stays on the trainee's view.
CAPTION_S = 6.0
#: Seconds between attempts to reopen a sound device that went away.
SOUND_RETRY_S = 2.0


class TraineeWindow(QWidget):
    """Top-level window with the participant's view; owns the movement keys.

    Keys: W/S walk, A/D step sideways, arrows turn and look; drag with the left mouse button
    to look around; F11 toggles full screen (Esc leaves it). What the game master says to
    this trainee shows as a caption for :data:`CAPTION_S` seconds. Key release, focus loss and
    hiding release every key.

    :attr:`mapper` holds the keys; the window pushes them to the session as they change (a
    ``set_action`` request, and ``look`` for mouse motion), on every key event and at each
    :meth:`refresh`, so the session never reads the GUI. :meth:`refresh` (called by the
    GUI poll timer) shows the newest frame of the attached TRAINEE client.
    """

    def __init__(self, mapper: KeyboardActionMapper | None = None, parent: QWidget | None = None, *,
                 play_sound: bool = False):
        super().__init__(parent)
        #: Play the session's sound on the default output device (:mod:`app.audio.output`).
        self.play_sound = play_sound
        self.sound_output = None
        #: Why there is no sound, when there is none (no device); None otherwise.
        self.sound_note: str | None = None
        self.setWindowTitle("ved — trainee view")
        #: Called (no arguments) after the window is closed.
        self.closed = Hook()
        self.mapper = mapper or KeyboardActionMapper()
        self.client: Client | None = None
        #: The message of the frame on screen (tick and pixels), None before the first.
        self.frame_message: Frame | None = None
        #: How many messages of each kind the trainee client delivered.
        self.received_kinds: Counter[str] = Counter()
        self.view = FrameView(self, smooth=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.resize(640, 640)
        self._drag_from: QPoint | None = None
        self._sent_keys: np.ndarray | None = None  # the key action last pushed to the session
        self._caption_until = 0.0  # time.monotonic() when the caption goes

    # ------------------------------------------------------------ session
    def attach(self, client: Client) -> None:
        """Show what ``client`` (role TRAINEE) receives. Raises ValueError for another role."""
        if client.role is not Role.TRAINEE:
            raise ValueError(f"the trainee window takes a trainee client, not a {client.role.value} one")
        self.client = client
        self.view.set_text("")
        if self.play_sound and self.sound_output is None:
            import sys

            from ..audio.output import open_output

            self.sound_output, note = open_output()
            if self.sound_output is None:
                self.sound_note = note
                print(f"ved: {note}", file=sys.stderr)

    def show_status(self, text: str) -> None:
        """A neutral status line over the view (e.g. while the world model loads)."""
        self.view.set_text(text)

    def refresh(self) -> None:
        """Drain the client's messages and show its newest frame. GUI thread only."""
        if self.client is None:
            return
        import time

        for msg in self.client.poll():
            self.received_kinds[msg.kind] += 1
            if isinstance(msg, End):
                self.view.set_text("The session has ended.")
            elif isinstance(msg, Sound):
                self._play(msg.samples)
            elif isinstance(msg, Voice):
                self._play(msg.samples, voice=True)
            elif isinstance(msg, Caption):
                self.view.set_caption(msg.text)
                self._caption_until = time.monotonic() + CAPTION_S
        if self.view.caption and time.monotonic() > self._caption_until:
            self.view.set_caption("")
        latest = self.client.latest_frame
        if latest is not None and latest is not self.frame_message:
            self.frame_message = latest
            self.view.set_frame(latest.frame)
        self.push_input()

    def _play(self, samples, voice: bool = False) -> None:
        """Queue a tick's sound (or, with ``voice``, a stretch of the game master's voice); a device that went away (unplugged) is reopened every
        :data:`SOUND_RETRY_S` seconds, and the session goes on silently meanwhile."""
        import time

        out = self.sound_output
        if out is not None and not out.healthy:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - the device is gone already
                pass
            self.sound_output = out = None
            self._sound_retry_at = time.monotonic()
        if out is None and self.play_sound and time.monotonic() >= getattr(self, "_sound_retry_at", float("inf")):
            from ..audio.output import open_output

            self.sound_output, note = open_output()
            self.sound_note = note or None
            self._sound_retry_at = time.monotonic() + SOUND_RETRY_S
            out = self.sound_output
        if out is not None:
            (out.push_voice if voice else out.push)(samples)

    def push_input(self) -> None:
        """Send the held keys to the session if they changed since the last push, and the
        mouse-look motion accumulated since then. GUI thread only."""
        if self.client is None:
            return
        keys = self.mapper.key_action()
        if self._sent_keys is None or not np.array_equal(keys, self._sent_keys):
            self.client.set_action(keys)
            self._sent_keys = keys
        yaw, pitch = self.mapper.take_look()
        if yaw or pitch:
            self.client.look(yaw, pitch)

    # ------------------------------------------------------------ input
    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_F11:
            self.toggle_full_screen()
        elif key == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        elif self.mapper.handles(key):
            if not event.isAutoRepeat():
                self.mapper.press(key)
                self.push_input()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if self.mapper.handles(event.key()):
            if not event.isAutoRepeat():
                self.mapper.release(event.key())
                self.push_input()
            event.accept()
        else:
            super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag_from is not None and event.buttons() & Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            self.mapper.add_mouse_delta(pos.x() - self._drag_from.x(), pos.y() - self._drag_from.y())
            self._drag_from = pos
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
        super().mouseReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self.release_all()
        super().focusOutEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self.release_all()
        super().hideEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == event.Type.ActivationChange and not self.isActiveWindow():
            self.release_all()
        super().changeEvent(event)

    def release_all(self) -> None:
        """Release every key and drop pending mouse motion (focus loss, hiding, closing),
        and tell the session at once."""
        self.mapper.clear()
        self.push_input()

    def toggle_full_screen(self) -> None:
        """Full screen on the window's current screen, or back."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.release_all()
        if self.sound_output is not None:
            self.sound_output.close()
            self.sound_output = None
        super().closeEvent(event)
        self.closed()
