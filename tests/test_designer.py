"""The scenario designer (app/designer), driven through its widgets, offscreen.

Every window gets its own library folders, settings file, autosave folder and recording
folder under ``tmp_path``, and canned answers to its questions (:class:`FakeDialogs`), so
nothing here touches the user's files or settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.designer import DesignerWindow  # noqa: E402
from app.designer.dialogs import Dialogs, NewScenario, NewScenarioDialog  # noqa: E402
from engine.scenario import ScenarioError, load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


class FakeDialogs(Dialogs):
    """Canned answers; every question asked is logged in :attr:`asked`."""

    def __init__(self):
        super().__init__(None)
        self.asked: list[str] = []
        self.save_changes, self.confirm_answer, self.recover_answer = "discard", True, "later"
        self.save_path = self.open_path = self.image_path = self.new = None

    def ask_save_changes(self, name):
        self.asked.append(f"save changes to {name}?")
        return self.save_changes

    def confirm(self, title, text, action):
        self.asked.append(title)
        return self.confirm_answer

    def ask_recover(self, recovery):
        self.asked.append(f"recover {recovery.file.name}?")
        return self.recover_answer

    def ask_open_path(self, folder):
        return self.open_path

    def ask_save_path(self, suggested):
        self.asked.append(f"save as (suggested {suggested.name})")
        return self.save_path

    def ask_image_path(self, folder):
        return self.image_path

    def ask_new_scenario(self):
        return self.new

    def error(self, title, text):
        self.asked.append(f"error: {title}: {text}")


@pytest.fixture
def library(tmp_path) -> Path:
    """A copy of the shipped scenarios, so duplicating and deleting touch nothing real."""
    folder = tmp_path / "examples"
    shutil.copytree(SCENARIOS, folder, ignore=shutil.ignore_patterns(".*"))
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, library):
    """``make_window(path=None, **options)``: a designer isolated in ``tmp_path``."""

    def make(path=None, **options) -> DesignerWindow:
        options = {"library_folders": [("Examples", library), ("My scenarios", tmp_path / "mine")],
                   "settings": QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   "autosave_dir": tmp_path / "autosave", "record_root": tmp_path / "recordings",
                   "model": "reference", "dialogs": FakeDialogs(), "recover_on_start": False,
                   "open_debrief": debriefs.append, **options}
        window = DesignerWindow(path, **options)
        qtbot.addWidget(window)
        return window

    debriefs: list[Path] = []
    make.debriefs = debriefs
    return make


def make_png(path: Path, colour=(40, 120, 200)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), colour).save(path)
    return path


def retype(qtbot, widget, text: str) -> None:
    """Select all of a line edit's text and type ``text`` over it."""
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def choose(combo, value) -> None:
    """Pick the entry of ``value`` in a combo box, as a click in its list would."""
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


