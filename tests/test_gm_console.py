"""The game-master console driven through its widgets, on the reference world at 20 Hz:
fire a cue early, bookmark and rewind, mark a moment, pause, change the prompt, open a scene
from an image — each comes back from the session into the console and the recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PIL import Image  # noqa: E402

from engine.model.interface import ReferenceWorldModel  # noqa: E402
from engine.recording import read_recording  # noqa: E402
from engine.runtime.session import Role  # noqa: E402
from engine.scenario import loads_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OR_TEXT = (ROOT / "scenarios" / "operating_room_bleeding.toml").read_text()


@pytest.fixture
def scenario():
    text = OR_TEXT.split("[[cues]]")[0] + '[[cues]]\nat = 30.0\nevent = "alarm_on"\nnote = "monitor alarm"\n'
    return loads_scenario(text)


@pytest.fixture
def running(qtbot, scenario, tmp_path):
    from app.main import build_app

    trainee, console, worker = build_app(scenario, ReferenceWorldModel(), tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    qtbot.waitUntil(lambda: console.client is not None and worker.session.tick > 2, timeout=5000)
    spy: list = []
    worker.session.connect(Role.TRAINEE, on_message=spy.append)
    yield console, worker, spy, tmp_path / "rec"
    worker.close()


def _log_texts(console):
    return [console.log_list.item(i).text() for i in range(console.log_list.count())]


def test_fire_a_cue_now_from_the_cue_table(qtbot, running):
    console, worker, spy, _ = running
    assert console.cue_panel.status_of(0) == "pending"
    qtbot.mouseClick(console.cue_panel.fire_buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.cue_panel.status_of(0).startswith("fired"), timeout=2000)
    assert worker.session.world_state.alarm
    assert not console.cue_panel.fire_buttons[0].isEnabled()
    entry = worker.session.event_log[-1]
    assert entry.event == "alarm_on" and entry.cue == 0 and entry.source == "game_master"


def test_bookmark_then_rewind_restores_the_world(qtbot, running):
    console, worker, spy, _ = running
    panel = console.bookmark_panel
    qtbot.keyClicks(panel.label_edit, "calm room")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=2000)
    assert "calm room" in panel.list.item(0).text()
    bm = next(iter(worker.session.bookmarks.values()))
    qtbot.mouseClick(console.palette_buttons[0], Qt.MouseButton.LeftButton)  # bleeding starts
    qtbot.waitUntil(lambda: worker.session.world_state.bleeding > 0.2, timeout=3000)
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.rewind_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("rewind to “calm room”" in t for t in _log_texts(console)), timeout=2000)
    assert worker.session.world_state.bleeding == 0.0
    rewind_frames = [m for m in spy if m.kind == "frame" and np.array_equal(m.frame, bm.frames[0])]
    assert rewind_frames, "the trainee's view went back to the bookmarked frame"


def test_marker_pause_and_resume_reach_the_recording_not_the_trainee(qtbot, running):
    console, worker, spy, record_dir = running
    qtbot.keyClicks(console.marker_bar.note_edit, "forgot to call for help")
    qtbot.keyClick(console.marker_bar.note_edit, Qt.Key.Key_Return)
    qtbot.mouseClick(console.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.paused and console.pause_button.text() == "Resume", timeout=2000)
    tick = worker.session.tick
    qtbot.wait(300)
    assert worker.session.tick == tick and "PAUSED" in console.clock_label.text()
    qtbot.mouseClick(console.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: worker.session.tick > tick + 2, timeout=2000)
    assert {m.kind for m in spy} == {"frame", "sound"}
    worker.close()
    log = read_recording(record_dir).log
    kinds = [r["type"] for r in log]
    marker = next(r for r in log if r["type"] == "marker")
    assert marker["note"] == "forgot to call for help"
    assert kinds.index("marker") < kinds.index("pause") < kinds.index("resume")


def test_prompt_and_image_requests_are_answered(qtbot, running, tmp_path):
    console, worker, spy, _ = running
    panel = console.prompt_panel
    console.tabs.setCurrentWidget(panel)
    panel.edit.setPlainText("The same operating room, lights low")
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    # the reference world is not conditioned on text: recorded, and said so
    qtbot.waitUntil(lambda: "not conditioned on text" in panel.status.text(), timeout=3000)
    assert worker.session.prompt.text == "The same operating room, lights low"
    img = tmp_path / "scene.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(img)
    panel.choose_image = lambda: str(img)
    qtbot.mouseClick(panel.image_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "room presets" in console.status_label.text(), timeout=3000)
    assert worker.error is None and worker.state == "running"


def test_palette_shortcut_does_not_fire_while_typing_a_note(qtbot, running):
    console, worker, spy, _ = running
    console.activateWindow()
    console.marker_bar.note_edit.setFocus()
    qtbot.keyClicks(console.marker_bar.note_edit, "B")  # B is the bleeding button's key
    qtbot.wait(200)
    assert not any(e.event == "bleeding_start" for e in worker.session.event_log)
    assert console.marker_bar.note_edit.text() == "B"


def test_a_recovered_divergence_is_shown_to_the_game_master_and_kept_in_the_recording(qtbot, scenario, tmp_path):
    """A model whose rollout leaves its trained range is re-anchored by the session; the
    console logs it and says so, the trainee's stream never hears of it, the debrief lists it."""
    from app.main import build_app
    from engine.recording.debrief import timeline
    from engine.runtime.protocol import Recovery

    class Drifts(ReferenceWorldModel):
        def __init__(self):
            super().__init__()
            self.n = 0

        def step_views(self, *a, **k):
            self.n += 1
            return super().step_views(*a, **k)

        def step(self, *a, **k):
            self.n += 1
            return super().step(*a, **k)

        def divergence(self):
            return [2.0 if self.n == 8 else 0.5]

    trainee, console, worker = build_app(scenario, Drifts(), tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    qtbot.waitUntil(lambda: console.client is not None, timeout=5000)
    spy: list = []
    worker.session.connect(Role.TRAINEE, on_message=spy.append)
    qtbot.waitUntil(lambda: any("re-anchored" in t for t in _log_texts(console)), timeout=5000)
    assert "re-anchored" in console.status_label.text()
    assert not any(isinstance(m, Recovery) for m in spy)
    worker.close()
    kinds = [item.kind for item in timeline(read_recording(tmp_path / "rec"))]
    assert "recovery" in kinds
