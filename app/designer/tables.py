"""An editable list of entries (game-master buttons, timed cues, roles) as a table of fields.

:class:`RowTable` shows one row per entry, one field widget per column (see
:mod:`app.designer.fields`), with Add, Remove and (unless the view is sorted) Move up /
Move down. It does not change the scenario itself: it calls ``on_edit``, ``on_add``,
``on_remove`` and ``on_move`` with entry indices (positions in the file), and shows what
:meth:`set_items` gives it. A sorted view (cues by time) keeps its row order while a time is
being typed and sorts again when the time field is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from .fields import set_help


@dataclass(frozen=True)
class Column:
    """One column: the entry's key, its header and help, and how to make its field widget."""

    key: str
    header: str
    help: str
    make: Callable[[], QWidget]
    stretch: bool = False


class RowTable(QWidget):
    """Entries of one array of the scenario (``name``: ``"palette"``, ``"cues"``, ``"roles"``).

    ``sort_key``: show the entries sorted by it (rows cannot be moved then); the first
    column's field sorts again when it loses focus.
    """

    def __init__(self, name: str, columns: list[Column], *, add_text: str, sort_key: Callable[[dict], Any] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.name, self.columns, self.sort_key = name, columns, sort_key
        self.on_edit: Callable[[int, str, Any], None] = lambda index, key, value: None
        self.on_add: Callable[[int], None] = lambda index: None
        self.on_remove: Callable[[int], None] = lambda index: None
        self.on_move: Callable[[int, int], None] = lambda source, dest: None
        #: Entry index (position in the file) of each row.
        self.order: list[int] = []
        self._items: list[dict] = []
        self._syncing = False
        self._focus_rows = _FocusTracker(self)

        self.table = QTableWidget(0, len(columns), self)
        for c, column in enumerate(columns):
            header = QTableWidgetItem(column.header)
            header.setToolTip(column.help)
            self.table.setHorizontalHeaderItem(c, header)
            mode = QHeaderView.ResizeMode.Stretch if column.stretch else QHeaderView.ResizeMode.ResizeToContents
            self.table.horizontalHeader().setSectionResizeMode(c, mode)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 18)
        self.table.currentCellChanged.connect(lambda *_: self._update_buttons())

        self.add_button = QPushButton(add_text, self)
        self.remove_button = QPushButton("Remove", self)
        self.up_button = QPushButton("Move up", self)
        self.down_button = QPushButton("Move down", self)
        set_help(self.remove_button, "Remove the selected row")
        set_help(self.up_button, "Move the selected row up (the order it has on the console)")
        set_help(self.down_button, "Move the selected row down")
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(+1))
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.up_button.setVisible(sort_key is None)
        self.down_button.setVisible(sort_key is None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._fit_height()
        self._update_buttons()

    # ------------------------------------------------------------ showing entries
    def set_items(self, items: list[dict], *, resort: bool = False) -> None:
        """Show ``items`` (the entries in file order). Rows are rebuilt only when their
        number changes; a sorted view sorts again when ``resort``."""
        self._items = items
        if len(items) != self.table.rowCount():
            self.order = self._sorted_order()
            self._rebuild()
        elif resort:
            self.order = self._sorted_order()
        self._show_values()

    def resort(self) -> None:
        """Sort a sorted view again (after a time was changed)."""
        current = self.current_index()
        order = self._sorted_order()
        if order != self.order:
            self.order = order
            self._show_values()
            if current is not None:
                self.table.setCurrentCell(self.order.index(current), 0)

    def cell(self, row: int, key: str) -> QWidget:
        """The field widget of view row ``row`` and column ``key``."""
        return self.table.cellWidget(row, [c.key for c in self.columns].index(key))

    def cell_for(self, index: int, key: str | None = None) -> QWidget | None:
        """The field widget of entry ``index`` (its first column without ``key``)."""
        if index not in self.order:
            return None
        if key is not None and key not in [c.key for c in self.columns]:
            key = None
        return self.cell(self.order.index(index), key or self.columns[0].key)

    def current_index(self) -> int | None:
        """The entry index of the selected row, or None."""
        row = self.table.currentRow()
        return self.order[row] if 0 <= row < len(self.order) else None

    def select(self, index: int, *, focus: bool = False) -> None:
        """Select entry ``index``'s row (and put the cursor in its first field)."""
        if index in self.order:
            row = self.order.index(index)
            self.table.setCurrentCell(row, 0)
            if focus:
                self.cell(row, self.columns[0].key).setFocus()

    # ------------------------------------------------------------ internals
    def _sorted_order(self) -> list[int]:
        indices = list(range(len(self._items)))
        return sorted(indices, key=lambda i: self.sort_key(self._items[i])) if self.sort_key else indices

    def _rebuild(self) -> None:
        self._syncing = True
        try:
            self.table.setRowCount(len(self._items))
            for row in range(len(self._items)):
                for c, column in enumerate(self.columns):
                    widget = column.make()
                    widget.on_change(lambda row=row, key=column.key: self._changed(row, key))
                    widget.installEventFilter(self._focus_rows)
                    if self.sort_key is not None and c == 0:
                        widget.editingFinished.connect(self.resort)
                    set_help(widget, column.help)
                    self.table.setCellWidget(row, c, widget)
        finally:
            self._syncing = False
        self._fit_height()
        self._update_buttons()

    def _fit_height(self) -> None:
        """As tall as the rows plus one empty row (the form scrolls, not the table)."""
        rows = self.table.rowCount() + 1
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + frame
                                  + rows * self.table.verticalHeader().defaultSectionSize())

    def _show_values(self) -> None:
        self._syncing = True
        try:
            for row, index in enumerate(self.order):
                for column in self.columns:
                    self.cell(row, column.key).show_value(self._items[index].get(column.key))
        finally:
            self._syncing = False

    def _changed(self, row: int, key: str) -> None:
        if not self._syncing and row < len(self.order):
            self.on_edit(self.order[row], key, self.cell(row, key).value())

    def _add(self) -> None:
        current = self.current_index()
        self.on_add(len(self._items) if current is None or self.sort_key else current + 1)

    def _remove(self) -> None:
        if (current := self.current_index()) is not None:
            self.on_remove(current)

    def _move(self, step: int) -> None:
        current = self.current_index()
        if current is not None and 0 <= current + step < len(self._items):
            self.on_move(current, current + step)

    def _update_buttons(self) -> None:
        row = self.table.currentRow()
        selected = 0 <= row < self.table.rowCount()
        self.remove_button.setEnabled(selected)
        self.up_button.setEnabled(selected and row > 0)
        self.down_button.setEnabled(selected and row < self.table.rowCount() - 1)


class _FocusTracker(QObject):
    """Selects the row of the field that gets the keyboard focus."""

    def __init__(self, owner: RowTable):
        super().__init__(owner)
        self.owner = owner

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FocusIn:
            table = self.owner.table
            index = table.indexAt(watched.pos())
            if index.isValid() and index.row() != table.currentRow():
                table.setCurrentCell(index.row(), index.column())
        return False
