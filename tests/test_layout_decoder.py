"""The layout-modulated decoder: built from a plain decoder, trained, read live, saved."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.model.autoencoder import Autoencoder, AutoencoderConfig
from engine.model.interface import Prompt
from engine.model.layout_decoder import decoder_layout, empty_decoder_layout
from engine.world.layout import LAYOUT_CLASSES, LAYOUT_DIM, LayoutRenderer
from engine.world.scene import make_scene
from engine.world.state import WorldState

CFG = AutoencoderConfig(resolution=32, latent_channels=4, widths=(8, 16, 16), res_from_width=16, mid_blocks=1)


def _trained_plain(seed=0):
    torch.manual_seed(seed)
    ae = Autoencoder(CFG)
    with torch.no_grad():  # as if trained: the norms' affine terms away from 1 and 0
        for p in ae.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return ae.eval()


def test_before_training_it_decodes_as_the_plain_decoder_it_wraps():
    from engine.train.layout_decoder import layout_autoencoder

    plain = _trained_plain()
    wrapped = layout_autoencoder(plain).eval()
    assert wrapped.config.layout == LAYOUT_DIM
    z = torch.randn(3, 4, 8, 8)
    rng = np.random.default_rng(0)
    layout = decoder_layout(torch.from_numpy(rng.integers(0, len(LAYOUT_CLASSES), (3, 32, 32))),
                            torch.from_numpy(rng.random((3, 16, 16)).astype(np.float16)))
    with torch.no_grad():
        torch.testing.assert_close(wrapped.decode(z, layout), plain.decode(z), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(wrapped.decode(z), plain.decode(z), atol=1e-5, rtol=1e-5)
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(wrapped.encode(x), plain.encode(x))


def test_a_plain_decoder_of_another_shape_is_refused():
    from engine.model.layout_decoder import LayoutDecoder
    from engine.model.autoencoder import build_decoder

    dec = LayoutDecoder(build_decoder(CFG))
    other = build_decoder(replace(CFG, widths=(8, 16, 16, 16)))
    with pytest.raises((KeyError, RuntimeError)):
        dec.load_plain(other.state_dict())


def test_decoder_layout_is_one_hot_classes_and_upsampled_inverse_depth():
    classes = torch.tensor([[[1, 2], [3, 0]]])
    inv = torch.tensor([[[0.5]]], dtype=torch.float16)
    f = decoder_layout(classes, inv)
    assert f.shape == (1, LAYOUT_DIM, 2, 2)
    assert f[0, :-1].sum(0).eq(1).all() and f[0, 1, 0, 0] == 1 and f[0, 3, 1, 0] == 1
    assert (f[0, -1] == 0.5).all()
    e = empty_decoder_layout(2, 4)
    assert (e[:, 0] == 1).all() and e[:, 1:].sum() == 0


def _pairs(n=48, seed=0):
    """Frames that only the layout can tell apart: the same latent, the left or the right
    half lit, as the layout's class map says (wall on the lit side, floor elsewhere)."""
    rng = np.random.default_rng(seed)
    wall, floor = LAYOUT_CLASSES.index("wall"), LAYOUT_CLASSES.index("floor")
    classes = np.full((n, 32, 32), floor, np.uint8)
    frames = np.zeros((n, 32, 32, 3), np.uint8)
    for i in range(n):
        side = slice(0, 16) if rng.random() < 0.5 else slice(16, 32)
        classes[i, :, side] = wall
        frames[i, :, side] = 220
    return {"latents": torch.zeros(n, 4, 8, 8), "frames": frames, "classes": torch.from_numpy(classes),
            "inv_depth": torch.zeros(n, 16, 16, dtype=torch.float16),
            "horizons": torch.from_numpy(rng.integers(0, 4, n))}


