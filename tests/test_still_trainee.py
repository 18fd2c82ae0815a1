"""Issue 25: a trainee who stands still — participant behaviours in the data, the divergence
measure, the session's safety net, and the shipped model under zero motion."""

import numpy as np
import pytest

from engine.data.generate import generate_dataset
from engine.eval.action_splits import SLOW_LOOK_MAX, SPLITS, split_actions
from engine.eval.metrics import psnr
from engine.model.interface import ReferenceWorldModel
from engine.runtime.opening import open_scenario
from engine.runtime.protocol import Frame, Recovery
from engine.runtime.session import Role, Session
from engine.scenario import load_scenario
from engine.world.env import ReferenceWorld
from engine.world.motion import apply_action
from engine.world.policy import EXPLORER_MODES, PARTICIPANT_BEHAVIOURS, ExplorationPolicy
from engine.world.scene import make_scene
from tests.test_session import OR_SCENARIO

#: What the shipped model (R14) must keep under a still trainee for 200 ticks in the default
#: scenario, with a margin under what it measured.
STILL_MIN_DB, STILL_MEAN_DB = 27.0, 27.5  # R14 held: min = mean 29.02 dB, its autoencoder's
# reconstruction of the opening view (without replenishment: min 20.05, mean 22.32; issue 25 asks 30)


def _play_policy(share: float, ticks: int, seed: int = 0):
    scene = make_scene("operating_room", seed)
    world = ReferenceWorld(32)
    world.reset(scene)
    policy = ExplorationPolicy(scene, np.random.default_rng(seed), participant_share=share)
    acts, modes = [], []
    for _ in range(ticks):
        modes.append(policy.mode)
        acts.append(policy.act(world.pose))
        world.pose = apply_action(scene, world.pose, acts[-1])  # the policy plans on the floor plan alone
    world.renderer.release()
    return np.array(acts), modes, policy


def test_participants_stand_still_look_slowly_and_jitter():
    acts, modes, policy = _play_policy(1.0, 3000)
    modes = np.array(modes)
    assert set(policy.mode_ticks) <= set(PARTICIPANT_BEHAVIOURS) | {"look"}  # "look" is the opening mode only
    assert set(PARTICIPANT_BEHAVIOURS) <= set(policy.mode_ticks)
    still = acts[(modes == "still") | (modes == "wait")]
    assert len(still) > 100 and np.all(still == 0)  # exactly zero, for seconds
    slow = acts[modes == "slow_look"]
    assert np.abs(slow[:, 2]).max() <= SLOW_LOOK_MAX + 1e-6 and np.abs(slow[:, :2]).max() == 0
    jitter = acts[modes == "jitter"]
    assert 0 < np.degrees(np.abs(jitter[:, 2:]).mean()) < 0.5  # small but not nothing
    # stepping back really goes backwards
    assert acts[modes == "step_back"][:, 0].min() < -0.01


def test_the_explorer_alone_never_holds_still():
    acts, _, policy = _play_policy(0.0, 1000)
    assert set(policy.mode_ticks) <= set(EXPLORER_MODES)
    assert (np.abs(acts).max(1) == 0).mean() < 0.01  # what the models up to R12 were trained on


def test_dataset_reports_each_behaviours_share(tmp_path):
    stats = generate_dataset(tmp_path / "d", episodes=3, seed=0, length=40, resolution=32, progress=False,
                             participant_share=0.6)
    share = stats["mode_share"]
    assert abs(sum(share.values()) - 1.0) < 0.01
    assert set(share) & set(PARTICIPANT_BEHAVIOURS)


def test_action_splits_move_as_named():
    rng = np.random.default_rng(0)
    for split in SPLITS:
        a = split_actions(split, 200, rng)
        assert a.shape == (200, 4) and a.dtype == np.float32 and np.isfinite(a).all()
    assert not split_actions("still", 50, rng).any()
    assert np.abs(split_actions("slow_look", 200, rng)[:, 2]).max() <= SLOW_LOOK_MAX + 1e-6
    go = split_actions("stop_and_go", 200, rng)
    assert (np.abs(go).max(1) == 0).sum() >= 40 and go[:, 0].max() > 0.03
    with pytest.raises(ValueError, match="unknown action split"):
        split_actions("dance", 10, rng)


