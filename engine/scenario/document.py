"""The editable form of a scenario file: plain values in, TOML with its comments out.

:class:`ScenarioDocument` holds a tomlkit document, so a hand-edited file keeps its comments,
blank lines and layout through any number of edits (tomlkit rewrites only what changed; a
comment on the line of a changed value stays). Values are read and written by path::

    doc = ScenarioDocument.load("scenarios/operating_room_bleeding.toml")
    doc.get(("world", "prompt"))
    doc.set(("palette", 1, "key"), "B")
    doc.set(("duration",), None)          # None removes an optional key
    doc.insert_item("cues", 0, {"at": 30.0, "event": "alarm_on"})
    doc.validate()                         # [Problem(line, field, message), ...], as `ved` prints them
    doc.save()

A key that is not in the file yet is written where the schema lists it (``key`` after
``event``), so new entries read like the shipped scenarios. Headless: no Qt here.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Item, Null, String, StringType, Table, Trivia, Whitespace

from engine.scenario.loader import Problem, ScenarioError, loads_scenario
from engine.scenario.schema import Cue, PaletteButton, Scenario, ScenarioRole, World

FieldPath = tuple[str | int, ...]
#: The arrays of tables a scenario has, in file order.
ARRAYS: tuple[str, ...] = ("palette", "cues", "roles")
#: Key order of each table, from the schema: where a key missing from the file is written.
KEY_ORDER: dict[str, tuple[str, ...]] = {
    "": tuple(Scenario.model_fields), "world": tuple(World.model_fields),
    "palette": tuple(PaletteButton.model_fields), "cues": tuple(Cue.model_fields),
    "roles": tuple(ScenarioRole.model_fields),
}
#: Multi-line strings are wrapped (with TOML's line-ending backslash) at this width.
WRAP_WIDTH = 90
#: Name a document without a file is validated under (inside its base folder).
UNTITLED_NAME = "untitled.toml"


class ScenarioDocument:
    """A scenario file being edited. ``path`` is None until it is first saved.

    Args:
        text: the TOML text (raises :class:`ScenarioError` for a TOML syntax error, with the
            line, as ``ved`` prints it).
        path: the file it belongs to, if any.
        base_dir: for a document without a file, the folder a relative image is looked up in
            (default: the current folder).
    """

    def __init__(self, text: str = "", path: str | Path | None = None, *, base_dir: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._doc = _parse(text, self.path)

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, path: str | Path) -> ScenarioDocument:
        """The scenario file at ``path``; raises :class:`ScenarioError` if it cannot be read
        or is not TOML (a file that breaks the schema loads: see :meth:`validate`)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScenarioError(path, [Problem(None, None, f"cannot read file: {e}")]) from e
        return cls(text, path)

    @classmethod
    def new(cls, *, title: str, prompt: str, briefing: str = "", image: str | Path | None = None,
            room: str | None = None, seed: int = 0, base_dir: str | Path | None = None) -> ScenarioDocument:
        """A new, unsaved scenario: a title, the world in words, and an image or a room preset.

        An empty ``briefing`` is left out (validation then asks for one). ``image`` is kept as
        given (an absolute path stays absolute until :meth:`bundle_image` copies it).
        """
        header = (f"# {title.splitlines()[0] if title.strip() else 'New scenario'}\n#\n"
                  "# Made with the scenario designer (`ved design`). "
                  "Format reference: engine/scenario/schema.py.\n\n")
        doc = cls(header + "format = 1\n", base_dir=base_dir)
        doc.set(("title",), title)
        if briefing:
            doc.set(("briefing",), briefing)
        doc.set(("world", "prompt"), prompt)
        if image is not None:
            doc.set(("world", "image"), str(image))
        if room is not None:
            doc.set(("world", "room"), room)
            doc.set(("world", "seed"), seed)
        return doc

    def save(self, path: str | Path | None = None) -> Path:
        """Write the text to ``path`` (default: :attr:`path`) atomically (a temporary file in
        the same folder, then ``os.replace``); the document then belongs to that file."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this scenario has no file yet: give a path")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(self.text())
                f.flush()
                os.fsync(f.fileno())
            if target.exists():
                shutil.copymode(target, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        self.path = target
        return target

    def forget_path(self) -> None:
        """Detach the document from its file (deleted, say); it keeps its folder, so a
        relative image is still found, and is saved again with :meth:`save` and a path."""
        self._base_dir, self.path = self.base_dir, None

    @property
    def base_dir(self) -> Path:
        """The folder a relative image path is resolved against."""
        if self.path is not None:
            return self.path.parent
        return self._base_dir if self._base_dir is not None else Path.cwd()

    def source_path(self) -> Path:
        """The file name validation and previews use (a name in :attr:`base_dir` if unsaved)."""
        return self.path if self.path is not None else self.base_dir / UNTITLED_NAME

    # ------------------------------------------------------------------ text
    def text(self) -> str:
        """The document as TOML."""
        return self._doc.as_string()

    def set_text(self, text: str) -> None:
        """Replace the whole document (undo, redo, recovery); raises :class:`ScenarioError`
        for a TOML syntax error and leaves the document as it was."""
        self._doc = _parse(text, self.source_path())

    def validate(self) -> list[Problem]:
        """Every problem of the scenario, as ``ved`` reports them (none: an empty list)."""
        try:
            self.scenario()
        except ScenarioError as e:
            return e.problems
        return []

    def scenario(self) -> Scenario:
        """The validated scenario (its image resolved against :attr:`base_dir`); raises
        :class:`ScenarioError`."""
        return loads_scenario(self.text(), self.source_path())

    # ------------------------------------------------------------------ values
    def get(self, path: FieldPath, default: Any = None) -> Any:
        """The plain value at ``path`` (``("world", "seed")``, ``("cues", 0, "at")``), or
        ``default`` where there is none."""
        node: Any = self._doc
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node.unwrap() if hasattr(node, "unwrap") else node

    def set(self, path: FieldPath, value: Any) -> None:
        """Set the value at ``path``; None removes the key. Missing tables on the way
        (``world``) are created; array entries must exist (see :meth:`insert_item`)."""
        *parents, key = path
        if not isinstance(key, str):
            raise TypeError(f"a value is set on a key, not on an array entry: {path!r}")
        if value is None:
            table = self._node(tuple(parents), create=False)
            if table is not None and key in table:
                del table[key]
            return
        table = self._node(tuple(parents), create=True)
        if key in table:
            table[key] = _item(value)  # tomlkit keeps the line's comment
        else:
            _insert_key(table, key, _item(value), KEY_ORDER.get(_table_name(parents), ()))

    def count(self, array: str) -> int:
        """How many entries ``array`` (``"palette"``, ``"cues"``, ``"roles"``) has."""
        return len(self._doc[array]) if array in self._doc else 0

    def items(self, array: str) -> list[dict]:
        """The entries of ``array`` as plain dicts."""
        return list(self.get((array,), []))

    def insert_item(self, array: str, index: int, data: dict) -> None:
        """Insert an entry (a dict of plain values; None values are left out) at ``index``."""
        table = tomlkit.table()
        for key in _ordered(data, KEY_ORDER[array]):
            if data[key] is not None:
                table.append(key, _item(data[key]))
        aot = self._array(array)
        if aot is None:
            self._add_array(array, table)
            return
        index = max(0, min(index, len(aot)))
        layout = _Layout.detach(aot)
        layout.indents.insert(max(index, 1), "")  # a new first entry takes the old first's place
        layout.middles.insert(min(index, len(layout.middles)), [tomlkit.ws("\n")])
        aot.insert(index, table)
        layout.attach(aot)

    def remove_item(self, array: str, index: int) -> dict:
        """Remove entry ``index`` of ``array``; returns its values. The comments that close the
        array (introducing the next section) stay where they were."""
        aot = self._array(array)
        data = aot[index].unwrap()
        layout = _Layout.detach(aot)
        aot.pop(index)
        if not len(aot):
            self._remove_array(array, layout.last)
            return data
        del layout.indents[max(index, 1)]
        del layout.middles[min(index, len(layout.middles) - 1)]
        layout.attach(aot)
        return data

    def move_item(self, array: str, source: int, dest: int) -> None:
        """Move entry ``source`` of ``array`` to position ``dest`` (comments between entries
        stay in place)."""
        if source == dest:
            return
        aot = self._array(array)
        layout = _Layout.detach(aot)
        aot.insert(dest, aot.pop(source))
        layout.attach(aot)

    # ------------------------------------------------------------------ images
    def image_file(self) -> Path | None:
        """The opening image's file (resolved against :attr:`base_dir`), or None."""
        image = self.get(("world", "image"))
        if not isinstance(image, str) or not image.strip():
            return None
        path = Path(image).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def bundle_image(self, folder: str | Path) -> str | None:
        """Make the opening image portable for a scenario file in ``folder``: an image outside
        ``folder`` is copied into ``folder/images/`` (a same-named different file gets a new
        name), and ``world.image`` becomes the path relative to ``folder``. Returns the new
        value, or None when nothing changed (no image, a missing file, already relative)."""
        source = self.image_file()
        if source is None or not source.is_file():
            return None
        folder = Path(folder).resolve()
        source = source.resolve()
        if not source.is_relative_to(folder):
            source = _copy_into(source, folder / "images")
        relative = source.relative_to(folder).as_posix()
        if relative == self.get(("world", "image")):
            return None
        self.set(("world", "image"), relative)
        return relative

    # ------------------------------------------------------------------ internals
    def _node(self, path: FieldPath, *, create: bool) -> Container | Table | None:
        node: Any = self._doc
        for depth, part in enumerate(path):
            if isinstance(part, str) and part not in node:
                if not create:
                    return None
                _insert_key(node, part, tomlkit.table(), KEY_ORDER.get(_table_name(path[:depth]), ()))
            node = node[part]
        return node

    def _array(self, array: str) -> AoT | None:
        """``array`` as an array of tables (``[[cues]]``), or None if the file has none. An
        inline array (``cues = [{at = 1.0, event = "alarm_on"}]``, ``cues = []``) is rewritten
        as one, values kept."""
        if array not in self._doc:
            return None
        node = self._doc[array]
        if isinstance(node, AoT):
            return node
        entries = node.unwrap()
        del self._doc[array]
        for index, entry in enumerate(entries):
            self.insert_item(array, index, entry)
        return self._doc[array] if array in self._doc else None

    def _add_array(self, array: str, table: Table) -> None:
        aot = tomlkit.aot()
        aot.append(table)
        followers = [k for k in KEY_ORDER[""][KEY_ORDER[""].index(array) + 1:] if k in self._doc]
        if followers:  # keep the file's section order: palette, cues, roles
            table.append(None, tomlkit.ws("\n"))
        else:
            previous = self._last_table()
            if previous is not None and not _ends_with_blank_line(previous):
                previous.append(None, tomlkit.ws("\n"))
        _insert_key(self._doc, array, aot, KEY_ORDER[""])

    def _remove_array(self, array: str, closing: list[Item]) -> None:
        position = list(self._doc).index(array)
        del self._doc[array]
        previous = self._last_table(before=position)
        if previous is not None and any(isinstance(i, Comment) for i in closing):
            for item in closing:  # a comment introducing the next section is the user's text
                previous.append(None, item)

    def _last_table(self, before: int | None = None) -> Table | None:
        """The last table (or last entry of an array) among the first ``before`` top-level keys."""
        keys = list(self._doc)[:before]
        for key in reversed(keys):
            node = self._doc[key]
            if isinstance(node, Table):
                return node
            if isinstance(node, AoT) and len(node):
                return node[-1]
        return None


