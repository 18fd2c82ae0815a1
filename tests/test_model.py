"""World model: shapes, block-causality, KV-cache equivalence, training smoke, model files."""

import json
import time

import numpy as np
import pytest
import torch

from engine.model.autoencoder import Autoencoder, AutoencoderConfig
from engine.model.dynamics import DynamicsConfig, DynamicsModel
from engine.model.interface import Prompt
from engine.model.io import ModelError, load_networks, load_world_model
from engine.model.world_model import LatentWorldModel
from engine.train.pipeline import TrainConfig, run_training
from engine.world.state import WorldState

CFG = DynamicsConfig(latent_channels=4, width=32, depth=2, heads=2, cond_dim=16, context=4)


def _inputs(B=2, T=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, 4, 8, 8, generator=g)
    t = torch.rand(B, T, generator=g)
    a = torch.randn(B, T, 4, generator=g)
    s = torch.rand(B, T, 4, generator=g)
    return x, t, a, s


def _randomise(model):
    # adaLN-Zero starts as the identity; random gates make the tests meaningful.
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_autoencoder_shapes():
    ae = Autoencoder(AutoencoderConfig())  # the shipped shape: 128×128×3 → 16×16×4
    x = torch.rand(2, 3, 128, 128)
    rec, z = ae(x)
    assert z.shape == (2, 4, 16, 16) and rec.shape == x.shape
    old = AutoencoderConfig.from_dict({"resolution": 64, "latent_channels": 8, "widths": [16, 32, 64, 128]})
    assert (old.res_from_width, old.mid_blocks) == (64, 1)  # cards from before keep their architecture


def test_adversarial_autoencoder_training_moves_the_discriminator_and_sharpens():
    from engine.train.autoencoder import train_autoencoder
    from engine.train.discriminator import gradient_loss

    frames = np.zeros((8, 32, 32, 3), np.uint8)
    frames[:, :, 16:] = 255  # a hard vertical edge
    cfg = AutoencoderConfig(resolution=32, latent_channels=4, widths=(8, 16), res_from_width=16, mid_blocks=1)
    ae = train_autoencoder(frames, steps=6, batch=4, config=cfg, progress=False, log=lambda *a: None,
                           gan_start=0.5)
    x = torch.from_numpy(frames[:2]).permute(0, 3, 1, 2).float() / 255
    assert gradient_loss(x, x).item() == 0.0
    assert ae.decode(ae.encode(x)).shape == x.shape


def test_dynamics_is_block_causal():
    m = _randomise(DynamicsModel(CFG))
    x, t, a, s = _inputs()
    out = m(x, t, a, s)
    assert out.shape == x.shape
    x2, a2 = x.clone(), a.clone()
    x2[:, 3] += 1.0
    a2[:, 3] += 1.0
    out2 = m(x2, t, a2, s)
    torch.testing.assert_close(out[:, :3], out2[:, :3])  # the past never sees the future
    assert not torch.allclose(out[:, 3], out2[:, 3])


def test_kv_cached_steps_match_the_full_forward():
    m = _randomise(DynamicsModel(CFG))
    x, t, a, s = _inputs(B=1)
    full = m(x, t, a, s)
    cache, pos = None, None
    for i in range(x.shape[1]):
        cond = m.frame_cond(t[:, i:i + 1], a[:, i:i + 1], s[:, i:i + 1], anchor=torch.tensor([i == 0]))
        v, kv = m.forward_cached(x[:, i:i + 1], cond, torch.tensor([i]), cache, pos)
        torch.testing.assert_close(v[:, 0], full[:, i], atol=1e-4, rtol=1e-4)
        P = CFG.tokens_per_frame
        cache = kv if cache is None else [(torch.cat([c[0], k[0]], 2), torch.cat([c[1], k[1]], 2)) for c, k in zip(cache, kv)]
        pos = torch.arange(i + 1).repeat_interleave(P)


MEM_CFG = DynamicsConfig(latent_channels=4, width=32, depth=2, heads=2, cond_dim=16, context=4, pose_dim=5,
                         text_dim=8, memory=2, warp=True)


