"""Where the shipped model lives: a light module (no torch), for the app's start-up."""

from pathlib import Path

#: The shipped default model folder (``assets/models/default`` beside ``engine/``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "assets" / "models" / "default"
