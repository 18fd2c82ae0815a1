"""The trainee in a headset: the logic around the OpenXR runtime (head pose → look, where the
frame's layer goes, locomotion, the vignette, the session state machine, motion-to-photon),
the presenter against a simulated runtime and a live session, and — where a real runtime is
installed (``../shared/xr/setup``) — the same presenter against it in a child process."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.xr.head import LookTracker, layer_pose, quaternion, yaw_pitch
from app.xr.latency import MotionToPhoton
from app.xr.lifecycle import Lifecycle
from app.xr.locomotion import SNAP_TURN_RAD, SnapTurn, Vignette, walk_action
from engine.actions import ACTION_LIMITS

ROOT = Path(__file__).resolve().parents[1]
XR_DIR = ROOT.parent / "shared" / "xr"
OR_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"


# ------------------------------------------------------------------ pure logic


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (0.7, 0.3), (-2.5, -0.6), (3.1, 0.1)])
def test_quaternions_round_trip_yaw_and_pitch(yaw, pitch):
    assert yaw_pitch(quaternion(yaw, pitch)) == pytest.approx((yaw, pitch), abs=1e-9)


def test_the_layer_sits_straight_ahead_of_the_generation_orientation():
    q, pos = layer_pose(0.0, 0.0, (0.0, 1.6, 0.0), distance=2.0)
    assert pos == pytest.approx((0.0, 1.6, -2.0)) and q == pytest.approx((0, 0, 0, 1))
    q, pos = layer_pose(math.pi / 2, 0.0)  # turned left: the layer is on the left (−x), facing the eyes
    assert pos == pytest.approx((-2.0, 0.0, 0.0), abs=1e-9)
    assert yaw_pitch(q) == pytest.approx((math.pi / 2, 0.0))
    _, pos = layer_pose(0.0, 0.4)
    assert pos[1] > 0  # looking up: the layer is up


def test_the_look_tracker_converges_on_the_head_and_resends_what_was_clamped():
    t = LookTracker()
    assert t.look(0.5, 0.0) is None  # no frame yet: nothing to compare with
    t.on_frame((0, 0, 0.0, 0.0), 0)
    yaw, pitch = t.look(0.5, 0.1)
    assert (yaw, pitch) == pytest.approx((0.5, 0.1))
    t.sent(1, yaw, pitch)
    assert t.look(0.5, 0.1) is None  # in flight: not sent twice
    t.on_frame((0, 0, 0.2, 0.1), 1)  # the session applied only 0.2 of it (clamped per tick)
    assert t.look(0.5, 0.1) == pytest.approx((0.3, 0.0))  # the rest goes again
    t.on_frame((0, 0, 3.0, 0.0), 1)
    assert t.look(-3.0, 0.0)[0] == pytest.approx(2 * math.pi - 6.0)  # the short way round
    t.on_frame((0, 0, 0.0, 0.7), 1)
    assert t.look(0.0, 1.2) is None  # pitch beyond the world's limit is not chased


def test_sticks_walk_and_snap_turn_with_hysteresis():
    assert not walk_action((0.05, 0.1)).any()  # dead zone
    full = walk_action((0.0, 1.0))
    assert full[0] == pytest.approx(ACTION_LIMITS[0]) and full[1] == 0  # full push: the session's top speed
    side = walk_action((-1.0, 0.0))
    assert side[1] < 0 and side[0] == 0
    snap = SnapTurn()
    turns = [snap.update(x) for x in (0.2, 0.8, 0.9, 0.5, 0.8, 0.1, 0.75, -0.9, 0.0, -0.9)]
    assert turns == [0, -SNAP_TURN_RAD, 0, 0, 0, 0, -SNAP_TURN_RAD, 0, 0, SNAP_TURN_RAD]


def test_the_vignette_darkens_the_edges_while_walking_only():
    frame = np.full((64, 64, 3), 200, np.uint8)
    v = Vignette(True)
    assert v.apply(frame) is frame  # at rest: untouched
    for _ in range(5):
        v.update(True, 1 / 20)
    dark = v.apply(frame)
    assert dark[32, 32].tolist() == [200, 200, 200] and dark[0, 0].max() < 60
    for _ in range(20):
        v.update(False, 1 / 20)
    assert v.strength == 0.0
    off = Vignette(False)
    off.update(True, 1.0)
    assert off.apply(frame) is frame


def test_the_lifecycle_begins_ends_and_knows_when_the_headset_is_worn():
    life = Lifecycle()
    todo = [life.on_state(s) for s in ("IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED")]
    assert todo == [None, "begin", None, None, None] and life.worn and life.running
    assert life.on_state("SYNCHRONIZED") is None and not life.worn  # taken off
    assert [life.on_state(s) for s in ("STOPPING", "IDLE", "EXITING")] == ["end", None, "exit"]
    assert Lifecycle().on_state("LOSS_PENDING") == "exit"
    with pytest.raises(ValueError):
        life.on_state("DANCING")


def test_motion_to_photon_counts_each_input_once():
    m = MotionToPhoton()
    m.sampled(1, 10.0)
    m.sampled(2, 10.02)
    m.displayed(0, 10.05)
    m.displayed(2, 10.10)
    m.displayed(2, 10.12)  # the same inputs shown again: not counted again
    assert m.latencies_s == pytest.approx([0.10, 0.08])
    assert m.stats_ms()["count"] == 2


# ------------------------------------------------------------------ the presenter, simulated runtime


@pytest.fixture
def live_session(tmp_path):
    from engine.model.interface import ReferenceWorldModel
    from engine.runtime.runner import SessionRunner
    from engine.runtime.wiring import open_live_session
    from engine.scenario import load_scenario

    live = open_live_session(load_scenario(OR_SCENARIO), ReferenceWorldModel(64), record_dir=tmp_path / "rec")
    runner = SessionRunner(live.session, paced=True)
    runner.start()
    yield live
    runner.stop()
    runner.join(5)
    live.close()


def test_the_presenter_shows_frames_at_the_display_rate_where_they_were_generated(live_session):
    """A 90 Hz simulated headset whose head turns ±0.6 rad: layers go out at the display rate
    while the model ticks at 20 Hz, each layer straight ahead of the orientation its frame was
    generated for, and the model's view follows the head."""
    from app.xr.presenter import XrPresenter
    from engine.runtime.protocol import Headset, Role
    from tests.helpers.sim_xr import SimRuntime

    session = live_session.session
    gm = session.connect(Role.GAME_MASTER)
    sim = SimRuntime(display_hz=90.0, yaw_amp=0.6, yaw_period=2.0)
    trainee = session.connect(Role.TRAINEE)
    p = XrPresenter(trainee, resolution=64, seconds=3.0, runtime_factory=lambda: sim)
    p.start()
    p.join(15)
    assert not p.is_alive() and p.error is None, p.error
    f = p.figures()
    assert f["states"][:5] == ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"] and f["states"][-1] == "EXITING"
    assert 80 <= f["display_hz"] <= 95 and f["frames_submitted"] > 200  # about 90 Hz for 3 s
    assert 40 <= f["model_frames"] <= 75  # the model's 20 Hz, not the display's
    assert f["frames_submitted"] > 3 * f["model_frames"]  # each frame reprojected over several displays
    for layer_yaw, layer_pitch, frame_yaw, frame_pitch in p.stats.layers:
        assert layer_yaw == pytest.approx(frame_yaw, abs=1e-9) and layer_pitch == pytest.approx(frame_pitch)
    assert f["yaw_follow"] > 0.9  # a moving head turns the model's view
    assert sim.closed
    assert f["motion_to_photon_p95_ms"] is not None and f["motion_to_photon_p95_ms"] < 300
    time.sleep(0.2)  # the last status is carried out at the next tick
    status = [m for m in gm.poll() if isinstance(m, Headset)]
    assert status and status[0].state == "IDLE" and any(m.worn and m.state == "FOCUSED" for m in status)
    assert any(m.head_yaw is not None for m in status) and status[-1].state == "exiting"


