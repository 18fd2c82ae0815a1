"""ved eval: the suite runs end to end on a tiny model, and its pieces measure what they claim."""

import json

import numpy as np
import pytest

from engine.eval.baselines import CopyLastFrame
from engine.eval.fidelity import evaluate_fidelity, starts_for
from engine.eval.probes import revisit_paths
from engine.eval.suite import EvalConfig, figures_to_reach, held_out_episodes, run_eval
from engine.model.interface import Prompt, ReferenceWorldModel
from engine.model.pose import dead_reckon
from engine.world.state import WorldState


def test_revisit_paths_return_to_their_start():
    for name, actions in revisit_paths(context=6).items():
        pose = dead_reckon(np.stack([np.zeros(4, np.float32)] + actions))[-1]
        assert np.allclose(pose[:2], 0, atol=1e-5), name
        assert abs(np.angle(np.exp(1j * pose[2]))) < 1e-4, name
        assert (len(actions) < 6) == name.startswith("inside"), name


def test_starts_leave_room_for_the_horizon():
    assert starts_for(120, 64, 2) == [8, 55]
    assert starts_for(20, 64, 2) == []


class _Oracle(ReferenceWorldModel):
    """The reference world replaying an episode: a perfect world model for the metric tests."""

    name = "oracle"

    def __init__(self, episodes):
        super().__init__(64)
        self.episodes = episodes

    def reset(self, prompt, state, viewer_pose=None):
        ep, start = next((ep, i) for ep in self.episodes for i, f in enumerate(ep.frames)
                         if np.array_equal(f, prompt.image))
        self.world.reset(ep.meta["room_type"], ep.meta["scene_seed"], state, pose=tuple(float(v) for v in ep.poses[start]))
        return prompt.image


class _Blur(_Oracle):
    """The oracle's frames, box-blurred: as right on average, but soft."""

    name = "blur"

    def step(self, action, state, viewer_pose=None):
        f = super().step(action, state).astype(np.float32)
        k = 5
        pad = np.pad(f, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)), mode="edge")
        out = sum(pad[i:i + f.shape[0], j:j + f.shape[1]] for i in range(k) for j in range(k)) / k ** 2
        return out.round().astype(np.uint8)


@pytest.fixture(scope="module")
def small_judge():
    from engine.eval.judge import make_judge_data, train_judge

    frames, labels = make_judge_data(60, 4, seed=0, resolution=64)
    return train_judge(frames, labels, steps=150, batch=32, seed=0)


def test_fidelity_ranks_a_perfect_model_above_copy_last_and_it_answers_controls(small_judge):
    eps = held_out_episodes(2, 40, seed=5, resolution=64)
    floor = held_out_episodes(2, 40, seed=9, resolution=64)
    res, _ = evaluate_fidelity({"oracle": _Oracle(eps), "copy_last": CopyLastFrame(64), "blur": _Blur(eps)}, eps,
                               horizons=(1, 4, 16), per_episode=1, seed=0, judge=small_judge, floor_episodes=floor)
    assert res["psnr"]["oracle"]["16"] > 45  # the reference world is its own (near) perfect model
    assert res["psnr"]["oracle"]["16"] > res["psnr"]["copy_last"]["16"]
    assert res["delta_psnr"]["oracle"]["16"] > 3.0  # other actions give other views
    assert res["delta_psnr"]["copy_last"]["16"] == 0.0  # copy-last ignores the controls by construction
    assert res["samples"] == 2
    # What a person sees: the perfect model is as sharp as the truth and as close to real frames
    # as real frames are; a blurred copy of it loses sharpness (whatever its PSNR).
    for h in ("4", "16"):
        assert res["sharpness"]["oracle"][h]["gradient"] == pytest.approx(1.0, abs=0.05)
        assert res["sharpness"]["blur"][h]["gradient"] < 0.75 and res["sharpness"]["blur"][h]["laplacian"] < 0.3
        assert res["fd_judge"]["oracle"][h] == pytest.approx(res["fd_judge"]["real_floor"][h], rel=0.05)
        # the judge finds on the oracle's frames exactly what it finds on the real ones
        assert res["object_recall"]["oracle"][h] == res["object_recall"]["judge_on_real"][h]
    assert res["perception_frames"]["16"]["ticks"] == [13, 14, 15, 16]


