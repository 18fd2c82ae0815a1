"""Where ved keeps what it can rebuild: text embeddings, the eval judge (``$VED_CACHE``,
default ``~/.cache/ved``). Deleting the folder is always safe."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("VED_CACHE") or Path.home() / ".cache" / "ved")
