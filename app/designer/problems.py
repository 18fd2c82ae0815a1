"""The list of the scenario's problems, under the form; clicking one goes to its field."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.scenario.loader import Problem

_FIELD_ROLE = Qt.ItemDataRole.UserRole


def problem_text(problem: Problem) -> str:
    """``field: message``, as ``ved`` prints it after the file name and line."""
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


class ProblemsPanel(QWidget):
    """Every problem as ``field: message``; clicking one calls ``on_pick(field)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.on_pick: Callable[[str | None], None] = lambda field: None
        self.summary = QLabel(self)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(self._picked)
        self.list.itemActivated.connect(self._picked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list)
        self.show_problems([])

    def show_problems(self, problems: list[Problem]) -> None:
        self.list.clear()
        for problem in problems:
            item = QListWidgetItem(problem_text(problem))
            item.setData(_FIELD_ROLE, problem.field)
            if problem.line is not None:
                item.setToolTip(f"Line {problem.line} of the file. Click to go to the field.")
            self.list.addItem(item)
        self.list.setVisible(bool(problems))
        self.summary.setText("No problems: the scenario is ready to preview." if not problems else
                             f"{len(problems)} problem{'s' if len(problems) > 1 else ''} to fix before a preview "
                             "(you can still save a draft). Click one to go to its field.")

    def texts(self) -> list[str]:
        """The problems shown, in order."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _picked(self, item: QListWidgetItem) -> None:
        self.on_pick(item.data(_FIELD_ROLE))
