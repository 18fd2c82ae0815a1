"""The desktop app: keyboard mapping, trainee window, game-master console, recording.

Runs offscreen (tests/conftest.py) on the reference world (~2 ms a frame), paced at 20 Hz.
"""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from app.trainee import input_map  # noqa: E402
from app.trainee.input_map import TURN_SPEED, WALK_SPEED, KeyboardActionMapper  # noqa: E402
from engine.actions import ACTION_LIMITS  # noqa: E402
from engine.model.interface import ReferenceWorldModel  # noqa: E402
from engine.runtime.opening import open_scenario  # noqa: E402
from engine.recording import read_recording  # noqa: E402
from engine.runtime.session import Role, Session  # noqa: E402
from engine.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"


# ---------------------------------------------------------------- (1) keyboard → action
@pytest.mark.parametrize("key, expected", [
    (Qt.Key.Key_W, (WALK_SPEED, 0, 0, 0)),
    (Qt.Key.Key_S, (-WALK_SPEED, 0, 0, 0)),
    (Qt.Key.Key_D, (0, WALK_SPEED, 0, 0)),
    (Qt.Key.Key_A, (0, -WALK_SPEED, 0, 0)),
    (Qt.Key.Key_Left, (0, 0, TURN_SPEED, 0)),
    (Qt.Key.Key_Right, (0, 0, -TURN_SPEED, 0)),
    (Qt.Key.Key_Up, (0, 0, 0, TURN_SPEED)),
    (Qt.Key.Key_Down, (0, 0, 0, -TURN_SPEED)),
])
def test_each_key_drives_one_component(key, expected):
    m = KeyboardActionMapper()
    assert m.press(key)
    a = m.next_action()
    assert a.dtype == np.float32 and a.shape == (4,)
    np.testing.assert_allclose(a, np.asarray(expected, np.float32))
    assert m.release(key)
    np.testing.assert_array_equal(m.next_action(), np.zeros(4, np.float32))


def test_key_codes_match_qt_and_speeds_fit_limits():
    assert input_map.KEY_W == int(Qt.Key.Key_W.value) and input_map.KEY_LEFT == int(Qt.Key.Key_Left.value)
    assert input_map.KEY_UP == int(Qt.Key.Key_Up.value) and input_map.KEY_DOWN == int(Qt.Key.Key_Down.value)
    assert WALK_SPEED == 0.07 and TURN_SPEED == 0.06
    assert np.all(input_map.KEY_SPEEDS <= ACTION_LIMITS)


def test_keys_combine_cancel_and_clear():
    m = KeyboardActionMapper()
    m.press(Qt.Key.Key_W)
    m.press(int(Qt.Key.Key_Left.value))  # plain ints work too
    np.testing.assert_allclose(m.next_action(), [WALK_SPEED, 0, TURN_SPEED, 0])
    m.press(Qt.Key.Key_S)  # opposite keys cancel
    np.testing.assert_allclose(m.next_action(), [0, 0, TURN_SPEED, 0])
    assert not m.press(Qt.Key.Key_B) and not m.handles(Qt.Key.Key_F11)
    m.clear()  # focus loss
    assert m.held == frozenset()
    np.testing.assert_array_equal(m.next_action(), np.zeros(4))


def test_mouse_look_is_consumed_once_per_tick_and_clamped():
    m = KeyboardActionMapper(sensitivity=0.002)
    m.add_mouse_delta(10, 0)
    m.add_mouse_delta(5, -20)  # right and up
    np.testing.assert_allclose(m.next_action(), [0, 0, -0.03, 0.04], rtol=1e-5)
    np.testing.assert_array_equal(m.next_action(), np.zeros(4))  # consumed
    m.add_mouse_delta(-10_000, 10_000)
    np.testing.assert_allclose(m.next_action(), [0, 0, ACTION_LIMITS[2], -ACTION_LIMITS[3]])
    m.add_mouse_delta(10, -20)
    assert m.take_look() == pytest.approx((-0.02, 0.04)) and m.take_look() == (0.0, 0.0)  # what the window pushes


# ---------------------------------------------------------------- the running app
@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO)


def no_input_frames(scenario, ticks: int) -> list[np.ndarray]:
    """Frames 0..ticks of a fresh session of ``scenario`` with the participant at rest."""
    model = ReferenceWorldModel()
    prompt, scene = open_scenario(scenario, model.resolution)
    session = Session(scenario, model, prompt, scene=scene)
    frames = [session.start()]
    frames += [session.step() for _ in range(ticks)]
    return frames


@pytest.fixture
def live(qtbot, scenario, tmp_path):
    """The app on the reference world, running, with the threads that stepped the model."""
    from app.main import build_app

    model = ReferenceWorldModel()
    step_threads: set[threading.Thread] = set()
    real_step = model.step

    def step(action, state, viewer_pose=None):
        step_threads.add(threading.current_thread())
        return real_step(action, state, viewer_pose=viewer_pose)

    model.step = step
    record_dir = tmp_path / "rec"
    trainee, console, worker = build_app(scenario, model, record_dir)
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    qtbot.waitUntil(lambda: trainee.frame_message is not None and console.client is not None, timeout=5000)
    yield trainee, console, worker, record_dir
    worker.close()
    assert threading.main_thread() not in step_threads, "the GUI thread ran model.step"


