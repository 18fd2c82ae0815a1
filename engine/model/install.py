"""Installing a trained model folder (from ``ved train``, say on a GPU machine) for a user.

:func:`inspect_model` reads a folder's card and checks every weights file against the
sha256 the card records, and says in a few lines what the model is (:func:`card_summary`);
:func:`install_model` copies a checked folder into the user's models folder (a temporary
copy, checked again, then renamed into place, so a half-copied model is never listed);
:func:`installed_models` lists the shipped default and the installed ones. The app keeps the
chosen model in its settings; nothing here imports Qt.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .io import DEFAULT_MODEL_DIR, FILES, TEXT_SEED_FILE, ModelError, read_card, sha256


@dataclass(frozen=True)
class ModelInfo:
    """A model folder that passed :func:`inspect_model`: its ``path``, ``name`` and ``card``."""

    path: Path
    name: str
    card: dict


def inspect_model(folder: str | Path) -> ModelInfo:
    """Check ``folder``: a readable card of a supported format listing the two weights files,
    each present with the sha256 the card records. Raises :class:`ModelError` naming the
    problem (missing card or file, checksum mismatch) and what to do."""
    folder = Path(folder)
    card = read_card(folder)
    files = card.get("files") or {}
    for name in FILES:
        if name not in files:
            raise ModelError(f"{folder}: model_card.json lists no {name}; this is not a complete ved model folder")
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path} is missing; copy the whole model folder again")
        if sha256(path) != entry.get("sha256"):
            raise ModelError(f"{path} does not match the sha256 in model_card.json: the copy is damaged or the file "
                             "was replaced; copy the folder again from the machine that trained it")
    return ModelInfo(folder, str(card.get("name") or folder.name), card)


def card_summary(card: dict) -> list[str]:
    """A few plain lines about a model: what it draws, what it was trained on, how long on
    what, and its evaluation figures when the card has them."""
    arch = card.get("architecture", {})
    res = arch.get("autoencoder", {}).get("resolution", "?")
    tr = card.get("training", {})
    lines = [f"{card.get('name', '?')}: {res}×{res} frames. {card.get('description', '')}".strip(),
             f"Trained on: {card.get('trained_on', 'not stated')}"]
    secs = tr.get("model_training_s") or (tr.get("timings_s") or {}).get("training_s")
    if secs:
        lines.append(f"Training: {secs / 3600:.1f} h on {tr.get('machine', 'an unstated machine')}"
                     + (f"; command: {tr['command']}" if tr.get("command") else ""))
    figures = (card.get("eval") or {}).get("figures_to_reach") or []
    if figures:
        met = sum(1 for f in figures if f.get("ok"))
        lines.append(f"Evaluation (ved eval): {met} of {len(figures)} figures met — "
                     + "; ".join(f"{f['what']}: {f['measured']}" for f in figures[:3]))
    else:
        lines.append("Evaluation: none in the card (run 'ved eval --model DIR --write-card')")
    return lines


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def install_model(folder: str | Path, models_root: str | Path, *, replace: bool = False) -> ModelInfo:
    """Copy the model in ``folder`` (checked by :func:`inspect_model`) to
    ``models_root/<its name>`` and return the installed copy. Raises :class:`ModelError` as
    :func:`inspect_model` does, when the copy fails its check, or when a model of that name
    is installed and ``replace`` is False."""
    info = inspect_model(folder)
    root = Path(models_root)
    target = root / _slug(info.name)
    if target.exists() and not replace:
        raise ModelError(f"a model called {info.name!r} is installed already ({target}); remove it first or replace it")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{target.name}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    names = ["model_card.json", *info.card["files"]]
    if (info.path / TEXT_SEED_FILE).is_file():
        names.append(TEXT_SEED_FILE)
    try:
        for name in names:
            shutil.copy2(info.path / name, tmp / name)
        inspect_model(tmp)  # the copy is what the source was
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return ModelInfo(target, info.name, info.card)


def installed_models(models_root: str | Path) -> list[ModelInfo]:
    """The shipped default first, then each folder under ``models_root`` that reads as a
    model (checked the way :func:`inspect_model` does; damaged ones are left out)."""
    out = [ModelInfo(DEFAULT_MODEL_DIR, "shipped default", read_card(DEFAULT_MODEL_DIR))]
    root = Path(models_root)
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                out.append(inspect_model(d))
            except ModelError:
                continue
    return out