def test_training_teaches_it_to_draw_what_the_layout_says():
    """The latent is the same for every frame, so the plain decoder can only draw the mean
    grey; after training, the lit half follows the layout."""
    from engine.train.layout_decoder import layout_autoencoder, train_layout_decoder

    torch.manual_seed(0)
    pairs = _pairs()
    ae = train_layout_decoder(layout_autoencoder(Autoencoder(CFG)), pairs, steps=60, batch=8, lr=3e-3,
                              gan_weight=0.0, fm_weight=0.0, layout_drop=0.0, progress=False, log=lambda *a: None)
    wall, floor = LAYOUT_CLASSES.index("wall"), LAYOUT_CLASSES.index("floor")
    left = torch.full((1, 32, 32), floor)
    left[:, :, :16] = wall
    right = left.flip(-1)
    z = torch.zeros(1, 4, 8, 8)
    inv = torch.zeros(1, 16, 16)
    with torch.no_grad():
        a = ae.decode(z, decoder_layout(left, inv)).mean(1)[0]
        b = ae.decode(z, decoder_layout(right, inv)).mean(1)[0]
    # the lit side is brighter than the dark side, on each layout
    assert a[:, :16].mean() - a[:, 16:].mean() > 0.3
    assert b[:, 16:].mean() - b[:, :16].mean() > 0.3


def _live_layout_model(albedo: bool):
    """A small layout world model (32×32 frames) whose decoder's modulation is as if trained."""
    from engine.model.dynamics import DynamicsModel
    from engine.model.world_model import LatentWorldModel, Sampling
    from engine.train.layout_decoder import layout_autoencoder
    from tests.test_layout import _layout_cfg

    ae = layout_autoencoder(_trained_plain(), albedo=albedo)
    with torch.no_grad():
        for n, p in ae.decoder.named_parameters():
            if ".gamma." in n or ".beta." in n:
                p.add_(torch.randn_like(p) * 0.3)
    dyn = DynamicsModel(replace(_layout_cfg(), latent_size=8, patch=2)).eval()
    return LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), sampling=Sampling(steps=1, deterministic=True))


def test_the_live_model_gives_the_decoder_the_layout_of_each_view():
    """A world model with a layout decoder renders the full-resolution layout of the view it
    decodes, at the session's pose: the frame equals decoding the latent with that layout."""
    m = _live_layout_model(albedo=False)
    scene = make_scene("operating_room", 3)
    viewer0 = np.array([*scene.start_pose, 0.0], np.float32)
    viewer1 = viewer0 + np.array([0.0, 0.0, 0.6, 0.0], np.float32)
    img = np.full((32, 32, 3), 90, np.uint8)
    m.reset(Prompt("", img, room="operating_room", seed=3), WorldState(), viewer_pose=viewer0)
    frame = m.step(np.zeros(4, np.float32), WorldState(), viewer_pose=viewer1)
    lr = LayoutRenderer(16)
    lr.set_scene(scene)
    c, d = lr(viewer1, WorldState())
    c0, d0 = lr(viewer0, WorldState())
    lr.release()
    assert (c != c0).any()
    want = m.decode(m.last_latent, decoder_layout(torch.from_numpy(c)[None], torch.from_numpy(d)[None]))[0]
    other = m.decode(m.last_latent, decoder_layout(torch.from_numpy(c0)[None], torch.from_numpy(d0)[None]))[0]
    assert np.abs(frame.astype(int) - want.astype(int)).max() <= 1
    assert np.abs(frame.astype(int) - other.astype(int)).max() > 1  # the layout matters to the frame


def test_the_live_model_gives_an_albedo_decoder_the_albedo_map_of_each_view():
    m = _live_layout_model(albedo=True)
    scene = make_scene("classroom", 5)
    viewer = np.array([*scene.start_pose, 0.0], np.float32)
    m.reset(Prompt("", np.full((32, 32, 3), 90, np.uint8), room="classroom", seed=5), WorldState(), viewer_pose=viewer)
    frame = m.step(np.zeros(4, np.float32), WorldState(), viewer_pose=viewer)
    lr = LayoutRenderer(16)
    lr.set_scene(scene)
    c, d, a = lr(viewer, WorldState(), albedo=True)
    lr.release()
    t = torch.from_numpy
    want = m.decode(m.last_latent, decoder_layout(t(c)[None], t(d)[None], t(a)[None]))[0]
    grey = m.decode(m.last_latent, decoder_layout(t(c)[None], t(d)[None], t(np.full_like(a, 128))[None]))[0]
    assert np.abs(frame.astype(int) - want.astype(int)).max() <= 1
    assert np.abs(frame.astype(int) - grey.astype(int)).max() > 1  # the colours matter to the frame


