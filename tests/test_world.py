"""Reference world: scenes, renderer, events, motion, exploration policy."""

import numpy as np
import pytest

from engine.runtime.opening import open_floor
from engine.world.env import ReferenceWorld
from engine.world.motion import apply_action
from engine.world.policy import ExplorationPolicy
from engine.world.scene import ROOM_TYPES, make_scene
from engine.world.state import EVENT_NAMES, UnknownEventError, WorldState


@pytest.fixture(scope="module")
def world():
    w = ReferenceWorld(64)
    yield w
    w.renderer.release()


def test_scenes_are_deterministic_and_varied():
    a, b = make_scene("classroom", 5), make_scene("classroom", 5)
    assert a.caption() == b.caption() and a.params() == b.params()
    captions = {make_scene(rt, s).caption() for rt in ROOM_TYPES for s in range(6)}
    assert len(captions) >= 15
    kinds = {o.kind for rt in ROOM_TYPES for s in range(6) for o in make_scene(rt, s).objects}
    assert len(kinds - {"door", "alarm_beacon", "baseboard"}) >= 6
    with pytest.raises(ValueError, match="known: operating_room"):
        make_scene("kitchen", 0)


def test_caption_names_room_and_walls():
    s = make_scene("operating_room", 1)
    cap = s.caption()
    assert cap.startswith("an operating room with ") and s.wall_color_name in cap
    assert "operating table with a patient" in cap


def test_render_shape_and_resolution_parameter():
    w = ReferenceWorld(32)
    f = w.reset("therapy_room", 0)
    assert f.shape == (32, 32, 3) and f.dtype == np.uint8 and f.std() > 5
    w.renderer.release()


@pytest.mark.parametrize("event", ["lights_dim", "alarm_on", "avatar_enter", "bleeding_start"])
def test_events_visibly_change_the_scene(world, event):
    room = "operating_room" if event == "bleeding_start" else "therapy_room"
    base = world.reset(room, 2)
    scene = world.scene
    pose = world.pose
    state = WorldState().apply(event, viewer_pose=world.viewer_pose)
    if event == "bleeding_start":
        for _ in range(60):
            state = state.advance()
        assert state.bleeding == 1.0
        # look at the patient from beside the table
        bx, _, bz = scene.bleed_site
        x, z = bx + 1.2, bz + 1.2
        yaw = float(np.arctan2(x - bx, z - bz))
        pose = (x, z, yaw, -0.5)
        base = world.renderer.render(pose, WorldState())
    after = world.renderer.render(pose, state)
    changed = (np.abs(after.astype(int) - base.astype(int)).max(-1) > 30).mean()
    assert changed > 0.02, f"{event} changed only {changed:.1%} of the pixels"
    if event == "lights_dim":
        assert after.mean() < 0.6 * base.mean()
    if event == "alarm_on":
        assert after[..., 0].mean() - after[..., 1].mean() > base[..., 0].mean() - base[..., 1].mean() + 20


def test_state_is_persistent_and_events_validated():
    s = WorldState().apply("lights_dim")
    for _ in range(500):
        s = s.advance()
    assert s.light < 1.0  # dim stays dim until another event changes it
    assert s.apply("lights_normal").light == 1.0
    with pytest.raises(UnknownEventError, match="lights_dim"):
        s.apply("explode")
    assert set(EVENT_NAMES) >= {"lights_dim", "alarm_on", "avatar_enter", "bleeding_start"}


def test_actions_move_the_camera_as_documented():
    scene = open_floor()
    p = apply_action(scene, (0.0, 0.0, 0.0, 0.0), np.array([0.1, 0, 0, 0]))
    assert p[1] == pytest.approx(-0.1) and p[0] == pytest.approx(0.0)  # yaw 0 looks along -z
    p = apply_action(scene, (0.0, 0.0, 0.0, 0.0), np.array([0, 0.1, 0, 0]))
    assert p[0] == pytest.approx(0.1)  # strafe right is +x at yaw 0
    p = apply_action(scene, (0.0, 0.0, 0.0, 0.0), np.array([0, 0, 0.1, 0.05]))
    assert p[2] == pytest.approx(0.1) and p[3] == pytest.approx(0.05)


def test_walls_stop_the_participant():
    scene = make_scene("classroom", 0)
    pose = (0.0, 0.0, 0.0, 0.0)
    for _ in range(400):
        pose = apply_action(scene, pose, np.array([0.15, 0, 0, 0]))
    assert abs(pose[1]) < scene.depth / 2 and scene.is_free(pose[0], pose[1], 0.29)


def test_policy_is_human_like(world):
    rng = np.random.default_rng(0)
    revisits, stops = 0, 0
    for ep in range(6):
        world.reset(ROOM_TYPES[ep % 3], ep)
        policy = ExplorationPolicy(world.scene, rng)
        acts = []
        for _ in range(300):
            a = policy.act(world.pose)
            world.step(a, WorldState())
            acts.append(a)
        acts = np.array(acts)
        assert np.abs(np.diff(acts, axis=0)).max() < 0.06  # momentum: no jerks
        stops += int((np.abs(acts[:, 0]) < 1e-3).sum() > 10)
        revisits += policy.revisits > 0
    assert stops >= 4 and revisits >= 2
