"""The scenario form: every field of a scenario in plain language, with its problems marked.

:class:`ScenarioEditor` shows the document that ``edits.document()`` returns and turns every
user change into one undoable step through :class:`app.designer.commands.Edits`. It never
keeps values of its own: after any change the window calls :meth:`ScenarioEditor.sync`, which
shows the document again (leaving alone the fields that already show the right value).
Problems (:meth:`show_problems`) turn their field red, with the message as ``ved`` prints
it in the tooltip.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import (QButtonGroup, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QRadioButton,
                               QScrollArea, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget)

from engine.scenario.document import ScenarioDocument
from engine.scenario.schema import PALETTE_KEYS, ROLE_KINDS
from engine.world.scene import ROOM_TYPES
from engine.world.state import EVENT_NAMES, EVENTS

from .commands import Edits
from .fields import ChoiceCombo, Count, LightsEdit, TextBox, TextLine, TimeEdit, set_help
from .image_field import ImageField
from .tables import Column, RowTable

#: How a widget with a problem looks.
PROBLEM_STYLE = '*[problem="true"] { border: 2px solid #c62828; background-color: #fdecea; }'
ROLE_TEXT = {
    "trainee": ("Trainee", "The participant: sees only the generated world"),
    "game_master": ("Game master", "The supervisor who steers the world from the console, unseen"),
    "avatar": ("Avatar", "A person in the world, played or voiced by the game master"),
    "observer": ("Observer", "Watches the session without taking part"),
}
_ENTRY_NOUN = {"palette": "a game-master button", "cues": "a timed cue", "roles": "a person"}
_ENTRY_FIELD = re.compile(r"^(palette|cues|roles)\[(\d+)\](?:\.(\w+))?$")


def _event_combo() -> ChoiceCombo:
    combo = ChoiceCombo((name, f"{name} — {EVENTS[name].description}", EVENTS[name].description)
                        for name in EVENT_NAMES)
    combo.setMinimumContentsLength(22)
    return combo


def _key_combo() -> ChoiceCombo:
    return ChoiceCombo(((k, k, f"Press {k} on the console") for k in PALETTE_KEYS), none_text="no key",
                       normalise=lambda key: key.strip().upper())


def _cue_order(cue: dict) -> tuple:
    at = cue.get("at")
    number = isinstance(at, (int, float)) and not isinstance(at, bool)
    return (not number, at if number else 0.0)


class ScenarioEditor(QScrollArea):
    """Every field of the scenario. ``ask_image(folder)`` asks for a picture file."""

    def __init__(self, edits: Edits, *, ask_image: Callable[[Path], Path | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.edits, self.ask_image = edits, ask_image
        #: The world model folder previews use (None: the shipped one); the window sets it.
        self.model_dir: Callable[[], Path | None] = lambda: None
        self.room_job = None
        self._syncing = False
        self._problems: list = []
        self._marked: list[QWidget] = []
        self._fields: list[tuple[Any, tuple]] = []

        form = QWidget()
        layout = QVBoxLayout(form)
        layout.addWidget(self._about_box())
        layout.addWidget(self._world_box())
        layout.addWidget(self._headset_box())
        layout.addWidget(self._sounds_box())
        self.palette_table = self._table_box(layout, "palette", "Game-master buttons", (
            "The buttons on the game master's console, in this order. Each one sets off an event in the "
            "world; a key lets the game master press it without the mouse."), [
            Column("label", "Button text", "What the button says", lambda: TextLine(), stretch=True),
            Column("event", "What happens", "The event the button sets off in the world", _event_combo),
            Column("key", "Key", "Keyboard shortcut on the console (each key once)", _key_combo),
            Column("note", "Note for the game master", "When to use it (optional)",
                   lambda: TextLine(optional=True), stretch=True),
        ], add_text="Add button")
        self.cues_table = self._table_box(layout, "cues", "Timed cues", (
            "Events that happen on their own, at a set time after the start (the game master can still "
            "use the buttons). Shown in time order."), [
            Column("at", "Time", "When, after the start: seconds (90) or minutes:seconds (1:30)",
                   lambda: TimeEdit()),
            Column("event", "What happens", "The event that happens at that time", _event_combo),
            Column("note", "Note", "Why it happens then (optional)", lambda: TextLine(optional=True), stretch=True),
        ], add_text="Add cue", sort_key=_cue_order)
        self.roles_table = self._table_box(layout, "roles", "People in the scenario", (
            "Who takes part and what each should know; shown to the game master."), [
            Column("name", "Name", "Who this is, e.g. “Scrub nurse”", lambda: TextLine(), stretch=True),
            Column("kind", "Part they play", "; ".join(f"{t}: {h}" for t, h in ROLE_TEXT.values()),
                   lambda: ChoiceCombo((k, ROLE_TEXT[k][0], ROLE_TEXT[k][1]) for k in ROLE_KINDS)),
            Column("brief", "What they should know", "Their brief (optional)", lambda: TextLine(optional=True),
                   stretch=True),
        ], add_text="Add person")
        layout.addStretch(1)
        self.setWidget(form)
        self.setWidgetResizable(True)
        self.setStyleSheet(PROBLEM_STYLE)

    # ------------------------------------------------------------ building
    def _about_box(self) -> QGroupBox:
        box = QGroupBox("About this scenario")
        form = QFormLayout(box)
        self.title_edit = self._field(TextLine(placeholder="A short name, e.g. “Operating room: unexpected bleeding”"),
                                      ("title",), "the title", "The name shown in the library and on the console")
        self.briefing_edit = self._field(TextBox(placeholder="What the trainee is told before the session starts"),
                                         ("briefing",), "the briefing", "Read to the trainee before the start")
        self.duration_edit = self._field(TimeEdit(optional=True, placeholder="e.g. 10:00 — empty: no set length"),
                                         ("duration",), "the planned length",
                                         "How long the session is planned to last: minutes:seconds, or seconds")
        form.addRow("Title", self.title_edit)
        form.addRow("Briefing", self.briefing_edit)
        form.addRow("Planned length", self.duration_edit)
        return box

    def _world_box(self) -> QGroupBox:
        box = QGroupBox("The world")
        form = QFormLayout(box)
        self.prompt_edit = self._field(
            TextBox(placeholder="Describe the world in words: the place, the light, who and what is there"),
            ("world", "prompt"), "the world's description", "What the world is, in your own words")
        form.addRow("Description", self.prompt_edit)
        form.addRow("Opening view", self._opening_box())
        self.lights = self._field(LightsEdit(), ("world", "lights"), "the lights at the start",
                                  "How bright the room is when the session starts (100 %: normal)")
        form.addRow("Lights at the start", self.lights)
        return box

    def _headset_box(self) -> QGroupBox:
        box = QGroupBox("In the headset")
        form = QFormLayout(box)
        self.vignette_combo = self._field(
            ChoiceCombo([(False, "Off", "The view's edges stay as they are while walking")],
                        none_text="Darken the edges while walking (usual)"),
            ("headset", "vignette"), "the comfort vignette",
            "While the trainee walks with the controller, darken the edges of the view: it eases simulator "
            "sickness")
        self.removed_combo = self._field(
            ChoiceCombo([("continue", "The session goes on", "The clock keeps running while the headset is off")],
                        none_text="Pause until it is back on (usual)"),
            ("headset", "when_removed"), "what happens when the headset comes off",
            "When a trainee takes the headset off (or its software stops), pause the session or let it go on")
        form.addRow("Comfort vignette", self.vignette_combo)
        form.addRow("Headset taken off", self.removed_combo)
        return box

    def _sounds_box(self) -> QGroupBox:
        box = QGroupBox("Sounds")
        form = QFormLayout(box)
        self.alarm_sound = self._field(
            ChoiceCombo([("off", "Silent", "The alarm event changes the world but makes no sound")],
                        none_text="Medical alarm, high priority (IEC 60601-1-8)"),
            ("sounds", "alarm"), "the alarm's sound", "What the trainee hears while the alarm is on")
        self.monitor_sound = self._field(
            ChoiceCombo([(True, "Always", "The monitor beeps even in a room without one"),
                         (False, "Never", "No monitor beep")],
                        none_text="Where the room has a patient monitor (usual)"),
            ("sounds", "monitor"), "the monitor's beep",
            "The patient monitor beeps with each heartbeat, faster as the patient bleeds")
        self.room_tone_sound = self._field(
            ChoiceCombo([(False, "Off", "Silence between the sounds")], none_text="On (usual)"),
            ("sounds", "room_tone"), "the room tone", "The room's background sound (ventilation, hum)")
        self.footsteps_sound = self._field(
            ChoiceCombo([(False, "Off", "The person comes and goes without a sound")], none_text="On (usual)"),
            ("sounds", "footsteps"), "the footsteps", "Footsteps when the person (avatar) walks in or out")
        self.sound_preview_button = QPushButton("Listen…")
        set_help(self.sound_preview_button, "Play three seconds of these sounds (the alarm on, the patient "
                                            "bleeding) on this computer's speakers")
        self.sound_preview_button.clicked.connect(self.preview_sounds)
        self.sound_preview_status = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.sound_preview_button)
        row.addWidget(self.sound_preview_status, 1)
        form.addRow("Alarm", self.alarm_sound)
        form.addRow("Patient monitor", self.monitor_sound)
        form.addRow("Room tone", self.room_tone_sound)
        form.addRow("Footsteps", self.footsteps_sound)
        form.addRow("", row)
        return box

    def sound_sample(self, seconds: float = 3.0):
        """float32 ``(n, 2)``: ``seconds`` of the scenario's sounds as set now, with the alarm
        on and the patient bleeding, heard from the room's start (what *Listen…* plays)."""
        import numpy as np

        from engine.audio.world import SoundSettings, WorldAudio
        from engine.world.scene import make_scene
        from engine.world.state import WorldState

        doc = self.edits.document()
        room = doc.get(("world", "room"))
        scene = make_scene(room, doc.get(("world", "seed"), 0)) if room else None
        values = {k: doc.get(("sounds", k)) for k in ("alarm", "monitor", "room_tone", "footsteps", "volume")}
        audio = WorldAudio(scene, SoundSettings(**{k: v for k, v in values.items() if v is not None}))
        pose = (*scene.start_pose, 0.0) if scene is not None else (0.0, 0.0, 0.0, 0.0)
        state = WorldState(alarm=True, bleeding=0.8, bleeding_active=True)
        return np.concatenate([audio.render(state, pose) for _ in range(int(seconds * 20))])

    def preview_sounds(self) -> None:
        """Play :meth:`sound_sample` on the default output device (or say why not)."""
        from ..audio.output import open_output

        output, note = open_output()
        if output is None:
            self.sound_preview_status.setText(note)
            return
        output.push(self.sound_sample())
        self.sound_preview_status.setText("playing 3 s…")
        from PySide6.QtCore import QTimer

        QTimer.singleShot(3500, output.close)
        QTimer.singleShot(3500, lambda: self.sound_preview_status.setText(""))

    def _opening_box(self) -> QGroupBox:
        self.opening_box = QGroupBox()
        set_help(self.opening_box, "What the trainee sees first: a room the world model knows, or your picture")
        self.room_radio = QRadioButton("A room from the reference world")
        self.image_radio = QRadioButton("A picture")
        self.opening_choice = QButtonGroup(self)
        self.opening_choice.addButton(self.room_radio, 0)
        self.opening_choice.addButton(self.image_radio, 1)
        self.opening_choice.idClicked.connect(self._opening_chosen)
        self.room_combo = ChoiceCombo((r, r.replace("_", " ").capitalize(), f"The reference world's {r.replace('_', ' ')}")
                                      for r in ROOM_TYPES)
        set_help(self.room_combo, "Which room the world opens in")
        self.room_combo.on_change(lambda: self._edited(("world", "room"), self.room_combo.value(), "the room"))
        self.seed_spin = Count()
        set_help(self.seed_spin, "Which variation of the room (furniture, colours): the same number always gives "
                                 "the same room")
        self.seed_spin.on_change(lambda: self._edited(("world", "seed"), self.seed_spin.value(), "the room layout"))
        room_page = QWidget()
        room_form = QFormLayout(room_page)
        room_form.setContentsMargins(0, 0, 0, 0)
        room_form.addRow("Room", self.room_combo)
        room_form.addRow("Layout number", self.seed_spin)
        self.room_from_prompt_button = QPushButton("Choose from the description")
        set_help(self.room_from_prompt_button, "Let the world model pick the room, its colours and furniture that "
                                               "best match the description above (you can change them after)")
        self.room_from_prompt_button.clicked.connect(self.choose_room_from_prompt)
        self.room_from_prompt_status = QLabel("")
        self.room_from_prompt_status.setWordWrap(True)
        self.room_from_prompt_status.setStyleSheet("color: #555;")
        chooser = QHBoxLayout()
        chooser.addWidget(self.room_from_prompt_button)
        chooser.addWidget(self.room_from_prompt_status, 1)
        room_form.addRow("", chooser)
        self.image_field = ImageField()
        self.image_field.on_choose = self._choose_image
        self.image_field.thumbnail.on_drop = self._set_image
        self.opening_pages = QStackedWidget()
        self.opening_pages.addWidget(room_page)
        self.opening_pages.addWidget(self.image_field)
        radios = QHBoxLayout()
        radios.addWidget(self.room_radio)
        radios.addWidget(self.image_radio)
        radios.addStretch(1)
        layout = QVBoxLayout(self.opening_box)
        layout.addLayout(radios)
        layout.addWidget(self.opening_pages)
        return self.opening_box

    def _table_box(self, layout: QVBoxLayout, name: str, title: str, help_text: str, columns: list[Column], *,
                   add_text: str, sort_key=None) -> RowTable:
        box = QGroupBox(title)
        intro = QLabel(help_text)
        intro.setWordWrap(True)
        intro.setStyleSheet("color: #555;")
        table = RowTable(name, columns, add_text=add_text, sort_key=sort_key)
        table.on_edit = lambda index, key, value: self._edited((name, index, key), value, f"{_ENTRY_NOUN[name]}")
        table.on_add = lambda index: self._add_entry(table, index)
        table.on_remove = lambda index: self._change_entries(
            table, f"Remove {_ENTRY_NOUN[name]}", lambda d: d.remove_item(name, index), index)
        table.on_move = lambda source, dest: self._change_entries(
            table, f"Move {_ENTRY_NOUN[name]}", lambda d: d.move_item(name, source, dest), dest)
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(intro)
        box_layout.addWidget(table)
        layout.addWidget(box)
        return table

    def _field(self, widget, path: tuple, label: str, help_text: str):
        set_help(widget.spin if isinstance(widget, LightsEdit) else widget, help_text)
        widget.on_change(lambda: self._edited(path, widget.value(), label))
        self._fields.append((widget, path))
        return widget

    # ------------------------------------------------------------ changes
    def _edited(self, path: tuple, value: Any, label: str) -> None:
        if self._syncing:
            return
        self.edits.apply(f"Edit {label}", lambda d: d.set(path, value), merge_key=".".join(map(str, path)))

    def _opening_chosen(self, choice: int) -> None:
        if self._syncing:
            return
        room, seed = self.room_combo.value() or ROOM_TYPES[0], self.seed_spin.value()

        def use_room(doc: ScenarioDocument) -> None:
            doc.set(("world", "image"), None)
            doc.set(("world", "room"), room)
            doc.set(("world", "seed"), seed)

        if choice == 0:
            self.edits.apply("Open in a room", use_room)
        else:  # the picture is chosen next (the opening view is marked until then)
            self.edits.apply("Open on a picture", _leave_the_room)

    def choose_room_from_prompt(self):
        """Pick the room preset the description asks for (the world model's text-to-scene
        network, :func:`engine.model.text_scene.room_for_prompt`, on a job: the sentence
        encoder takes seconds to load) and open the world in it, as one undoable edit. Returns
        the job, or None when there is nothing to do."""
        text = str(self.edits.document().get(("world", "prompt")) or "").strip()
        if not text:
            self.room_from_prompt_status.setText("Write the description first.")
            return None
        if self.room_job is not None and self.room_job.running:
            return None
        from ..jobs import Job

        model_dir = self.model_dir()
        if model_dir is not None and not Path(model_dir).is_dir():
            model_dir = None  # previews on the reference world: ask the shipped model

        def work(progress):
            from engine.model.text_scene import room_for_prompt

            scene = room_for_prompt(text, model_dir)
            return scene.room_type, scene.seed, scene.caption().rstrip(".")

        self.room_from_prompt_button.setEnabled(False)
        self.room_from_prompt_status.setText("Reading the description…")
        self.room_job = Job(work, title="Choosing a room", parent=self)
        self.room_job.done.connect(self._room_chosen)
        self.room_job.failed.connect(self._room_not_chosen)
        self.room_job.cancelled.connect(lambda: self._room_not_chosen("cancelled"))
        return self.room_job.start()

    def _room_chosen(self, result) -> None:
        room, seed, summary = result
        self.room_from_prompt_button.setEnabled(True)

        def use_room(doc: ScenarioDocument) -> None:
            doc.set(("world", "image"), None)
            doc.set(("world", "room"), room)
            doc.set(("world", "seed"), int(seed))

        self.edits.apply("Choose the room from the description", use_room)
        self.room_from_prompt_status.setText(f"Chose {summary} (layout {seed}).")

    def _room_not_chosen(self, message: str) -> None:
        self.room_from_prompt_button.setEnabled(True)
        self.room_from_prompt_status.setText(f"No room chosen: {message}")

    def _choose_image(self) -> None:
        doc = self.edits.document()
        current = doc.image_file()
        path = self.ask_image(current.parent if current is not None else doc.base_dir)
        if path is not None:
            self._set_image(path)

    def _set_image(self, path: Path) -> None:
        """Open on picture ``path``: written relative to the scenario's folder when inside
        it, else as given (saving copies it next to the scenario)."""
        doc = self.edits.document()
        path = Path(path).resolve()
        base = doc.base_dir.resolve()
        value = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)

        def use_picture(doc: ScenarioDocument) -> None:
            _leave_the_room(doc)
            doc.set(("world", "image"), value)

        self.edits.apply("Choose the opening picture", use_picture)

    def _add_entry(self, table: RowTable, index: int) -> None:
        name = table.name
        items = self.edits.document().items(name)
        if name == "palette":
            used = {str(b.get("key", "")).upper() for b in items}
            data = {"label": "New button", "event": EVENT_NAMES[0],
                    "key": next((k for k in PALETTE_KEYS if k not in used), None)}
        elif name == "cues":
            times = [c["at"] for c in items if not _cue_order(c)[0]]
            data = {"at": float(max(times, default=0.0) + 30.0), "event": EVENT_NAMES[0]}
        else:
            data = {"name": "New person", "kind": "avatar" if any(r.get("kind") == "trainee" for r in items)
                    else "trainee"}
        self._change_entries(table, f"Add {_ENTRY_NOUN[name]}", lambda d: d.insert_item(name, index, data), index,
                             focus=True)

    def _change_entries(self, table: RowTable, label: str, change: Callable, select: int, *, focus=False) -> None:
        if self.edits.apply(label, change):
            count = self.edits.document().count(table.name)
            if count:
                table.select(min(select, count - 1), focus=focus)

    # ------------------------------------------------------------ showing
    def sync(self, *, resort: bool = False) -> None:
        """Show the document (``resort``: sort the cues again)."""
        doc = self.edits.document()
        self._syncing = True
        try:
            for widget, path in self._fields:
                widget.show_value(doc.get(path))
            room, image = doc.get(("world", "room")), doc.get(("world", "image"))
            in_room = room is not None and image is None
            (self.room_radio if in_room else self.image_radio).setChecked(True)
            self._show_opening_page(0 if in_room else 1)
            if room is not None:  # else the room shown last stays, should the person go back to it
                self.room_combo.show_value(room)
                self.seed_spin.show_value(doc.get(("world", "seed")))
            self.image_field.show_image(image if isinstance(image, str) else None, doc.image_file())
            for table in (self.palette_table, self.cues_table, self.roles_table):
                table.set_items(doc.items(table.name), resort=resort)
        finally:
            self._syncing = False
        self._mark()

    def _show_opening_page(self, index: int) -> None:
        """Show one page of the opening view, sized to that page alone."""
        self.opening_pages.setCurrentIndex(index)
        for i in range(self.opening_pages.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.opening_pages.widget(i).setSizePolicy(policy, policy)
        self.opening_pages.adjustSize()

    def show_problems(self, problems: list) -> None:
        """Mark the field of each problem (red, the message in its tooltip)."""
        self._problems = list(problems)
        self._mark()

    def widget_for(self, field: str | None) -> QWidget | None:
        """The widget that edits ``field`` (``"palette[1].key"``), or the closest one that
        holds it; None for problems of the whole file."""
        simple = {"title": self.title_edit, "briefing": self.briefing_edit, "duration": self.duration_edit,
                  "world": self.opening_box, "world.prompt": self.prompt_edit, "world.room": self.room_combo,
                  "world.seed": self.seed_spin, "world.image": self.image_field.thumbnail,
                  "world.lights": self.lights.spin, "headset.vignette": self.vignette_combo,
                  "headset.when_removed": self.removed_combo, "sounds.alarm": self.alarm_sound,
                  "sounds.monitor": self.monitor_sound, "sounds.room_tone": self.room_tone_sound,
                  "sounds.footsteps": self.footsteps_sound, "palette": self.palette_table.table,
                  "cues": self.cues_table.table, "roles": self.roles_table.table}
        while field:
            if field in simple:
                return simple[field]
            if match := _ENTRY_FIELD.match(field):
                table = {"palette": self.palette_table, "cues": self.cues_table, "roles": self.roles_table}[match[1]]
                widget = table.cell_for(int(match[2]), match[3])
                if widget is not None:
                    return widget
            field = re.sub(r"(\.\w+|\[\d+\])$", "", field) if re.search(r"(\.\w+|\[\d+\])$", field) else ""
        return None

    def focus_field(self, field: str | None) -> bool:
        """Scroll to and focus the widget of ``field``; False if it has none."""
        widget = self.widget_for(field)
        if widget is None:
            return False
        for table in (self.palette_table, self.cues_table, self.roles_table):
            if table.isAncestorOf(widget):
                match = _ENTRY_FIELD.match(field or "")
                if match:
                    table.select(int(match[2]))
        self.ensureWidgetVisible(widget)
        widget.setFocus()
        return True

    def _mark(self) -> None:
        for widget in self._marked:
            try:
                _set_problem(widget, None)
            except RuntimeError:  # a table row that was rebuilt
                pass
        messages: dict[QWidget, list[str]] = {}
        for problem in self._problems:
            widget = self.widget_for(problem.field)
            if widget is not None:
                text = f"{problem.field}: {problem.message}" if problem.field else problem.message
                messages.setdefault(widget, []).append(text)
        for widget, lines in messages.items():
            _set_problem(widget, "\n".join(lines))
        self._marked = list(messages)


def _leave_the_room(doc: ScenarioDocument) -> None:
    """Remove the room preset and its layout number (a picture opens the world instead)."""
    doc.set(("world", "room"), None)
    doc.set(("world", "seed"), None)


def _set_problem(widget: QWidget, message: str | None) -> None:
    """Show ``message`` on ``widget`` (red, as its tooltip), or take a problem away (None)."""
    if bool(widget.property("problem")) == (message is not None) and widget.toolTip() == (
            message if message is not None else widget.property("help_text") or ""):
        return
    widget.setProperty("problem", message is not None)
    widget.setToolTip(message if message is not None else widget.property("help_text") or "")
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    widget.update()