@pytest.mark.parametrize("albedo", [False, True])
def test_a_layout_decoder_model_trains_saves_and_loads(tmp_path, albedo):
    from engine.model.io import load_world_model
    from engine.train.pipeline import TrainConfig, run_training

    cfg = TrainConfig.tiny()
    cfg = replace(cfg, dynamics=replace(cfg.dynamics, layout=1), layout_decoder_steps=2, layout_decoder_batch=4,
                  layout_decoder_rollouts=1, layout_decoder_horizon=3, layout_decoder_real=4,
                  layout_decoder_albedo=albedo, text_scene_steps=5 if albedo else 0, text_scene_rooms=6)
    run = run_training(tmp_path / "run", cfg, seed=1, progress=False, log=lambda *a: None)
    m = load_world_model(run)
    assert m.ae.config.layout == LAYOUT_DIM + (3 if albedo else 0)
    assert ("albedo map" in m.card["description"]) == albedo
    assert (m.text_scene is not None) == albedo
    if albedo:  # words alone open on the scene graph the text-to-scene network infers
        from engine.model.io import load_text_scene

        assert set(m.card["training"]["text_scene_accuracy"]) == {"room", "wall", "floor", "objects"}
        assert load_text_scene(run).state_dict().keys() == m.text_scene.state_dict().keys()
        m.reset(Prompt("A classroom with mint walls."), WorldState())
        assert m.scene is not None
    assert m.card["training"]["layout_decoder_steps"] == 2
    f = m.reset(Prompt("", np.zeros((32, 32, 3), np.uint8), room="classroom", seed=2), WorldState())
    assert f.shape == (32, 32, 3)
    assert m.step(np.zeros(4, np.float32), WorldState()).shape == (32, 32, 3)


def test_layout_decoder_steps_need_a_layout_model(tmp_path):
    from engine.train.pipeline import TrainConfig, run_training

    cfg = replace(TrainConfig.tiny(), layout_decoder_steps=2)
    with pytest.raises(ValueError, match="dynamics.layout"):
        run_training(tmp_path / "run", cfg, seed=1, progress=False, log=lambda *a: None)


def test_the_cards_command_carries_every_setting_that_differs_from_its_budget():
    from engine.train.pipeline import TrainConfig, apply_overrides, config_overrides, train_command

    items = ["ae_steps=1500", "autoencoder.widths=[16,32,64]", "dynamics.layout=true", "dyn_steps=3000",
             "layout_decoder_steps=1500", "sampling.ctx_noise=0"]
    config = apply_overrides(TrainConfig.for_budget("quick"), items)
    assert sorted(config_overrides(config)) == sorted(items)
    assert apply_overrides(TrainConfig.for_budget("quick"), config_overrides(config)) == config
    assert train_command(config, 0).startswith("ved train --budget quick --out DIR --seed 0 --set ")
    assert "--set 'autoencoder.widths=[16,32,64]'" in train_command(config, 0)
    assert config_overrides(TrainConfig.for_budget("quick")) == []


# ---------------------------------------------------------------- the albedo map
def test_albedo_map_is_the_unlit_surface_colour_of_what_each_pixel_shows():
    """Walls in the room's wall colour whatever the light or the alarm, the floor tiled,
    the avatar where the layout puts the person, aligned pixel for pixel with the class map."""
    scene = make_scene("therapy_room", 4)
    lr = LayoutRenderer(32)
    lr.set_scene(scene)
    pose = (*scene.start_pose, 0.0)
    state = WorldState().apply("avatar_enter", viewer_pose=scene.start_pose)
    classes, inv, albedo = lr(pose, state, albedo=True)
    c2, inv2 = lr(pose, state)
    dark = lr(pose, WorldState(light=0.3, alarm=True).apply("avatar_enter", viewer_pose=scene.start_pose), albedo=True)[2]
    lr.release()
    assert albedo.shape == (64, 64, 3) and albedo.dtype == np.uint8
    assert (classes == c2).all() and (inv == inv2).all()
    assert (albedo == dark).all()  # no light level, no alarm
    wall = np.asarray(scene.wall_color) * 255
    on_wall = classes == LAYOUT_CLASSES.index("wall")
    near = lambda px, col: np.abs(px.astype(float) - col).max(-1) <= 0.05 * 255  # side walls are 4 % darker
    assert on_wall.any() and near(albedo[on_wall], wall).all()
    on_floor = classes == LAYOUT_CLASSES.index("floor")
    assert on_floor.sum() > 50 and albedo[on_floor].std(0).max() > 3  # tiles and grout, not one colour
    person = classes == LAYOUT_CLASSES.index("person")
    assert person.any() and not near(albedo[person], wall).all()


