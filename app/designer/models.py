"""*Preview → World model…*: the installed world models, installing another one (a folder
from ``ved train``, checked against its card's checksums, its card shown before it is
copied) and choosing the one previews play on. The choice is kept in the designer's
settings (key ``model``); the files live in the user's data folder (``models/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from engine.model.paths import DEFAULT_MODEL_DIR

SETTINGS_KEY = "model"
# engine.model.install (and with it torch) is imported when the dialog opens, not with the
# designer: the app starts without torch.


class ModelsDialog(QDialog):
    """Lists :func:`installed_models` under ``models_root``; :attr:`chosen` is the folder
    picked (None: the shipped default). ``ask_folder()`` returns a folder to install from,
    or None (a file dialog by default; tests replace it)."""

    def __init__(self, models_root: Path, current: Path | None, *, ask_folder: Callable[[], str | None] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("World model")
        self.models_root = Path(models_root)
        self.ask_folder = ask_folder or self._ask_folder
        self.chosen: Path | None = current
        self.list = QListWidget(self)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setMinimumWidth(520)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        install = QPushButton("Install a model folder…", self)
        install.clicked.connect(self.install)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use for previews")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.currentItemChanged.connect(lambda item, _old: self._show(item))
        row = QHBoxLayout()
        row.addWidget(install)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Installed world models:"))
        layout.addWidget(self.list)
        layout.addWidget(self.details)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.refresh(current)

    def refresh(self, select: Path | None = None) -> None:
        from engine.model.install import installed_models

        self.list.clear()
        for info in installed_models(self.models_root):
            item = QListWidgetItem(f"{info.name}  ({info.path})")
            item.setData(256, info)
            self.list.addItem(item)
            if select is not None and Path(select).resolve() == info.path.resolve() or \
                    select is None and info.path == DEFAULT_MODEL_DIR:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)

    def _show(self, item: QListWidgetItem | None) -> None:
        from engine.model.install import card_summary

        info = item.data(256) if item is not None else None
        self.details.setText("<br>".join(card_summary(info.card)) if info else "")

    def _ask_folder(self) -> str | None:
        from PySide6.QtWidgets import QFileDialog

        return QFileDialog.getExistingDirectory(self, "A model folder (with model_card.json)") or None

    def install(self):
        """Ask for a folder, check it, and install it (returns its
        :class:`~engine.model.install.ModelInfo`, None when not installed); the outcome is
        shown, never raised."""
        from engine.model.install import card_summary, inspect_model, install_model
        from engine.model.io import ModelError

        folder = self.ask_folder()
        if not folder:
            return None
        try:
            info = inspect_model(folder)
            self.details.setText("<br>".join(card_summary(info.card)))
            installed = install_model(folder, self.models_root)
        except ModelError as exc:
            self.message.setText(f"<span style='color:#c00'>Not installed: {exc}</span>")
            return None
        self.message.setText(f"Installed {installed.name} (checksums verified) in {installed.path}.")
        self.refresh(installed.path)
        return installed

    def accept(self) -> None:
        item = self.list.currentItem()
        info = item.data(256) if item is not None else None
        self.chosen = None if info is None or info.path == DEFAULT_MODEL_DIR else info.path
        super().accept()
