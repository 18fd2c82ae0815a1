"""The game master's requests to a running session: markers, bookmarks and rewind, live
prompt changes, new scenes from an image, cues fired early, pause — and that none of them
reaches the trainee's stream."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.model.interface import ReferenceWorldModel
from engine.runtime.opening import open_scenario
from engine.runtime.protocol import Event
from engine.runtime.runner import SessionRunner
from engine.runtime.session import Role, Session
from engine.scenario import load_scenario, loads_scenario

ROOT = Path(__file__).resolve().parents[1]
OR_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"
CLASSROOM = ROOT / "scenarios" / "classroom_disruption.toml"
WALK = np.array([0.05, 0.0, 0.03, 0.0], np.float32)


@pytest.fixture(scope="module")
def reference():
    return ReferenceWorldModel()


@pytest.fixture(scope="module")
def learned():
    from engine.runtime.wiring import load_model

    return load_model(None, seed=0)


def _session(model, scenario=OR_SCENARIO):
    sc = load_scenario(scenario) if isinstance(scenario, Path) else scenario
    prompt, scene = open_scenario(sc, model.resolution)
    return Session(sc, model, prompt, scene=scene)


def _kinds(msgs):
    return [m.kind for m in msgs]


def test_game_master_requests_never_reach_the_trainee_stream(reference):
    """The trainee's stream of a session full of game-master requests that leave the world
    alone (markers, bookmarks, pause, a prompt a reference world cannot take) is frame for
    frame the stream of the same session without them."""
    streams = []
    for with_gm in (False, True):
        s = _session(reference)
        trainee, gm = s.connect(Role.TRAINEE, maxlen=1000), s.connect(Role.GAME_MASTER, maxlen=1000)
        s.start()
        trainee.set_action(WALK)
        for t in range(1, 30):
            if with_gm and t == 3:
                gm.mark("hesitates at the table")
                gm.bookmark("before the incision")
            if with_gm and t == 8:
                gm.pause()
                s.apply_commands()
                assert s.paused
                gm.resume()
            if with_gm and t == 12:
                gm.set_prompt("a darker operating room").join()
            s.step()
        s.end()
        msgs = trainee.poll()
        assert set(_kinds(msgs)) == {"frame", "sound", "end"}
        assert all(set(type(m).model_fields) == {"tick", "type", "frame", "input_seq", "seat", "pose"} for m in msgs if m.kind == "frame")
        streams.append([(m.tick, m.frame.tobytes()) for m in msgs if m.kind == "frame"])
        if with_gm:
            got = _kinds(gm.poll())
            for kind in ("marker", "bookmark", "pause", "resume", "prompt"):
                assert kind in got
    assert streams[0] == streams[1]


def test_only_the_game_master_may_steer(reference):
    s = _session(reference)
    trainee, observer = s.connect(Role.TRAINEE), s.connect(Role.OBSERVER)
    for client in (trainee, observer):
        for request in (lambda c: c.mark("x"), lambda c: c.bookmark(), lambda c: c.rewind(1), lambda c: c.pause(),
                        lambda c: c.resume(), lambda c: c.fire_cue(0), lambda c: c.set_prompt("x")):
            with pytest.raises(PermissionError):
                request(client)


def test_rewind_restores_the_world_model_state_exactly(learned):
    """After a rewind, the same actions give the same frames as after the bookmark the
    first time: the model's context, memory and sampler state came back (and the world
    state: lights dimmed after the bookmark are bright again)."""
    s = _session(learned)
    trainee, gm = s.connect(Role.TRAINEE, maxlen=1000), s.connect(Role.GAME_MASTER, maxlen=1000)
    s.start()
    trainee.set_action(WALK)
    for _ in range(5):
        s.step()
    gm.bookmark("here")
    s.apply_commands()
    bm = next(m for m in gm.poll() if m.kind == "bookmark")
    mark_tick, mark_frame = s.tick, s.last_frame.copy()
    assert bm.tick == mark_tick and bm.label == "here"
    actions = [np.array([0.06, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.05, 0.0]), np.array([0.03, 0.02, -0.04, 0.0])] * 2
    first = []
    gm.fire("lights_dim")
    for a in actions:
        trainee.set_action(a)
        first.append(s.step())
    assert s.world_state.light < 1.0
    gm.rewind(bm.id)
    rewound = s.step()
    assert s.tick == mark_tick + len(actions) + 1  # the clock goes on
    np.testing.assert_array_equal(rewound, mark_frame)
    assert s.world_state.light == 1.0
    gm.fire("lights_dim")
    again = []
    for a in actions:
        trainee.set_action(a)
        again.append(s.step())
    for f1, f2 in zip(first, again):
        np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(again[-1], mark_frame)  # the world moved on from the bookmark
    rewind = next(m for m in gm.poll() if m.kind == "rewind")
    assert (rewind.bookmark, rewind.label, rewind.to_tick) == (bm.id, "here", mark_tick)


def test_rewind_to_an_unknown_bookmark_is_a_notice_not_a_crash(reference):
    s = _session(reference)
    gm = s.connect(Role.GAME_MASTER, maxlen=100)
    s.start()
    gm.rewind(99)
    s.step()
    s.step()
    notices = [m.text for m in gm.poll() if m.kind == "notice"]
    assert notices and "no bookmark 99" in notices[0]
    assert s.tick == 2


def _cue_scenario(tmp_path):
    text = (OR_SCENARIO.read_text().split("[[cues]]")[0]
            + '[[cues]]\nat = 1.0\nevent = "alarm_on"\nnote = "monitor alarm"\n'
            + '[[cues]]\nat = 2.0\nevent = "bleeding_start"\n')
    return loads_scenario(text)


def test_cues_fire_due_fire_early_and_come_back_after_a_rewind(reference, tmp_path):
    s = _session(reference, _cue_scenario(tmp_path))
    gm = s.connect(Role.GAME_MASTER, maxlen=1000)
    s.start()
    assert [(c.index, c.due_tick, c.fired_tick) for c in s.cues] == [(0, 20, None), (1, 40, None)]
    for _ in range(10):
        s.step()
    gm.bookmark("calm")
    for _ in range(15):  # to tick 25: the alarm cue fired at 20
        s.step()
    assert s.cues[0].fired_tick == 20 and s.world_state.alarm
    gm.fire_cue(1)  # the bleeding cue now, not at 40
    s.step()
    assert s.event_log[-1] == Event(tick=26, event="bleeding_start", source="game_master", label=None, cue=1)
    gm.fire_cue(1)  # a second time: refused, said so
    s.step()
    assert any(m.kind == "notice" and "fired already" in m.text for m in gm.poll())
    bm = next(iter(s.bookmarks))
    gm.rewind(bm)
    s.step()  # tick 28 shows tick 10's world: both cues pending again, due 18 ticks later
    assert s.tick == 28 and not s.world_state.alarm and not s.world_state.bleeding_active
    assert [(c.due_tick, c.fired_tick) for c in s.cues] == [(38, None), (58, None)]
    while s.tick < 38:
        s.step()
    assert s.cues[0].fired_tick == 38 and s.world_state.alarm
    cue_msgs = [m for m in gm.poll() if m.kind == "cues"]
    assert cue_msgs[-1].cues[0].fired_tick == 38


def test_live_prompt_change_conditions_the_next_frames(learned):
    """A text-conditioned model: the prompt applies from the next tick and changes what is
    generated (compared with the same session, seed and actions without the change)."""
    other_prompt = load_scenario(CLASSROOM).world.prompt  # embedding ships with the model
    runs = []
    for change in (False, True):
        s = _session(learned)
        trainee, gm = s.connect(Role.TRAINEE), s.connect(Role.GAME_MASTER, maxlen=1000)
        s.start()
        trainee.set_action(WALK)
        frames = [s.step() for _ in range(4)]
        if change:
            gm.set_prompt(other_prompt).join()
        frames += [s.step() for _ in range(6)]
        runs.append(frames)
        if change:
            rec = next(m for m in gm.poll() if m.kind == "prompt")
            assert rec.tick == 4 and rec.applied and rec.text == other_prompt
            assert s.prompt.text == other_prompt
    for a, b in zip(runs[0][:4], runs[1][:4]):
        np.testing.assert_array_equal(a, b)
    diff = np.abs(runs[0][-1].astype(int) - runs[1][-1].astype(int)).mean()
    assert diff > 1.0, diff


def test_an_injected_image_opens_a_new_scene(learned, tmp_path):
    img = tmp_path / "scene.png"
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :32] = (200, 40, 40)
    pixels[:, 32:] = (30, 30, 200)
    Image.fromarray(pixels).save(img)
    s = _session(learned)
    gm = s.connect(Role.GAME_MASTER, maxlen=1000)
    s.start()
    for _ in range(3):
        s.step()
    gm.set_prompt("a red and blue room", image=img).join()
    frame = s.step()
    rec = next(m for m in gm.poll() if m.kind == "prompt")
    assert rec.tick == 4 and rec.image == "scene.png" and rec.applied
    # the new opening frame is the image (resized to the model's size) through the
    # autoencoder: red left, blue right
    r = frame.shape[1]
    left, right = frame[:, : 3 * r // 8], frame[:, 5 * r // 8:]
    assert left[..., 0].mean() > left[..., 2].mean() + 60
    assert right[..., 2].mean() > right[..., 0].mean() + 60
    s.step()  # and the session goes on from it


def test_bad_prompt_requests_come_back_as_notices(reference, tmp_path):
    s = _session(reference)
    gm = s.connect(Role.GAME_MASTER, maxlen=1000)
    s.start()
    gm.set_prompt("x", image=tmp_path / "missing.png").join()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    gm.set_prompt("x", image=broken).join()
    img = tmp_path / "ok.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    gm.set_prompt("x", image=img).join()  # the reference world renders presets only
    s.step()
    s.step()
    notices = [m.text for m in gm.poll() if m.kind == "notice"]
    assert len(notices) == 3
    assert "missing.png" in notices[0] and "broken.png" in notices[1] and "room presets" in notices[2]


def test_the_runner_stands_still_while_paused_and_serves_requests(reference):
    s = _session(reference)
    gm = s.connect(Role.GAME_MASTER, maxlen=10_000)
    runner = SessionRunner(s, paced=True)
    runner.start()
    try:
        import time

        deadline = time.time() + 5
        while s.tick < 5 and time.time() < deadline:
            time.sleep(0.01)
        gm.pause()
        while not s.paused and time.time() < deadline:
            time.sleep(0.01)
        stopped_at = s.tick
        gm.bookmark("while paused")
        time.sleep(0.3)  # six ticks' time
        assert s.tick == stopped_at and s.bookmarks
        gm.resume()
        while s.tick < stopped_at + 3 and time.time() < deadline:
            time.sleep(0.01)
        assert s.tick >= stopped_at + 3
    finally:
        runner.stop()
        runner.join(5)
    kinds = _kinds(gm.poll())
    assert kinds.index("pause") < kinds.index("bookmark") < kinds.index("resume")


def test_a_running_session_keeps_the_garbage_collector_off_the_models_objects(reference):
    """While a runner ticks, the objects that existed at its start are frozen (a full
    collection over the model's tensors would stall a tick by 45–60 ms); after it stops
    they are collectable again."""
    import gc
    import time

    from engine.runtime.runner import SessionRunner

    s = _session(reference)
    runner = SessionRunner(s, paced=True)
    assert gc.get_freeze_count() == 0
    runner.start()
    deadline = time.monotonic() + 5
    while s.tick < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gc.get_freeze_count() > 1000
    runner.stop()
    runner.join(5)
    assert gc.get_freeze_count() == 0
