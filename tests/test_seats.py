"""Several trainees in one world: seats, the batched rollout of every trainee's view, the
session's per-seat frames and requests, per-seat recordings."""

import json
import time

import numpy as np
import pytest
import torch

from engine.model.autoencoder import Autoencoder, AutoencoderConfig
from engine.model.dynamics import DynamicsConfig, DynamicsModel
from engine.model.interface import Prompt
from engine.model.world_model import LatentWorldModel, Sampling
from engine.world.state import WorldState

CFG = DynamicsConfig(latent_channels=4, latent_size=8, patch=2, width=32, depth=2, heads=2, cond_dim=16, context=4,
                     pose_dim=5, memory=2, entities=5, entity_features=9, stack_previous=True)


def _model(**sampling) -> LatentWorldModel:
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = DynamicsModel(CFG)
    with torch.no_grad():  # adaLN-Zero starts as the identity; random gates make the test meaningful
        for p in dyn.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return LatentWorldModel(ae, dyn.eval(), torch.zeros(4), torch.ones(4), sampling=Sampling(**sampling), seed=1)


def _views_inputs(n_ticks=9):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    poses = [(0.0, 1.0, 0.0, 0.0), (0.9, 1.0, 0.0, 0.0)]
    states = [WorldState().with_others([(1, *poses[1][:3])]), WorldState().with_others([(0, *poses[0][:3])])]
    actions = [[np.array([0.05, 0, 0.04 * (t % 3 - 1), 0], np.float32) for t in range(n_ticks)],
               [np.array([0.0, 0.03, -0.05, 0.01], np.float32) for _ in range(n_ticks)]]
    return imgs, poses, states, actions


def test_the_batched_rollout_of_two_views_is_each_view_rolled_out_alone():
    """Deterministic sampling (the regressor's; no noise enters): the frames of two views
    stepped together in one batch equal those of each view stepped alone, past the window
    and through the frame memory."""
    imgs, poses, states, actions = _views_inputs()
    both = _model(deterministic=True, steps=1, memory_every=2)
    opened = both.reset_views([Prompt("", imgs[0]), Prompt("", imgs[1])], states, poses)
    batched = [opened] + [both.step_views([actions[0][t], actions[1][t]], states, [None, None])
                          for t in range(len(actions[0]))]
    assert both.views == 2 and len(both._views[1].memory) > 0
    for i in range(2):
        alone = _model(deterministic=True, steps=1, memory_every=2)
        frames = [alone.reset(Prompt("", imgs[i]), states[i], poses[i])]
        frames += [alone.step(a, states[i]) for a in actions[i]]
        for t, (f_alone, f_batched) in enumerate(zip(frames, batched)):
            diff = np.abs(f_alone.astype(int) - f_batched[i].astype(int)).max()
            assert diff <= 1, f"view {i} tick {t}: batched differs from alone by {diff}"
    # the two views really differ (different openings, actions and people in view)
    assert np.abs(batched[-1][0].astype(int) - batched[-1][1].astype(int)).mean() > 1.0


def test_the_batched_rollout_with_guidance_and_two_steps_runs_and_snapshots_every_view():
    imgs, poses, states, actions = _views_inputs(4)
    m = _model(steps=2, cfg_action=2.0)
    m.reset_views([Prompt("", imgs[0]), Prompt("", imgs[1])], states, poses)
    snap = m.snapshot()
    first = [m.step_views([actions[0][t], actions[1][t]], states, poses) for t in range(4)]
    m.restore(snap)
    again = [m.step_views([actions[0][t], actions[1][t]], states, poses) for t in range(4)]
    for a, b in zip(first, again):  # a rewind replays every view exactly
        for fa, fb in zip(a, b):
            np.testing.assert_array_equal(fa, fb)
    with pytest.raises(RuntimeError, match="step_views"):
        m.step(actions[0][0], states[0])
    with pytest.raises(ValueError, match="one action, state and pose per view"):
        m.step_views([actions[0][0]], states[:1], [None])


# ------------------------------------------------------------------ the session


@pytest.fixture(scope="module")
def team_scenario():
    from engine.scenario import load_scenario

    return load_scenario("scenarios/operating_room_team.toml")


def _blue_share(frame: np.ndarray) -> float:
    """Share of pixels in seat 1's shirt blue (0.12, 0.32, 0.92), shaded."""
    f = frame.astype(int)
    return float(((f[..., 2] > 120) & (f[..., 2] > f[..., 0] + 70) & (f[..., 2] > f[..., 1] + 40)).mean())


