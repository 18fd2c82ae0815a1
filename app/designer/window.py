"""The scenario designer: the app's main window.

The library of scenarios on the left, the scenario's form in the middle, its problems
underneath; File, Edit and Preview in the menus and the toolbar. One scenario is open at a
time, as a :class:`engine.scenario.document.ScenarioDocument`: what is saved is the same TOML
``ved run`` reads, with the file's comments kept.

Heavy modules (the world model, the renderer, video) are imported only when a preview starts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence, QUndoStack
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMenu, QVBoxLayout, QWidget
from shiboken6 import isValid

from engine.machine import DEVICE_CHOICES, PATH_CHOICES
from engine.scenario.document import ScenarioDocument
from engine.scenario.loader import Problem, ScenarioError
from engine.world.scene import ROOM_TYPES

from .autosave import AutosaveStore, Recovery
from .commands import Edits
from .dialogs import Dialogs, NewScenario
from .editor import ScenarioEditor
from .library import LibraryPanel
from .problems import ProblemsPanel, problem_text
from .recent import RecentFiles
from .recording_bar import RecordingBar
from .scenario_files import (default_library_folders, duplicate_scenario, move_to_trash, recording_dir, slug,
                             user_data_folder)

#: Autosave period while there are unsaved changes, seconds.
AUTOSAVE_INTERVAL_S = 10.0
#: Quiet time after an edit before the scenario is checked again, milliseconds.
VALIDATE_DELAY_MS = 200
APP_NAME = "Scenario designer"


def show_debrief(folder: Path) -> QWidget | None:
    """Open the debrief view of recording ``folder`` (None when this version has none)."""
    try:
        from app.debrief.window import DebriefWindow
    except ImportError:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.information(None, "Debrief", f"The debrief view is not available. The recording is in {folder}.")
        return None
    window = DebriefWindow(folder)
    window.show()
    return window


class DesignerWindow(QMainWindow):
    """The designer, on scenario ``path`` (a new, untitled scenario without one).

    Args:
        path: the scenario file to open.
        library_folders: ``(name, folder)`` pairs listed in the library (default: the shipped
            examples and the user's folder); the last one is where new scenarios and
            duplicates go.
        settings: where recent files are kept (default: the user's ``ved`` settings).
        autosave_dir: the autosave folder (default ``<user data>/ved/autosave``).
        autosave_interval_s: autosave period while there are unsaved changes.
        model: the preview's world model: None (shipped), ``"reference"`` or a folder.
        record_root: where previews are recorded (default: ``recordings`` in the user's data
            folder, ``~/.local/share/ved/recordings`` on Linux; never the app's own folder).
        open_debrief: called with a recording folder by *Open debrief*.
        dialogs: answers the designer's questions (tests pass canned answers).
        recover_on_start: offer autosaves left by a crash once the window is up.
    """

    def __init__(self, path: str | Path | None = None, *, library_folders: list[tuple[str, Path]] | None = None,
                 settings: QSettings | None = None, autosave_dir: str | Path | None = None,
                 autosave_interval_s: float = AUTOSAVE_INTERVAL_S, model=None,
                 record_root: str | Path | None = None, open_debrief: Callable[[Path], object] | None = None,
                 dialogs: Dialogs | None = None, recover_on_start: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.folders = library_folders or default_library_folders()
        self.user_folder = Path(self.folders[-1][1])
        self.settings = settings or QSettings("ved", "designer")
        self.recent = RecentFiles(self.settings)
        self.autosaves = AutosaveStore(autosave_dir or user_data_folder() / "autosave")
        #: The world model previews play on: ``model`` if given, else the one chosen under
        #: Preview → World model… (kept in the settings), else the shipped default (None).
        self.model = model if model is not None else self._chosen_model()
        self.record_root = Path(record_root) if record_root is not None else user_data_folder() / "recordings"
        self.open_debrief = open_debrief or self._show_debrief
        self.dialogs = dialogs or Dialogs(self)
        #: The problems found by the last check (see :meth:`validate_now`).
        self.problems: list[Problem] = []
        #: The running or last preview (:class:`app.designer.preview.Preview`), and its recording.
        self.preview = None
        self.last_recording: Path | None = None
        self._debriefs: list[QWidget] = []
        self._autosave_file: Path | None = None
        self._autosaved_text: str | None = None

        self.doc = ScenarioDocument.new(title="New scenario", prompt="", room=ROOM_TYPES[0], base_dir=self.user_folder)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(lambda _clean: self._update_title())
        self.edits = Edits(self.undo_stack, lambda: self.doc, changed=self._changed)
        self._build_actions()
        self.editor = ScenarioEditor(self.edits, ask_image=self.dialogs.ask_image_path)
        self.editor.model_dir = lambda: self.model
        self.recording_bar = RecordingBar(self.open_debrief)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        from .first_run import FirstRunBanner

        #: What the shipped model can show and where things are kept, until dismissed once.
        self.first_run = None
        if FirstRunBanner.wanted(self.settings):
            self.first_run = FirstRunBanner(self.settings, scenarios=self.user_folder, recordings=self.record_root)
            layout.addWidget(self.first_run)
        layout.addWidget(self.recording_bar)
        layout.addWidget(self.editor, 1)
        self.setCentralWidget(central)
        self.library = LibraryPanel(self.folders, [self.new_action, self.open_action, self.duplicate_action,
                                                   self.delete_action])
        self.library.on_open = self.open_file
        self.library.tree.currentItemChanged.connect(lambda *_: self._update_library_actions())
        self.problems_panel = ProblemsPanel()
        self.problems_panel.on_pick = self.editor.focus_field
        library_dock = self._dock(self.library, "Library", Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock(self.problems_panel, "Problems", Qt.DockWidgetArea.BottomDockWidgetArea)
        self._build_menus()
        self.statusBar()
        self.resize(1280, 860)
        self.resizeDocks([library_dock], [360], Qt.Orientation.Horizontal)

        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(round(autosave_interval_s * 1000))
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()

        self._set_document(self.doc)
        if path is not None:
            self.open_file(path)
        if recover_on_start:
            QTimer.singleShot(0, self.offer_recoveries)

    # ------------------------------------------------------------ building
    def _action(self, text: str, slot: Callable, *, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _setting_menu(self, title: str, key: str, choices: tuple, labels: dict) -> QMenu:
        """A menu of radio items, one per choice, kept under ``key`` in the settings."""
        from PySide6.QtGui import QActionGroup

        menu = QMenu(title, self)
        group = QActionGroup(menu)
        current = self.setting(key)
        for choice in choices:
            action = QAction(labels.get(choice, choice), menu, checkable=True)
            action.setData(choice)
            action.setChecked(choice == current)
            action.triggered.connect(lambda _checked=False, c=choice: self.settings.setValue(key, c))
            group.addAction(action)
            menu.addAction(action)
        return menu

    def setting(self, key: str) -> str:
        """The world-model setting ``key`` (``world_model/device`` or ``world_model/path``),
        ``"auto"`` when unset or no longer valid."""
        value = str(self.settings.value(key, "auto") or "auto")
        return value if value in (DEVICE_CHOICES if key.endswith("device") else PATH_CHOICES) else "auto"

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.new_action = self._action("New…", self.new_scenario, shortcut=std.New,
                                       tip="Start a new scenario from a sentence and a picture or a room")
        self.open_action = self._action("Open…", self.ask_open, shortcut=std.Open, tip="Open a scenario file")
        self.duplicate_action = self._action("Duplicate", self.duplicate_selected,
                                             tip="Make your own copy of the selected scenario in your folder")
        self.delete_action = self._action("Delete…", self.delete_selected,
                                          tip="Move the selected scenario to the trash folder beside it")
        self.save_action = self._action("Save", self.save, shortcut=std.Save, tip="Save the scenario")
        self.save_as_action = self._action("Save As…", self.save_as, shortcut=std.SaveAs,
                                           tip="Save the scenario under another name")
        self.close_action = self._action("Close window", self.close, shortcut=std.Close)
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence(std.Undo))
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcut(QKeySequence(std.Redo))
        self.undo_action.setIconText("Undo")  # the toolbar's text; the menu names the step
        self.redo_action.setIconText("Redo")
        self.preview_action = self._action("▶  Preview", self.start_preview, shortcut=Qt.Key.Key_F5,
                                           tip="Play the scenario now: trainee view and game-master console (F5)")
        font = QFont(self.font())
        font.setBold(True)
        self.preview_action.setFont(font)
        self.headset_action = self._action("Preview in headset", lambda: self.start_preview(xr=True),
                                           tip="Play the scenario with the trainee in the OpenXR headset (the "
                                               "desktop trainee window when no headset runtime is found)")
        self.host_action = self._action("Host session…", self.host_session,
                                        tip="Serve the scenario to other computers: trainees, game masters and "
                                            "observers join it with their own code")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.new_action, self.open_action):
            file_menu.addAction(action)
        self.recent_menu = QMenu("Open recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        for action in (self.save_action, self.save_as_action, self.duplicate_action, self.delete_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        preview_menu = self.menuBar().addMenu("&Preview")
        preview_menu.addAction(self.preview_action)
        preview_menu.addAction(self.headset_action)
        preview_menu.addAction(self.host_action)
        preview_menu.addSeparator()
        preview_menu.addAction(self._action("World model…", self.choose_model,
                                            tip="The world model previews play on; install one trained elsewhere"))
        self.device_menu = self._setting_menu(
            "Run the world model on", "world_model/device", DEVICE_CHOICES,
            {"auto": "Automatic (a CUDA GPU when there is one)", "cpu": "The processor (CPU)", "cuda": "The GPU (CUDA)"})
        self.path_menu = self._setting_menu(
            "Inference path", "world_model/path", PATH_CHOICES,
            {"auto": "Automatic (measured on this computer once)", "torch-fp32": "torch float32 (the reference)",
             "openvino-fp32": "OpenVINO float32", "openvino-bf16": "OpenVINO bfloat16 (processors with native bf16)"})
        preview_menu.addMenu(self.device_menu)
        preview_menu.addMenu(self.path_menu)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for group in ((self.new_action, self.open_action, self.save_action), (self.undo_action, self.redo_action),
                      (self.preview_action,)):
            toolbar.addActions(list(group))
            toolbar.addSeparator()
        self.preview_button = toolbar.widgetForAction(self.preview_action)
        self.preview_button.setStyleSheet("QToolButton { background-color: #2e7d32; color: white; padding: 4px 14px;"
                                          " border-radius: 4px; } QToolButton:disabled { background-color: #9e9e9e; }")

    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}-dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(area, dock)
        return dock

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent.paths():
            self.recent_menu.addAction(path.name, lambda p=path: self.open_file(p)).setToolTip(str(path))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # ------------------------------------------------------------ the document
    @property
    def modified(self) -> bool:
        """Whether there are unsaved changes."""
        return not self.undo_stack.isClean()

    def _set_document(self, doc: ScenarioDocument, *, clean: bool = True, autosave_file: Path | None = None) -> None:
        self.doc = doc
        self.undo_stack.clear()
        if not clean:
            self.undo_stack.resetClean()
        self._autosave_file, self._autosaved_text = autosave_file, None
        self.editor.sync(resort=True)
        self.validate_now()
        self._update_title()
        self.library.select_path(doc.path)
        self._update_library_actions()

    def _changed(self, restored: bool) -> None:
        self.editor.sync(resort=restored)
        self._validate_timer.start()
        self._update_title()

    def _update_title(self) -> None:
        if not isValid(self.undo_stack):  # the stack says it is clean while being destroyed
            return
        name = self.doc.path.name if self.doc.path is not None else "Untitled"
        self.setWindowTitle(f"{name}{'*' if self.modified else ''} — {APP_NAME}")

    def _update_library_actions(self) -> None:
        self.delete_action.setEnabled(self.library.selected_path() is not None)
        self.duplicate_action.setEnabled(self.library.selected_path() is not None or self.doc.path is not None)

    def validate_now(self) -> list[Problem]:
        """Check the scenario now and show its problems (also runs shortly after each edit)."""
        self._validate_timer.stop()
        self.problems = self.doc.validate()
        self.editor.show_problems(self.problems)
        self.problems_panel.show_problems(self.problems)
        self._update_preview_action()
        return self.problems

    # ------------------------------------------------------------ files
    def _may_discard(self) -> bool:
        """True when the open scenario may be replaced: saved, or the person said so."""
        if not self.modified:
            return True
        answer = self.dialogs.ask_save_changes(self.doc.path.name if self.doc.path else "Untitled")
        if answer == "save":
            return self.save()
        if answer == "discard":
            self._drop_autosave()
            return True
        return False

    def open_file(self, path: str | Path) -> bool:
        """Open scenario ``path`` (after asking about unsaved changes); False if not opened."""
        if self.doc.path is not None and Path(path).resolve() == self.doc.path.resolve() and not self.modified:
            return True
        if not self._may_discard():
            return False
        try:
            doc = ScenarioDocument.load(path)
        except ScenarioError as e:
            self.dialogs.error("Cannot open the scenario", str(e))
            return False
        self._set_document(doc)
        self.recent.add(doc.path)
        return True

    def ask_open(self) -> bool:
        path = self.dialogs.ask_open_path(self.doc.base_dir)
        return path is not None and self.open_file(path)

    def new_scenario(self, details: NewScenario | None = None) -> bool:
        """Start a new, unsaved scenario from ``details`` (asked for when not given)."""
        if not self._may_discard():
            return False
        details = details or self.dialogs.ask_new_scenario()
        if details is None:
            return False
        doc = ScenarioDocument.new(title=details.title, prompt=details.prompt, image=details.image,
                                   room=details.room, base_dir=self.user_folder)
        self._set_document(doc, clean=False)
        self.editor.briefing_edit.setFocus()
        return True

    def save(self) -> bool:
        """Save to the scenario's file (asking for one if it has none); False if not saved."""
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        """Save under ``path`` (asked for when not given)."""
        if path is None:
            title = self.doc.get(("title",))
            suggested = self.doc.path or self.user_folder / f"{slug(title if isinstance(title, str) else '')}.toml"
            path = self.dialogs.ask_save_path(suggested)
            if path is None:
                return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        problems = self.validate_now()
        if problems and not self.dialogs.confirm(
                "Save a draft?", f"The scenario has {len(problems)} problem(s) and cannot be played until they are "
                f"fixed:\n\n" + "\n".join(problem_text(p) for p in problems[:8]) + "\n\nSave it as a draft anyway?",
                "Save draft"):
            return False
        self.edits.apply("Copy the picture next to the scenario", lambda d: d.bundle_image(path.parent))
        try:
            self.doc.save(path)
        except OSError as e:
            self.dialogs.error("Cannot save the scenario", f"{path}: {e}")
            return False
        self.undo_stack.setClean()
        self._drop_autosave()
        self.recent.add(path)
        self.library.refresh()
        self.library.select_path(path)
        self.validate_now()
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def duplicate_selected(self) -> bool:
        """Copy the selected scenario (or the open one) into the user's folder and open it."""
        source = self.library.selected_path() or self.doc.path
        if source is None:
            return False
        try:
            copy = duplicate_scenario(source, self.user_folder)
        except (ScenarioError, OSError) as e:
            self.dialogs.error("Cannot duplicate the scenario", str(e))
            return False
        self.library.refresh()
        self.library.select_path(copy)
        return self.open_file(copy)

    def delete_selected(self) -> bool:
        """Move the selected scenario to its folder's trash, after asking."""
        path = self.library.selected_path()
        if path is None or not self.dialogs.confirm(
                "Delete the scenario?", f"Move “{path.name}” to the trash folder ({path.parent / '.trash'})? "
                "You can get it back from there.", "Move to trash"):
            return False
        try:
            trashed = move_to_trash(path)
        except OSError as e:
            self.dialogs.error("Cannot delete the scenario", f"{path}: {e}")
            return False
        self.recent.remove(path)
        if self.doc.path is not None and self.doc.path.resolve() == path.resolve():
            self.doc.forget_path()  # it stays open, unsaved: nothing is lost
            self.undo_stack.resetClean()
            self._update_title()
        self.library.refresh()
        self.statusBar().showMessage(f"Moved to {trashed}", 8000)
        return True

    # ------------------------------------------------------------ autosave
    def autosave_now(self) -> Path | None:
        """Write unsaved changes to the autosave folder; returns the autosave file (None when
        there is nothing unsaved)."""
        if not self.modified:
            return None
        text = self.doc.text()
        if self._autosave_file is None:
            self._autosave_file = self.autosaves.file_for(self.doc.path)
        if text != self._autosaved_text:
            title = self.doc.get(("title",))
            self.autosaves.write(self._autosave_file, text, original=self.doc.path,
                                 title=title if isinstance(title, str) else "")
            self._autosaved_text = text
        return self._autosave_file

    def _drop_autosave(self) -> None:
        if self._autosave_file is not None:
            self.autosaves.remove(self._autosave_file)
        self._autosave_file, self._autosaved_text = None, None

    def pending_recoveries(self) -> list[Recovery]:
        """Autosaves left by a designer that did not close cleanly, newest first."""
        return self.autosaves.pending(exclude=self._autosave_file)

    def recover(self, recovery: Recovery | str | Path) -> bool:
        """Open the unsaved work of ``recovery`` (or of that autosave file), as unsaved changes
        to its scenario file; False if it could not be opened."""
        if not isinstance(recovery, Recovery):
            found = [r for r in self.autosaves.pending() if r.file == Path(recovery)]
            if not found:
                return False
            recovery = found[0]
        if not self._may_discard():
            return False
        try:
            text = recovery.file.read_text(encoding="utf-8")
            original = recovery.original
            doc = ScenarioDocument(text, original, base_dir=self.user_folder)
        except (OSError, ScenarioError) as e:
            self.dialogs.error("Cannot recover the scenario", str(e))
            return False
        self._set_document(doc, clean=False, autosave_file=recovery.file)
        self.statusBar().showMessage(f"Recovered {recovery.describe()}; save it to keep it.", 8000)
        return True

    def offer_recoveries(self) -> None:
        """Ask about each autosave a crash left, until one is recovered."""
        for recovery in self.pending_recoveries():
            answer = self.dialogs.ask_recover(recovery)
            if answer == "recover" and self.recover(recovery):
                return
            if answer == "discard":
                self.autosaves.remove(recovery.file)

    # ------------------------------------------------------------ preview
    def _chosen_model(self) -> Path | None:
        from .models import SETTINGS_KEY

        value = str(self.settings.value(SETTINGS_KEY, "") or "")
        return Path(value) if value and (Path(value) / "model_card.json").is_file() else None

    def models_folder(self) -> Path:
        """Where installed models live (``models`` in the user's data folder)."""
        return user_data_folder() / "models"

    def choose_model(self, ask_folder=None):
        """*Preview → World model…*: returns the dialog after it closes."""
        from .models import SETTINGS_KEY, ModelsDialog

        current = Path(self.model) if isinstance(self.model, (str, Path)) and self.model != "reference" else None
        dialog = ModelsDialog(self.models_folder(), current, ask_folder=ask_folder, parent=self)
        if dialog.exec():
            self.model = dialog.chosen
            self.settings.setValue(SETTINGS_KEY, str(dialog.chosen) if dialog.chosen else "")
            self.statusBar().showMessage(f"Previews play on {dialog.chosen or 'the shipped model'}", 8000)
        return dialog

    def start_preview(self, xr: bool = False):
        """Play the scenario in the trainee window and the game-master console, recorded under
        ``record_root``; while one runs, stop it. With ``xr`` the trainee is also put in the
        headset. Returns the preview (None if the scenario has problems or the preview could
        not start)."""
        if self.preview is not None and self.preview.running:
            self.preview.close()
            return self.preview
        if self.validate_now():
            self.statusBar().showMessage(self.preview_action.toolTip(), 8000)
            return None
        try:
            scenario = self.doc.scenario()
        except ScenarioError:
            return None
        from app.designer.preview import Preview  # loads the session machinery on first use only

        preview = Preview(scenario, model=self.model, record_dir=recording_dir(self.record_root, scenario.title), xr=xr,
                          device=self.setting("world_model/device"), path=self.setting("world_model/path"))
        preview.closed.connect(lambda summary: self._preview_closed(preview, summary))
        try:
            self.preview = preview.start()
        except Exception as e:  # noqa: BLE001 (shown to the person; the designer keeps running)
            self.dialogs.error("The preview could not start", f"{type(e).__name__}: {e}")
            return None
        self.recording_bar.hide()
        self._update_preview_action()
        return preview

    def host_session(self):
        """Serve the scenario to other computers (:class:`app.designer.host.HostSessionDialog`),
        saving it first if it has unsaved changes. Returns the dialog (None if the scenario has
        problems or was not saved)."""
        if self.validate_now():
            self.statusBar().showMessage("Fix the problems listed below before hosting the scenario", 8000)
            return None
        if (self.doc.path is None or not self.undo_stack.isClean()) and not self.save():
            return None
        from app.designer.host import HostSessionDialog

        title = self.doc.scenario().title
        dialog = HostSessionDialog(self.doc.path, model=self.model if isinstance(self.model, (str, Path)) else None,
                                   record_dir=recording_dir(self.record_root, title), parent=self,
                                   device=self.setting("world_model/device"), path=self.setting("world_model/path"))
        self.host_dialog = dialog
        dialog.show()
        return dialog

    def wait_for_preview(self, timeout_s: float = 60.0) -> None:
        """Let a closing preview finish its recording (processing events meanwhile)."""
        end = time.monotonic() + timeout_s
        while self.preview is not None and self.preview.running and time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)

    def _preview_closed(self, preview, summary) -> None:
        folder = Path(summary.directory) if summary is not None else Path(preview.record_dir)
        self.last_recording = folder if folder.is_dir() else None
        details = f"{summary.frames} frames, {summary.events} events" if summary is not None else ""
        self.recording_bar.show_recording(self.last_recording, details)
        self._update_preview_action()

    def _update_preview_action(self) -> None:
        running = self.preview is not None and self.preview.running
        if running:
            self.preview_action.setText("■  Stop preview")
            self.preview_action.setToolTip("A preview is running in its own windows; click to stop it")
            self.preview_action.setEnabled(True)
        elif self.problems:
            self.preview_action.setText("▶  Preview")
            self.preview_action.setToolTip(f"Fix the {len(self.problems)} problem(s) listed below first: "
                                           + problem_text(self.problems[0]))
            self.preview_action.setEnabled(False)
        else:
            self.preview_action.setText("▶  Preview")
            self.preview_action.setToolTip("Play the scenario now: trainee view and game-master console (F5)")
            self.preview_action.setEnabled(True)

    def _show_debrief(self, folder: Path) -> None:
        window = show_debrief(folder)
        if window is not None:
            self._debriefs.append(window)

    # ------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if not self._may_discard():
            event.ignore()
            return
        self._drop_autosave()
        self.autosave_timer.stop()
        self._validate_timer.stop()
        if self.preview is not None and self.preview.running:
            self.preview.close()
        event.accept()


def run_designer(path: str | Path | None = None) -> int:
    """Open the designer on ``path`` (default: the operating-room example) and run until it
    is closed. Returns 0."""
    from app.qtapp import ensure_app

    from .scenario_files import DEFAULT_SCENARIO

    app = ensure_app()
    window = DesignerWindow(path if path is not None else DEFAULT_SCENARIO)
    window.show()
    app.exec()
    window.wait_for_preview()
    return 0
