"""Session runtime: roles, events, cues, recording, headless runs."""

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engine.model.interface import ReferenceWorldModel
from engine.runtime.opening import open_scenario
from engine.runtime.protocol import Event, Frame, Start
from engine.recording import Recorder, read_recording
from engine.runtime.runner import SessionRunner
from engine.runtime.session import RecorderSink, Role, Session
from engine.scenario import load_scenario
from engine.world.state import UnknownEventError

ROOT = Path(__file__).resolve().parents[1]
OR_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"


@pytest.fixture(scope="module")
def model():
    return ReferenceWorldModel()


def _session(model, scenario=OR_SCENARIO):
    sc = load_scenario(scenario)
    prompt, scene = open_scenario(sc, 64, renderer=model.world.renderer)
    return Session(sc, model, prompt, scene=scene)


def test_game_master_events_reach_the_log_but_not_the_trainee(model, tmp_path):
    s = _session(model)
    rec = Recorder(tmp_path / "rec")
    RecorderSink(s, rec)
    trainee, gm = s.connect(Role.TRAINEE), s.connect(Role.GAME_MASTER)
    s.start()
    trainee.set_action([0.05, 0, 0.02, 0])
    for _ in range(5):
        s.step()
    gm.fire("alarm_on", label="Monitor alarm")
    s.step()
    assert s.world_state.alarm
    assert s.event_log[-1] == Event(tick=6, event="alarm_on", source="game_master", label="Monitor alarm")
    for _ in range(3):
        s.step()
    s.end()
    rec.close()
    t_msgs, g_msgs = trainee.poll(), gm.poll()
    assert {m.kind for m in t_msgs} == {"frame", "sound", "end"}
    assert all(set(type(m).model_fields) == {"tick", "type", "frame", "input_seq", "seat", "pose"} for m in t_msgs if isinstance(m, Frame))
    assert [m.tick for m in t_msgs if m.kind == "frame"] == list(range(10))
    assert any(isinstance(m, Event) and m.event == "alarm_on" for m in g_msgs)
    recording = read_recording(tmp_path / "rec")
    assert recording.frame_count == 10
    assert [e["event"] for e in recording.events] == ["alarm_on"]
    # roles are enforced
    with pytest.raises(PermissionError):
        trainee.fire("alarm_on")
    with pytest.raises(PermissionError):
        gm.set_action([0.1, 0, 0, 0])


def test_alarm_changes_what_the_trainee_sees(model):
    """Compare with a run without the event from the same state (not just 'the frame changed')."""
    frames = {}
    for fire in (False, True):
        s = _session(model)
        gm = s.connect(Role.GAME_MASTER)
        s.start()
        if fire:
            gm.fire("lights_dim")
        frames[fire] = [s.step() for _ in range(3)]
    assert frames[True][-1].mean() < 0.7 * frames[False][-1].mean()


def test_free_text_events_fire_the_nearest_trained_event(model):
    s = _session(model)
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    event, sim = gm.fire_text("switch the lights off")
    s.step()
    assert event == "lights_dim" and sim > 0.45 and s.world_state.light < 1.0
    assert s.event_log[-1].label == "switch the lights off"
    with pytest.raises(ValueError, match="no game-master event matches"):
        gm.fire_text("play some jazz music")
    assert len(s.event_log) == 1  # nothing fired for the unmatched request


def test_cues_fire_at_their_tick(model, tmp_path):
    text = OR_SCENARIO.read_text()
    sc = load_scenario(OR_SCENARIO)
    first_tick, first_event = sc.cue_ticks()[0]
    s = _session(model)
    s.start()
    while s.tick < first_tick:
        s.step()
    first_index = next(i for i, c in enumerate(sc.cues) if round(c.at * 20) == first_tick)
    assert s.event_log[0] == Event(tick=first_tick, event=first_event, source="cue", label=None, cue=first_index)
    assert "[[cues]]" in text


def test_bad_game_master_input_does_not_stop_the_session(model):
    s = _session(model)
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    with pytest.raises(UnknownEventError, match="known events"):
        gm.fire("earthquake")
    s.step()
    assert s.tick == 1 and not s.event_log


def test_runner_ticks_off_the_calling_thread(model):
    s = _session(model)
    runner = SessionRunner(s, paced=True, max_ticks=6)
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive() and runner.error is None
    assert s.tick == 6 and s.ended and len(runner.frame_times) == 6


