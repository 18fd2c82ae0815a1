"""Installing a trained model folder: checked against its card, copied safely, listed, chosen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.model.install import card_summary, inspect_model, install_model, installed_models
from engine.model.io import DEFAULT_MODEL_DIR, ModelError


def _copy(tmp_path: Path, name: str = "gpu-run") -> Path:
    folder = tmp_path / "from-gpu" / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    card = json.loads((folder / "model_card.json").read_text())
    card["name"] = name
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


def test_a_model_folder_is_checked_summarised_and_installed(tmp_path):
    src = _copy(tmp_path)
    info = inspect_model(src)
    lines = card_summary(info.card)
    assert lines[0].startswith("gpu-run: 128×128 frames")
    assert any(line.startswith("Training:") and "ved train" in line for line in lines)
    assert any(line.startswith("Evaluation (ved eval):") for line in lines)
    installed = install_model(src, tmp_path / "models")
    assert installed.path == tmp_path / "models" / "gpu-run" and (installed.path / "dynamics.safetensors").is_file()
    assert [m.name for m in installed_models(tmp_path / "models")] == ["shipped default", "gpu-run"]
    with pytest.raises(ModelError, match="installed already"):
        install_model(src, tmp_path / "models")
    assert not list((tmp_path / "models").glob(".*"))  # no half-copied folder left behind


def test_a_damaged_copy_is_refused_with_what_to_do(tmp_path):
    src = _copy(tmp_path)
    data = bytearray((src / "dynamics.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (src / "dynamics.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the sha256.*copy the folder again"):
        install_model(src, tmp_path / "models")
    assert not (tmp_path / "models" / "gpu-run").exists()
    (src / "autoencoder.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        inspect_model(src)
    with pytest.raises(ModelError, match="no model_card.json"):
        inspect_model(tmp_path)


def test_the_designer_installs_a_model_and_previews_play_on_it(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings

    from app.designer.models import ModelsDialog
    from app.designer.window import DesignerWindow

    src = _copy(tmp_path)
    dialog = ModelsDialog(tmp_path / "models", None, ask_folder=lambda: str(src))
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 1 and "128×128" in dialog.details.text()
    installed = dialog.install()
    assert installed is not None and "checksums verified" in dialog.message.text()
    assert dialog.list.count() == 2 and dialog.list.currentItem().text().startswith("gpu-run")
    dialog.accept()
    assert dialog.chosen == installed.path
    # a damaged folder: refused, with the reason in the dialog
    bad = _copy(tmp_path / "bad", "broken")
    (bad / "autoencoder.safetensors").write_bytes(b"junk")
    dialog2 = ModelsDialog(tmp_path / "models", installed.path, ask_folder=lambda: str(bad))
    qtbot.addWidget(dialog2)
    assert dialog2.install() is None and "Not installed" in dialog2.message.text()
    # the designer keeps the choice in its settings
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model", str(installed.path))
    w = DesignerWindow(None, settings=settings, autosave_dir=tmp_path / "autosave", record_root=tmp_path / "rec",
                       recover_on_start=False)
    qtbot.addWidget(w)
    assert w.model == installed.path