def _parse(text: str, path: Path | None) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError:
        loads_scenario(text, path or "<string>")  # raises the ScenarioError `ved` prints
        raise


def _table_name(parents) -> str:
    """The :data:`KEY_ORDER` entry of the table at ``parents`` (``("palette", 2)`` → palette)."""
    names = [p for p in parents if isinstance(p, str)]
    return names[-1] if names else ""


def _ordered(data: dict, order: tuple[str, ...]) -> list[str]:
    return sorted(data, key=lambda k: order.index(k) if k in order else len(order))


def _insert_key(table: Container | Table, key: str, item: Item, order: tuple[str, ...]) -> None:
    """Insert ``key`` where ``order`` puts it among the keys present: after the last key
    that precedes it, else before the first that follows it, else at the end."""
    present = list(table)
    rank = order.index(key) if key in order else len(order)
    before = [k for k in present if k in order and order.index(k) < rank
              and not isinstance(table[k], (Table, AoT))]  # a plain key goes before any table
    after = [k for k in present if k not in order or order.index(k) > rank]
    container = table.value if isinstance(table, Table) else table
    # tomlkit has no public positional insert; ``_insert_at`` keeps its key map consistent
    # (``_insert_after`` is gone since tomlkit 0.15.3, so it is not used).
    def index(k: str, last: bool) -> int:
        where = container._map[tomlkit.key(k)]
        return where if isinstance(where, int) else (max(where) if last else min(where))

    if before and not isinstance(item, (Table, AoT)) and index(before[-1], True) + 1 < len(container.body):
        container._insert_at(index(before[-1], True) + 1, key, item)
    elif before and not isinstance(item, (Table, AoT)):
        table.append(key, item)  # after the last entry: the end
        return
    elif after:
        container._insert_at(min(index(k, False) for k in after), key, item)
    else:
        table.append(key, item)
        return
    if isinstance(table, Table):
        dict.__setitem__(table, key, container[key])