# ----------------------------------------------------------------- the safety net


class _Drifting(ReferenceWorldModel):
    """The reference world with a scripted divergence score (to force a divergence)."""

    def __init__(self, scores, fail=False):
        super().__init__(64)
        self.scores, self.fail, self.calls = list(scores), fail, []
        self.n = 0

    def step(self, action, state, viewer_pose=None):
        self.n += 1
        frame = super().step(action, state, viewer_pose)
        if self.n >= 6:  # from here on the "model" draws noise: what a diverged rollout shows
            frame = np.random.default_rng(self.n).integers(0, 255, frame.shape, dtype=np.uint8)
        return frame

    def divergence(self):
        return [self.scores[min(self.n, len(self.scores)) - 1]] if self.n else [0.5]

    def reanchor(self, frames, states, viewer_poses):
        if self.fail:
            raise RuntimeError("cannot")
        self.calls.append([f.copy() for f in frames])
        self.n = 0  # healthy again
        return [f.copy() for f in frames]


def _session(model):
    sc = load_scenario(OR_SCENARIO)
    prompt, scene = open_scenario(sc, 64, renderer=model.world.renderer)
    return Session(sc, model, prompt, scene=scene)


def test_a_diverging_view_is_reanchored_on_its_last_healthy_frame_and_only_the_game_master_hears_of_it():
    scores = [0.5, 0.6, 0.7, 0.8, 0.95, 1.8]  # healthy, healthy, ..., over the edge at the 6th step
    model = _Drifting(scores)
    s = _session(model)
    trainee, gm = s.connect(Role.TRAINEE), s.connect(Role.GAME_MASTER)
    s.start()
    shown = [s.step() for _ in range(6)]
    assert s.guard.recoveries == 1 and len(model.calls) == 1
    # re-anchored on the last frame with a healthy score (tick 4: 0.8), not on the noise of tick 6
    assert np.array_equal(model.calls[0][0], shown[3])
    assert np.array_equal(shown[5], shown[3])  # the trainee never saw the dissolved frame
    gm_msgs, tr_msgs = gm.poll(), trainee.poll()
    rec = [m for m in gm_msgs if isinstance(m, Recovery)]
    assert len(rec) == 1 and rec[0].tick == 6 and rec[0].seats == (0,) and rec[0].score == pytest.approx(1.8)
    assert not any(isinstance(m, Recovery) for m in tr_msgs)
    frames = [m for m in tr_msgs if isinstance(m, Frame)]
    assert np.array_equal(frames[-1].frame, shown[3])


def test_a_model_that_cannot_reanchor_never_ends_the_session():
    model = _Drifting([0.5, 0.5, 0.5, 0.5, 0.5, 3.0], fail=True)
    s = _session(model)
    s.start()
    for _ in range(8):
        s.step()  # logged, not raised
    assert s.tick == 8 and s.guard.recoveries >= 1


def test_the_reference_world_is_never_reanchored():
    model = ReferenceWorldModel(64)
    s = _session(model)
    s.start()
    for _ in range(3):
        s.step()
    assert model.divergence() is None and s.guard.recoveries == 0


@pytest.fixture(scope="module")
def shipped():
    from engine.model.io import load_world_model

    return load_world_model()


def _started_with_reference(model):
    """A started session of the default scenario on ``model`` and the reference world opened
    on the same room and pose (its renderer draws the truth of each tick)."""
    sc = load_scenario(OR_SCENARIO)
    prompt, scene = open_scenario(sc, model.resolution)
    s = Session(sc, model, prompt, scene=scene)
    ref = ReferenceWorld(model.resolution)
    s.start()
    ref.reset(prompt.room, prompt.seed, s.world_state, pose=s.pose)
    return s, ref


