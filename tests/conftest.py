"""Shared pytest set-up."""

import os

# Qt must never need a display in tests (CI and this machine have none). Set before any
# Qt import, which pytest-qt does when its plugin loads the first Qt test.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
