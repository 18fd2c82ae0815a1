"""Read and write scenario files, with errors that name the file, the line and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple, get_args

import tomlkit
from pydantic import ValidationError
from pydantic_core.core_schema import ErrorType
from tomlkit.exceptions import TOMLKitError

from engine.scenario.schema import Cue, PaletteButton, Scenario, ScenarioRole, World

Loc = tuple[str | int, ...]

#: The model behind each table, to list the allowed keys of an unknown key's table.
_TABLES = {(): Scenario, ("world",): World, ("palette",): PaletteButton, ("cues",): Cue,
           ("roles",): ScenarioRole}
_BUILTIN_ERRORS = frozenset(get_args(ErrorType))
_MESSAGES = {
    "missing": "required key is missing",
    "model_type": "must be a table",
    "list_type": "must be an array of tables",
}


class Problem(NamedTuple):
    """One thing wrong with a scenario file."""

    line: int | None  # 1-based
    field: str | None  # dotted, e.g. "palette[1].event"
    message: str


class ScenarioError(ValueError):
    """A scenario file that cannot be read, parsed or validated.

    ``problems`` lists every problem found; ``line``, ``field`` and ``message`` are those of
    the first. ``str(err)`` prints one ``path:line: field: message`` line per problem.
    """

    def __init__(self, path: str | Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = [Problem(*p) for p in problems]
        self.line, self.field, self.message = self.problems[0]
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(
            ":".join([self.path] + ([str(line)] if line is not None else []))
            + "".join(f": {part}" for part in (field, message) if part)
            for line, field, message in self.problems
        )


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate the scenario file at ``path``.

    Raises :class:`ScenarioError` if the file cannot be read (no line), is not valid TOML
    (line of the syntax error) or does not match the schema (one problem per invalid,
    missing or unknown key, with its line where it can be found).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, [Problem(None, None, f"cannot read file: {e}")]) from e
    return loads_scenario(text, path)


def loads_scenario(text: str, path: str | Path = "<string>", *, check_files: bool = True) -> Scenario:
    """Parse and validate scenario TOML ``text``; ``path`` names it in errors.

    A real ``path`` also sets ``source_path``, which the image is resolved against (the
    current folder for ``"<string>"``); ``check_files=False`` does not look for the image
    (a scenario received over the network, whose files stay on the server). Raises
    :class:`ScenarioError` as :func:`load_scenario`.
    """
    try:
        data = tomlkit.parse(text).unwrap()
    except TOMLKitError as e:
        line, col = getattr(e, "line", None), getattr(e, "col", None)
        message = str(e).rsplit(" at line ", 1)[0].replace("character: '\\x00'", "end of file")
        where = f" (column {col + 1})" if col is not None else ""  # tomlkit counts from 0
        raise ScenarioError(path, [Problem(line, None, f"TOML syntax error: {message}{where}")]) from e
    source = None if str(path) == "<string>" else Path(path)
    base_dir = source.parent if source is not None else Path()
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir} if check_files else {})
    except ValidationError as e:
        raise ScenarioError(path, _problems(e, text)) from e
    scenario.source_path = source
    return scenario


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as TOML text (``loads_scenario(dump_scenario(s)) == s``)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Virtual Experience Designer scenario, format {scenario.format}"))
    for key, value in scenario.model_dump(exclude_none=True).items():
        if value == []:
            continue
        if key == "world":
            value = {k: _text(v) for k, v in value.items()}
        doc[key] = _text(value)
    return tomlkit.dumps(doc)


def _text(value):
    """Multi-line strings are written as TOML multi-line strings, for readability."""
    return tomlkit.string(value, multiline=True) if isinstance(value, str) and "\n" in value else value


def _problems(error: ValidationError, text: str) -> list[Problem]:
    errors = error.errors()
    if any(e["loc"] == ("format",) for e in errors):  # wrong version: the rest is meaningless
        errors = [e for e in errors if e["loc"] == ("format",)]
    lines = _key_lines(text)
    problems = []
    for e in errors:
        ctx = e.get("ctx") or {}
        loc: Loc = tuple(ctx.get("loc", e["loc"]))
        if e["type"] == "extra_forbidden":
            model = _TABLES.get(tuple(p for p in loc[:-1] if isinstance(p, str)))
            allowed = ", ".join(model.model_fields) if model else "none"
            message = f"unknown key {loc[-1]!r}; allowed keys: {allowed}"
        elif e["type"] in _MESSAGES:
            message = _MESSAGES[e["type"]]
        elif e["type"] in _BUILTIN_ERRORS and not isinstance(e["input"], (dict, list)):
            message = f"{e['msg']} (got {e['input']!r})"
        else:  # the schema's own messages already show the value and what is allowed
            message = e["msg"]
        problems.append(Problem(_line_of(loc, lines), _dotted(loc) or None, message))
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def _dotted(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


def _key_lines(text: str) -> dict[Loc, int]:
    """Map each table header and key of ``text`` to its 1-based line.

    Keys are located by table: ``("world",)``, ``("palette", 1)`` (second ``[[palette]]``),
    ``("palette", 1, "event")``. Lines inside multi-line strings are skipped.
    """
    lines: dict[Loc, int] = {}
    table: Loc = ()
    counts: dict[str, int] = {}
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not in_string:
            if header := _HEADER.match(line):
                name = header[2]
                if header[1] == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    lines.setdefault((name,), number)
                    table = (name, counts[name])
                else:
                    table = tuple(name.split("."))
                lines.setdefault(table, number)
            elif key := _KEY.match(line):
                lines.setdefault((*table, key[1]), number)
        # An odd number of triple quotes opens or closes a multi-line string.
        if (line.count('"""') + line.count("'''")) % 2:
            in_string = not in_string
    return lines


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc``'s key, else of the closest enclosing table or key, else None."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
