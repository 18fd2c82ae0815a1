"""The library: the scenarios in the library folders, by title, each with its file name under it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QFileSystemWatcher, Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QAbstractItemView, QToolBar, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .scenario_files import scenario_files, scenario_title

_PATH_ROLE = Qt.ItemDataRole.UserRole
_TITLE_ROLE = Qt.ItemDataRole.UserRole + 1


class LibraryPanel(QWidget):
    """Scenario files of ``folders`` (``(name, folder)`` pairs), one branch per folder.

    Activating a scenario (double-click, Enter) calls ``on_open(path)``. ``actions`` (New,
    Open…, Duplicate, Delete…) are shown above the list. The list follows changes on disk.
    """

    def __init__(self, folders: list[tuple[str, Path]], actions: list[QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self.folders = [(name, Path(folder)) for name, folder in folders]
        self.on_open: Callable[[Path], None] = lambda path: None
        self.toolbar = QToolBar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in actions:
            self.toolbar.addAction(action)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setWordWrap(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setToolTip("Double-click a scenario to open it")
        self.tree.itemActivated.connect(self._activated)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _folder: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.tree)
        self.refresh()

    def refresh(self) -> None:
        """List the folders' scenarios again (keeping the selection)."""
        selected = self.selected_path()
        self.tree.clear()
        bold = QFont(self.font())
        bold.setBold(True)
        for name, folder in self.folders:
            branch = QTreeWidgetItem([name])
            branch.setFont(0, bold)
            branch.setToolTip(0, str(folder))
            branch.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(branch)
            for path in scenario_files(folder):
                title = scenario_title(path) or f"{path.stem} (cannot be read)"
                item = QTreeWidgetItem([f"{title}\n{path.name}"])
                item.setData(0, _TITLE_ROLE, title)
                item.setData(0, _PATH_ROLE, str(path))
                item.setToolTip(0, str(path))
                branch.addChild(item)
            branch.setExpanded(True)
            if folder.is_dir() and str(folder) not in self.watcher.directories():
                self.watcher.addPath(str(folder))
        self.select_path(selected)

    def paths(self) -> list[Path]:
        """Every scenario listed, in order."""
        return [Path(item.data(0, _PATH_ROLE)) for item in self._items()]

    def titles(self) -> list[str]:
        """The listed titles, in order."""
        return [item.data(0, _TITLE_ROLE) for item in self._items()]

    def selected_path(self) -> Path | None:
        item = self.tree.currentItem()
        value = item.data(0, _PATH_ROLE) if item is not None else None
        return Path(value) if value else None

    def select_path(self, path: Path | None) -> None:
        """Select the entry of ``path`` (if listed)."""
        for item in self._items():
            if path is not None and Path(item.data(0, _PATH_ROLE)) == Path(path):
                self.tree.setCurrentItem(item)
                return

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                for j in range(self.tree.topLevelItem(i).childCount())]

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        if value := item.data(0, _PATH_ROLE):
            self.on_open(Path(value))
