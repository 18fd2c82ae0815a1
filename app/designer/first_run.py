"""The first-run page: what the shipped world model can and cannot show, and where a user's
own things are kept. A banner at the top of the designer (not a dialog, so nothing waits
for it), shown until its *Got it* is pressed (kept in the designer's settings)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

SEEN_KEY = "first_run_seen"


def model_summary(model_dir: Path | None = None) -> str:
    """One paragraph on the shipped model, from its card (read as JSON: no torch needed)."""
    from engine.model.paths import DEFAULT_MODEL_DIR

    try:
        card = json.loads(((model_dir or DEFAULT_MODEL_DIR) / "model_card.json").read_text())
        res = card["architecture"]["autoencoder"]["resolution"]
        rooms = card.get("trained_on", "").split(":")[-1].split(";")[0].strip() or "three reference-world rooms"
    except (OSError, KeyError, ValueError):
        return "The shipped world model could not be read; previews can use the reference world instead."
    colours = ("on a room preset it keeps the room's colours for the whole session"
               if card.get("training", {}).get("layout_decoder_albedo") else "its colours wash out after a few seconds")
    return (f"The world model that ships with the app draws {res}×{res} frames and was trained only on "
            f"reference-world rooms ({rooms}). It keeps a room's walls, furniture and people in place as the "
            "trainee moves and shows the game master's events (lights, alarm, bleeding, a person entering); "
            f"{colours}, and it has never seen a photograph, so an opening image of another kind of place is "
            "pulled towards those rooms. Scenarios built on a room preset look best.")


class FirstRunBanner(QFrame):
    """The banner; :attr:`dismissed` is emitted when *Got it* is pressed."""

    dismissed = Signal()

    def __init__(self, settings: QSettings, *, scenarios: Path, recordings: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("firstRun")
        self.setStyleSheet("#firstRun { background: #eef5ee; border: 1px solid #9bc59b; border-radius: 4px; }")
        title = QLabel("<b>Welcome to Virtual Experience Designer</b>", self)
        body = QLabel(model_summary(), self)
        body.setWordWrap(True)
        places = QLabel(f"Your scenarios are kept in <code>{scenarios}</code>, recordings of your previews in "
                        f"<code>{recordings}</code> (each with its video, sound, event log and contact sheet), "
                        f"and your settings in <code>{settings.fileName()}</code> — never in the app's own "
                        "folder, so an update keeps them.", self)
        places.setWordWrap(True)
        self.text = "\n".join(w.text() for w in (title, body, places))
        ok = QPushButton("Got it", self)
        ok.clicked.connect(self.dismiss)
        col = QVBoxLayout()
        col.addWidget(title)
        col.addWidget(body)
        col.addWidget(places)
        row = QHBoxLayout(self)
        row.addLayout(col, 1)
        row.addWidget(ok)

    @staticmethod
    def wanted(settings: QSettings) -> bool:
        """True until the user dismissed it once."""
        return str(settings.value(SEEN_KEY, "false")).lower() not in ("true", "1")

    def dismiss(self) -> None:
        self.settings.setValue(SEEN_KEY, True)
        self.hide()
        self.dismissed.emit()
