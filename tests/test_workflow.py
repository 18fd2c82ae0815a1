"""A new user's whole path, through the real widgets and the shipped world model: build a
scenario from a sentence and a picture, add a button and a cue, save, reopen, preview it,
steer it from the console (event, bookmark, rewind, marker), and debrief the recording."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402

from app.designer import DesignerWindow  # noqa: E402
from app.designer.dialogs import NewScenario  # noqa: E402
from test_designer import FakeDialogs, choose, make_png, retype  # noqa: E402


def test_design_preview_steer_and_debrief(qtbot, tmp_path):
    def designer(path=None) -> DesignerWindow:
        w = DesignerWindow(path, library_folders=[("My scenarios", tmp_path / "mine")],
                           settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                           autosave_dir=tmp_path / "autosave", record_root=tmp_path / "recordings", model=None,
                           dialogs=FakeDialogs(), recover_on_start=False, open_debrief=lambda p: None)
        qtbot.addWidget(w)
        w.show()
        return w

    # 1. a sentence and a picture
    picture = make_png(tmp_path / "photos" / "ward.png", colour=(170, 150, 120))
    window = designer()
    window.dialogs.new = NewScenario("Night ward", "A quiet hospital ward at night, a bed and a monitor.",
                                     image=picture)
    window.new_action.trigger()
    e = window.editor
    qtbot.keyClicks(e.briefing_edit, "You are the nurse on the night shift.")
    qtbot.mouseClick(e.palette_table.add_button, Qt.MouseButton.LeftButton)
    retype(qtbot, e.palette_table.cell(0, "label"), "Patient bleeds")
    choose(e.palette_table.cell(0, "event"), "bleeding_start")
    choose(e.palette_table.cell(0, "key"), "B")
    qtbot.mouseClick(e.cues_table.add_button, Qt.MouseButton.LeftButton)
    retype(qtbot, e.cues_table.cell(0, "at"), "600")
    choose(e.cues_table.cell(0, "event"), "alarm_on")
    assert window.validate_now() == []
    window.dialogs.save_path = tmp_path / "mine" / "night_ward.toml"
    window.save_action.trigger()
    window.close()

    # 2. reopen and preview on the shipped model
    window = designer(tmp_path / "mine" / "night_ward.toml")
    assert window.editor.palette_table.cell(0, "label").text() == "Patient bleeds"
    window.preview_action.trigger()
    preview = window.preview
    qtbot.waitUntil(lambda: preview.worker.state == "running" and preview.console.client is not None
                    and preview.worker.session.tick > 10, timeout=30_000)
    console, session = preview.console, preview.worker.session

    # 3. steer: bookmark, fire the event, rewind, mark
    console.bookmark_panel.request_bookmark()
    qtbot.waitUntil(lambda: console.bookmark_panel.list.count() == 1, timeout=3000)
    qtbot.mouseClick(console.palette_buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session.world_state.bleeding > 0.1, timeout=3000)
    bleed_tick = next(e.tick for e in session.event_log if e.event == "bleeding_start")
    console.bookmark_panel.list.setCurrentRow(0)
    qtbot.mouseClick(console.bookmark_panel.rewind_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session.world_state.bleeding == 0.0, timeout=3000)
    console.marker_bar.note_edit.setText("calm after the rewind")
    console.marker_bar.request()
    qtbot.wait(300)

    # 4. stop; the recording opens in the debrief at the event
    window.preview_action.trigger()
    qtbot.waitUntil(lambda: window.last_recording is not None, timeout=30_000)
    from app.debrief.window import DebriefWindow

    debrief = DebriefWindow(window.last_recording)
    qtbot.addWidget(debrief)
    qtbot.waitUntil(lambda: debrief.data is not None, timeout=20_000)
    labels = [debrief.item_list.item(i).text() for i in range(debrief.item_list.count())]
    row = next(i for i, t in enumerate(labels) if "Bleeding starts" in t or "Patient bleeds" in t)
    assert any("Rewind" in t for t in labels) and any("calm after the rewind" in t for t in labels)
    item = debrief.item_list.item(row)
    rect = debrief.item_list.visualItemRect(item)
    qtbot.mouseClick(debrief.item_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: debrief.player_tick == bleed_tick, timeout=3000)
    # the frame of that tick, or — a tick the loaded machine drew no frame for (the clock went
    # on without it) — the last frame before it, as the trainee saw it
    assert debrief.frame_tick == debrief.data.frames.frame_at(bleed_tick)[0] and bleed_tick - 3 <= debrief.frame_tick <= bleed_tick
    debrief.seek(0)  # and on the timeline itself: a click at the event's mark jumps there
    timeline = debrief.timeline_widget
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(timeline.x_for_tick(bleed_tick)), timeline.height() // 2))
    qtbot.waitUntil(lambda: debrief.player_tick == bleed_tick, timeout=3000)