def test_each_trainee_has_a_seat_of_their_own_and_sees_the_others(team_scenario, tmp_path):
    from engine.actions import ACTION_LIMITS
    from engine.recording import read_recording
    from engine.runtime.protocol import Frame, Role
    from engine.runtime.wiring import open_live_session

    live = open_live_session(team_scenario, "reference", record_dir=tmp_path / "rec")
    s = live.session
    assert s.seats == ["Surgeon", "Anaesthetist", "Scrub nurse"]
    starts = [p.pose for p in s.participants]
    assert len({(round(x, 2), round(z, 2)) for x, z, *_ in starts}) == 3  # side by side, not on one spot
    trainees = [s.connect(Role.TRAINEE, seat=k) for k in range(3)]
    gm = s.connect(Role.GAME_MASTER)
    with pytest.raises(ValueError, match="no trainee seat 3"):
        s.connect(Role.TRAINEE, seat=3)
    s.start()
    turn_right = -float(ACTION_LIMITS[2])
    trainees[0].set_action([0, 0, turn_right, 0])  # the surgeon turns towards the anaesthetist on their right
    trainees[2].set_action([0.05, 0, 0, 0])  # the scrub nurse walks ahead
    ticks = int(np.ceil((np.pi / 2) / abs(turn_right)))
    for _ in range(ticks):
        s.step()
    for k, t in enumerate(trainees):
        frames = [m for m in t.poll() if isinstance(m, Frame)]
        assert frames and {m.seat for m in frames} == {k}, f"seat {k} got another seat's frames"
    staff = [m for m in gm.poll() if isinstance(m, Frame)]
    assert {m.seat for m in staff} == {0, 1, 2} and len(staff) == 3 * (ticks + 1)
    p0, p1, p2 = (p.pose for p in s.participants)
    assert p1[:2] == starts[1][:2] and p2 != starts[2]  # only the one who walked moved
    assert abs(((p0[2] - starts[0][2]) + np.pi) % (2 * np.pi) - np.pi) > 1.2  # the surgeon turned
    # the surgeon, turned right, sees the anaesthetist (seat 1's blue shirt) where they stand
    seen = s.participants[0].last_frame
    alone = s.model.world.renderer.render(p0, s.world_state)  # the same view with nobody else in the room
    assert _blue_share(seen) > 0.01 and _blue_share(alone) < 0.001
    summary = live.close()
    assert summary.seats == ("seats/seat-1", "seats/seat-2")
    rec = read_recording(tmp_path / "rec")
    assert rec.seats == s.seats
    assert len(rec.seat_actions(2)) == ticks and all(a["action"][0] > 0 for a in rec.seat_actions(2))
    nurse = rec.seat(2)
    assert nurse.frame_count == ticks + 1 and nurse.meta["meta"]["seat"] == 2


def test_the_game_master_addresses_one_seat_or_all(team_scenario):
    from engine.runtime.protocol import Caption, Event, Role
    from engine.runtime.wiring import open_live_session

    live = open_live_session(team_scenario, "reference", record=False)
    s = live.session
    trainees = [s.connect(Role.TRAINEE, seat=k) for k in range(3)]
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    gm.say("Anaesthetist: read me the pressure", seat=1)
    gm.say("Everyone: stop and listen")
    gm.fire("avatar_enter", seat=2)  # the circulating nurse comes in before the scrub nurse
    s.step()
    got = [[m.text for m in t.poll() if isinstance(m, Caption)] for t in trainees]
    assert got == [["Everyone: stop and listen"], ["Anaesthetist: read me the pressure", "Everyone: stop and listen"],
                   ["Everyone: stop and listen"]]
    ev = [m for m in gm.poll() if isinstance(m, Event)]
    assert ev[0].seat == 2
    x, z, yaw, _ = s.participants[2].pose
    ax, az, _ = s.world_state.avatar_pose
    assert np.hypot(ax - (x - 2 * np.sin(yaw)), az - (z - 2 * np.cos(yaw))) < 1e-6  # 2 m ahead of seat 2
    with pytest.raises(ValueError):  # a seat the protocol does not have (pydantic's ValidationError)
        gm.say("nobody", seat=5)
    live.close()


