"""Every question the designer asks a person, in one place so tests can answer them.

:class:`Dialogs` shows real Qt dialogs; a test passes a subclass with canned answers.
:class:`NewScenarioDialog` asks for what a new scenario starts from: a title, the world in
a sentence, and a picture or a room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QMessageBox, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from engine.world.scene import ROOM_TYPES

from .autosave import Recovery
from .fields import ChoiceCombo, TextBox, TextLine
from .image_field import IMAGE_SUFFIXES

SCENARIO_FILTER = "Scenarios (*.toml)"
IMAGE_FILTER = f"Pictures ({' '.join('*' + s for s in IMAGE_SUFFIXES)})"


@dataclass(frozen=True)
class NewScenario:
    """What a new scenario starts from (exactly one of ``image`` and ``room``)."""

    title: str
    prompt: str
    image: Path | None = None
    room: str | None = None


class NewScenarioDialog(QDialog):
    """Title, the world in a sentence or two, and the opening view."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New scenario")
        self.title_edit = TextLine(placeholder="e.g. “Exam room: an anxious patient”")
        self.prompt_edit = TextBox(placeholder="Describe the world in a sentence or two", lines=3)
        self.room_radio = QRadioButton("A room from the reference world")
        self.image_radio = QRadioButton("My picture")
        self.room_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.room_radio)
        group.addButton(self.image_radio)
        self.room_combo = ChoiceCombo((r, r.replace("_", " ").capitalize(), r) for r in ROOM_TYPES)
        self.image_edit = TextLine(placeholder="a PNG or JPEG file")
        self.image_edit.textChanged.connect(self._picture_typed)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        picture = QHBoxLayout()
        picture.addWidget(self.image_edit, 1)
        picture.addWidget(browse)
        form = QFormLayout()
        form.addRow("Title", self.title_edit)
        form.addRow("The world", self.prompt_edit)
        form.addRow(self.room_radio, self.room_combo)
        form.addRow(self.image_radio, picture)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def details(self) -> NewScenario:
        """What was entered."""
        if self.image_radio.isChecked() and self.image_edit.text().strip():
            image = Path(self.image_edit.text().strip()).expanduser()
            return NewScenario(self.title_edit.text().strip(), self.prompt_edit.value().strip(), image=image)
        return NewScenario(self.title_edit.text().strip(), self.prompt_edit.value().strip(),
                           room=self.room_combo.value())

    def _picture_typed(self, text: str) -> None:
        if text.strip():
            self.image_radio.setChecked(True)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the opening picture", "", IMAGE_FILTER)
        if path:
            self.image_edit.setText(path)


class Dialogs:
    """The designer's questions, as modal Qt dialogs over ``parent``."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def ask_save_changes(self, name: str) -> str:
        """``"save"``, ``"discard"`` or ``"cancel"`` for unsaved changes to ``name``."""
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"Save the changes to “{name}” first?", parent=self.parent)
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Discard).setText("Don't save")
        box.exec()
        clicked = box.clickedButton()
        if clicked is box.button(QMessageBox.StandardButton.Save):
            return "save"
        return "discard" if clicked is box.button(QMessageBox.StandardButton.Discard) else "cancel"

    def confirm(self, title: str, text: str, action: str) -> bool:
        """Ask before doing ``action`` (the button's text)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self.parent)
        yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is yes

    def ask_recover(self, recovery: Recovery) -> str:
        """``"recover"``, ``"discard"`` or ``"later"`` for work a crash left unsaved."""
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work",
                          f"The designer closed without saving {recovery.describe()}.\n\nOpen it again?",
                          parent=self.parent)
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Throw it away", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return "recover" if box.clickedButton() is recover else "discard" if box.clickedButton() is discard else "later"

    def ask_open_path(self, folder: Path) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a scenario", str(folder), SCENARIO_FILTER)
        return Path(path) if path else None

    def ask_save_path(self, suggested: Path) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save the scenario as", str(suggested), SCENARIO_FILTER)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix == ".toml" else path.with_name(path.name + ".toml")

    def ask_image_path(self, folder: Path) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Choose the opening picture", str(folder), IMAGE_FILTER)
        return Path(path) if path else None

    def ask_new_scenario(self) -> NewScenario | None:
        dialog = NewScenarioDialog(self.parent)
        return dialog.details() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)