def _pop_trailer(table: Table) -> list[Item]:
    """Remove and return the key-less items (blank lines, comments) after ``table``'s last key."""
    body = table.value.body
    trailer: list[Item] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], (Whitespace, Comment, Null)):
        item = body.pop()[1]
        if not isinstance(item, Null):
            trailer.insert(0, item)
    return trailer


@dataclass
class _Layout:
    """What sits around the entries of an array of tables, by position: the indent before
    each header, the blank lines and comments after each entry's last key (``middles``,
    separators) and after the last entry (``last``: whatever closes the array, often a comment
    introducing the next section). Entries move; their surroundings stay in place."""

    indents: list[str]
    middles: list[list[Item]]
    last: list[Item]

    @classmethod
    def detach(cls, aot: AoT) -> _Layout:
        trailers = [_pop_trailer(t) for t in aot]
        return cls([t.trivia.indent for t in aot], trailers[:-1], trailers[-1] if trailers else [])

    def attach(self, aot: AoT) -> None:
        for table, indent, trailer in zip(aot, self.indents, [*self.middles, self.last]):
            table.trivia.indent = indent
            for item in trailer:
                table.append(None, item)


def _ends_with_blank_line(table: Table) -> bool:
    body = table.value.body
    return bool(body) and isinstance(body[-1][1], Whitespace) and "\n" in body[-1][1].as_string()