def test_a_rewind_puts_every_trainee_back(team_scenario):
    from engine.runtime.protocol import Role
    from engine.runtime.wiring import open_live_session

    live = open_live_session(team_scenario, "reference", record=False)
    s = live.session
    t1 = s.connect(Role.TRAINEE, seat=1)
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    poses = [p.pose for p in s.participants]
    frames = [p.last_frame.copy() for p in s.participants]
    gm.bookmark("before")  # taken at the next tick boundary: tick 0, as the world opened
    s.step()
    t1.set_action([0.05, 0, 0.1, 0])
    for _ in range(5):
        s.step()
    assert s.participants[1].pose != poses[1]
    bid = next(iter(s.bookmarks))
    gm.rewind(bid)
    t1.set_action([0, 0, 0, 0])
    s.step()
    assert [p.pose for p in s.participants] == poses
    for p, f in zip(s.participants, frames):
        np.testing.assert_array_equal(p.last_frame, f)
    live.close()


# ------------------------------------------------------------------ across the network


def test_every_trainee_seat_has_a_code_and_its_socket_carries_only_its_own_view(team_scenario, tmp_path):
    """Three trainees and a game master on their own connections: each trainee's raw socket
    carries frames of its own seat only (and the captions meant for it); the game master
    receives every seat's view with where each trainee stands."""
    pytest.importorskip("websockets")
    from engine.model.interface import ReferenceWorldModel
    from engine.net.client import RemoteClient, parse_join_url
    from engine.net.run import seats_of
    from engine.net.server import SessionServer
    from engine.net.tls import load_or_make_certificate
    from engine.net.wire import Hello, decode_frame
    from engine.runtime.runner import SessionRunner
    from engine.runtime.wiring import open_live_session
    from tests.test_net import raw_connect, receive_raw

    live = open_live_session(team_scenario, ReferenceWorldModel(64), record_dir=tmp_path / "rec")
    server = SessionServer(live.session, load_or_make_certificate(tmp_path / "tls"), seats=seats_of(team_scenario)).start()
    runner = SessionRunner(live.session, paced=True)
    runner.start()
    try:
        codes = server.codes()
        assert set(codes) == {"Surgeon", "Anaesthetist", "Scrub nurse", "Senior surgeon", "observers"}
        surgeon = RemoteClient(server.url, codes["Surgeon"])
        gm = RemoteClient(server.url, codes["Senior surgeon"])
        assert surgeon.seat_index == 0 and gm.seats == ["Surgeon", "Anaesthetist", "Scrub nurse"]
        uri, _ = parse_join_url(server.url)
        with raw_connect(uri) as ws:
            ws.send(Hello(code=codes["Scrub nurse"]).model_dump_json())
            welcome = json.loads(ws.recv(timeout=5))
            assert welcome["seat_index"] == 2 and welcome["scenario"] is None
            ws.send(json.dumps({"type": "set_action", "action": [0.05, 0, 0, 0], "seq": 1}))
            gm.say("SECRET-FOR-SURGEON", seat=0)
            gm.say("for the nurse", seat=2)
            received = receive_raw(ws)
        frames = [decode_frame(m) for m in received if isinstance(m, bytes) and m[:1] == b"F"]
        from engine.net.sound import decode_sound_message

        sound_seats = {decode_sound_message(m)[1] for m in received if isinstance(m, bytes) and m[:1] == b"S"}
        assert sound_seats == {2}  # what the nurse hears, nobody else's
        text = [json.loads(m) for m in received if isinstance(m, str)]
        assert len(frames) >= 10 and {f.seat for f in frames} == {2}
        assert [t["text"] for t in text] == ["for the nurse"]  # its own caption, nothing else
        assert b"SECRET" not in b"".join(m for m in received if isinstance(m, bytes))
        assert frames[-1].pose is not None
        assert surgeon.wait_for(lambda c: c.latest_frame is not None and c.latest_frame.seat == 0)
        assert gm.wait_for(lambda c: set(c.latest_frames) == {0, 1, 2})
        from engine.world.seats import seat_start_poses

        nurse_start = seat_start_poses(live.session.scene, 3)[2]
        assert gm.wait_for(lambda c: np.hypot(*np.subtract(c.latest_frames[2].pose[:2], nurse_start[:2])) > 0.2)
        assert live.session.participants[2].input_seq == 1  # the nurse's input moved the nurse's seat
        surgeon.close()
        gm.close()
    finally:
        runner.stop()
        runner.join(5)
        server.close()
        live.close()


