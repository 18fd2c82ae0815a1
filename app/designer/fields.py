"""The small editing widgets of the designer's form.

Every field widget shows a plain value with ``show_value(value)`` (which leaves the widget
alone when it already shows that value, so a refresh never moves the caret of the field
being typed in), reads it back with ``value()``, and calls back on a user change through
``on_change(callback)``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPlainTextEdit, QSlider, QSpinBox, QWidget

_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$")


def format_time(seconds: float) -> str:
    """``90.0`` → ``"1:30"``, ``12.5`` → ``"0:12.5"`` (minutes:seconds)."""
    minutes, rest = divmod(float(seconds), 60.0)
    text = f"{rest:06.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}:{text if rest >= 10 else text.zfill(2)}"


def parse_time(text: str) -> float | None:
    """Seconds from ``"90"``, ``"90 s"``, ``"1:30"``, ``"1:02:03"`` or ``"-5"``; None if it is
    not a time."""
    text = text.strip()
    if re.fullmatch(r"-\d+(?:\.\d*)?", text):
        return float(text)  # negative: kept, so that validation can say what is allowed
    match = _TIME.match(text)
    if match is None:
        return None
    first, second, seconds = match.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


class _UndoKeysToWindow(QObject):
    """Lets Ctrl+Z / Ctrl+Shift+Z reach the window's Undo/Redo instead of a text field's
    own undo, so that there is one history for the whole scenario."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.ShortcutOverride and (
                event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo)):
            event.ignore()
            return True
        return False


_UNDO_FILTER: _UndoKeysToWindow | None = None


def route_undo_keys(widget: QWidget) -> None:
    """Send ``widget``'s Undo/Redo keys to the window's undo history."""
    global _UNDO_FILTER
    if _UNDO_FILTER is None:
        _UNDO_FILTER = _UndoKeysToWindow()
    widget.installEventFilter(_UNDO_FILTER)


def set_help(widget: QWidget, text: str) -> None:
    """The widget's tooltip, remembered so that a problem's tooltip can be taken away again."""
    widget.setToolTip(text)
    widget.setProperty("help_text", text)


class TextLine(QLineEdit):
    """One line of text. ``optional``: an empty field means "leave it out" (None)."""

    def __init__(self, *, optional: bool = False, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.optional = optional
        self.setPlaceholderText(placeholder)
        route_undo_keys(self)

    def value(self) -> str | None:
        text = self.text()
        return None if self.optional and not text.strip() else text

    def show_value(self, value: Any) -> None:
        if self.value() != value:
            self.setText("" if value is None else str(value))
            self.setCursorPosition(0)  # show the start of a long note

    def on_change(self, callback: Callable[[], None]) -> None:
        self.textChanged.connect(lambda _text: callback())


class TextBox(QPlainTextEdit):
    """Several lines of text (a briefing, the world's description)."""

    def __init__(self, *, placeholder: str = "", lines: int = 4, parent: QWidget | None = None):
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setUndoRedoEnabled(False)  # the window's history undoes it
        self.setTabChangesFocus(True)
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * lines + 12)
        self.setMaximumHeight(self.fontMetrics().lineSpacing() * lines * 2 + 12)
        route_undo_keys(self)

    def value(self) -> str:
        return self.toPlainText()

    def show_value(self, value: Any) -> None:
        if self.value() != (value or ""):
            self.setPlainText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.textChanged.connect(callback)


class TimeEdit(QLineEdit):
    """A time in seconds, typed as ``90`` or ``1:30``. Text that is not a time is kept as
    typed (validation then says what is wrong). ``optional``: empty means None."""

    def __init__(self, *, optional: bool = False, placeholder: str = "m:ss", parent: QWidget | None = None):
        super().__init__(parent)
        self.optional = optional
        self.setPlaceholderText(placeholder)
        route_undo_keys(self)

    def value(self) -> float | str | None:
        text = self.text().strip()
        if not text:
            return None if self.optional else ""
        seconds = parse_time(text)
        return text if seconds is None else seconds

    def show_value(self, value: Any) -> None:
        if self.value() == value:
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.setText(format_time(value))
        else:
            self.setText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.textChanged.connect(lambda _text: callback())


class ChoiceCombo(QComboBox):
    """A choice among ``(value, text, help)`` entries; ``none_text`` adds a first entry
    meaning None. A value that is not among the choices (a hand-edited file) is shown as
    such, so validation can mark it."""

    def __init__(self, choices: Iterable[tuple[str, str, str]], *, none_text: str | None = None,
                 normalise: Callable[[str], str] = lambda v: v, parent: QWidget | None = None):
        super().__init__(parent)
        self._normalise = normalise
        if none_text is not None:
            self.addItem(none_text, None)
        for value, text, help_text in choices:
            self.addItem(text, value)
            self.setItemData(self.count() - 1, help_text, Qt.ItemDataRole.ToolTipRole)
        self._choices = self.count()
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)

    def value(self) -> str | None:
        return self.currentData()

    def show_value(self, value: Any) -> None:
        if self.value() == value:
            return
        index = next((i for i in range(self._choices) if self._matches(self.itemData(i), value)), None)
        while self.count() > self._choices:  # a value shown earlier that is not allowed
            self.removeItem(self.count() - 1)
        if index is None:
            self.addItem(f"{value} (not allowed)", value)
            index = self.count() - 1
        self.setCurrentIndex(index)

    def _matches(self, data: Any, value: Any) -> bool:
        return data == value or (isinstance(value, str) and data is not None and self._normalise(value) == data)

    def on_change(self, callback: Callable[[], None]) -> None:
        self.currentIndexChanged.connect(lambda _index: callback())


class Count(QSpinBox):
    """A whole number from 0 (the room layout's number)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(0, 2**31 - 1)
        route_undo_keys(self)

    def show_value(self, value: Any) -> None:
        value = value if isinstance(value, int) and not isinstance(value, bool) else 0
        if self.value() != value:
            self.setValue(value)

    def on_change(self, callback: Callable[[], None]) -> None:
        self.valueChanged.connect(lambda _value: callback())


class LightsEdit(QWidget):
    """The light level, 0–100 %, as a slider and a number (stored as 0.0–1.0)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 100)
        self.spin = QSpinBox(self)
        self.spin.setRange(0, 100)
        self.spin.setSuffix(" %")
        route_undo_keys(self.spin)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)

    def value(self) -> float:
        return round(self.spin.value() / 100, 2)

    def show_value(self, value: Any) -> None:
        percent = round(100 * value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 100
        if self.spin.value() != percent:
            self.spin.setValue(max(0, min(100, percent)))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.spin.valueChanged.connect(lambda _value: callback())