def test_forced_divergence_of_the_shipped_model_is_caught_and_recovers_without_a_jump(shipped, monkeypatch):
    """The shipped model's dynamics is made to push every latent off its range from tick 12;
    the session must catch it within a tick or two, re-anchor on the last healthy view (close
    to the frame shown just before) and go on drawing the room once the fault is gone."""
    from dataclasses import replace

    import torch

    # replenishment would keep this still view's cells and so hide the fault: test the net alone
    monkeypatch.setattr(shipped, "sampling", replace(shipped.sampling, hold_still=False))
    s, ref = _started_with_reference(shipped)
    gm = s.connect(Role.GAME_MASTER)
    original = shipped.dyn.forward_cached

    def broken(*args, **kwargs):
        v, kv = original(*args, **kwargs)
        return v - 6.0 * torch.ones_like(v), kv  # every Euler step moves the latent up by 6 × dt

    shown, truth = [], []
    for tick in range(1, 25):
        if tick == 12:
            monkeypatch.setattr(shipped.dyn, "forward_cached", broken)
        if tick == 13:
            monkeypatch.setattr(shipped.dyn, "forward_cached", original)
        shown.append(s.step())
        truth.append(ref.renderer.render(s.pose, s.world_state))
    rec = [m for m in gm.poll() if isinstance(m, Recovery)]
    assert rec and rec[0].tick == 12 and rec[0].score > 1 and rec[0].recoveries == 1
    # no visible jump: the recovery frame is near the frame before it, and the room stays legible
    assert psnr(shown[11], shown[10]) > 25
    assert min(psnr(f, t) for f, t in zip(shown, truth)) > 18
    ref.renderer.release()


def test_a_still_trainee_sees_the_room_for_ten_seconds_on_the_shipped_model(shipped):
    """Issue 25's reproduction through a live session (what the desktop preview, the headset
    and a network trainee all get): 200 ticks of exactly zero actions in the default scenario.
    The room must stay legible against the reference world, as sharp as it and no sharper
    (speckle is "sharp"), with no re-anchoring needed."""
    from engine.eval.perception import sharpness_ratio

    s, ref = _started_with_reference(shipped)
    trainee = s.connect(Role.TRAINEE)
    shown, truth = [], []
    for _ in range(200):
        trainee.set_action([0.0, 0.0, 0.0, 0.0])
        shown.append(s.step())
        truth.append(ref.renderer.render(s.pose, s.world_state))
    ref.renderer.release()
    after = [psnr(f, t) for f, t in zip(shown[16:], truth[16:])]
    grad = sharpness_ratio(np.stack(shown[16:]), np.stack(truth[16:]))["gradient"]
    print(f"still trainee: PSNR after tick 16 min {min(after):.2f} mean {np.mean(after):.2f} dB, gradient ratio "
          f"{grad:.3f}, recoveries {s.guard.recoveries}")
    assert s.guard.recoveries == 0
    assert min(after) > STILL_MIN_DB and np.mean(after) > STILL_MEAN_DB
    assert 0.8 < grad < 1.2


def test_context_noise_for_a_still_camera_applies_only_when_the_warp_does_not_resample(shipped):
    """Sampling.ctx_noise_still noises the re-entered frame only after a tick whose camera
    motion moved no latent point by a quarter cell; a turn keeps ctx_noise (here 0)."""
    from dataclasses import replace

    from engine.model.interface import Prompt
    from engine.model.warp import warp_shift_cells
    from engine.world.state import WorldState

    assert warp_shift_cells(np.zeros(4), 32) == 0.0
    assert warp_shift_cells([0, 0, 0.003, 0], 32) < 0.25 < warp_shift_cells([0, 0, 0.03, 0], 32)
    saved = shipped.sampling
    try:
        shipped.sampling = replace(saved, ctx_noise=0.0, ctx_noise_still=0.3)
        world = ReferenceWorld(shipped.resolution)
        opening = world.reset("operating_room", 7)
        shipped.reset(Prompt("", opening, room="operating_room", seed=7), WorldState(), viewer_pose=world.pose)
        shipped.step(np.array([0, 0, 0.05, 0], np.float32), WorldState())
        assert torch_equal(view_pending(shipped), shipped.last_latent)  # moving: the frame re-enters clean
        shipped.step(np.zeros(4, np.float32), WorldState())
        assert not torch_equal(view_pending(shipped), shipped.last_latent)  # still: lightly noised
        world.renderer.release()
    finally:
        shipped.sampling = saved