def test_taking_the_headset_off_pauses_the_session_and_tells_the_game_master(live_session):
    from app.xr.presenter import XrPresenter
    from engine.runtime.protocol import Notice, Role
    from tests.helpers.sim_xr import SimRuntime

    session = live_session.session
    gm = session.connect(Role.GAME_MASTER)
    sim = SimRuntime(display_hz=60.0)
    p = XrPresenter(session.connect(Role.TRAINEE), resolution=64, runtime_factory=lambda: sim)
    p.start()
    try:
        deadline = time.monotonic() + 5
        while not p.lifecycle.focused and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert not session.paused
        sim.take_off()
        deadline = time.monotonic() + 3
        while not session.paused and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.paused and session.headset_off == {0}
        sim.put_on()
        deadline = time.monotonic() + 3
        while session.paused and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not session.paused
        notes = [m.text for m in gm.poll() if isinstance(m, Notice)]
        assert any("took the headset off" in n for n in notes) and any("on again" in n for n in notes)
    finally:
        p.stop()
        p.join(10)
    assert p.error is None and p.lifecycle.seen[-1] == "EXITING"


def test_snap_turns_turn_the_world_and_keep_the_layer_world_locked(live_session):
    from app.xr.presenter import XrPresenter
    from engine.runtime.session import Role
    from tests.helpers.sim_xr import SimRuntime

    session = live_session.session
    sim = SimRuntime(display_hz=60.0, yaw_amp=0.0)
    p = XrPresenter(session.connect(Role.TRAINEE), resolution=64, runtime_factory=lambda: sim)
    p.start()
    try:
        deadline = time.monotonic() + 5
        while p.body_yaw is None and time.monotonic() < deadline:
            time.sleep(0.02)
        yaw0 = session.participants[0].pose[2]
        sim.turn_stick = (1.0, 0.0)  # right stick to the right: one snap to the right
        time.sleep(0.2)
        sim.turn_stick = (0.0, 0.0)
        time.sleep(0.6)
        turned = (session.participants[0].pose[2] - yaw0 + math.pi) % (2 * math.pi) - math.pi
        assert turned == pytest.approx(-SNAP_TURN_RAD, abs=0.02)  # the model's view turned one snap, no more
        # the head did not move: the newest layer is straight ahead again once the turned frame shows
        assert p.stats.layers[-1][0] == pytest.approx(0.0, abs=0.02)
    finally:
        p.stop()
        p.join(10)


