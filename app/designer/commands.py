"""Undo and redo for the designer: every change to the scenario is one :class:`EditCommand`.

A command keeps the document's text before and after the change (scenario files are a few
kilobytes), so undo restores exactly what was there, comments and layout included.
Successive keystrokes in one field merge into one command while they come less than
:data:`MERGE_WINDOW_S` apart.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.scenario.document import ScenarioDocument

#: Edits of the same field closer together than this (seconds) undo as one.
MERGE_WINDOW_S = 2.0
_merge_ids: dict[str, int] = {}


def _merge_id(key: str | None) -> int:
    """A stable command id per merge key (-1: never merge)."""
    if key is None:
        return -1
    return _merge_ids.setdefault(key, len(_merge_ids) + 1)


class EditCommand(QUndoCommand):
    """One change, already applied when pushed: the first ``redo`` (QUndoStack.push calls
    it) does nothing; later ones restore ``after``, ``undo`` restores ``before``."""

    def __init__(self, label: str, edits: Edits, before: str, after: str, merge_key: str | None):
        super().__init__(label)
        self.edits, self.before, self.after, self.merge_key = edits, before, after, merge_key
        self._applied = True
        self._last = time.monotonic()

    def id(self) -> int:  # noqa: A003 (Qt API)
        return _merge_id(self.merge_key)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt API)
        if not isinstance(other, EditCommand) or other.merge_key != self.merge_key:
            return False
        if other._last - self._last > MERGE_WINDOW_S:
            return False
        self.after, self._last = other.after, other._last
        self.setObsolete(self.after == self.before)
        return True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.edits.restore(self.after)

    def undo(self) -> None:
        self.edits.restore(self.before)


class Edits:
    """Applies changes to the current document through ``stack``.

    ``document`` returns the document being edited; ``changed(restored)`` is called after
    every change, with ``restored`` True when undo or redo replaced the document's text.
    """

    def __init__(self, stack: QUndoStack, document: Callable[[], ScenarioDocument], *,
                 changed: Callable[[bool], None]):
        self.stack, self.document, self.changed = stack, document, changed

    def apply(self, label: str, change: Callable[[ScenarioDocument], object], merge_key: str | None = None) -> bool:
        """Run ``change(document)`` as one undoable step named ``label``; False if it
        changed nothing (no step is recorded then)."""
        doc = self.document()
        before = doc.text()
        change(doc)
        after = doc.text()
        if after == before:
            return False
        self.stack.push(EditCommand(label, self, before, after, merge_key))
        self.changed(False)
        return True

    def restore(self, text: str) -> None:
        self.document().set_text(text)
        self.changed(True)