# ------------------------------------------------------------------ the console


def test_the_console_shows_every_trainee_where_they_stand_and_addresses_one(qtbot, team_scenario, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from app.main import build_app
    from engine.model.interface import ReferenceWorldModel
    from engine.runtime.protocol import Role

    trainee, console, worker = build_app(team_scenario, ReferenceWorldModel(), tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    try:
        qtbot.waitUntil(lambda: console.client is not None and worker.session.tick > 2, timeout=5000)
        nurse = worker.session.connect(Role.TRAINEE, seat=2)
        nurse.set_action([0.05, 0, 0, 0])
        assert console.seats == ["Surgeon", "Anaesthetist", "Scrub nurse"]
        qtbot.waitUntil(lambda: all(v.image is not None for v in console.seat_strip.views), timeout=3000)
        qtbot.waitUntil(lambda: set(console.floor_plan.poses) == {0, 1, 2}, timeout=3000)
        # the plan follows the walking nurse
        start = console.floor_plan.poses[2]
        qtbot.waitUntil(lambda: np.hypot(*np.subtract(console.floor_plan.poses[2][:2], start[:2])) > 0.2, timeout=3000)
        # the large view follows the chosen seat
        console.seat_strip.chosen.emit(2)
        qtbot.waitUntil(lambda: console._frame_msg is not None and console._frame_msg.seat == 2, timeout=3000)
        assert "Scrub nurse" in console.view_title.text()
        # address the scrub nurse: the caption reaches the nurse only, the entering person stands before them
        console.address.setCurrentIndex(3)
        assert console.address.seat == 2
        console.say_edit.setText("Count the swabs")
        qtbot.keyClick(console.say_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: any(m.kind == "caption" for m in nurse.poll()), timeout=3000)
        qtbot.waitUntil(lambda: trainee.received_kinds["frame"] > 3, timeout=3000)
        assert trainee.received_kinds["caption"] == 0  # the surgeon's window heard nothing
        enter = next(b for b in console.palette_buttons if b.property("event") == "avatar_enter")
        qtbot.mouseClick(enter, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: worker.session.world_state.avatar, timeout=3000)
        assert worker.session.event_log[-1].seat == 2
        texts = lambda: [console.log_list.item(i).text() for i in range(console.log_list.count())]  # noqa: E731
        qtbot.waitUntil(lambda: any("→ Scrub nurse" in t for t in texts()), timeout=3000)
        assert any("said to Scrub nurse" in t for t in texts())
        # the surgeon's window shows a caption meant for everyone
        console.address.setCurrentIndex(0)
        console.say_edit.setText("Everyone: pause")
        qtbot.keyClick(console.say_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: trainee.view.caption == "Everyone: pause", timeout=3000)
        console.grab().save(str(tmp_path / "console.png"))
    finally:
        worker.close()


def test_the_debrief_plays_each_trainees_view(qtbot, team_scenario, tmp_path):
    pytest.importorskip("pytestqt")
    from app.debrief.window import DebriefWindow
    from engine.runtime.protocol import Role
    from engine.runtime.wiring import open_live_session

    live = open_live_session(team_scenario, "reference", record_dir=tmp_path / "rec")
    s = live.session
    s.connect(Role.TRAINEE, seat=1).set_action([0, 0, 0.1, 0])  # the anaesthetist turns; the others stand
    s.start()
    for _ in range(10):
        s.step()
    last = [p.last_frame.copy() for p in s.participants]
    live.close()
    window = DebriefWindow(tmp_path / "rec")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.load_job.state != "running", timeout=10_000)
    assert window.seat_box.isVisible() and window.seat_box.count() == 3
    window.seek(10)
    for seat in (0, 1):
        window.seat_box.setCurrentIndex(seat)
        qtbot.waitUntil(lambda seat=seat: window.load_job.state == "done" and window.seat == seat, timeout=10_000)
        qtbot.waitUntil(lambda: window.frame_tick == 10, timeout=5000)  # the position is kept
        decoded = dict(window.data.recording.frames(native=True))[10]
        # the frame decoded for the chosen seat is that seat's last view (H.264: close, not exact)
        assert np.abs(decoded.astype(int) - last[seat].astype(int)).mean() < 6
        err_own = np.abs(decoded.astype(int) - last[seat].astype(int)).mean()
        assert np.abs(decoded.astype(int) - last[1 - seat].astype(int)).mean() > err_own + 3
    window.close()