def test_figures_table_flags_what_is_missed():
    r = {"model": {"resolution": 128},
         "fidelity": {"horizons": [1, 16, 64],
                      "psnr": {"model": {"1": 30.0, "16": 22.0, "64": 20.0}, "copy_last": {"1": 29.0, "16": 20.0, "64": 18.0},
                               "regressor": {"1": 31.0, "16": 21.5, "64": 20.5}},
                      "delta_psnr": {"model": {"1": 0.5, "16": 3.2}},
                      "sharpness": {"model": {"16": {"gradient": 0.9, "laplacian": 0.6}, "64": {"gradient": 0.85, "laplacian": 0.5}}},
                      "fd_judge": {"model": {"64": 10.0}, "real_floor": {"64": 4.0}, "regressor": {"64": 12.0}},
                      "object_recall": {"model": {"16": 0.75, "64": 0.45}}, "object_precision": {"model": {"16": 0.8, "64": 0.8}},
                      "person_recall": {"model": {"16": 0.85}}},
         "stability": {"sharpness_end": {"gradient": 0.72}, "in_range": 0.99, "control_ratio": 0.8, "ticks": 6000},
         "speed": {"fps": 30.0, "p95_ms": 40.0}}
    rows = {row["what"].split(" (")[0].split(":")[0]: row for row in figures_to_reach(r, {})}
    assert rows["output size"]["ok"] is True
    assert rows["PSNR beats both baselines at h=16 and h=64"]["ok"] is False  # regressor wins at h64
    assert rows["controllability ΔPSNR at 16 frames"]["ok"] is True
    assert rows["sharpness"]["ok"] is True and rows["fd_judge at h=64"]["ok"] is True
    assert rows["object recall at h=16 / h=64; precision at 16 / 64"]["ok"] is False  # 0.45 at h64
    assert rows["person recall at h=16"]["ok"] is True
    assert rows["live speed with decoding to full size"]["ok"] is True

    def training_row(training):
        return [x for x in figures_to_reach({}, {"training": training}) if x["what"].startswith("training time")][0]

    # the ledger's total over every invocation decides, not the last invocation's time
    ledger = {"budget": "quick", "timings_s": {"training_s": 60.0}, "model_training_s": 4000.0}
    assert training_row(ledger)["ok"] is False
    assert training_row({**ledger, "model_training_s": 3000.0})["ok"] is True
    # a resumed run without a ledger has no known cost: not measured, never "met"
    assert training_row({"budget": "quick", "timings_s": {"training_s": 60.0}, "from_scratch": False})["ok"] is None


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from engine.train.pipeline import TrainConfig, run_training

    return run_training(tmp_path_factory.mktemp("evalrun") / "run", TrainConfig.tiny(), seed=1, progress=False,
                        log=lambda *a: None)


def test_ved_eval_quick_writes_results_and_report(tiny_model, tmp_path, capsys):
    from app.cli import main

    rc = main(["eval", "--model", str(tiny_model), "--quick", "--json", "--out", str(tmp_path / "ev"),
               "--sampling", "cfg_action=1.5", "--long-ticks", "12"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert printed["fidelity"] == saved["fidelity"]
    assert set(saved["fidelity"]["psnr"]) == {"model", "copy_last", "regressor"}
    assert {"revisit", "events", "prompt", "stability", "speed", "figures_to_reach"} <= set(saved)
    # issue 25: the action splits and the still rollout, every method in each
    assert {"still", "slow_look", "head_jitter", "stop_and_go"} <= set(saved["action_splits"])
    for split in ("still", "slow_look", "head_jitter", "stop_and_go"):
        assert set(saved["action_splits"][split]["psnr_after"]) == {"model", "copy_last", "regressor"}
        assert "object_recall" in saved["action_splits"][split]
    assert saved["action_splits"]["still"]["motion"]["still_share"] == 1.0
    assert {"model", "copy_last", "regressor"} <= set(saved["still_long"])
    assert any(r["what"].startswith("still trainee (split)") for r in saved["figures_to_reach"])
    assert "judge_on_real_frames" in saved["prompt"]
    assert saved["model"]["sampling"]["cfg_action"] == 1.5  # the settings measured under are reported
    html = (tmp_path / "ev" / "report.html").read_text()
    assert "data:image/png;base64" in html and "Figures to reach" in html


def test_sampling_overrides_are_checked():
    from engine.eval.suite import parse_sampling

    assert parse_sampling(["cfg_action=1.5", "steps=1"]) == {"cfg_action": 1.5, "steps": 1}
    with pytest.raises(ValueError, match="cfg_action"):
        parse_sampling(["cfg_acton=2"])
    with pytest.raises(ValueError, match="number"):
        parse_sampling(["steps=two"])
