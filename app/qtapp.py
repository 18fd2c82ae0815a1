"""The QApplication, created once. A light module: importing it loads Qt and nothing heavy."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication


def ensure_app() -> QApplication:
    """The running QApplication, created if there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("ved")
    return app
