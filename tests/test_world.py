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


def test_other_participants_are_drawn_in_their_seat_colours(world):
    from engine.world.scene import SEAT_COLORS

    world.reset("therapy_room", 4)
    x, z, yaw, _ = world.pose
    ahead = (x - 2.0 * np.sin(yaw), z - 2.0 * np.cos(yaw))  # two metres in front of the camera
    empty = world.renderer.render(world.pose, WorldState())
    for seat in range(3):
        state = WorldState().with_others([(seat, *ahead, yaw)])
        frame = world.renderer.render(world.pose, state).astype(float)
        changed = np.abs(frame - empty).max(-1) > 30
        assert changed.mean() > 0.02, f"seat {seat} is not visible two metres ahead"
        # the changed pixels' colour is nearest (in hue) to this seat's shirt, not another's
        mean = frame[changed].mean(0)
        shirts = np.asarray([c[0] for c in SEAT_COLORS])
        cos = shirts @ mean / np.linalg.norm(shirts, axis=1) / np.linalg.norm(mean)
        assert np.argmax(cos) == seat, (seat, mean, cos)
    with pytest.raises(ValueError, match="distinct seats"):
        WorldState().with_others([(0, 0, 0, 0), (0, 1, 1, 0)])


def test_label_pass_names_what_is_seen(world):
    from engine.world.labels import OBJECT_KINDS, view_labels
    from engine.world.renderer import AVATAR_ID, BACKGROUND_ID, CEILING_ID, WALL_ID

    world.reset("operating_room", 1)
    scene = world.scene
    state = WorldState().apply("avatar_enter", viewer_pose=world.viewer_pose)
    ids = world.renderer.render_labels(world.pose, state)
    assert ids.shape == (64, 64) and ids.dtype == np.int32
    assert (ids == BACKGROUND_ID).any() and (ids == AVATAR_ID).mean() > 0.02
    assert set(np.unique(ids)) <= {BACKGROUND_ID, WALL_ID, CEILING_ID, AVATAR_ID, *range(1, 1 + len(scene.objects))}
    assert (ids == WALL_ID).any()
    lab = view_labels(ids, scene)
    assert lab["person"] == 1.0 and lab["persons"].sum() >= 1
    # the avatar stands straight ahead: the middle bands show it
    assert lab["persons"][3] == 1.0 or lab["persons"][4] == 1.0
    # without it, no person; objects are kinds of the scene
    lab0 = view_labels(world.renderer.render_labels(world.pose, WorldState()), scene)
    assert lab0["person"] == 0.0 and lab0["persons"].sum() == 0
    kinds = {OBJECT_KINDS[i] for i in np.flatnonzero(lab0["objects"])}
    assert kinds <= {o.kind for o in scene.objects}


def test_entity_projection_covers_what_the_label_pass_shows():
    from engine.world.entities import BLOOD_SLOT, entity_table, project_entities
    from engine.world.renderer import BLOOD_ID, SEAT_ID0

    w = ReferenceWorld(128)
    rng = np.random.default_rng(0)
    try:
        for trial in range(8):
            w.reset("operating_room", trial)
            x, z, yaw, _ = w.pose
            pose = (x, z, yaw, float(rng.uniform(-0.4, 0.4)))
            d, off = rng.uniform(1.5, 4.0), rng.uniform(-1, 1)
            px, pz = x - d * np.sin(yaw) + off * np.cos(yaw), z - d * np.cos(yaw) - off * np.sin(yaw)
            state = WorldState(bleeding=0.8).with_others([(1, px, pz, 0.3)])
            ids = w.renderer.render_labels(pose, state)
            cov, feat = project_entities(entity_table(state, w.scene), np.array(pose, np.float32), grid=8)
            for slot, oid in ((2, SEAT_ID0 + 1), (BLOOD_SLOT, BLOOD_ID)):
                cells = (ids == oid).reshape(8, 16, 8, 16).mean((1, 3)).ravel()
                seen = cells > 0.05
                # every cell where the thing is really drawn lies inside its projected box
                assert not (seen & (cov[slot] == 0)).any(), (trial, slot)
            assert feat[2, 0] == 1.0 and feat[0].sum() == 0  # seat 1 present; no avatar
    finally:
        w.renderer.release()
    # behind the camera: nothing projected
    state = WorldState().with_others([(0, 0.0, 3.0, 0.0)])
    cov, feat = project_entities(entity_table(state), np.zeros(4, np.float32), grid=4)
    assert cov.sum() == 0 and feat.sum() == 0


def test_walkers_keep_clear_of_furniture_and_the_viewer():
    from engine.world.policy import Walker

    scene = make_scene("classroom", 3)
    rng = np.random.default_rng(1)
    w = Walker.placed(scene, rng, avoid=(0.0, 0.0))
    viewer = (w.x + 1.0, w.z)
    path = [w.step(viewer=viewer) for _ in range(400)]
    xs = np.array([p[:2] for p in path])
    assert np.abs(np.diff(xs, axis=0)).sum() > 2.0  # it walks
    assert all(scene.is_free(x, z, 0.29) for x, z in xs)
    assert min(np.hypot(x - viewer[0], z - viewer[1]) for x, z in xs) >= 0.69
