"""The game master's voice in the console: push-to-talk, own voice or the avatar's.

:class:`VoiceBox` holds the talk button (held with the mouse, or the :data:`TALK_KEY` key
held anywhere in the console), the choice of voice — *own voice* (a voice-over in the
trainee's ears) or *as the avatar* (through the avatar role's voice preset, from where the
avatar stands) — and *Sound devices…*, where the microphone and speakers are chosen. The
voice goes to whom the console's *Address* box names. The microphone and the sending live in
:class:`app.audio.microphone.PushToTalk`; nothing here touches a device.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QRadioButton, QVBoxLayout, QWidget)

#: The key held to talk.
TALK_KEY = Qt.Key.Key_F2
TALK_KEY_NAME = "F2"


class VoiceBox(QGroupBox):
    """Push-to-talk and the voice to talk in. Emits :attr:`talk_pressed` (mode: ``"own"`` or
    ``"avatar"``) and :attr:`talk_released`."""

    talk_pressed = Signal(str)
    talk_released = Signal()

    def __init__(self, avatar_voice: str | None, avatar_name: str | None, parent: QWidget | None = None):
        super().__init__("Voice", parent)
        self.own = QRadioButton("Own voice", self)
        self.own.setToolTip("Speak as yourself: the trainee hears you in their ears")
        who = avatar_name or "the avatar"
        self.avatar = QRadioButton(f"As {who} ({avatar_voice or 'lower'})", self)
        self.avatar.setToolTip(f"Speak as {who}: your voice is transformed and comes from where {who} stands; "
                               "the trainee never hears your own voice in this mode")
        self.own.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.own)
        group.addButton(self.avatar)
        self.talk_button = QPushButton(f"Hold to talk  [{TALK_KEY_NAME}]", self)
        self.talk_button.setToolTip(f"Hold this button, or the {TALK_KEY_NAME} key, while you speak")
        self.talk_button.pressed.connect(self.press)
        self.talk_button.released.connect(self.release)
        self.devices_button = QPushButton("Sound devices…", self)
        self.devices_button.clicked.connect(self.choose_devices)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.own)
        row.addWidget(self.avatar)
        row.addStretch(1)
        row.addWidget(self.devices_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.talk_button)
        layout.addWidget(self.note)
        self.talking = False

    @property
    def mode(self) -> str:
        return "avatar" if self.avatar.isChecked() else "own"

    def press(self) -> None:
        if not self.talking:
            self.talking = True
            self.talk_button.setText(f"Talking… ({'as the avatar' if self.mode == 'avatar' else 'own voice'})")
            self.talk_pressed.emit(self.mode)

    def release(self) -> None:
        if self.talking:
            self.talking = False
            self.talk_button.setText(f"Hold to talk  [{TALK_KEY_NAME}]")
            self.talk_released.emit()

    def set_note(self, text: str) -> None:
        self.note.setText(f"<i>{text}</i>" if text else "")

    def choose_devices(self) -> None:
        DevicesDialog(self).exec()


class DevicesDialog(QDialog):
    """Choose the microphone and the speakers (kept in the app's settings; a change applies
    when a stream next opens)."""

    def __init__(self, parent: QWidget | None = None):
        from app.audio.devices import KINDS, chosen_device, list_devices

        super().__init__(parent)
        self.setWindowTitle("Sound devices")
        form = QFormLayout(self)
        self.boxes: dict[str, QComboBox] = {}
        for kind, label in zip(KINDS, ("Microphone", "Speakers")):
            devices, note = list_devices(kind)
            box = QComboBox(self)
            box.addItem("System default", None)
            for d in devices:
                box.addItem(f"{d.name} ({d.hostapi})", d.name)
            current = chosen_device(kind)
            if current is not None:
                box.setCurrentIndex(max(0, box.findData(current)))
            form.addRow(label, box)
            if note:
                form.addRow("", QLabel(f"<i>{note}</i>", self))
            self.boxes[kind] = box
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        from app.audio.devices import choose_device

        for kind, box in self.boxes.items():
            choose_device(kind, box.currentData())
        super().accept()