def test_memory_and_window_cached_match_the_training_forward():
    """The live layout (anchor, memory entries computed alone, then a window with a KV cache)
    computes what the training forward computes on the same sequence."""
    m = _randomise(DynamicsModel(MEM_CFG))
    x, t, a, s = _inputs(B=1, T=6)
    p = torch.randn(1, 6, 4)
    text = torch.randn(1, 8)
    warped = torch.randn_like(x)
    full = m(x, t, a, s, poses=p, text=text, memory_valid=torch.ones(1, 2, dtype=torch.bool), warped=warped)
    pos, anchor, memory = m.frame_layout(6)
    assert pos.tolist() == [0, 1, 1, 2, 3, 4]
    P = MEM_CFG.tokens_per_frame

    def cond(i):
        return m.frame_cond(t[:, i:i + 1], a[:, i:i + 1], s[:, i:i + 1], poses=p[:, i:i + 1], text=text,
                            anchor=anchor[i:i + 1], memory=memory[i:i + 1])

    v0, anchor_kv = m.forward_cached(x[:, :1], cond(0), pos[:1], None, None, warped=warped[:, :1])
    torch.testing.assert_close(v0[:, 0], full[:, 0], atol=1e-4, rtol=1e-4)
    entries = [anchor_kv]
    for i in (1, 2):  # each memory frame sees the anchor and itself only
        v, kv = m.forward_cached(x[:, i:i + 1], cond(i), pos[i:i + 1], anchor_kv, pos[:1].repeat_interleave(P),
                                 warped=warped[:, i:i + 1])
        torch.testing.assert_close(v[:, 0], full[:, i], atol=1e-4, rtol=1e-4)
        entries.append(kv)
    for i in (3, 4, 5):
        cache = [(torch.cat([e[b][0] for e in entries], 2), torch.cat([e[b][1] for e in entries], 2))
                 for b in range(MEM_CFG.depth)]
        v, kv = m.forward_cached(x[:, i:i + 1], cond(i), pos[i:i + 1], cache, pos[:i].repeat_interleave(P),
                                 warped=warped[:, i:i + 1])
        torch.testing.assert_close(v[:, 0], full[:, i], atol=1e-4, rtol=1e-4)
        entries.append(kv)


def test_an_empty_memory_slot_changes_nothing_downstream():
    m = _randomise(DynamicsModel(MEM_CFG))
    x, t, a, s = _inputs(B=1, T=6)
    valid = torch.tensor([[True, False]])
    out = m(x, t, a, s, memory_valid=valid)
    x2 = x.clone()
    x2[:, 2] += 5.0  # the empty slot's content
    out2 = m(x2, t, a, s, memory_valid=valid)
    torch.testing.assert_close(out[:, 3:], out2[:, 3:])
    out3 = m(x2, t, a, s, memory_valid=torch.ones(1, 2, dtype=torch.bool))
    assert not torch.allclose(out[:, 3:], out3[:, 3:])


def _tiny_world_model(seed=0):
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = _randomise(DynamicsModel(CFG))
    return LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), seed=seed)


def test_world_model_is_seeded_and_answers_actions():
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    state = WorldState()
    runs = []
    for action in ([0, 0, 0, 0], [0.1, 0, 0.1, 0], [0, 0, 0, 0]):
        m = _tiny_world_model()
        m.reset(Prompt("", img), state)
        frames = [m.step(np.array(action, np.float32), state) for _ in range(6)]  # past the window: slides
        assert frames[-1].shape == (64, 64, 3) and frames[-1].dtype == np.uint8
        runs.append(frames)
    np.testing.assert_array_equal(runs[0][-1], runs[2][-1])  # same seed, state, actions -> same frames
    assert np.abs(runs[0][-1].astype(int) - runs[1][-1].astype(int)).sum() > 0  # the action matters


def _mem_world_model(seed=0, **sampling):
    from engine.model.world_model import Sampling

    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = _randomise(DynamicsModel(MEM_CFG))
    return LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), sampling=Sampling(**sampling), seed=seed)


def test_text_only_prompt_draws_an_opening_frame_and_text_matters():
    emb = np.random.default_rng(0).normal(size=8).astype(np.float32)
    m = _mem_world_model()
    a = m.reset(Prompt("a room", text_embedding=emb), WorldState())
    b = m.reset(Prompt("another room", text_embedding=-emb), WorldState())
    assert a.shape == (64, 64, 3) and np.abs(a.astype(int) - b.astype(int)).sum() > 0
    guided = _mem_world_model(cfg_opening=3.0).reset(Prompt("a room", text_embedding=emb), WorldState())
    assert np.abs(guided.astype(int) - a.astype(int)).sum() > 0  # prompt guidance on the opening acts
    with pytest.raises(ValueError, match="no opening image"):
        _tiny_world_model().reset(Prompt("text only"), WorldState())  # not text-conditioned


