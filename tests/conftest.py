"""Shared pytest set-up."""

import os

# Qt must never need a display in tests (CI and this machine have none). Set before any
# Qt import, which pytest-qt does when its plugin loads the first Qt test.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

# Caches (text embeddings, the eval judge) go to a per-run folder, never the user's home.
if "VED_CACHE" not in os.environ:
    import tempfile

    os.environ["VED_CACHE"] = tempfile.mkdtemp(prefix="ved-test-cache-")
