"""Issue 26: a clock that never slows. With a world model slower than the tick, world time,
cues, events and sound follow the wall clock; the ticks the model could not draw are counted
as missed, and the next frame takes their actions."""

import time

import numpy as np
import pytest

from engine.model.interface import ReferenceWorldModel
from engine.recording import Recorder
from engine.recording.files import AUDIO_NAME
from engine.runtime.opening import open_scenario
from engine.runtime.protocol import Action, Event, Frame, Sound
from engine.runtime.runner import SessionRunner
from engine.runtime.session import RecorderSink, Role, Session
from engine.scenario import load_scenario
from tests.test_session import OR_SCENARIO

TICK_S = 0.05
STEP_S = 0.08  # the model needs 1.6 ticks for a frame
TURN = np.array([0.0, 0.0, 0.01, 0.0], np.float32)  # radians of yaw a tick


class SlowWorld(ReferenceWorldModel):
    """The reference world, ``STEP_S`` seconds a frame; keeps the actions it was given."""

    def __init__(self):
        super().__init__()
        self.given: list[np.ndarray] = []

    def step(self, action, state, viewer_pose=None):
        self.given.append(np.asarray(action, np.float32).copy())
        time.sleep(STEP_S)
        return super().step(action, state, viewer_pose)


@pytest.fixture(scope="module")
def slow_run(tmp_path_factory):
    """A paced 5.5 s session of the default scenario with a cue at 5.0 s on the slow world,
    recorded, the trainee turning at a steady rate; every message with its arrival time."""
    tmp = tmp_path_factory.mktemp("clock")
    text = OR_SCENARIO.read_text().split("[[cues]]")[0] + '[[cues]]\nat = 5.0\nevent = "alarm_on"\n'
    path = tmp / "cue_at_5s.toml"
    path.write_text(text)
    sc = load_scenario(path)
    model = SlowWorld()
    prompt, scene = open_scenario(sc, model.resolution)
    s = Session(sc, model, prompt, scene=scene)
    seen = []
    s.connect(Role.OBSERVER, on_message=lambda m: seen.append((time.perf_counter(), m)))
    recorder = Recorder(tmp / "rec", tick_hz=s.tick_hz)
    RecorderSink(s, recorder)
    trainee = s.connect(Role.TRAINEE)
    trainee.set_action(TURN)
    runner = SessionRunner(s, paced=True, max_ticks=110)
    runner.start()
    runner.join(30)
    recorder.close()
    assert not runner.is_alive() and runner.error is None
    return s, model, runner, seen, tmp / "rec"


def test_a_cue_fires_on_the_wall_clock_although_the_model_is_slower_than_the_tick(slow_run):
    s, model, runner, seen, _ = slow_run
    tick1 = next(t for t, m in seen if isinstance(m, Action) and m.tick == 1)  # 1 tick after the clock started
    cue = [(t, m) for t, m in seen if isinstance(m, Event) and m.source == "cue"]
    assert len(cue) == 1 and cue[0][1].tick == 100
    late = cue[0][0] - tick1 - 99 * TICK_S  # 5.0 s after tick 0
    assert abs(late) <= TICK_S, f"the 5.0 s cue fired {late * 1e3:+.0f} ms off the wall clock"
    # the world kept time: 110 ticks in 5.5 s (the model drew far fewer frames)
    last = next(t for t, m in seen if isinstance(m, Action) and m.tick == 110)
    assert abs(last - tick1 - 109 * TICK_S) <= 2 * TICK_S
    frames = [m.tick for _, m in seen if isinstance(m, Frame)]
    assert len(frames) < 90 and frames[-1] == 110
    assert runner.missed_ticks == 110 - (len(frames) - 1) and runner.missed_ticks > 20


def test_the_frames_carry_the_actions_of_the_ticks_they_missed(slow_run):
    s, model, runner, seen, _ = slow_run
    turned = sum(float(a[2]) for a in model.given)
    assert turned == pytest.approx(110 * TURN[2], abs=1e-4)  # every tick's turn, none lost
    assert max(float(a[2]) for a in model.given) > 1.5 * TURN[2]  # late frames took several ticks' turn
    start = next(m.pose for _, m in seen if isinstance(m, Frame) and m.tick == 0)
    assert s.pose[2] - start[2] == pytest.approx(110 * TURN[2], abs=1e-4)  # the session's pose kept every tick


def test_the_sound_has_no_gap_when_frames_are_late(slow_run):
    s, model, runner, seen, rec = slow_run
    sound_ticks = [m.tick for _, m in seen if isinstance(m, Sound)]
    assert sound_ticks == list(range(0, 111))  # one stretch for every tick, in order
    pcm = np.frombuffer((rec / AUDIO_NAME).read_bytes(), np.int16).reshape(-1, 2)
    per_tick = len(pcm) // 111
    assert len(pcm) == 111 * per_tick
    loud = np.abs(pcm.reshape(111, per_tick, 2)).max(axis=(1, 2))
    assert (loud > 0).all()  # no tick of the recording was filled with silence