def test_no_runtime_is_a_one_line_message_naming_what_to_install():
    from app.xr.runtime import XrRuntime, XrUnavailable

    if os.environ.get("XR_RUNTIME_JSON"):
        pytest.skip("an OpenXR runtime is configured here (XR_RUNTIME_JSON): this checks the case without one")
    rt = XrRuntime()
    with pytest.raises(XrUnavailable) as err:
        rt.open(64)
    rt.close()
    assert "SteamVR" in str(err.value) and "\n" not in str(err.value)


def test_ved_xr_check_without_a_runtime_exits_non_zero_with_the_reason():
    if os.environ.get("XR_RUNTIME_JSON"):
        pytest.skip("an OpenXR runtime is configured here (XR_RUNTIME_JSON)")
    r = subprocess.run([sys.executable, "-m", "app.cli", "xr-check", "--seconds", "1"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ved: no OpenXR runtime") and "SteamVR" in lines[0]


# ------------------------------------------------------------------ a real runtime


@pytest.fixture(scope="module")
def openxr_env():
    """The environment of a headless OpenXR runtime (``../shared/xr/setup``); skips with the
    reason where none is installed (CI, a fresh clone)."""
    setup = XR_DIR / "setup"
    if not setup.is_file():
        pytest.skip(f"no OpenXR runtime to test against: {XR_DIR} is absent")
    proc = subprocess.run([str(setup)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"no OpenXR runtime to test against: {proc.stderr.strip() or 'setup failed'}")
    env = {}
    for line in proc.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def test_ved_xr_check_against_a_real_runtime(openxr_env):
    """The presenter against the runtime, in a child process (a fresh runtime per scenario):
    the session reaches FOCUSED, frames are submitted at the display rate for several seconds
    while the model ticks at 20 Hz, a moving head turns the model's view, and everything is
    destroyed in order (a clean exit)."""
    r = subprocess.run([sys.executable, "-m", "app.cli", "xr-check", "--seconds", "4", "--model", "reference"],
                       capture_output=True, text=True, cwd=ROOT, timeout=180, env={**os.environ, **openxr_env})
    assert r.returncode == 0, r.stderr[-2000:]
    f = json.loads(r.stdout.strip().splitlines()[-1])
    assert "FOCUSED" in f["states"] and f["states"][-1] == "EXITING"
    assert f["display_hz"] and f["frames_submitted"] >= 0.8 * 4 * f["display_hz"] - 5
    assert 40 <= f["model_frames"] <= 100
    assert f["yaw_follow"] is not None and f["yaw_follow"] > 0.5
    assert f["motion_to_photon_p95_ms"] is not None
    assert f["layers_match_generation_pose"] is True


# ------------------------------------------------------------------ from the app


def test_run_in_the_headset_shows_the_console_where_the_trainee_looks(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from app.main import build_app
    from engine.model.interface import ReferenceWorldModel
    from engine.scenario import load_scenario
    from tests.helpers.sim_xr import SimRuntime

    sim = SimRuntime(display_hz=60.0, yaw_amp=0.5)
    trainee, console, worker = build_app(load_scenario(OR_SCENARIO), ReferenceWorldModel(64), tmp_path / "rec",
                                         xr=True, xr_runtime_factory=lambda: sim)
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    try:
        qtbot.waitUntil(lambda: "in the headset" in trainee.windowTitle(), timeout=8000)
        qtbot.waitUntil(lambda: "looking" in console.headset_label.text(), timeout=5000)
        assert "Trainee: in the headset (focused)" in console.headset_label.text()
        qtbot.waitUntil(lambda: len(sim.uploads) > 10, timeout=5000)
    finally:
        trainee.close()
        worker.close()
    assert sim.closed  # closing the windows left the headset session


def test_preview_in_headset_without_a_runtime_falls_back_to_the_desktop_window(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    if os.environ.get("XR_RUNTIME_JSON"):
        pytest.skip("an OpenXR runtime is configured here (XR_RUNTIME_JSON)")
    from app.main import build_app
    from engine.model.interface import ReferenceWorldModel
    from engine.scenario import load_scenario

    trainee, console, worker = build_app(load_scenario(OR_SCENARIO), ReferenceWorldModel(64), tmp_path / "rec", xr=True)
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    try:
        qtbot.waitUntil(lambda: "no headset" in trainee.windowTitle(), timeout=8000)
        assert "SteamVR" in trainee.windowTitle()
        qtbot.waitUntil(lambda: trainee.frame_message is not None, timeout=5000)  # the desktop window plays on
    finally:
        trainee.close()
        worker.close()



def test_a_lost_runtime_ends_the_presenter_and_the_game_master_hears_of_it(live_session):
    from app.xr.presenter import XrPresenter
    from engine.runtime.protocol import Headset, Role
    from tests.helpers.sim_xr import SimRuntime

    session = live_session.session
    gm = session.connect(Role.GAME_MASTER)
    sim = SimRuntime(display_hz=60.0)
    p = XrPresenter(session.connect(Role.TRAINEE), resolution=64, runtime_factory=lambda: sim)
    p.start()
    deadline = time.monotonic() + 5
    while not p.lifecycle.focused and time.monotonic() < deadline:
        time.sleep(0.02)
    sim._queue("LOSS_PENDING")  # the runtime is going away (e.g. SteamVR quit)
    p.join(5)
    assert not p.is_alive() and sim.closed and p.lifecycle.seen[-1] == "LOSS_PENDING"
    states: list[str] = []
    deadline = time.monotonic() + 5  # the session publishes it from its own thread, at a tick
    while "lost" not in states and time.monotonic() < deadline:
        time.sleep(0.02)
        states += [m.state for m in gm.poll() if isinstance(m, Headset)]
    assert states and states[-1] == "lost" and session.paused  # the scenario pauses while the trainee is out


def test_ved_join_in_the_headset(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    pytest.importorskip("websockets")
    from app.remote import open_join_window
    from engine.model.interface import ReferenceWorldModel
    from engine.net.server import SessionServer
    from engine.net.tls import load_or_make_certificate
    from engine.runtime.runner import SessionRunner
    from engine.runtime.wiring import open_live_session
    from engine.scenario import load_scenario
    from tests.helpers.sim_xr import SimRuntime

    live = open_live_session(load_scenario(OR_SCENARIO), ReferenceWorldModel(64), record_dir=tmp_path / "rec")
    server = SessionServer(live.session, load_or_make_certificate(tmp_path / "tls")).start()
    runner = SessionRunner(live.session, paced=True)
    runner.start()
    sim = SimRuntime(display_hz=60.0, yaw_amp=0.4)
    try:
        window, client, timer = open_join_window(server.url, server.codes()["trainee"], xr=True,
                                                 xr_runtime_factory=lambda: sim)
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: "in the headset" in window.windowTitle(), timeout=8000)
        qtbot.waitUntil(lambda: len(sim.uploads) > 10, timeout=8000)
        yaw0 = live.session.participants[0].pose[2]
        qtbot.waitUntil(lambda: abs(live.session.participants[0].pose[2] - yaw0) > 0.1, timeout=5000)  # the head turns it
        window.close()
        assert sim.closed
        timer.stop()
        client.close()
    finally:
        runner.stop()
        runner.join(5)
        server.close()
        live.close()