def test_headless_run_records_and_replays(tmp_path, capsys):
    rec = tmp_path / "rec"
    rc = main(["run", str(OR_SCENARIO), "--headless", "--frames", "30", "--record", str(rec), "--model", "reference"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["frames"] == 30 and result["fps"] > 0 and result["p95_ms"] > 0 and result["recording"] == str(rec.resolve())
    r = read_recording(rec)
    assert r.complete and r.frame_count == 31  # opening frame + 30 ticks
    # the recording's own log replays as an actions file: same trajectory, same frames
    rec2 = tmp_path / "rec2"
    assert main(["run", str(OR_SCENARIO), "--headless", "--frames", "30", "--record", str(rec2), "--model",
                 "reference", "--actions", str(rec / "log.jsonl")]) == 0
    f1 = [f for _, f in r.frames(native=True)]
    f2 = [f for _, f in read_recording(rec2).frames(native=True)]
    assert len(f1) == len(f2)
    assert np.abs(f1[-1].astype(int) - f2[-1].astype(int)).mean() < 3


def test_bad_inputs_exit_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\ntitle = "x"\n')
    assert main(["run", str(bad), "--headless", "--frames", "2", "--model", "reference"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "briefing" in err
    assert main(["run", str(OR_SCENARIO), "--headless", "--frames", "2", "--model", str(tmp_path)]) == 2
    assert "model_card.json" in capsys.readouterr().err


def test_ved_without_arguments_runs_headless_on_the_shipped_model(tmp_path, monkeypatch, capsys):
    """The README's main job on a machine with no display."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr()
    assert "no display" in out.err
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["model"] == "latent-world-model" and result["frames"] == 200
    rec = Path(result["recording"])
    assert rec.is_relative_to(tmp_path / "recordings") and str(rec) in out.out
    r = read_recording(rec)
    assert r.complete and r.frame_count == 201 and (rec / "contact_sheet.png").is_file()


def test_shipped_model_card_is_complete():
    from engine.model.io import DEFAULT_MODEL_DIR, load_networks

    *_, card = load_networks(DEFAULT_MODEL_DIR)  # verifies the sha256 of every file
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir())
    assert size <= 25 * 2**20
    for key in ("architecture", "data", "seed", "metrics", "files", "training"):
        assert key in card
    assert {"1", "4", "16"} <= set(card["metrics"]["psnr"]) and card["metrics"]["copy_last"]


def test_bench_reports_model_and_reference_speed(capsys):
    assert main(["bench", "--frames", "10", "--model", "reference"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["frames"] == 10 and r["fps"] > 0 and r["p95_ms"] >= r["median_ms"] > 0
    assert r["reference_world"]["fps"] > 0


def test_an_image_opening_tells_the_designer_what_the_model_was_trained_on(tmp_path):
    """Images unlike the training data are accepted; the start message (console, not the
    trainee) says what the model was trained on."""
    from PIL import Image

    Image.fromarray(np.full((80, 120, 3), 200, np.uint8)).save(tmp_path / "beach.png")
    text = OR_SCENARIO.read_text().replace('room = "operating_room"', 'image = "beach.png"')
    text = "\n".join(line for line in text.splitlines() if not line.startswith("seed"))
    (tmp_path / "beach.toml").write_text(text)
    sc = load_scenario(tmp_path / "beach.toml")

    class CardModel(ReferenceWorldModel):  # a learned model's card; opens on any image
        card = {"trained_on": "reference-world rooms only: operating_room"}

        def reset(self, prompt, state, viewer_pose=None):
            return prompt.image if prompt.room is None else super().reset(prompt, state, viewer_pose)

    for scenario, expect in ((sc, True), (load_scenario(OR_SCENARIO), False)):
        m = CardModel(64)
        prompt, scene = open_scenario(scenario, 64)
        s = Session(scenario, m, prompt, scene=scene)
        gm, trainee = s.connect(Role.GAME_MASTER), s.connect(Role.TRAINEE)
        s.start()
        start = [msg for msg in gm.poll() if isinstance(msg, Start)][0]
        assert ("trained on reference-world rooms" in (start.notice or "")) is expect
        assert all(msg.kind in ("frame", "sound") for msg in trainee.poll())


def test_one_wiring_for_every_way_of_running_and_the_model_contract_is_checked(model, tmp_path):
    from engine.model.interface import WorldModel
    from engine.runtime.wiring import open_live_session

    assert isinstance(model, WorldModel)
    sc = load_scenario(OR_SCENARIO)
    live = open_live_session(sc, model, record_dir=tmp_path / "rec")
    live.session.start()
    live.session.step()
    summary = live.close()
    assert summary.frames == 2 and read_recording(tmp_path / "rec").frame_count == 2
    assert live.close() is summary  # idempotent

    class NotAModel:
        resolution = 64

        def step(self, action, state):
            return None

    with pytest.raises(TypeError, match="lacks name, card, reset"):
        open_live_session(sc, NotAModel(), record=False)


def test_the_trainee_pushes_held_keys_and_one_off_looks_that_add_up_within_a_tick(model):
    s = _session(model)
    trainee, gm = s.connect(Role.TRAINEE), s.connect(Role.GAME_MASTER)
    s.start()
    trainee.set_action([0.05, 0, 0, 0])
    trainee.look(0.01, 0.0)
    trainee.look(0.02, -0.01)  # two mouse moves before the tick: both count
    s.step()
    s.step()  # the keys are still held; the looks were used once
    actions = [m.action for m in gm.poll() if m.kind == "action"]
    assert actions[0] == pytest.approx((0.05, 0, 0.03, -0.01)) and actions[1] == pytest.approx((0.05, 0, 0, 0))
    trainee.look(3.0, 0.0)  # a huge flick is clamped to the action limit, not refused
    s.step()
    assert [m.action for m in gm.poll() if m.kind == "action"][0][2] == pytest.approx(0.2, rel=1e-6)
    with pytest.raises(PermissionError):
        gm.look(0.1, 0.0)