def _item(value: Any) -> Item:
    if isinstance(value, str):
        return _string(value)
    return tomlkit.item(value)


def _string(value: str) -> String:
    """A TOML string of ``value``: multi-line (opening on its own line, long lines wrapped
    with a line-ending backslash, like the shipped scenarios) when it has a line break."""
    if "\n" not in value:
        return tomlkit.string(value)
    # tomlkit escapes a lone CR; the CR of a CRLF must be escaped too, or it reads back as LF
    raw = tomlkit.string(value, multiline=True).as_string()[3:-3].replace("\r", "\\r")
    if not raw.startswith("\n"):
        raw = "\n" + raw
    wrapped = "\n".join(_wrap(line) for line in raw.split("\n"))
    return String(StringType.MLB, value, wrapped, Trivia())


def _wrap(line: str, width: int = WRAP_WIDTH) -> str:
    """Break ``line`` (raw multi-line string text) at spaces, ending each piece with a
    backslash that TOML removes together with the line break: the value is unchanged."""
    pieces = []
    while len(line) > width:
        cut = next((i for i in range(width, 0, -1) if line[i - 1] == " " and not line[i].isspace()), None)
        if cut is None:
            cut = next((i for i in range(width + 1, len(line)) if line[i - 1] == " " and not line[i].isspace()), None)
            if cut is None:
                break
        pieces.append(line[:cut] + "\\")
        line = line[cut:]
    pieces.append(line)
    return "\n".join(pieces)


def _copy_into(source: Path, folder: Path) -> Path:
    """``source`` copied into ``folder`` (an identical file already there is reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / source.name, 1
    while target.exists():
        if target.read_bytes() == source.read_bytes():
            return target
        n += 1
        target = folder / f"{source.stem}-{n}{source.suffix}"
    shutil.copy2(source, target)
    return target
