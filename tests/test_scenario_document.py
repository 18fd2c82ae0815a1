"""engine/scenario/document.py: editing scenario files without losing their comments."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.scenario import ScenarioError, load_scenario
from engine.scenario.document import WRAP_WIDTH, ScenarioDocument
from engine.scenario.loader import Problem

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
OR_FILE = ROOT / "scenarios" / "operating_room_bleeding.toml"


def comment_lines(text: str) -> list[str]:
    """Every comment in ``text``: whole-line comments and the ``# ...`` part after values."""
    found = []
    for line in text.splitlines():
        if "#" in line and not line.lstrip().startswith(("label", "note", "brief", "title", "prompt")):
            found.append(line[line.index("#"):].strip())
    return found


def test_shipped_scenarios_are_there():
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_unchanged_scenario_saves_byte_identical(path, tmp_path):
    doc = ScenarioDocument.load(path)
    assert doc.text() == path.read_text(encoding="utf-8")
    out = doc.save(tmp_path / path.name)
    assert out.read_bytes() == path.read_bytes()
    assert doc.path == out and not list(tmp_path.glob(".*tmp"))  # atomic write leaves nothing behind


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_editing_values_keeps_every_comment(path, tmp_path):
    original = path.read_text(encoding="utf-8")
    doc = ScenarioDocument.load(path)
    doc.set(("title",), "A new title")
    doc.set(("world", "seed"), 42)
    doc.set(("duration",), 120.0)
    doc.set(("palette", 0, "key"), "Z")
    saved = doc.save(tmp_path / path.name).read_text(encoding="utf-8")
    assert comment_lines(original) and comment_lines(saved) == comment_lines(original)
    scenario = load_scenario(tmp_path / path.name)
    assert (scenario.title, scenario.world.seed, scenario.duration) == ("A new title", 42, 120.0)
    assert scenario.palette[0].key == "Z"
    # only the edited lines differ
    changed = [(a, b) for a, b in zip(original.splitlines(), saved.splitlines()) if a != b]
    assert len(saved.splitlines()) == len(original.splitlines()) and 3 <= len(changed) <= 4


def test_a_comment_on_an_edited_line_stays():
    doc = ScenarioDocument.load(OR_FILE)
    doc.set(("world", "seed"), 8)
    assert "seed = 8          # scene seed: a fixed layout so every team trains in the same room" in doc.text()


def test_get_set_and_remove_by_path():
    doc = ScenarioDocument.load(OR_FILE)
    assert doc.get(("world", "room")) == "operating_room"
    assert doc.get(("palette", 1, "label")) == "Bleeding controlled"
    assert doc.get(("palette", 9, "label")) is None and doc.get(("nope",), "x") == "x"
    doc.set(("palette", 3, "note"), "Once the team asks")  # missing key: written after `key`
    lines = doc.text().splitlines()
    at = lines.index('label = "Alarm silenced"')
    assert lines[at:at + 4] == ['label = "Alarm silenced"', 'event = "alarm_off"', 'key = "D"',
                                'note = "Once the team asks"']
    doc.set(("duration",), None)
    assert "duration" not in doc.text() and doc.get(("duration",)) is None
    doc.set(("world", "lights"), None)
    assert "lights =" not in doc.text()
    doc.set(("world", "room"), None)
    doc.set(("world", "image"), "images/or.png")  # written where `room` was, before `seed`
    world = doc.text().split("[world]")[1].split("[[palette]]")[0]
    assert world.index("image =") < world.index("seed =")
    assert doc.validate()[0].field == "world.image"  # the file does not exist


def test_entries_insert_remove_move_keep_the_section_comment():
    doc = ScenarioDocument.load(OR_FILE)
    cue_comment = "# Timed cues fire on their own; the game master can still use the palette at any time."
    doc.move_item("palette", 5, 0)
    doc.insert_item("palette", 6, {"label": "Lights dim", "event": "lights_dim", "key": None, "note": None})
    doc.remove_item("palette", 2)
    text = doc.text()
    assert text.index(cue_comment) < text.index("[[cues]]") and text.index(cue_comment) > text.rindex("[[palette]]")
    assert f"\n\n{cue_comment}\n[[cues]]" in text
    labels = [b["label"] for b in doc.items("palette")]
    assert labels == ["Senior surgeon leaves", "Bleeding starts", "Monitor alarm", "Alarm silenced",
                      "Senior surgeon arrives", "Lights dim"]
    assert "key" not in doc.items("palette")[-1]  # None values are left out
    assert doc.validate() == []
    for _ in range(6):
        doc.remove_item("palette", 0)
    assert doc.count("palette") == 0 and "[[palette]]" not in doc.text()
    assert cue_comment in doc.text() and doc.text().index(cue_comment) < doc.text().index("[[cues]]")
    assert doc.validate() == []


def test_inline_arrays_become_arrays_of_tables_when_entries_change():
    doc = ScenarioDocument('format = 1\ntitle = "T"\nbriefing = "B"\npalette = []\n'
                           'cues = [{at = 5.0, event = "alarm_on"}]\n\n[world]\nprompt = "P"\nroom = "classroom"\n')
    doc.insert_item("palette", 0, {"label": "Alarm", "event": "alarm_on"})
    doc.insert_item("cues", 1, {"at": 9.0, "event": "alarm_off"})
    assert doc.items("cues") == [{"at": 5.0, "event": "alarm_on"}, {"at": 9.0, "event": "alarm_off"}]
    assert "[[palette]]" in doc.text() and doc.text().count("[[cues]]") == 2 and doc.validate() == []


