"""Scene layout conditioning: the layout pass, the dynamics input, training and the live step."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.model.autoencoder import Autoencoder, AutoencoderConfig
from engine.model.dynamics import DynamicsConfig, DynamicsModel
from engine.model.interface import Prompt
from engine.world.layout import (LAYOUT_CLASSES, LAYOUT_DIM, MAX_INV_DEPTH, LayoutRenderer, empty_layout,
                                 layout_features)
from engine.world.scene import make_scene
from engine.world.state import WorldState


def _cls(name):
    return LAYOUT_CLASSES.index(name)


def test_layout_pass_tells_floor_ceiling_walls_and_the_distance_to_them():
    scene = make_scene("classroom", 5)
    scene.objects = []  # an empty room: the view straight ahead meets the far wall
    lr = LayoutRenderer(16)
    lr.set_scene(scene)
    classes, inv = lr((0.0, 0.0, 0.0, 0.0), WorldState())  # yaw 0 looks along -z
    lr.release()
    assert classes.shape == (32, 32) and inv.shape == (16, 16)
    assert (classes[-3:] == _cls("floor")).all() and (classes[:3] == _cls("ceiling")).all()
    assert classes[16, 16] == _cls("wall")
    wall = scene.depth / 2  # metres along the view axis to the far wall's inner face
    centre = float(inv[7:9, 7:9].astype(np.float32).mean()) * MAX_INV_DEPTH
    assert centre == pytest.approx(1 / wall, rel=0.05)
    # the floor comes nearer towards the bottom of the image
    column = inv[:, 8].astype(np.float32)
    assert column[-1] > 1.2 * centre / MAX_INV_DEPTH and (np.diff(column[8:]) >= -1e-3).all()


def test_layout_shows_furniture_and_a_person_where_they_stand():
    scene = make_scene("operating_room", 3)
    lr = LayoutRenderer(16)
    lr.set_scene(scene)
    pose = (*scene.start_pose, 0.0)
    without, _ = lr(pose, WorldState())
    with_person, _ = lr(pose, WorldState().apply("avatar_enter", viewer_pose=pose[:3]))
    lr.release()
    assert (with_person == _cls("person")).mean() > 0.01 and not (without == _cls("person")).any()
    kinds = {LAYOUT_CLASSES[i] for i in np.unique(without)}
    assert kinds & {o.kind for o in scene.objects}, kinds


def test_layout_features_are_class_shares_and_inverse_depth():
    classes = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    classes[..., :4, :] = 1
    classes[..., 0, 0] = 2
    inv = torch.full((2, 3, 4, 4), 0.5, dtype=torch.float16)
    f = layout_features(classes, inv)
    assert f.shape == (2, 3, LAYOUT_DIM, 4, 4)
    torch.testing.assert_close(f[:, :, :-1].sum(2), torch.ones(2, 3, 4, 4))
    assert f[0, 0, 2, 0, 0] == 0.25 and f[0, 0, 1, 0, 0] == 0.75 and f[0, 0, 0, 3, 3] == 1.0
    assert (f[:, :, -1] == 0.5).all()


def _layout_cfg(**kw):
    return DynamicsConfig(**{"latent_channels": 4, "latent_size": 8, "patch": 2, "width": 32, "depth": 2,
                             "heads": 2, "cond_dim": 16, "context": 4, "pose_dim": 5, "memory": 2, "entities": 5,
                             "entity_features": 9, "stack_previous": True, "layout": LAYOUT_DIM, **kw})


def test_layout_needs_entities():
    with pytest.raises(ValueError, match="dynamics.entities"):
        DynamicsConfig(layout=LAYOUT_DIM)


def test_live_step_of_a_layout_model_computes_what_training_computes():
    """One live step of a layout model (the layout rendered by the model itself from the
    prompt's room preset, at the session's viewer poses) equals the training forward given
    the same layouts."""
    from engine.model.world_model import LatentWorldModel, Sampling
    from engine.world.entities import entity_table, project_entities
    from tests.helpers.live_step import one_step_inputs

    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = DynamicsModel(_layout_cfg()).eval()
    with torch.no_grad():
        for p in dyn.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    m = LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), seed=3,
                         sampling=Sampling(steps=1, ctx_noise=0.0, cfg_action=1.0))
    scene = make_scene("operating_room", 3)
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    viewer0 = np.array([*scene.start_pose, 0.0], np.float32)
    action = np.array([0.05, 0.0, 0.1, 0.0], np.float32)
    viewer1 = viewer0 + np.array([0.0, 0.05, 0.1, 0.0], np.float32)
    state = WorldState()
    m.reset(Prompt("", img, room="operating_room", seed=3), state, viewer_pose=viewer0)
    z0 = m.encode(img[None])
    m.step(action, state, viewer_pose=viewer1)
    live = m.last_latent
    eps, x, t, a, s, p = one_step_inputs(m, z0, action, state)
    c0, f0 = project_entities(entity_table(state, scene), viewer0, grid=4, colours=False)
    c1, f1 = project_entities(entity_table(state, scene), viewer1, grid=4, colours=False)
    lr = LayoutRenderer(8)
    lr.set_scene(scene)
    (k0, i0), (k1, i1) = lr(viewer0, state), lr(viewer1, state)
    lr.release()
    assert (k0 != k1).any()  # the step moved the camera: its layout differs from the opening's
    stack = lambda a0, a1: torch.from_numpy(np.stack([a0, 0 * a0, 0 * a0, a0, a1]).astype(np.float32))[None]  # noqa: E731
    ent = (stack(c0, c1), stack(f0, f1), stack(k0, k1), stack(i0, i1))
    warped = torch.zeros_like(x)
    warped[:, 4] = x[:, 3]
    with torch.no_grad():
        v = dyn(x, t, a, s, poses=p, memory_valid=torch.zeros(1, 2, dtype=torch.bool), entities=ent, warped=warped)
        v_empty = dyn(x, t, a, s, poses=p, memory_valid=torch.zeros(1, 2, dtype=torch.bool), warped=warped,
                      entities=ent[:2] + (0 * ent[2], 0 * ent[3]))
    torch.testing.assert_close(live, eps - v[:, 4], atol=1e-4, rtol=1e-4)
    assert (v[:, 4] - v_empty[:, 4]).abs().max() > 1e-3  # the layout reaches the frame


def test_without_a_room_preset_the_model_draws_on_the_empty_layout():
    from engine.model.world_model import LatentWorldModel, Sampling

    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    m = LatentWorldModel(ae, DynamicsModel(_layout_cfg()).eval(), torch.zeros(4), torch.ones(4),
                         sampling=Sampling(steps=1))
    img = np.zeros((64, 64, 3), np.uint8)
    m.reset(Prompt("", img), WorldState())
    assert m.step(np.zeros(4, np.float32), WorldState()).shape == (64, 64, 3)
    classes, inv = m._entities(WorldState(), np.zeros(4, np.float32), None, np.zeros(4, np.float32))[2:]
    want_c, want_i = empty_layout(8)
    assert (classes.numpy()[0, 0] == want_c).all() and (inv.numpy()[0, 0] == 0).all()


def test_dropped_entities_drop_the_layout_too():
    from engine.train.dynamics import drop_entities

    B = 64
    ent = (torch.ones(B, 3, 5, 16), torch.ones(B, 3, 5, 9), torch.full((B, 3, 16, 16), 4.0), torch.ones(B, 3, 8, 8))
    out = drop_entities(ent, 0.3, torch.Generator().manual_seed(0))
    dropped = out[0].sum((1, 2, 3)) == 0
    assert 0 < dropped.sum() < B
    assert (out[2][dropped] == 0).all() and (out[3][dropped] == 0).all()
    assert (out[2][~dropped] == 4).all()


def test_a_layout_model_trains_and_loads(tmp_path):
    from engine.model.io import load_world_model
    from engine.train.pipeline import TrainConfig, run_training

    cfg = TrainConfig.tiny()
    cfg = replace(cfg, dynamics=replace(cfg.dynamics, layout=1))  # `--set dynamics.layout=true`
    run = run_training(tmp_path / "run", cfg, seed=1, progress=False, log=lambda *a: None)
    m = load_world_model(run)
    assert m.dyn.cfg.layout == LAYOUT_DIM
    f = m.reset(Prompt("", np.zeros((32, 32, 3), np.uint8), room="classroom", seed=2), WorldState())
    assert f.shape == (32, 32, 3)
    assert m.step(np.zeros(4, np.float32), WorldState()).shape == (32, 32, 3)
