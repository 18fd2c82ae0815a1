"""The console's view of several trainees: a strip of every trainee's live view, a floor-plan
inset showing where each stands and looks, and the choice of whom the game master addresses.

A session with one trainee shows none of this (the console's large view is the trainee's).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.world.scene import SEAT_COLORS

from ..trainee.window import FrameView


def seat_colour(seat: int) -> QColor:
    """The seat's shirt colour (:data:`engine.world.scene.SEAT_COLORS`), as people in the
    world wear it."""
    r, g, b = SEAT_COLORS[seat % len(SEAT_COLORS)][0]
    return QColor(round(r * 255), round(g * 255), round(b * 255))


class FloorPlan(QWidget):
    """A top-down plan of the room (walls and furniture footprints when the floor plan is
    known) with each trainee as a dot in the seat's colour and a line where they look.
    Poses are ``(x, z, yaw, pitch)`` in metres and radians; yaw 0 looks along −z (up on the
    plan)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scene = None
        #: seat -> pose of the newest frame
        self.poses: dict[int, tuple] = {}
        self.selected: int | None = None
        self.setMinimumSize(160, 160)
        self.setToolTip("Where each trainee stands and looks (top view)")

    def set_scene(self, scene) -> None:
        self.scene = scene
        self.update()

    def set_pose(self, seat: int, pose) -> None:
        if pose is not None:
            self.poses[seat] = tuple(pose)
            self.update()

    def _extent(self) -> tuple[float, float]:
        if self.scene is not None:
            return self.scene.width, self.scene.depth
        span = max([6.0] + [2 * abs(v) + 1 for p in self.poses.values() for v in p[:2]])
        return span, span

    def to_widget(self, x: float, z: float) -> QPointF:
        """The widget point of floor position ``(x, z)`` metres (room centre at the middle)."""
        w, d = self._extent()
        scale = min((self.width() - 12) / w, (self.height() - 12) / d)
        return QPointF(self.width() / 2 + x * scale, self.height() / 2 + z * scale)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(28, 28, 32))
        w, d = self._extent()
        room = QRectF(self.to_widget(-w / 2, -d / 2), self.to_widget(w / 2, d / 2))
        p.setPen(QPen(QColor(170, 170, 170), 2))
        p.setBrush(QColor(52, 52, 58))
        p.drawRect(room)
        if self.scene is not None:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(105, 100, 90))
            for x0, z0, x1, z1 in self.scene.footprints():
                p.drawRect(QRectF(self.to_widget(x0, z0), self.to_widget(x1, z1)))
        for seat, (x, z, yaw, *_rest) in sorted(self.poses.items()):
            c = self.to_widget(x, z)
            tip = self.to_widget(x - 1.0 * math.sin(yaw), z - 1.0 * math.cos(yaw))
            colour = seat_colour(seat)
            p.setPen(QPen(colour, 2))
            p.drawLine(c, tip)
            p.setBrush(colour)
            p.setPen(QPen(QColor(255, 255, 255), 2 if seat == self.selected else 0))
            p.drawEllipse(c, 4, 4)
        p.end()


class SeatStrip(QWidget):
    """One small live view per trainee seat, named and framed in the seat's colour; clicking
    one shows it in the console's large view (:attr:`chosen` emits the seat)."""

    chosen = Signal(int)

    def __init__(self, seats: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.views: list[FrameView] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for k, name in enumerate(seats):
            col = QVBoxLayout()
            view = FrameView(self, smooth=False)
            view.setFixedSize(96, 96)
            view.setStyleSheet(f"border: 2px solid {seat_colour(k).name()}")
            view.setToolTip(f"{name}'s view — click to show it large")
            view.mousePressEvent = lambda _e, k=k: self.chosen.emit(k)  # noqa: B023
            label = QLabel(name, self)
            label.setStyleSheet(f"color: {seat_colour(k).name()}; font-weight: bold")
            col.addWidget(view)
            col.addWidget(label)
            row.addLayout(col)
            self.views.append(view)
        row.addStretch(1)


class AddressBox(QComboBox):
    """Whom the game master's words and aimed events go to: every trainee, or one seat."""

    def __init__(self, seats: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.addItem("All trainees", None)
        for k, name in enumerate(seats):
            self.addItem(name, k)
        self.setToolTip("Whom a caption goes to, and before whom an entering person stands")

    @property
    def seat(self) -> int | None:
        """The chosen seat, None for every trainee."""
        return self.currentData()