def test_decoder_layout_with_albedo_appends_it_scaled_to_one():
    classes = torch.tensor([[[1, 2], [3, 0]]])
    inv = torch.tensor([[[0.5]]], dtype=torch.float16)
    albedo = torch.tensor([[[[255, 0, 51], [0, 0, 0]], [[0, 102, 0], [10, 10, 10]]]], dtype=torch.uint8)
    f = decoder_layout(classes, inv, albedo)
    assert f.shape == (1, LAYOUT_DIM + 3, 2, 2)
    torch.testing.assert_close(f[:, :LAYOUT_DIM], decoder_layout(classes, inv))
    torch.testing.assert_close(f[0, LAYOUT_DIM:, 0, 0], torch.tensor([1.0, 0.0, 0.2]))
    assert empty_decoder_layout(2, 4, channels=LAYOUT_DIM + 3)[:, 1:].sum() == 0


def test_an_albedo_decoder_starts_as_the_plain_one_and_learns_the_colour_it_is_told():
    """Every frame has the same latent and the same class map (wall on the left); only the
    albedo map says whether the wall is red or blue. The trained decoder paints it so."""
    from engine.train.layout_decoder import layout_autoencoder, train_layout_decoder

    plain = _trained_plain()
    ae = layout_autoencoder(plain, albedo=True)
    assert ae.config.layout == LAYOUT_DIM + 3
    wall, floor = LAYOUT_CLASSES.index("wall"), LAYOUT_CLASSES.index("floor")
    classes = torch.full((1, 32, 32), floor)
    classes[:, :, :16] = wall
    inv = torch.zeros(1, 16, 16)
    red, blue = (torch.zeros(1, 32, 32, 3, dtype=torch.uint8) for _ in range(2))
    red[:, :, :16] = torch.tensor([200, 30, 30], dtype=torch.uint8)
    blue[:, :, :16] = torch.tensor([30, 30, 200], dtype=torch.uint8)
    z = torch.zeros(1, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ae.eval().decode(z, decoder_layout(classes, inv, red)), plain.decode(z),
                                   atol=1e-5, rtol=1e-5)
    n = 32
    rng = np.random.default_rng(0)
    is_red = rng.random(n) < 0.5
    albedo = torch.where(torch.from_numpy(is_red)[:, None, None, None], red, blue)
    frames = albedo.numpy().copy()
    pairs = {"latents": torch.zeros(n, 4, 8, 8), "frames": frames, "classes": classes.expand(n, -1, -1).to(torch.uint8),
             "inv_depth": torch.zeros(n, 16, 16, dtype=torch.float16), "horizons": torch.from_numpy(rng.integers(0, 4, n)),
             "albedo": albedo}
    torch.manual_seed(0)
    ae = train_layout_decoder(ae, pairs, steps=60, batch=8, lr=3e-3, gan_weight=0.0, fm_weight=0.0, layout_drop=0.0,
                              progress=False, log=lambda *a: None)
    with torch.no_grad():
        r = ae.decode(z, decoder_layout(classes, inv, red))[0, :, :, :16].mean((1, 2))
        b = ae.decode(z, decoder_layout(classes, inv, blue))[0, :, :, :16].mean((1, 2))
    assert r[0] - r[2] > 0.3 and b[2] - b[0] > 0.3
    bare = {k: v for k, v in pairs.items() if k != "albedo"}
    with pytest.raises(ValueError, match="albedo"):
        train_layout_decoder(layout_autoencoder(plain, albedo=True), bare, steps=1, progress=False, log=lambda *a: None)
