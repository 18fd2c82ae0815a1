"""Issue 26: quality that holds the tick — the governor's decisions on simulated frame times,
and a session stepping a slow model down its ladder (and telling only the staff)."""

import time

import numpy as np
import pytest

from engine.model.interface import ReferenceWorldModel
from engine.runtime.opening import open_scenario
from engine.runtime.protocol import Quality
from engine.runtime.quality import QualityGovernor
from engine.runtime.session import Role, Session
from engine.scenario import load_scenario
from tests.test_session import OR_SCENARIO

TICK = 0.05
LEVELS = ("high", "medium", "low")


def _play(gov: QualityGovernor, cost: dict, seconds: float, start: float = 0.0, jitter: float = 0.0, seed: int = 0):
    """Feed ``gov`` the frames of a model whose frame at each rung takes ``cost[rung]``
    seconds (± ``jitter``), back to back for ``seconds`` of wall time from ``start``.
    Returns the changes ``(time, level)`` and the end time."""
    rng = np.random.default_rng(seed)
    now, changes = start, []
    while now < start + seconds:
        frame = cost[gov.name] * (1 + jitter * rng.standard_normal())
        now += max(frame, TICK)  # a frame faster than the tick waits for the next tick
        change = gov.observe(frame, now)
        if change is not None:
            changes.append((now, change[0]))
    return changes, now


def test_a_slow_machine_steps_down_until_frames_fit_the_tick():
    gov = QualityGovernor(LEVELS, TICK)
    changes, _ = _play(gov, {"high": 0.065, "medium": 0.047, "low": 0.036}, 20)
    assert [lvl for _, lvl in changes] == ["medium", "low"]
    assert changes[0][0] < 3.5  # within a few seconds, not minutes


def test_a_fast_machine_stays_at_the_top():
    gov = QualityGovernor(LEVELS, TICK)
    changes, _ = _play(gov, {"high": 0.030, "medium": 0.02, "low": 0.015}, 60, jitter=0.1)
    assert changes == [] and gov.name == "high"


def test_when_the_load_goes_it_climbs_back_and_stays():
    gov = QualityGovernor(LEVELS, TICK)
    loaded = {"high": 0.065, "medium": 0.047, "low": 0.036}
    _, now = _play(gov, loaded, 20)
    assert gov.name == "low"
    idle = {"high": 0.034, "medium": 0.025, "low": 0.020}
    changes, _ = _play(gov, idle, 60, start=now)
    assert [lvl for _, lvl in changes] == ["medium", "high"]
    assert changes[0][0] - now >= gov.up_after_s  # it waits for room to last before climbing


def test_on_the_edge_of_a_rung_it_does_not_oscillate():
    """The top rung just misses the budget (45 ms of 42.5), the next fits: after stepping
    down it may try the top again, but a failed try doubles its wait; over ten minutes it
    changes a handful of times, not every few seconds."""
    gov = QualityGovernor(LEVELS, TICK)
    changes, _ = _play(gov, {"high": 0.045, "medium": 0.037, "low": 0.03}, 600, jitter=0.05)
    assert changes and changes[0][1] == "medium"
    assert len(changes) <= 5, changes


def test_the_governor_refuses_what_it_cannot_do():
    with pytest.raises(ValueError):
        QualityGovernor((), TICK)
    with pytest.raises(ValueError):
        QualityGovernor(LEVELS, TICK, start=3)


class LadderWorld(ReferenceWorldModel):
    """The reference world with a simulated quality ladder: a frame takes
    ``COST[level]`` seconds."""

    COST = {"high": 0.075, "medium": 0.03, "low": 0.01}
    quality_levels = LEVELS

    def __init__(self):
        super().__init__(64)
        self.level = "high"

    def set_quality(self, level):
        if level not in self.COST:
            raise ValueError(level)
        self.level = level

    def step(self, action, state, viewer_pose=None):
        time.sleep(self.COST[self.level])
        return super().step(action, state, viewer_pose)


def _session(quality):
    sc = load_scenario(OR_SCENARIO)
    model = LadderWorld()
    prompt, scene = open_scenario(sc, model.resolution)
    return Session(sc, model, prompt, scene=scene, quality=quality), model


def test_a_session_steps_a_slow_model_down_and_tells_only_the_staff():
    s, model = _session("auto")
    gm, trainee = s.connect(Role.GAME_MASTER, maxlen=10_000), s.connect(Role.TRAINEE, maxlen=10_000)
    s.start()
    for _ in range(60):  # about 4 s of frames at the top rung's 75 ms
        s.step()
    assert model.level == s.quality == "medium"
    changes = [m for m in gm.poll() if isinstance(m, Quality)]
    assert [(m.level, m.auto) for m in changes] == [("high", True), ("medium", True)]
    assert "ms (p95)" in changes[1].reason and changes[1].tick > 0
    assert not [m for m in trainee.poll() if isinstance(m, Quality)]
    assert s.quality_changes == [(0, "high"), (changes[1].tick, "medium")]


def test_a_fixed_quality_is_kept_and_a_wrong_one_refused():
    s, model = _session("low")
    s.start()
    for _ in range(5):
        s.step()
    assert model.level == s.quality == "low" and s.quality_changes == [(0, "low")]
    with pytest.raises(ValueError, match="no quality"):
        _session("ultra")
    # the reference world has no ladder: a session on it plays on as it is
    sc = load_scenario(OR_SCENARIO)
    ref = ReferenceWorldModel(64)
    prompt, scene = open_scenario(sc, 64)
    s = Session(sc, ref, prompt, scene=scene, quality="auto")
    s.start()
    s.step()
    assert s.quality is None
