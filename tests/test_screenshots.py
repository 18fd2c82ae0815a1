"""Screenshots of the designer, the game-master console and the debrief view, for the
README's user guide, from the real widgets in a realistic state (the shipped model, a played
session). Every test run takes them into a temporary folder, so a clean checkout stays
clean; ``VED_SCREENSHOTS=docs/screenshots`` refreshes the committed ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OR_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    out = Path(os.environ["VED_SCREENSHOTS"]) if os.environ.get("VED_SCREENSHOTS") else \
        tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The path of a recording of a short session of the operating-room scenario."""
    return {}


def _save(widget, path: Path) -> None:
    image = widget.grab().toImage()
    assert image.width() > 300 and image.height() > 300
    assert image.save(str(path)), path


def test_console_screenshot(qtbot, shots, tmp_path, played):
    from app.main import build_app
    from engine.runtime.wiring import load_model
    from engine.scenario import load_scenario

    scenario = load_scenario(OR_SCENARIO)
    trainee, console, worker = build_app(scenario, lambda: load_model(None), tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    qtbot.waitUntil(lambda: console.client is not None and worker.session.tick > 5, timeout=20_000)
    trainee.mapper.press(Qt.Key.Key_W)
    trainee.mapper.press(Qt.Key.Key_Left)
    console.bookmark_panel.label_edit.setText("before the bleed")
    console.bookmark_panel.request_bookmark()
    qtbot.wait(800)
    console.palette_buttons[0].click()
    qtbot.wait(600)
    console.marker_bar.note_edit.setText("looks at the monitor, not the field")
    console.marker_bar.request()
    qtbot.wait(600)
    trainee.mapper.clear()
    console.tabs.setCurrentWidget(console.log_list)
    qtbot.waitUntil(lambda: console.log_list.count() >= 3, timeout=3000)
    _save(console, shots / "console.png")
    _save(trainee, shots / "trainee.png")
    worker.close()
    played["recording"] = tmp_path / "rec"


def test_debrief_screenshot(qtbot, shots, played):
    from app.debrief.window import DebriefWindow

    if "recording" not in played:
        pytest.skip("needs the session recorded by test_console_screenshot (run the whole file)")
    window = DebriefWindow(played["recording"])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.load_job is not None and not window.load_job.running, timeout=20_000)
    assert window.error is None
    labels = [window.item_list.item(i).text() for i in range(window.item_list.count())]
    assert any("Bleeding starts" in t for t in labels) and any("monitor" in t for t in labels)
    marker_row = next(i for i, t in enumerate(labels) if "monitor" in t)
    window.item_list.setCurrentRow(marker_row)
    window.resize(1100, 760)
    qtbot.wait(200)
    _save(window, shots / "debrief.png")