def test_frame_memory_fills_and_retrieves_the_nearest_views():
    img = np.zeros((64, 64, 3), np.uint8)
    m = _mem_world_model(memory_every=2)
    m.reset(Prompt("", img, text_embedding=np.zeros(8, np.float32)), WorldState())
    turn = np.array([0, 0, 2 * np.pi / 32, 0], np.float32)
    for _ in range(32):  # a full turn: the last views face where the first ones did
        m.step(turn, WorldState())
    ticks = [e[0] for e in m._memory]
    assert ticks == list(range(2, 32, 2))
    near = m._retrieve(m._views[0], np.array([0, 0, 2 * np.pi * 3 / 32, 0], np.float32))
    kv_of = {id(e[2]): e[0] for e in m._memory}
    assert sorted(kv_of[id(k)] for k in near) == [2, 4]  # ticks 2 and 4 face 2/32 and 4/32 of a turn


def test_guidance_scale_changes_frames_and_regressor_is_deterministic():
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    act = np.array([0.1, 0, 0.1, 0], np.float32)
    outs = []
    for kw in ({}, {"cfg_action": 3.0}, {"cfg_action": 1.0}, {"cfg_action": 3.0, "cfg_above": 1.0},
               {"cfg_action": 3.0, "cfg_above": 0.5}):
        m = _mem_world_model(**kw)
        m.reset(Prompt("", img, text_embedding=np.ones(8, np.float32)), WorldState())
        outs.append([m.step(act, WorldState()) for _ in range(4)][-1])
    differ = lambda a, b: np.abs(a.astype(int) - b.astype(int)).sum() > 0  # noqa: E731
    np.testing.assert_array_equal(outs[0], outs[2])
    assert differ(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[3])  # guidance above t=1: never applied
    assert differ(outs[4], outs[0]) and differ(outs[4], outs[1])  # first step guided only
    det = [_mem_world_model(seed=s, deterministic=True, steps=1, ctx_noise=0.0) for s in (0, 1)]
    for d in det:
        d.reset(Prompt("", img, text_embedding=np.ones(8, np.float32)), WorldState())
    np.testing.assert_array_equal(det[0].step(act, WorldState()), det[1].step(act, WorldState()))


ENT_CFG = DynamicsConfig(latent_channels=4, latent_size=8, patch=2, width=32, depth=2, heads=2, cond_dim=16,
                         context=4, entities=5, entity_features=9)


def test_entities_enter_the_tokens_they_cover_and_the_cache_agrees():
    m = _randomise(DynamicsModel(ENT_CFG))
    x, t, a, s = _inputs(B=1, T=3)
    P = ENT_CFG.tokens_per_frame
    cov = torch.zeros(1, 3, 5, P)
    feat = torch.zeros(1, 3, 5, 9)
    plain = m(x, t, a, s)
    torch.testing.assert_close(m(x, t, a, s, entities=(cov, feat)), plain)  # nothing in view: no change
    cov[0, 2, 1, :4] = 1.0  # seat 0 covers the top row of frame 2
    feat[0, 2, 1, 0] = 1.0
    out = m(x, t, a, s, entities=(cov, feat))
    torch.testing.assert_close(out[:, :2], plain[:, :2])  # earlier frames do not see it
    assert not torch.allclose(out[:, 2], plain[:, 2])
    cache, pos = None, None
    for i in range(3):
        cond = m.frame_cond(t[:, i:i + 1], a[:, i:i + 1], s[:, i:i + 1], anchor=torch.tensor([i == 0]))
        v, kv = m.forward_cached(x[:, i:i + 1], cond, torch.tensor([i]), cache, pos,
                                 entities=(cov[:, i:i + 1], feat[:, i:i + 1]))
        torch.testing.assert_close(v[:, 0], out[:, i], atol=1e-4, rtol=1e-4)
        cache = kv if cache is None else [(torch.cat([c[0], k[0]], 2), torch.cat([c[1], k[1]], 2)) for c, k in zip(cache, kv)]
        pos = torch.arange(i + 1).repeat_interleave(P)


def test_a_person_in_view_changes_the_frame_and_one_behind_changes_nothing():
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = _randomise(DynamicsModel(ENT_CFG))
    img = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    viewer = np.array([0.0, 0.0, 0.0, 0.0], np.float32)  # at the origin, looking along -z
    still = np.zeros(4, np.float32)

    def run(others):
        m = LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), seed=0)
        state = WorldState().with_others(others)
        m.reset(Prompt("", img), state, viewer_pose=viewer)
        return [m.step(still, state, viewer_pose=viewer) for _ in range(3)][-1].astype(int)

    empty = run([])
    np.testing.assert_array_equal(run([(0, 0.0, 3.0, 0.0)]), empty)  # behind the camera
    assert np.abs(run([(0, 0.0, -2.5, 0.0)]) - empty).sum() > 0  # in front, same seed: it shows