def test_new_arrays_go_in_file_order_with_blank_lines():
    doc = ScenarioDocument.new(title="Fire drill", prompt="A classroom with desks.", room="classroom")
    doc.insert_item("roles", 0, {"name": "Teacher", "kind": "trainee"})
    doc.insert_item("cues", 0, {"at": 30.0, "event": "alarm_on"})
    doc.insert_item("palette", 0, {"label": "Alarm", "event": "alarm_on", "key": "a"})
    doc.insert_item("cues", 1, {"at": 90.0, "event": "alarm_off"})
    text = doc.text()
    assert text.index("[[palette]]") < text.index("[[cues]]") < text.index("[[roles]]")
    assert "\n\n\n" not in text and "\n\n[[cues]]\nat = 90.0" in text
    assert [p.field for p in doc.validate()] == ["briefing"]  # a new scenario still needs its briefing
    doc.set(("briefing",), "Evacuate the class.")
    scenario = doc.scenario()
    assert scenario.palette[0].key == "A" and [c.at for c in scenario.cues] == [30.0, 90.0]
    assert tomllib.loads(text)["world"] == {"prompt": "A classroom with desks.", "room": "classroom", "seed": 0}


def test_new_with_an_image_and_problems_as_the_cli_reports_them(tmp_path):
    image = tmp_path / "pic.png"
    image.write_bytes(b"png")
    doc = ScenarioDocument.new(title="", prompt="A ward", briefing="Hello", image=image)
    problems = doc.validate()
    assert problems == [Problem(6, "title", "must not be empty")]
    saved = doc.save(tmp_path / "s.toml")
    with pytest.raises(ScenarioError) as err:
        load_scenario(saved)
    assert err.value.problems == problems


def test_multiline_text_is_written_readably_and_read_back_exactly():
    doc = ScenarioDocument.load(OR_FILE)
    long = "You are the operating team. " * 12 + "\nSecond paragraph:\n  indented \\ backslash \"\"\" quotes"
    doc.set(("briefing",), long)
    text = doc.text()
    assert 'briefing = """\nYou are the operating team.' in text
    assert max(len(line) for line in text.splitlines() if "operating team" in line) <= WRAP_WIDTH + 1
    assert tomllib.loads(text)["briefing"] == long
    assert ScenarioDocument(text).get(("briefing",)) == long


def test_unset_world_is_created_and_syntax_errors_name_the_line(tmp_path):
    doc = ScenarioDocument('format = 1\ntitle = "T"\nbriefing = "B"\n')
    doc.set(("world", "prompt"), "A room")
    doc.set(("world", "room"), "classroom")
    assert doc.validate() == [] and doc.text().endswith('[world]\nprompt = "A room"\nroom = "classroom"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\ntitle = "unclosed\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        ScenarioDocument.load(bad)
    assert err.value.line == 2 and "TOML syntax error" in err.value.message
    with pytest.raises(ScenarioError):
        doc.set_text("title = = 1")
    assert doc.get(("title",)) == "T"  # unchanged


def test_bundle_image_copies_outside_pictures_next_to_the_scenario(tmp_path):
    outside = tmp_path / "downloads" / "ward.png"
    outside.parent.mkdir()
    outside.write_bytes(b"picture-1")
    folder = tmp_path / "mine"
    doc = ScenarioDocument.new(title="Ward", prompt="A ward", briefing="Hi", image=outside, base_dir=tmp_path)
    assert doc.validate() == []  # an absolute path is found before saving
    assert doc.bundle_image(folder) == "images/ward.png"
    assert (folder / "images" / "ward.png").read_bytes() == b"picture-1"
    doc.save(folder / "ward.toml")
    assert load_scenario(folder / "ward.toml").image_path() == folder / "images" / "ward.png"
    assert doc.bundle_image(folder) is None  # already portable
    other = tmp_path / "other" / "ward.png"  # same name, different picture: not overwritten
    other.parent.mkdir()
    other.write_bytes(b"picture-2")
    doc.set(("world", "image"), str(other))
    assert doc.bundle_image(folder) == "images/ward-2.png"
    assert (folder / "images" / "ward.png").read_bytes() == b"picture-1"


def test_unsaved_relative_image_resolves_against_the_base_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"x")
    doc = ScenarioDocument.new(title="T", prompt="P", briefing="B", image="images/a.png", base_dir=tmp_path)
    assert doc.scenario().image_path() == tmp_path / "images" / "a.png"
    assert ScenarioDocument.new(title="T", prompt="P", briefing="B", image="images/a.png",
                                base_dir=tmp_path / "elsewhere").validate()[0].field == "world.image"


TRICKY = ["\"", "'", "\\", "\"\"\"", "'''", "\n", "\r", "\r\n", "\t", " ", "\\\n", "\x00", "\x7f", "\u00e9",
          "\u200b", "\U0001f600", "#", "[[palette]]", "= 1", "\\u0041", "${x}"]
odd_text = st.lists(st.sampled_from(TRICKY) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                    max_size=25).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=odd_text, briefing=odd_text)
def test_set_get_round_trips_odd_text(title, briefing):
    doc = ScenarioDocument.load(OR_FILE)
    doc.set(("title",), title)
    doc.set(("briefing",), briefing)
    doc.set(("palette", 0, "note"), briefing)
    assert doc.get(("title",)) == title and doc.get(("briefing",)) == briefing
    text = doc.text()
    parsed = tomllib.loads(text)
    assert parsed["title"] == title and parsed["briefing"] == briefing and parsed["palette"][0]["note"] == briefing
    again = ScenarioDocument(text)
    assert again.get(("title",)) == title and again.get(("briefing",)) == briefing
    assert comment_lines(text)[:6] == comment_lines(OR_FILE.read_text(encoding="utf-8"))[:6]
