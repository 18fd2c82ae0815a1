"""Scenario files in library folders: titles, duplicates, the trash, where things go.

Nothing here deletes a scenario: *Delete* moves it into the folder's ``.trash`` folder and a
duplicate never overwrites a file.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from engine.scenario.document import ScenarioDocument

ROOT = Path(__file__).resolve().parents[2]
#: The shipped example scenarios.
EXAMPLES_FOLDER = ROOT / "scenarios"
DEFAULT_SCENARIO = EXAMPLES_FOLDER / "operating_room_bleeding.toml"
TRASH_FOLDER = ".trash"


def user_data_folder() -> Path:
    """``ved``'s folder in the user's data location (``~/.local/share/ved`` on Linux)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)) / "ved"


def default_library_folders() -> list[tuple[str, Path]]:
    """The shipped examples and the user's own scenarios, as ``(name, folder)``."""
    return [("Examples", EXAMPLES_FOLDER), ("My scenarios", user_data_folder() / "scenarios")]


def scenario_files(folder: Path) -> list[Path]:
    """The scenario files in ``folder``, by name (none if it does not exist)."""
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith(".")) if folder.is_dir() else []


def scenario_title(path: Path) -> str | None:
    """The title written in a scenario file, or None when it cannot be read."""
    try:
        title = tomllib.loads(path.read_text(encoding="utf-8")).get("title")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return title.strip() if isinstance(title, str) and title.strip() else None


def slug(text: str, default: str = "scenario") -> str:
    """A file-name-safe form of ``text``: ``"Fire drill!"`` → ``"fire-drill"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or default


def free_path(folder: Path, stem: str, suffix: str = ".toml") -> Path:
    """``folder/stem.suffix``, or ``stem-2``, ``stem-3``… when taken."""
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


def duplicate_scenario(source: Path, folder: Path) -> Path:
    """Copy scenario ``source`` into ``folder`` as ``<name>-copy.toml`` titled "… (copy)",
    comments kept and its picture brought along; returns the new file."""
    doc = ScenarioDocument.load(source)
    folder.mkdir(parents=True, exist_ok=True)
    doc.bundle_image(folder)
    title = doc.get(("title",))
    if isinstance(title, str):
        doc.set(("title",), f"{title.strip()} (copy)")
    return doc.save(free_path(folder, f"{source.stem}-copy"))


def move_to_trash(path: Path) -> Path:
    """Move ``path`` into ``.trash`` beside it (renamed if the trash has one already)."""
    trash = path.parent / TRASH_FOLDER
    trash.mkdir(exist_ok=True)
    target = trash / path.name
    if target.exists():
        target = trash / f"{path.stem}-{dt.datetime.now():%Y%m%d-%H%M%S}{path.suffix}"
    path.replace(target)
    return target


def recording_dir(root: Path, title: str) -> Path:
    """A new recording folder name under ``root`` for a session of ``title``."""
    return free_path(Path(root), f"{dt.datetime.now():%Y%m%d-%H%M%S}-{slug(title, 'session')}", "")