def test_held_keys_move_the_trainee_view(qtbot, live, scenario):
    trainee, console, worker, _ = live
    first = trainee.frame_message
    yaw0 = worker.session.pose[2]
    qtbot.keyPress(trainee, Qt.Key.Key_W)
    qtbot.keyPress(trainee, Qt.Key.Key_Left)
    qtbot.wait(500)
    qtbot.keyRelease(trainee, Qt.Key.Key_W)
    qtbot.keyRelease(trainee, Qt.Key.Key_Left)
    assert trainee.mapper.held == frozenset()
    released_at = worker.session.tick
    qtbot.waitUntil(lambda: trainee.frame_message.tick >= released_at + 2, timeout=3000)
    shown = trainee.frame_message
    reference = no_input_frames(scenario, shown.tick)
    # before any key the view is the at-rest view; after them it is not
    np.testing.assert_array_equal(first.frame, reference[first.tick])
    assert not np.array_equal(shown.frame, reference[shown.tick])
    turned = (worker.session.pose[2] - yaw0 + np.pi) % (2 * np.pi) - np.pi
    assert turned > 0.2  # turned left (positive yaw) by several ticks of 0.06 rad
    assert worker.error is None


def test_the_gui_bridge_survives_many_polls(qtbot, live):
    """PySide6 6.12 on Python 3.11 drops a reference to True per Python-side Signal.emit();
    at ~60 polls a second the interpreter would abort within seconds. The app must not
    lose references however long it runs."""
    trainee, console, worker, _ = live
    polls = []
    worker.pulse.connect(lambda: polls.append(1))
    gc.collect()  # earlier tests' widgets, collected mid-measure, would also drop references to True
    before = sys.getrefcount(True)
    qtbot.wait(1000)
    gc.collect()
    assert len(polls) >= 20
    assert sys.getrefcount(True) >= before - 15


def test_palette_button_fires_event_hidden_from_trainee(qtbot, live):
    trainee, console, worker, _ = live
    spy: list = []
    worker.session.connect(Role.TRAINEE, on_message=spy.append)
    button = next(b for b in console.palette_buttons if b.property("event") == "bleeding_start")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(e.event == "bleeding_start" for e in worker.session.event_log), timeout=2000)
    entry = next(e for e in worker.session.event_log if e.event == "bleeding_start")
    assert entry.source == "game_master" and entry.label == "Bleeding starts"

    def logged() -> bool:
        texts = [console.log_list.item(i).text() for i in range(console.log_list.count())]
        return any("bleeding_start" in t and "game_master" in t for t in texts)

    qtbot.waitUntil(logged, timeout=2000)
    qtbot.waitUntil(lambda: button.property("fired") and console.state["bleeding"] > 0, timeout=2000)
    qtbot.wait(150)  # a few more ticks reach the trainee
    assert trainee.received_kinds["frame"] > 0
    assert set(trainee.received_kinds) <= {"frame", "sound", "end"}
    assert spy and {m.kind for m in spy} <= {"frame", "sound", "end"}
    assert all(set(type(m).model_fields) == {"tick", "type", "frame", "input_seq", "seat", "pose"} for m in spy if m.kind == "frame")


def test_palette_shortcut_is_scoped_to_the_console(qtbot, live):
    trainee, console, worker, _ = live
    console.activateWindow()
    qtbot.waitUntil(console.isActiveWindow, timeout=2000)
    qtbot.keyClick(console, Qt.Key.Key_A)  # "Monitor alarm"
    qtbot.waitUntil(lambda: any(e.event == "alarm_on" for e in worker.session.event_log), timeout=2000)
    assert trainee.mapper.held == frozenset()  # the console's keys never move the trainee


def test_closing_a_window_leaves_a_readable_recording(qtbot, live):
    trainee, console, worker, record_dir = live
    next(b for b in console.palette_buttons if b.property("event") == "avatar_enter").click()
    qtbot.waitUntil(lambda: any(e.event == "avatar_enter" for e in worker.session.event_log), timeout=2000)
    qtbot.wait(100)
    console.close()  # closes the trainee window and the session too
    assert worker.state == "closed" and not trainee.isVisible()
    rec = read_recording(record_dir)
    assert rec.frame_count > 0 and rec.complete
    assert any(e.get("event") == "avatar_enter" and e.get("source") == "game_master" for e in rec.events)
    assert worker.summary is not None and worker.summary.directory == record_dir


def test_start_up_failure_is_shown_not_raised(qtbot, scenario, tmp_path):
    from app.main import build_app

    def broken_model():
        raise RuntimeError("no model here")

    trainee, console, worker = build_app(scenario, broken_model, tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    qtbot.waitUntil(lambda: worker.error is not None, timeout=3000)
    assert "no model here" in worker.error and "no model here" in console.status_label.text()
    assert worker.state == "failed"
    worker.close()