def test_snapshot_restore_reproduces_the_future():
    img = np.zeros((64, 64, 3), np.uint8)
    m = _tiny_world_model()
    m.reset(Prompt("", img), WorldState())
    m.step(np.zeros(4, np.float32), WorldState())
    snap = m.snapshot()
    a = [m.step(np.array([0.05, 0, 0, 0], np.float32), WorldState()) for _ in range(3)]
    m.restore(snap)
    b = [m.step(np.array([0.05, 0, 0, 0], np.float32), WorldState()) for _ in range(3)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    return run_training(out / "run", TrainConfig.tiny(), seed=3, progress=False, log=lambda *a: None)


def test_training_smoke_writes_a_loadable_model(tiny_run):
    card = json.loads((tiny_run / "model_card.json").read_text())
    assert card["format"] == "ved-model/2" and card["seed"] == 3
    assert set(card["files"]) == {"autoencoder.safetensors", "dynamics.safetensors", "baseline_regressor.safetensors"}
    assert {"psnr", "copy_last", "delta_psnr"} <= set(card["metrics"])
    stages = card["training"]["stages_s"]  # every stage's cost, kept across --resume invocations
    assert {"data", "autoencoder", "encode", "dynamics", "regressor_baseline"} <= set(stages)
    assert card["training"]["model_training_s"] == pytest.approx(
        sum(v for k, v in stages.items() if k != "regressor_baseline"), abs=0.2)
    m = load_world_model(tiny_run)
    f = m.reset(Prompt("", np.zeros((32, 32, 3), np.uint8)), WorldState())
    assert f.shape == (32, 32, 3)


def test_resume_continues_an_interrupted_run(tiny_run):
    run_dir = tiny_run.parent
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(run_dir, TrainConfig.tiny(), seed=3, progress=False, log=lambda *a: None)
    msgs = []
    before = json.loads((tiny_run / "model_card.json").read_text())["training"]["stage_invocations"]
    run_training(run_dir, TrainConfig.tiny(), seed=3, resume=True, progress=False, log=msgs.append)
    assert any("resumed" in m for m in msgs)
    after = json.loads((tiny_run / "model_card.json").read_text())["training"]["stage_invocations"]
    # the finished stages did no work again: their cost is still the first invocation's
    assert after["autoencoder"] == before["autoencoder"] and after["data"] == before["data"]


def test_fine_tuning_starts_from_a_model_and_keeps_its_autoencoder(tiny_run, tmp_path):
    """init_model: the new run's autoencoder and normalisation are the model's, its dynamics
    starts from the model's weights, the data holds participant behaviours, and the card says so."""
    from dataclasses import replace

    import torch

    from engine.model.io import load_networks

    cfg = replace(TrainConfig.tiny(), init_model=str(tiny_run), participant_share=0.8, dyn_steps=2, rollout_steps=0,
                  decoder_steps=0, regressor_steps=0, dyn_lr=1e-5)
    out = run_training(tmp_path / "ft", cfg, seed=4, progress=False, log=lambda *a: None)
    ae0, dyn0, mean0, std0, _ = load_networks(tiny_run)
    ae1, dyn1, mean1, std1, card = load_networks(out)
    assert torch.equal(mean0, mean1) and torch.equal(std0, std1)
    assert all(torch.equal(a, b) for a, b in zip(ae0.state_dict().values(), ae1.state_dict().values()))
    # two small steps from the model's weights: close to them, not a fresh initialisation
    drift = max(float((a - b).abs().max()) for a, b in zip(dyn0.state_dict().values(), dyn1.state_dict().values()))
    assert 0 < drift < 0.01
    assert card["training"]["init_model"]["sha256"]
    assert card["data"]["participant_share"] == 0.8 and card["data"]["mode_share"]
    assert "baseline_regressor.safetensors" in card["files"]  # the model's baseline, kept
    assert card["divergence"]["latent_rms_bound"] > card["divergence"]["latent_rms_max"] > 0


def test_shipped_prompts_need_no_encoder_at_start_up(tiny_run, tmp_path, monkeypatch):
    """The model folder carries the shipped scenarios' prompt embeddings, so opening one does
    not import the sentence encoder (several seconds)."""
    from engine.model import text
    from engine.model.io import TEXT_SEED_FILE
    from engine.scenario.loader import load_scenario
    from engine.train.pipeline import SCENARIOS_DIR

    assert (tiny_run / TEXT_SEED_FILE).exists()
    fresh = text.TextEncoder(cache_path=tmp_path / "empty.npz")
    monkeypatch.setattr(text, "_ENCODER", fresh)
    monkeypatch.setattr(fresh, "_load", lambda: pytest.fail("the encoder was loaded"))
    load_world_model(tiny_run)
    prompt = load_scenario(SCENARIOS_DIR / "operating_room_bleeding.toml").world.prompt
    assert text.embed(prompt).shape == (text.TEXT_DIM,)
    assert text.match_event("switch the lights off")[0] == "lights_dim"


def test_saved_train_config_reads_back(tiny_run):
    """--resume continues a run as it was configured (train_config.json), not with defaults."""
    from dataclasses import asdict, replace

    from engine.train.pipeline import _jsonable

    saved = json.loads((tiny_run.parent / "train_config.json").read_text())
    assert TrainConfig.from_dict(saved) == TrainConfig.tiny()
    older = {k: v for k, v in saved.items() if k != "rollout_steps"}  # saved before the rollout phase
    assert TrainConfig.from_dict(older).rollout_steps == 0
    changed = replace(TrainConfig.tiny(), dynamics=replace(TrainConfig.tiny().dynamics, warp=True), rollout_steps=7)
    assert TrainConfig.from_dict(json.loads(json.dumps(_jsonable(asdict(changed))))) == changed


def test_torchrun_trains_data_parallel(tmp_path):
    """Two processes under torchrun (Gloo on the CPU): rank 0 prepares the data and the
    autoencoder, both ranks train the dynamics through DistributedDataParallel, rank 0 saves."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "app.cli", "train", "--tiny", "--out", str(tmp_path / "run")],
                         cwd=root, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    card = json.loads((tmp_path / "run" / "model" / "model_card.json").read_text())
    assert card["training"]["processes"] == 2
    assert card["training"]["global_batch"] == 2 * card["training"]["dyn_batch"]
    assert run.stdout.count("model written to") == 1  # rank 0 alone reports
    load_world_model(tmp_path / "run" / "model")


def test_never_overwrites_the_shipped_model_unasked():
    from engine.model.io import DEFAULT_MODEL_DIR

    with pytest.raises(PermissionError, match="--overwrite-default"):
        run_training(DEFAULT_MODEL_DIR, TrainConfig.tiny(), progress=False)


def test_corrupt_or_missing_weights_are_explained(tiny_run, tmp_path):
    import shutil

    bad = tmp_path / "m"
    shutil.copytree(tiny_run, bad)
    with open(bad / "dynamics.safetensors", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00garbage\x00")
    with pytest.raises(ModelError, match="sha256.*corrupt"):
        load_networks(bad)
    (bad / "dynamics.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_networks(bad)
    with pytest.raises(ModelError, match="no model_card.json"):
        load_networks(tmp_path / "nowhere")


def test_ego_warp_moves_content_the_way_the_camera_turns():
    """Warping the frame before a turn brings it closer to the frame after it than copying."""
    from engine.eval.metrics import psnr
    from engine.model.warp import ego_warp
    from engine.world.env import ReferenceWorld

    w = ReferenceWorld(64)
    for action in ([0, 0, 0.15, 0], [0, 0, -0.15, 0], [0, 0, 0, 0.1]):
        a = np.array(action, np.float32)
        f0 = w.reset("therapy_room", 3, WorldState())
        f1 = w.step(a, WorldState())
        x = torch.from_numpy(f0).permute(2, 0, 1)[None].float()
        warped = ego_warp(x, torch.from_numpy(a)[None])[0].permute(1, 2, 0).clamp(0, 255).byte().numpy()
        inner = (slice(8, -8), slice(8, -8))
        assert psnr(warped[inner], f1[inner]) > psnr(f0[inner], f1[inner]) + 5, action
    w.renderer.release()


def test_rollout_finetune_trains_on_self_generated_context():
    from engine.train.dynamics import TrainData, sample_batch
    from engine.train.rollout_finetune import finetune_on_rollouts, self_generated_context

    g = torch.Generator().manual_seed(0)
    E, T = 3, 12
    data = TrainData(torch.randn(E, T, 4, 8, 8, generator=g), torch.rand(E, T, 4, generator=g) * 2 - 1,
                     torch.rand(E, T, 4, generator=g), torch.randn(E, T, 4, generator=g),
                     torch.randn(E, 2, 8, generator=g))
    m = _randomise(DynamicsModel(MEM_CFG))
    b = sample_batch(data, batch=2, context=MEM_CFG.context, memory=MEM_CFG.memory, g=g)
    seq = self_generated_context(m, b, g)
    j0 = 1 + MEM_CFG.memory
    torch.testing.assert_close(seq[:, :j0 + 1], b["x0"][:, :j0 + 1])  # anchor, memory, first frame stay true
    torch.testing.assert_close(seq[:, -1], b["x0"][:, -1])  # the target stays true
    assert not torch.allclose(seq[:, j0 + 1:-1], b["x0"][:, j0 + 1:-1])  # the middle is the model's own
    before = {k: v.clone() for k, v in m.state_dict().items()}
    tuned = finetune_on_rollouts(m, data, steps=2, batch=2, progress=False, log=lambda *a: None)
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items())


def test_decoder_finetune_learns_from_generated_latents_and_leaves_the_encoder():
    """The decoder is tuned on the world model's own rollouts against the true frames; the
    encoder (the latent space the dynamics model knows) does not move."""
    from engine.data.generate import generate_episode
    from engine.train.decoder_finetune import finetune_decoder, generated_pairs
    from engine.world.env import ReferenceWorld

    world = ReferenceWorld(64)
    try:
        eps = [generate_episode(world, np.random.default_rng(s), length=20, others=1) for s in range(2)]
    finally:
        world.renderer.release()
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    model = LatentWorldModel(ae, _randomise(DynamicsModel(ENT_CFG)), torch.zeros(4), torch.ones(4), seed=0)
    lat, frames, hs = generated_pairs(model, eps, rollouts=3, horizon=4, seed=0, progress=False)
    assert lat.shape == (12, 4, 8, 8) and frames.shape == (12, 64, 64, 3) and hs.tolist() == [1, 2, 3, 4] * 3
    enc_before = {k: v.clone() for k, v in ae.encoder.state_dict().items()}
    dec_before = {k: v.clone() for k, v in ae.decoder.state_dict().items()}
    real = np.concatenate([e.frames for e in eps])
    with torch.no_grad():
        real_lat = ae.encode(torch.from_numpy(real).permute(0, 3, 1, 2).float() / 255)
    tuned = finetune_decoder(ae, (lat, frames, hs), real_lat, real, steps=3, batch=8, progress=False,
                             log=lambda *a: None)
    assert all(torch.equal(enc_before[k], v) for k, v in tuned.encoder.state_dict().items())
    assert any(not torch.equal(dec_before[k], v) for k, v in tuned.decoder.state_dict().items())
    assert all(p.requires_grad for p in tuned.encoder.parameters())  # handed back trainable


@pytest.mark.parametrize("residual", [False, True])
def test_live_step_computes_what_training_computes_with_the_predecessor_stacked(residual):
    """One live step (KV cache, pending frame, empty memory, entities, the predecessor stacked
    on the tokens; its output a correction of that predecessor with ``residual``) equals the
    training forward on the same sequence."""
    from engine.model.world_model import Sampling
    from engine.world.entities import entity_table, project_entities
    from tests.helpers.live_step import one_step_inputs

    cfg = DynamicsConfig(latent_channels=4, latent_size=8, patch=2, width=32, depth=2, heads=2, cond_dim=16,
                         context=4, pose_dim=5, memory=2, entities=5, entity_features=9, stack_previous=True,
                         residual=residual)
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = _randomise(DynamicsModel(cfg))
    m = LatentWorldModel(ae, dyn, torch.zeros(4), torch.ones(4), seed=3,
                         sampling=Sampling(steps=1, ctx_noise=0.0, cfg_action=1.0))
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    viewer0 = np.zeros(4, np.float32)
    action = np.array([0.05, 0.0, 0.1, 0.0], np.float32)
    viewer1 = np.array([0.0, -0.05, 0.1, 0.0], np.float32)
    state = WorldState().with_others([(1, 0.3, -2.0, 0.0)])
    m.reset(Prompt("", img), state, viewer_pose=viewer0)
    z0 = m.encode(img[None])
    m.step(action, state, viewer_pose=viewer1)
    live = m.last_latent
    eps, x, t, a, s, p = one_step_inputs(m, z0, action, state)
    c0, f0 = project_entities(entity_table(state), viewer0, grid=4, colours=False)
    c1, f1 = project_entities(entity_table(state), viewer1, grid=4, colours=False)
    cov = torch.from_numpy(np.stack([c0, 0 * c0, 0 * c0, c0, c1]))[None]
    feat = torch.from_numpy(np.stack([f0, 0 * f0, 0 * f0, f0, f1]))[None]
    warped = torch.zeros_like(x)
    warped[:, 4] = x[:, 3]
    with torch.no_grad():
        v = dyn(x, t, a, s, poses=p, memory_valid=torch.zeros(1, 2, dtype=torch.bool), entities=(cov, feat),
                warped=warped)
    torch.testing.assert_close(live, eps - v[:, 4], atol=1e-4, rtol=1e-4)


def test_a_residual_model_starts_by_carrying_its_predecessor_forward():
    """With ``residual`` the head's output corrects the predecessor input: before training
    (zero-initialised head) the clean-latent estimate of every noised frame is exactly its
    warped predecessor, whatever the noise; a frame without one (zeros) is estimated as zero."""
    cfg = DynamicsConfig(latent_channels=4, latent_size=8, patch=2, width=32, depth=2, heads=2, cond_dim=16,
                         context=4, pixel_warp=True, residual=True)
    torch.manual_seed(0)
    dyn = DynamicsModel(cfg)
    x0 = torch.randn(2, 3, 4, 8, 8)
    warped = torch.randn(2, 3, 4, 8, 8)
    warped[:, 0] = 0  # the anchor has no predecessor
    t = torch.tensor([[0.0, 0.3, 1.0], [0.0, 0.7, 0.05]])
    xt = (1 - t[..., None, None, None]) * x0 + t[..., None, None, None] * torch.randn_like(x0)
    with torch.no_grad():
        v = dyn(xt, t, torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), warped=warped)
    x0_hat = xt - t[..., None, None, None] * v
    torch.testing.assert_close(x0_hat[:, 1:], warped[:, 1:])
    with pytest.raises(ValueError, match="needs the noise levels"):
        dyn.forward_cached(xt[:, :1], torch.zeros(2, 1, 16), torch.zeros(1, dtype=torch.long), None, None)
    with pytest.raises(ValueError, match="pixel_warp"):
        DynamicsConfig(residual=True)


def test_stage_ledger_adds_up_invocations_and_reentries(tmp_path):
    from engine.train import common
    from engine.train.ledger import StageLedger

    first = StageLedger(tmp_path, command="ved train --out R", machine="m")
    for _ in range(2):  # the data stage is entered once per dataset
        with first.stage("data"):
            time.sleep(0.15)
            first.record()
    with first.stage("autoencoder"):
        common.save_checkpoint(tmp_path / "ae.pt", step=1)  # a saved checkpoint records the stage
    assert first.totals()["data"] >= 0.3 and "autoencoder" in first.totals()
    assert common.SAVE_HOOKS == []  # closed stages stop listening
    second = StageLedger(tmp_path, command="ved train --out R --resume", machine="m")  # read from disk
    with second.stage("autoencoder"):
        time.sleep(0.1)
        common.save_checkpoint(tmp_path / "ae.pt", step=2)
    assert len(second.entries["autoencoder"]) == 2 and len(second.entries["data"]) == 1
    assert second.totals()["autoencoder"] >= 0.1


def test_live_step_sees_the_pixel_warped_predecessor_as_training_builds_it():
    """With ``pixel_warp`` the live step decodes nothing new: it warps the frame it last showed
    in pixel space and encodes it, exactly as encode_warped_predecessors builds the training
    input from the true frames, and the step then equals the training forward."""
    from engine.actions import ACTION_LIMITS
    from engine.model.pose import dead_reckon, step_pose
    from engine.model.world_model import Sampling
    from engine.train.dynamics import encode_warped_predecessors

    cfg = DynamicsConfig(latent_channels=4, latent_size=8, patch=2, width=32, depth=2, heads=2, cond_dim=16,
                         context=4, pose_dim=5, pixel_warp=True)
    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16)))
    dyn = _randomise(DynamicsModel(cfg))
    mean, std = torch.randn(4) * 0.1, torch.rand(4) + 0.5
    m = LatentWorldModel(ae, dyn, mean, std, seed=3, sampling=Sampling(steps=1, ctx_noise=0.0, cfg_action=1.0))
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    action = np.array([0.05, 0.0, 0.1, 0.02], np.float32)
    m.reset(Prompt("", img), WorldState())
    z0 = m.encode(img[None])
    m.step(action, WorldState())
    live = m.last_latent
    raw = np.stack([np.zeros(4, np.float32), action])[None]
    warped_seq = encode_warped_predecessors(ae, np.stack([img, img])[None], torch.from_numpy(raw / ACTION_LIMITS),
                                            torch.from_numpy(dead_reckon(raw)), mean, std).float()
    assert warped_seq[0, 0].abs().max() == 0  # frame 0 has no predecessor
    m.gen.manual_seed(3)
    torch.randn(z0.shape, generator=m.gen)  # the pending frame's context noise
    eps = torch.randn((1, 1, 4, 8, 8), generator=m.gen)[:, 0]
    x = torch.stack([z0, z0, eps], 1)
    t = torch.tensor([[0.0, 0.0, 1.0]])
    a = torch.zeros(1, 3, 4)
    a[0, 2] = torch.from_numpy(action / ACTION_LIMITS)
    s = torch.from_numpy(np.stack([WorldState().vector()] * 3))[None]
    p = torch.zeros(1, 3, 4)
    p[0, 2] = torch.from_numpy(step_pose(np.zeros(4, np.float32), action))
    warped = torch.zeros_like(x)
    warped[:, 2] = warped_seq[:, 1]
    with torch.no_grad():
        v = dyn(x, t, a, s, poses=p, warped=warped)
    torch.testing.assert_close(live, eps - v[:, 2], atol=1e-3, rtol=1e-3)
    # and the warped input is not the unwarped one: the turn moved the frame
    unwarped = m.encode(img[None])
    assert (warped_seq[0, 1] - unwarped[0]).abs().mean() > 0.01


def test_warp_frames_fills_what_comes_into_view_from_the_edge():
    from engine.model.warp import ego_warp, warp_frames

    img = torch.rand(1, 3, 32, 32)
    turn = torch.tensor([[0.0, 0.0, 0.2, 0.0]])
    zeros, border = ego_warp(img, turn), warp_frames(img, turn)
    assert (zeros[..., :4] == 0).all()  # content moves right: the left strip is new
    assert (border[..., :4] > 0).any()
    torch.testing.assert_close(border[..., 8:], zeros[..., 8:].clamp(0, 1))


def test_training_a_pixel_warp_model_caches_its_warped_predecessors(tmp_path):
    from dataclasses import replace

    cfg = TrainConfig.tiny()
    cfg = replace(cfg, dynamics=replace(cfg.dynamics, pixel_warp=True))
    model_dir = run_training(tmp_path / "run", cfg, seed=1, progress=False, log=lambda *a: None)
    ckpt = tmp_path / "run" / "checkpoints"
    assert (ckpt / "warped.pt").is_file()
    card = json.loads((model_dir / "model_card.json").read_text())
    assert "encode_warped" in card["training"]["stages_s"]
    m = load_world_model(model_dir)
    assert m.dyn.cfg.pixel_warp
    m.reset(Prompt("", np.zeros((32, 32, 3), np.uint8)), WorldState())
    assert m.step(np.array([0, 0, 0.1, 0], np.float32), WorldState()).shape == (32, 32, 3)


def test_warped_predecessors_can_be_built_from_decoded_latents_as_live_generation_sees_them():
    from engine.actions import ACTION_LIMITS
    from engine.model.autoencoder import frames_to_tensor
    from engine.model.pose import dead_reckon
    from engine.model.warp import warp_frames
    from engine.train.dynamics import encode_warped_predecessors

    torch.manual_seed(0)
    ae = Autoencoder(AutoencoderConfig(resolution=64, latent_channels=4, widths=(8, 16, 16, 16))).eval()
    img = np.random.default_rng(0).integers(0, 255, (1, 3, 64, 64, 3), dtype=np.uint8)
    raw = np.zeros((1, 3, 4), np.float32)
    raw[0, 1:, 2] = 0.1
    acts, poses = torch.from_numpy(raw / ACTION_LIMITS), torch.from_numpy(dead_reckon(raw))
    mean, std = torch.zeros(4), torch.ones(4)
    with torch.no_grad():
        z = ae.encode(frames_to_tensor(img[0]))[None]
    from_frames = encode_warped_predecessors(ae, img, acts, poses, mean, std).float()
    from_latents = encode_warped_predecessors(ae, img, acts, poses, mean, std, latents=z).float()
    with torch.no_grad():
        expect = ae.encode(warp_frames(ae.decode(z[0, :1]).clamp(0, 1), torch.tensor([[0, 0, 0.1, 0.0]])))
    torch.testing.assert_close(from_latents[0, 1], expect[0], atol=2e-3, rtol=1e-2)
    assert (from_latents[0, 1] - from_frames[0, 1]).abs().mean() > 0.01  # the round trip is not the frame
    noisy = encode_warped_predecessors(ae, img, acts, poses, mean, std, latents=z, latent_noise=1.0, seed=1).float()
    assert (noisy[0, 1:] - from_latents[0, 1:]).abs().mean() > 0.01
