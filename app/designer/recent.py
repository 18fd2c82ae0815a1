"""Recently opened scenario files, kept in the designer's settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

#: How many recent files are remembered.
RECENT_LIMIT = 8
_KEY = "designer/recent_files"


class RecentFiles:
    """The most recently opened or saved scenarios, newest first, in ``settings``."""

    def __init__(self, settings: QSettings):
        self.settings = settings

    def paths(self) -> list[Path]:
        """The remembered files that still exist."""
        value = self.settings.value(_KEY, [])
        names = [value] if isinstance(value, str) else list(value or [])  # INI files flatten one-item lists
        return [Path(n) for n in names if n and Path(n).is_file()]

    def add(self, path: Path) -> None:
        path = Path(path).resolve()
        self._store([path] + [p for p in self.paths() if p != path])

    def remove(self, path: Path) -> None:
        path = Path(path).resolve()
        self._store([p for p in self.paths() if p != path])

    def _store(self, paths: list[Path]) -> None:
        self.settings.setValue(_KEY, [str(p) for p in paths[:RECENT_LIMIT]])
        self.settings.sync()