# ---------------------------------------------------------------- create, save, reopen
def test_new_scenario_from_a_sentence_and_a_picture_saves_and_reopens(qtbot, tmp_path, make_window):
    picture = make_png(tmp_path / "downloads" / "ward.png")
    dialog = NewScenarioDialog()
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.title_edit, "Ward round: a patient deteriorates")
    qtbot.keyClicks(dialog.prompt_edit, "A hospital ward at night, four beds, monitors beeping.")
    qtbot.keyClicks(dialog.image_edit, str(picture))
    details = dialog.details()
    assert dialog.image_radio.isChecked() and details.image == picture and details.room is None

    window = make_window()
    window.dialogs.new = details
    window.new_action.trigger()
    editor = window.editor
    assert window.windowTitle().startswith("Untitled*")
    assert editor.title_edit.text() == "Ward round: a patient deteriorates" and editor.image_radio.isChecked()
    assert not editor.image_field.thumbnail.pixmap().isNull()  # the thumbnail shows the picture
    assert [p.field for p in window.validate_now()] == ["briefing"]  # still to write
    assert not window.preview_action.isEnabled() and "briefing" in window.preview_action.toolTip()

    qtbot.keyClicks(editor.briefing_edit, "You are the night nurse.")
    qtbot.keyClick(editor.briefing_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(editor.briefing_edit, "Call for help early.")
    qtbot.keyClicks(editor.duration_edit, "5:00")
    editor.lights.slider.setValue(60)
    qtbot.mouseClick(editor.palette_table.add_button, Qt.MouseButton.LeftButton)
    row = editor.palette_table
    retype(qtbot, row.cell(0, "label"), "Monitor alarm")
    choose(row.cell(0, "event"), "alarm_on")
    choose(row.cell(0, "key"), "K")
    qtbot.keyClicks(row.cell(0, "note"), "When the saturation drops")
    qtbot.mouseClick(editor.cues_table.add_button, Qt.MouseButton.LeftButton)
    cues = editor.cues_table
    retype(qtbot, cues.cell(0, "at"), "1:30")
    choose(cues.cell(0, "event"), "lights_dim")
    qtbot.mouseClick(editor.roles_table.add_button, Qt.MouseButton.LeftButton)
    retype(qtbot, editor.roles_table.cell(0, "name"), "Night nurse")
    assert window.validate_now() == [] and window.preview_action.isEnabled()

    window.dialogs.save_path = tmp_path / "mine" / "ward.toml"
    window.save_action.trigger()
    saved = tmp_path / "mine" / "ward.toml"
    assert saved.is_file() and window.windowTitle().startswith("ward.toml —")
    assert (tmp_path / "mine" / "images" / "ward.png").read_bytes() == picture.read_bytes()  # portable
    scenario = load_scenario(saved)  # what `ved run` reads
    assert scenario.world.image == "images/ward.png" and scenario.world.room is None
    assert scenario.duration == 300.0 and scenario.world.lights == 0.6
    assert [(b.label, b.event, b.key, b.note) for b in scenario.palette] == [
        ("Monitor alarm", "alarm_on", "K", "When the saturation drops")]
    assert [(c.at, c.event) for c in scenario.cues] == [(90.0, "lights_dim")]
    assert [(r.name, r.kind) for r in scenario.roles] == [("Night nurse", "trainee")]
    assert "Save a draft?" not in window.dialogs.asked  # no warning: it was valid

    again = make_window(saved)
    e = again.editor
    assert e.title_edit.text() == "Ward round: a patient deteriorates"
    assert e.briefing_edit.toPlainText() == "You are the night nurse.\nCall for help early."
    assert e.prompt_edit.toPlainText() == "A hospital ward at night, four beds, monitors beeping."
    assert e.duration_edit.text() == "5:00" and e.lights.spin.value() == 60
    assert e.image_radio.isChecked() and e.image_field.name_label.text() == "images/ward.png"
    assert not e.image_field.thumbnail.pixmap().isNull()
    p = e.palette_table
    assert (p.cell(0, "label").text(), p.cell(0, "event").value(), p.cell(0, "key").value(),
            p.cell(0, "note").text()) == ("Monitor alarm", "alarm_on", "K", "When the saturation drops")
    assert (e.cues_table.cell(0, "at").text(), e.cues_table.cell(0, "event").value()) == ("1:30", "lights_dim")
    assert (e.roles_table.cell(0, "name").text(), e.roles_table.cell(0, "kind").value()) == ("Night nurse", "trainee")
    assert again.recent.paths()[0] == saved.resolve() and again.library.selected_path() == saved


def test_a_dropped_picture_replaces_the_room_and_is_copied_on_save(qtbot, tmp_path, make_window, library):
    window = make_window(library / "classroom_disruption.toml")
    picture = make_png(tmp_path / "elsewhere" / "class.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    thumbnail = window.editor.image_field.thumbnail
    enter = QDragEnterEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    thumbnail.dragEnterEvent(enter)
    assert enter.isAccepted()  # an image file may be dropped here
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    thumbnail.dropEvent(drop)
    assert window.doc.get(("world", "image")) == str(picture.resolve()) and window.doc.get(("world", "room")) is None
    assert window.editor.image_radio.isChecked() and not thumbnail.pixmap().isNull()
    assert window.validate_now() == []
    assert window.save()
    assert load_scenario(library / "classroom_disruption.toml").world.image == "images/class.jpg"
    window.editor.room_radio.click()  # back to a room: the picture goes, the room shown before comes back
    assert window.doc.get(("world", "image")) is None
    assert (window.doc.get(("world", "room")), window.doc.get(("world", "seed"))) == ("classroom", 12)
    window.undo_action.trigger()
    assert window.doc.get(("world", "image")) == "images/class.jpg"
    window.dialogs.image_path = make_png(library / "images" / "chosen.png", (200, 30, 30))
    qtbot.mouseClick(window.editor.image_field.choose_button, Qt.MouseButton.LeftButton)
    assert window.doc.get(("world", "image")) == "images/chosen.png"  # inside the folder: relative


def test_cues_are_shown_in_time_order(qtbot, make_window, library):
    window = make_window(library / "classroom_disruption.toml")
    cues = window.editor.cues_table
    assert [cues.cell(r, "at").text() for r in range(3)] == ["0:45", "1:15", "4:00"]
    qtbot.mouseClick(cues.add_button, Qt.MouseButton.LeftButton)
    assert cues.cell(3, "at").text() == "4:30" and cues.current_index() == 3  # 30 s after the last
    retype(qtbot, cues.cell(3, "at"), "10")
    assert cues.cell(3, "at").text() == "10"  # the row stays put while the time is typed
    qtbot.keyClick(cues.cell(3, "at"), Qt.Key.Key_Return)  # done: the view sorts again
    assert [cues.cell(r, "at").text() for r in range(4)] == ["0:10", "0:45", "1:15", "4:00"]
    assert [c["at"] for c in window.doc.items("cues")] == [45.0, 75.0, 240.0, 10.0]  # the file keeps its order
    retype(qtbot, cues.cell(0, "at"), "soon")
    window.validate_now()
    assert cues.cell(0, "at").toolTip() == "cues[3].at: Input should be a valid number (got 'soon')"


# ---------------------------------------------------------------- live validation
def test_a_wrong_value_marks_its_field_with_the_cli_message(qtbot, tmp_path, make_window, library):
    path = library / "operating_room_bleeding.toml"
    window = make_window(path)
    window.show()
    qtbot.waitExposed(window)
    key = window.editor.palette_table.cell(1, "key")
    assert not key.property("problem") and window.preview_action.isEnabled()
    choose(key, "B")  # palette[0] has B already
    qtbot.waitUntil(lambda: bool(key.property("problem")), timeout=2000)  # checked ~200 ms after the edit

    draft = tmp_path / "draft.toml"
    draft.write_text(window.doc.text(), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:  # what `ved run` says about the same text
        load_scenario(draft)
    cli = err.value.problems
    assert [p.field for p in cli] == ["palette[1].key"]
    assert key.toolTip() == f"palette[1].key: {cli[0].message}" and key.toolTip() in str(err.value)
    assert window.problems_panel.texts() == [key.toolTip()]
    assert not window.preview_action.isEnabled() and "palette[1].key" in window.preview_action.toolTip()

    panel = window.problems_panel.list
    window.editor.title_edit.setFocus()
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(panel.item(0)).center())
    assert QApplication.focusWidget() is key and window.editor.palette_table.current_index() == 1

    title = window.editor.title_edit
    title.selectAll()
    qtbot.keyClick(title, Qt.Key.Key_Delete)
    window.validate_now()
    assert title.property("problem") and title.toolTip() == "title: must not be empty"
    # as with `ved run`, checks across fields (duplicate keys) wait until every field is valid
    assert window.problems_panel.texts() == ["title: must not be empty"] and not key.property("problem")

    window.dialogs.confirm_answer = False  # "save a draft?" — no
    assert not window.save() and path.read_text(encoding="utf-8") == (SCENARIOS / path.name).read_text(encoding="utf-8")
    window.dialogs.confirm_answer = True
    assert window.save() and "Save a draft?" in window.dialogs.asked
    assert 'key = "B"' in path.read_text(encoding="utf-8")  # the draft is on disk

    choose(key, "X")
    qtbot.keyClicks(title, "Fixed")
    window.validate_now()
    assert not key.property("problem") and key.toolTip() == "Keyboard shortcut on the console (each key once)"
    assert not title.property("problem") and window.problems_panel.texts() == [] and window.preview_action.isEnabled()


# ---------------------------------------------------------------- undo / redo
def test_undo_and_redo_restore_values(qtbot, make_window, library):
    path = library / "operating_room_bleeding.toml"
    original = path.read_text(encoding="utf-8")
    window = make_window(path)
    editor = window.editor
    qtbot.keyClick(editor.title_edit, Qt.Key.Key_End)
    qtbot.keyClicks(editor.title_edit, " (v2)")
    assert window.undo_stack.count() == 1  # one field's typing is one step
    assert window.windowTitle().startswith("operating_room_bleeding.toml*")
    editor.seed_spin.setValue(9)
    qtbot.mouseClick(editor.cues_table.add_button, Qt.MouseButton.LeftButton)
    editor.palette_table.select(2)
    qtbot.mouseClick(editor.palette_table.remove_button, Qt.MouseButton.LeftButton)
    editor.palette_table.select(0)
    qtbot.mouseClick(editor.palette_table.down_button, Qt.MouseButton.LeftButton)
    assert window.undo_stack.count() == 5
    assert [b["label"] for b in window.doc.items("palette")][:2] == ["Bleeding controlled", "Bleeding starts"]
    assert window.doc.count("cues") == 3 and editor.cues_table.cell(2, "at").text() == "3:00"

    for _ in range(5):
        window.undo_action.trigger()
    assert window.doc.text() == original and not window.modified
    assert editor.title_edit.text() == "Operating room: unexpected bleeding" and editor.seed_spin.value() == 7
    assert editor.palette_table.table.rowCount() == 6 and editor.cues_table.table.rowCount() == 2
    assert window.windowTitle().startswith("operating_room_bleeding.toml —")

    window.redo_action.trigger()
    assert editor.title_edit.text() == "Operating room: unexpected bleeding (v2)"
    window.redo_action.trigger()
    assert editor.seed_spin.value() == 9 and window.doc.get(("world", "seed")) == 9

    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)  # shortcuts work in the active window
    editor.title_edit.setFocus()
    qtbot.keyClick(editor.title_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the window's undo
    assert window.doc.get(("world", "seed")) == 7 and editor.title_edit.text().endswith("(v2)")


# ---------------------------------------------------------------- autosave and recovery
def test_autosave_is_written_and_a_new_window_recovers_it(qtbot, tmp_path, make_window, library):
    path = library / "avatar_therapy.toml"
    first = make_window(path, autosave_interval_s=0.05)
    assert first.autosave_now() is None  # nothing unsaved, nothing written
    qtbot.keyClick(first.editor.title_edit, Qt.Key.Key_End)
    qtbot.keyClicks(first.editor.title_edit, " - second session")
    autosave_dir = tmp_path / "autosave"
    qtbot.waitUntil(lambda: any(autosave_dir.glob("*.toml")), timeout=2000)  # the timer wrote it
    (file,) = autosave_dir.glob("*.toml")
    assert file.read_text(encoding="utf-8") == first.doc.text() and file.name.startswith("avatar_therapy-")
    # the designer "crashes": `first` never closes cleanly before the next one starts

    second = make_window(path, recover_on_start=True)
    (pending,) = second.pending_recoveries()
    assert pending.file == file and pending.original == path and "second session" in pending.title
    second.dialogs.recover_answer = "recover"
    qtbot.waitUntil(lambda: second.doc.get(("title",)).endswith("second session"), timeout=2000)
    assert "recover avatar_therapy-" in second.dialogs.asked[0]
    assert second.modified and second.doc.path == path and second.editor.title_edit.text().endswith("second session")
    assert second.save() and not file.exists()  # saved: the autosave goes
    assert load_scenario(path).title == "Avatar therapy: meeting the voice - second session"
    assert second.pending_recoveries() == []

    untitled = make_window()
    untitled.new_scenario(NewScenario("Draft", "A room", room="classroom"))
    written = untitled.autosave_now()
    assert written.name == "untitled-1.toml"
    untitled.close()  # a clean close (the changes thrown away, as answered) removes it
    assert not written.exists() and "save changes to Untitled?" in untitled.dialogs.asked


# ---------------------------------------------------------------- comments survive
def test_a_hand_edited_file_keeps_its_comments_when_one_field_is_edited(qtbot, make_window, library):
    path = library / "operating_room_bleeding.toml"
    before = path.read_text(encoding="utf-8").splitlines()
    window = make_window(path)
    cue_note = window.editor.cues_table.cell(1, "note")
    retype(qtbot, cue_note, "Sixty seconds of bleeding: hypotension.")
    assert window.save()
    after = path.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed == [(before[-1], 'note = "Sixty seconds of bleeding: hypotension."')]
    assert [line for line in after if "#" in line] == [line for line in before if "#" in line]


# ---------------------------------------------------------------- library
def test_library_lists_duplicates_deletes_and_remembers_recent_files(qtbot, tmp_path, make_window, library):
    window = make_window()
    assert window.library.titles() == ["Avatar therapy: meeting the voice", "Classroom: lights fail, then the fire alarm",
                                       "Operating room: unexpected bleeding", "Operating room: the team and a bleed"]
    tree = window.library.tree
    window.library.select_path(library / "avatar_therapy.toml")
    item = tree.currentItem()
    window.show()
    qtbot.waitExposed(window)
    centre = tree.visualItemRect(item).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.doc.path == library / "avatar_therapy.toml"

    window.duplicate_action.trigger()
    copy = tmp_path / "mine" / "avatar_therapy-copy.toml"
    assert copy.is_file() and window.doc.path == copy
    assert load_scenario(copy).title == "Avatar therapy: meeting the voice (copy)"
    assert "# Avatar therapy: first dialogue" in copy.read_text(encoding="utf-8")  # comments come along
    assert "Avatar therapy: meeting the voice (copy)" in window.library.titles()

    window.library.select_path(copy)
    window.dialogs.confirm_answer = False
    assert not window.delete_selected() and copy.is_file()  # asked, said no: nothing happens
    window.dialogs.confirm_answer = True
    window.delete_action.trigger()
    assert not copy.exists() and (tmp_path / "mine" / ".trash" / copy.name).is_file()  # in the trash, not gone
    assert "Avatar therapy: meeting the voice (copy)" not in window.library.titles()
    assert window.doc.path is None and window.modified  # it stays open, unsaved
    assert window.dialogs.asked.count("Delete the scenario?") == 2

    window.dialogs.save_changes = "discard"
    assert window.open_file(library / "classroom_disruption.toml")
    window._fill_recent_menu()
    names = [a.text() for a in window.recent_menu.actions()]
    assert names == ["classroom_disruption.toml", "avatar_therapy.toml"]  # the trashed copy is forgotten
    window.recent_menu.actions()[1].trigger()
    assert window.doc.path == library / "avatar_therapy.toml"
    assert "classroom_disruption" in (tmp_path / "settings.ini").read_text()


# ---------------------------------------------------------------- preview
def test_preview_plays_records_and_offers_the_debrief(qtbot, tmp_path, make_window, library):
    window = make_window(library / "operating_room_bleeding.toml")
    window.preview_action.trigger()
    preview = window.preview
    assert preview is not None and window.preview_action.text().endswith("Stop preview")
    qtbot.waitUntil(lambda: preview.worker.state == "running" and preview.trainee.frame_message is not None,
                    timeout=20_000)
    assert preview.trainee.isVisible() and preview.console.isVisible()
    assert preview.trainee.view.image is not None and preview.scenario.title == "Operating room: unexpected bleeding"
    window.preview_action.trigger()  # stop
    qtbot.waitUntil(lambda: not preview.running, timeout=20_000)  # the recording is finished off the GUI thread
    assert not window.recording_bar.isHidden()
    recording = window.last_recording
    assert recording is not None and recording.is_dir() and recording.parent == tmp_path / "recordings"
    assert str(recording) in window.recording_bar.label.text() and window.preview_action.text().endswith("Preview")
    qtbot.mouseClick(window.recording_bar.debrief_button, Qt.MouseButton.LeftButton)
    assert make_window.debriefs == [recording]


def test_an_invalid_scenario_does_not_preview(make_window, library):
    window = make_window(library / "operating_room_bleeding.toml")
    window.editor.title_edit.clear()
    assert window.start_preview() is None and window.preview is None
    assert not window.preview_action.isEnabled() and "title: must not be empty" in window.preview_action.toolTip()


def test_an_unsaved_scenario_previews_with_its_relative_picture(tmp_path, make_window, monkeypatch):
    import app.designer.preview

    started = []

    class FakePreview:  # the reference world renders rooms only: check what a preview would get
        def __init__(self, scenario, **options):
            self.scenario, self.options, self.running = scenario, options, True
            self.closed = type("Hook", (), {"connect": lambda self, callback: None})()

        def start(self):
            started.append(self)
            return self

        def close(self):
            self.running = False

    monkeypatch.setattr(app.designer.preview, "Preview", FakePreview)
    folder = tmp_path / "project"  # the user's folder: where an untitled scenario lives
    make_png(folder / "images" / "room.png")
    window = make_window(library_folders=[("My scenarios", folder)])
    window.new_scenario(NewScenario("T", "A room", room="classroom"))
    window.editor._set_image(folder / "images" / "room.png")
    window.editor.briefing_edit.setPlainText("Brief.")
    assert window.doc.path is None and window.doc.get(("world", "image")) == "images/room.png"
    assert window.start_preview() is started[0]
    assert started[0].scenario.image_path() == folder / "images" / "room.png"
    assert started[0].options["model"] == "reference"


# ---------------------------------------------------------------- start-up
def test_the_designer_module_does_not_import_heavy_modules(tmp_path):
    """Neither importing the designer nor opening its window (first-run banner, the chosen
    model from the settings) loads torch and the like: they come with the first preview."""
    code = ("import sys; import app.designer; from app.qtapp import ensure_app; app_ = ensure_app(); "
            "from app.designer.window import DesignerWindow; w = DesignerWindow(None, recover_on_start=False); "
            "heavy = [m for m in ('torch', 'moderngl', 'av', 'sentence_transformers', 'engine.runtime') "
            "if m in sys.modules]; assert not heavy, heavy")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=env)


# ---------------------------------------------------------------- screenshot for the README
def save_designer_screenshot(window: DesignerWindow, folder: Path) -> Path:
    """Save ``window`` as ``folder/designer.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "designer.png"
    assert window.grab().save(str(path)), path
    return path


def test_designer_screenshot(qtbot, make_window, library, tmp_path):
    window = make_window(library / "avatar_therapy.toml")
    window.resize(1440, 960)
    window.show()
    qtbot.waitExposed(window)
    window.editor.ensureWidgetVisible(window.editor.palette_table)
    qtbot.wait(50)
    # a temporary folder unless asked to refresh the committed screenshots
    folder = Path(os.environ["VED_SCREENSHOTS"]) if os.environ.get("VED_SCREENSHOTS") else tmp_path
    path = save_designer_screenshot(window, folder)
    from PIL import Image

    assert Image.open(path).size[0] >= 1000


def test_host_session_serves_the_scenario_and_shows_a_code_per_seat(qtbot, make_window, library, tmp_path):
    """*Host session…* runs `ved serve` on the open scenario in a child process and shows the
    URL and one code per seat (the same first-line JSON the command prints); a trainee joins
    with its code and gets frames; *Stop session* ends the server and keeps the recording."""
    from engine.net.client import RemoteClient

    window = make_window(library / "operating_room_bleeding.toml")
    dialog = window.host_session()
    qtbot.addWidget(dialog)
    assert "serve" in dialog.command() and "--host" not in dialog.command()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.ready, timeout=120_000)
    assert dialog.url.startswith("wss://127.0.0.1:") and set(dialog.code_fields) >= {"observers"}
    assert any(f.text() == dialog.codes[s] for s, f in dialog.code_fields.items())
    client = RemoteClient(dialog.url, dialog.codes["trainee"])  # the scenario names no roles: the stock seats
    assert client.wait_for(lambda c: c.latest_frame is not None, timeout_s=30)
    client.close()
    dialog.stop()
    assert dialog.process.exitCode() == 0 and "ended" in dialog.status.text()
    assert any((tmp_path / "recordings").rglob("summary.json"))


# ---------------------------------------------------------------- the headset
def test_the_headset_settings_are_edited_and_preview_in_headset_is_offered(qtbot, make_window, library):
    from engine.scenario import load_scenario

    path = library / "avatar_therapy.toml"
    window = make_window(path)
    e = window.editor
    assert e.vignette_combo.value() is None and e.removed_combo.value() is None  # the usual: not written
    e.vignette_combo.setCurrentIndex(1)  # off
    e.removed_combo.setCurrentIndex(1)  # the session goes on
    assert window.save()
    s = load_scenario(path)
    assert (s.headset.vignette, s.headset.when_removed) == (False, "continue")
    e.vignette_combo.setCurrentIndex(0)  # back to the usual: the key goes away
    assert window.save() and "vignette" not in path.read_text()
    assert window.headset_action in window.menuBar().actions()[-1].menu().actions()


def test_the_sounds_are_chosen_and_previewed_in_the_designer(qtbot, make_window, library):
    import numpy as np

    from engine.scenario import load_scenario

    path = library / "operating_room_bleeding.toml"
    window = make_window(path)
    e = window.editor
    loud = e.sound_sample(1.0)
    assert loud.shape == (20 * 2400, 2) and np.abs(loud).max() > 0.05  # the alarm and the monitor
    e.alarm_sound.setCurrentIndex(1)  # silent alarm
    e.monitor_sound.setCurrentIndex(2)  # never
    e.room_tone_sound.setCurrentIndex(1)
    assert not e.sound_sample(1.0).any()  # what the preview plays follows the choices
    assert window.save()
    s = load_scenario(path)
    assert (s.sounds.alarm, s.sounds.monitor, s.sounds.room_tone) == ("off", False, False)
    e.preview_sounds()  # without a sound device it says so; with one it plays
    assert e.sound_preview_status.text()


def test_the_first_run_page_says_what_the_model_shows_and_where_things_go(make_window, tmp_path):
    window = make_window(record_root=None)
    banner = window.first_run
    assert banner is not None and banner.isVisibleTo(window)
    assert "128×128" in banner.text and "operating_room" in banner.text  # from the shipped model's card
    assert str(window.user_folder) in banner.text and str(window.record_root) in banner.text
    assert window.record_root.name == "recordings" and "ved" in window.record_root.parts  # the user's data folder
    banner.dismiss()
    assert not banner.isVisibleTo(window)
    again = make_window()  # the same settings: seen once is enough
    assert again.first_run is None


def test_the_room_can_be_chosen_from_the_description_as_one_undoable_edit(qtbot, make_window, library, monkeypatch):
    import engine.model.text_scene as text_scene
    from engine.world.scene import make_scene

    asked = []

    def fake_room(text, directory=None, *, seed=0):
        asked.append((text, directory))
        return make_scene("therapy_room", 4321)

    monkeypatch.setattr(text_scene, "room_for_prompt", fake_room)
    window = make_window(library / "classroom_disruption.toml")
    editor = window.editor
    window.doc.set(("world", "prompt"), "A quiet counselling room with lavender walls and a sofa.")
    job = editor.choose_room_from_prompt()
    qtbot.waitUntil(lambda: not job.running and editor.room_from_prompt_button.isEnabled(), timeout=5000)
    assert asked == [("A quiet counselling room with lavender walls and a sofa.", None)]  # previews: reference
    assert (window.doc.get(("world", "room")), window.doc.get(("world", "seed"))) == ("therapy_room", 4321)
    assert editor.room_combo.value() == "therapy_room" and editor.seed_spin.value() == 4321
    assert "therapy room" in editor.room_from_prompt_status.text() and "4321" in editor.room_from_prompt_status.text()
    window.undo_action.trigger()
    assert (window.doc.get(("world", "room")), window.doc.get(("world", "seed"))) == ("classroom", 12)


def test_choosing_a_room_says_why_when_it_cannot(qtbot, make_window, library, monkeypatch):
    import engine.model.text_scene as text_scene
    from engine.model.io import ModelError

    def no_network(text, directory=None, *, seed=0):
        raise ModelError("the world model in M cannot choose a room from a description")

    monkeypatch.setattr(text_scene, "room_for_prompt", no_network)
    window = make_window(library / "classroom_disruption.toml")
    editor = window.editor
    window.doc.set(("world", "prompt"), "")
    assert editor.choose_room_from_prompt() is None
    assert "description first" in editor.room_from_prompt_status.text()
    window.doc.set(("world", "prompt"), "A classroom.")
    job = editor.choose_room_from_prompt()
    qtbot.waitUntil(lambda: not job.running and editor.room_from_prompt_button.isEnabled(), timeout=5000)
    assert editor.room_from_prompt_status.text().startswith("No room chosen: the world model in M cannot")
    assert (window.doc.get(("world", "room")), window.doc.get(("world", "seed"))) == ("classroom", 12)


def test_preview_menu_keeps_where_the_world_model_runs_and_its_inference_path(qtbot, make_window, library,
                                                                             monkeypatch):
    """Preview → *Run the world model on* and *Inference path*: radio items kept in the
    settings, read back by a new window, and passed to the preview's model loader and to the
    hosted server's command line."""
    window = make_window(library / "operating_room_bleeding.toml")
    assert window.setting("world_model/device") == "auto" and window.setting("world_model/path") == "auto"
    pick = {a.data(): a for a in window.path_menu.actions()}
    assert set(pick) == {"auto", "torch-fp32", "openvino-fp32", "openvino-bf16"}
    pick["torch-fp32"].trigger()
    {a.data(): a for a in window.device_menu.actions()}["cpu"].trigger()
    again = make_window(library / "operating_room_bleeding.toml", settings=window.settings)
    assert again.setting("world_model/path") == "torch-fp32" and again.setting("world_model/device") == "cpu"
    assert [a.data() for a in again.path_menu.actions() if a.isChecked()] == ["torch-fp32"]
    window.settings.setValue("world_model/path", "tensorrt")  # a value from elsewhere: not trusted
    assert window.setting("world_model/path") == "auto"
    window.settings.setValue("world_model/path", "torch-fp32")

    import engine.runtime.wiring as wiring
    from app.designer.preview import model_factory

    seen = {}
    monkeypatch.setattr(wiring, "load_model", lambda model, **kw: seen.update(kw) or "model")
    assert model_factory(None, device=again.setting("world_model/device"),
                         path=again.setting("world_model/path"))() == "model"
    assert seen["device"] == "cpu" and seen["path"] == "torch-fp32"
    from app.designer.host import HostSessionDialog

    dialog = HostSessionDialog(library / "operating_room_bleeding.toml", device="cpu", path="torch-fp32")
    qtbot.addWidget(dialog)
    cmd = dialog.command()
    assert cmd[cmd.index("--device") + 1] == "cpu" and cmd[cmd.index("--path") + 1] == "torch-fp32"
