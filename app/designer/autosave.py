"""Autosave files: unsaved work written aside every few seconds, offered back after a crash.

Each open scenario has one autosave file in the autosave folder, named after the scenario's
file (``operating_room_bleeding-1a2b3c4d5e.toml``; ``untitled-1.toml`` for one never saved),
with a ``.json`` beside it saying which file it belongs to, when it was written and by which
process. Saving the scenario or closing the designer cleanly removes it, so whatever is left
at start-up was left by a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recovery:
    """Unsaved work left in the autosave folder."""

    file: Path  # the autosave file (TOML)
    original: Path | None  # the scenario file it belongs to (None: never saved)
    saved_at: dt.datetime
    title: str

    def describe(self) -> str:
        """One line for a person: what and when."""
        name = self.original.name if self.original is not None else "a new scenario"
        return f"“{self.title}” ({name}), autosaved {self.saved_at:%d %b %Y at %H:%M}"


class AutosaveStore:
    """The autosave folder (created when first written to)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def file_for(self, original: Path | None) -> Path:
        """A new autosave file for ``original`` (a scenario file, or None for an unsaved one)."""
        if original is not None:
            digest = hashlib.sha1(str(original.resolve()).encode()).hexdigest()[:10]
            return self.folder / f"{original.stem}-{digest}.toml"
        n = 1
        while (self.folder / f"untitled-{n}.toml").exists():
            n += 1
        return self.folder / f"untitled-{n}.toml"

    def write(self, file: Path, text: str, *, original: Path | None, title: str) -> None:
        """Write ``text`` to ``file`` and its description beside it (each atomically)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        info = {"path": str(original) if original is not None else None, "title": title,
                "saved_at": dt.datetime.now().isoformat(timespec="seconds"), "pid": os.getpid()}
        _write_atomic(file, text)
        _write_atomic(_info_file(file), json.dumps(info))

    def remove(self, file: Path) -> None:
        """Forget ``file`` and its description."""
        file.unlink(missing_ok=True)
        _info_file(file).unlink(missing_ok=True)

    def pending(self, *, exclude: Path | None = None) -> list[Recovery]:
        """Autosaves left behind, newest first; skips ``exclude`` and those of another
        designer that is still running."""
        found = []
        for info_file in sorted(self.folder.glob("*.toml.json")) if self.folder.is_dir() else []:
            file = info_file.with_suffix("")
            if not file.is_file() or file == exclude:
                continue
            try:
                info = json.loads(info_file.read_text(encoding="utf-8"))
                saved_at = dt.datetime.fromisoformat(info["saved_at"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if info.get("pid") != os.getpid() and _alive(info.get("pid")):
                continue
            original = Path(info["path"]) if info.get("path") else None
            found.append(Recovery(file, original, saved_at, str(info.get("title") or file.stem)))
        return sorted(found, key=lambda r: r.saved_at, reverse=True)


def _info_file(file: Path) -> Path:
    return file.with_name(file.name + ".json")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _alive(pid) -> bool:
    """Whether process ``pid`` exists (another designer still running)."""
    if not isinstance(pid, int) or pid <= 0 or os.name == "nt":  # os.kill(pid, 0) ends it there
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
