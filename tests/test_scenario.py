"""Scenario files: shipped examples, error reporting (file, line, field, what is allowed), round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scenario import Scenario, ScenarioError, load_scenario, loads_scenario
from engine.scenario.loader import dump_scenario
from engine.world.scene import ROOM_TYPES
from engine.world.state import EVENT_NAMES

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))

VALID = '''\
format = 1
title = "Test scenario"
briefing = """
Two lines of briefing.
at = 3 looks like a key but is text.
"""
duration = 120.0

[world]
prompt = "An operating room."
room = "operating_room"
seed = 4

[[palette]]
label = "Bleeding starts"
event = "bleeding_start"
key = "B"

[[palette]]
label = "Alarm"
event = "alarm_on"
key = "A"

[[cues]]
at = 10.0
event = "alarm_on"

[[cues]]
at = 5.0
event = "bleeding_start"
note = "first"
'''


def line_of(text: str, snippet: str, occurrence: int = 0) -> int:
    """1-based line of the ``occurrence``-th line of ``text`` that contains ``snippet``."""
    return [i for i, line in enumerate(text.splitlines(), 1) if snippet in line][occurrence]


def replace_nth(text: str, old: str, new: str, occurrence: int) -> str:
    parts = text.split(old)
    return old.join(parts[: occurrence + 1]) + new + old.join(parts[occurrence + 1 :])


def load_error(tmp_path: Path, text: str) -> tuple[ScenarioError, Path]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value, path


def check(err: ScenarioError, path: Path, line: int | None, field: str | None, *words: str) -> None:
    """The first problem is at ``line``/``field`` and its text names the file and ``words``."""
    assert (err.path, err.line, err.field) == (str(path), line, field), str(err)
    first = str(err).splitlines()[0]
    prefix = str(path) + (f":{line}" if line is not None else "") + (f": {field}" if field else "")
    assert first.startswith(prefix + ": "), first
    for word in words:
        assert word in first, first


# --- shipped scenarios --------------------------------------------------------------------


def test_there_is_one_scenario_per_vertical():
    rooms = {load_scenario(p).world.room for p in SCENARIOS}
    assert {"operating_room", "therapy_room", "classroom"} <= rooms


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.source_path == path
    assert scenario.palette, "a scenario gives the game master at least one button"
    assert 2 <= scenario.briefing.count(". ") + 1 <= 6
    assert set(scenario.palette_events()) <= set(EVENT_NAMES)
    assert all(0 <= tick for tick, _ in scenario.cue_ticks())


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_round_trips(path):
    scenario = load_scenario(path)
    assert loads_scenario(dump_scenario(scenario)) == scenario


# --- the valid example and the convenience API --------------------------------------------


def test_valid_text_and_helpers(tmp_path):
    scenario = loads_scenario(VALID)
    assert scenario.source_path is None and scenario.image_path() is None
    assert scenario.briefing == "Two lines of briefing.\nat = 3 looks like a key but is text."
    assert scenario.world.lights == 1.0 and scenario.world.seed == 4
    assert scenario.cue_ticks() == [(100, "bleeding_start"), (200, "alarm_on")]
    assert scenario.cue_ticks(tick_hz=10) == [(50, "bleeding_start"), (100, "alarm_on")]
    assert scenario.palette_events() == ["bleeding_start", "alarm_on"]
    assert scenario.world.initial_state().light == 1.0


def test_image_resolves_relative_to_scenario_file(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "or.png").write_bytes(b"\x89PNG")
    path = tmp_path / "s.toml"
    path.write_text(VALID.replace('room = "operating_room"', 'image = "images/or.png"'))
    scenario = load_scenario(path)
    assert scenario.world.room is None
    assert scenario.image_path() == tmp_path / "images" / "or.png"


def test_round_trip_ignores_source_path(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(VALID)
    loaded = load_scenario(path)
    again = loads_scenario(dump_scenario(loaded))
    assert again == loaded and again.source_path is None
    assert "source_path" not in dump_scenario(loaded)


def test_lowercase_key_is_normalised():
    assert loads_scenario(VALID.replace('key = "B"', 'key = "f1"')).palette[0].key == "F1"


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1).filter(
    lambda s: s.strip() == s and s
)


@settings(max_examples=60, deadline=None)
@given(
    title=_text,
    briefing=_text,
    note=st.none() | st.text(),
    at=st.floats(0, 1e6, allow_nan=False),
    event=st.sampled_from(EVENT_NAMES),
    room=st.sampled_from(ROOM_TYPES),
    duration=st.none() | st.floats(0.001, 1e6),
)
def test_dump_load_round_trip(title, briefing, note, at, event, room, duration):
    scenario = Scenario.model_validate(
        {
            "format": 1,
            "title": title,
            "briefing": briefing,
            "duration": duration,
            "world": {"prompt": briefing, "room": room, "lights": 0.5},
            "palette": [{"label": title, "event": event, "key": "F12", "note": note}],
            "cues": [{"at": at, "event": event, "note": note}],
        }
    )
    assert loads_scenario(dump_scenario(scenario)) == scenario


# --- errors: file, line, field, and what is allowed ---------------------------------------


def test_toml_syntax_error(tmp_path):
    text = VALID.replace('title = "Test scenario"', 'title = "Test scenario')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "title ="), None, "TOML syntax error")


def test_missing_field_in_palette_entry_points_at_its_header(tmp_path):
    text = VALID.replace('label = "Alarm"\n', "")
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "[[palette]]", 1), "palette[1].label", "required")


def test_missing_top_level_field_has_no_line(tmp_path):
    text = VALID.replace('title = "Test scenario"\n', "")
    err, path = load_error(tmp_path, text)
    check(err, path, None, "title", "required")
    assert str(err) == f"{path}: title: required key is missing"


def test_unknown_event_in_palette(tmp_path):
    text = VALID.replace('event = "alarm_on"', 'event = "bleed"', 1)
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, '"bleed"'), "palette[1].event",
          "'bleed' is not a known event", "allowed: " + ", ".join(EVENT_NAMES))


def test_unknown_event_in_cue(tmp_path):
    text = replace_nth(VALID, 'event = "bleeding_start"', 'event = "fire"', 1)
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, '"fire"'), "cues[1].event", "'fire'", "allowed: lights_dim")


def test_negative_cue_time(tmp_path):
    text = VALID.replace("at = 5.0", "at = -2.5")
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "at = -2.5"), "cues[1].at", "greater than or equal to 0", "-2.5")


def test_unknown_room(tmp_path):
    text = VALID.replace('"operating_room"', '"kitchen"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "kitchen"), "world.room",
          "'kitchen' is not a known room", "allowed: " + ", ".join(ROOM_TYPES))


def test_room_and_image_both_given(tmp_path):
    (tmp_path / "or.png").write_bytes(b"\x89PNG")
    text = VALID.replace("seed = 4", 'seed = 4\nimage = "or.png"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "image ="), "world.image", "exactly one of 'room'", "not both")


def test_neither_room_nor_image(tmp_path):
    text = VALID.replace('room = "operating_room"\n', "")
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "[world]"), "world", "exactly one of 'room'", "'image'")


def test_unsupported_format_version_is_the_only_problem(tmp_path):
    text = VALID.replace("format = 1", "format = 2").replace('"bleeding_start"', '"nope"')
    err, path = load_error(tmp_path, text)
    check(err, path, 1, "format", "format 2 is not supported; supported: 1")
    assert len(err.problems) == 1


def test_duplicate_palette_keys(tmp_path):
    text = VALID.replace('key = "A"', 'key = "B"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, 'key = "B"', 1), "palette[1].key",
          "'B' is already used by palette[0]", "allowed")


def test_invalid_palette_key(tmp_path):
    text = VALID.replace('key = "A"', 'key = "Ctrl+A"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "Ctrl+A"), "palette[1].key", "allowed: A-Z, 0-9, F1-F12")


def test_image_file_missing(tmp_path):
    text = VALID.replace('room = "operating_room"', 'image = "images/missing.png"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "missing.png"), "world.image",
          "'images/missing.png' not found", str(tmp_path / "images" / "missing.png"))


def test_unknown_keys_list_the_allowed_ones(tmp_path):
    text = VALID.replace("seed = 4", "seed = 4\ncolour = \"green\"").replace("format = 1", "format = 1\nauthor = \"x\"")
    err, path = load_error(tmp_path, text)
    assert [p.field for p in err.problems] == ["author", "world.colour"]
    check(err, path, line_of(text, "author"), "author", "unknown key 'author'",
          "allowed keys: format, title, briefing, duration, world, palette, cues")
    assert f"{path}:{line_of(text, 'colour')}: world.colour: unknown key 'colour'; " \
           "allowed keys: prompt, room, image, seed, lights" in str(err).splitlines()


def test_every_problem_is_reported_one_per_line(tmp_path):
    text = (VALID.replace("seed = 4", "seed = -1")
            .replace('event = "alarm_on"', 'event = "bleed"', 1)
            .replace("at = 5.0", 'at = "soon"'))
    err, path = load_error(tmp_path, text)
    assert [(p.line, p.field) for p in err.problems] == [
        (line_of(text, "seed"), "world.seed"),
        (line_of(text, '"bleed"'), "palette[1].event"),
        (line_of(text, "soon"), "cues[1].at"),
    ]
    assert len(str(err).splitlines()) == 3
    assert "(got 'soon')" in str(err)


def test_wrong_types_are_not_coerced(tmp_path):
    text = VALID.replace("seed = 4", 'seed = "4"')
    err, path = load_error(tmp_path, text)
    check(err, path, line_of(text, "seed"), "world.seed", "valid integer")


def test_unreadable_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.line is None and str(info.value).startswith(f"{path}: cannot read file")


def test_string_source_is_named_in_errors():
    with pytest.raises(ScenarioError, match=r"^<string>: world: required key is missing$"):
        loads_scenario('format = 1\ntitle = "t"\nbriefing = "b"\n')