def view_pending(model):
    return model._views[0].pending[0][:, 0]


def torch_equal(a, b):
    import torch

    return bool(torch.equal(a, b))


def _held_model(shipped, **kw):
    """The shipped model opened in the default room with conditional replenishment on."""
    from dataclasses import replace

    from engine.model.interface import Prompt
    from engine.world.state import WorldState

    saved = shipped.sampling
    shipped.sampling = replace(saved, hold_still=True, **kw)
    world = ReferenceWorld(shipped.resolution)
    opening = world.reset("operating_room", 7)
    shipped.reset(Prompt("", opening, room="operating_room", seed=7), WorldState(), viewer_pose=world.pose)
    world.renderer.release()
    return saved


def test_replenishment_keeps_unchanged_cells_and_takes_the_generated_latent_where_the_view_changed(shipped):
    """Conditional replenishment on fabricated layouts: a 16×16-pixel patch of the decoder's
    layout changes (pixels 40–55 of 128 = latent cells 10–13 of 32); those cells and a
    one-cell border take the generated latent, every other cell keeps the last one."""
    import torch

    from engine.world.state import WorldState

    saved = _held_model(shipped)
    try:
        view = shipped._views[0]
        last = view.last_latent.clone()
        layout = view.hold_layout.clone()
        changed = layout.clone()
        changed[:, :, 40:56, 40:56] += 1.0
        generated = last + 1.0
        z, held = shipped._replenish([view], [np.zeros(4, np.float32)], [WorldState()], generated, changed)
        cells = torch.zeros(32, 32, dtype=torch.bool)
        cells[9:15, 9:15] = True  # 10–13 widened by one cell
        assert torch.equal(z[0, :, cells], generated[0, :, cells])
        assert torch.equal(z[0, :, ~cells], last[0, :, ~cells])
        assert held == [False]
        # the same layout again: nothing changed, every cell held
        z, held = shipped._replenish([view], [np.zeros(4, np.float32)], [WorldState()], generated, changed)
        assert torch.equal(z, last) and held == [True]
        # a turn of the head regenerates the whole view
        z, held = shipped._replenish([view], [np.array([0, 0, 0.05, 0], np.float32)], [WorldState()], generated,
                                     changed)
        assert torch.equal(z, generated) and held == [False]
    finally:
        shipped.sampling = saved


def test_a_held_still_view_stays_put_and_still_shows_an_event(shipped):
    """A still trainee with replenishment on sees the frame of tick 1 exactly for as long as
    nothing changes; the alarm fired at tick 20 redraws the view (against the same rollout
    without the alarm, from the same state and seed) and the new view is held in turn."""
    from engine.world.state import WorldState

    saved = _held_model(shipped, hold_settle=10)
    try:
        still, quiet = np.zeros(4, np.float32), WorldState()
        frames = [shipped.step(still, quiet) for _ in range(20)]
        assert all(np.array_equal(f, frames[1]) for f in frames[1:])
        snap = shipped.snapshot()
        alarm = quiet.apply("alarm_on")
        with_alarm = [shipped.step(still, alarm) for _ in range(16)]
        shipped.restore(snap)
        without = [shipped.step(still, quiet) for _ in range(16)]
        assert all(np.array_equal(f, frames[1]) for f in without)
        assert psnr(with_alarm[12], without[12]) < 35  # the alarm shows
        assert np.array_equal(with_alarm[12], with_alarm[15])  # settled, then held again
    finally:
        shipped.sampling = saved
