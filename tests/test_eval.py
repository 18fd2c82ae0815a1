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

    def reset(self, prompt, state):
        ep, start = next((ep, i) for ep in self.episodes for i, f in enumerate(ep.frames)
                         if np.array_equal(f, prompt.image))
        self.world.reset(ep.meta["room_type"], ep.meta["scene_seed"], state, pose=tuple(float(v) for v in ep.poses[start]))
        return prompt.image


def test_fidelity_ranks_a_perfect_model_above_copy_last_and_it_answers_controls():
    eps = held_out_episodes(2, 40, seed=5)
    res, _ = evaluate_fidelity({"oracle": _Oracle(eps), "copy_last": CopyLastFrame()}, eps,
                               horizons=(1, 4, 16), per_episode=1, seed=0)
    assert res["psnr"]["oracle"]["16"] > 45  # the reference world is its own (near) perfect model
    assert res["psnr"]["oracle"]["16"] > res["psnr"]["copy_last"]["16"]
    assert res["delta_psnr"]["oracle"]["16"] > 3.0  # other actions give other views
    assert res["delta_psnr"]["copy_last"]["16"] == 0.0  # copy-last ignores the controls by construction
    assert res["samples"] == 2


def test_figures_table_flags_what_is_missed():
    r = {"fidelity": {"horizons": [1, 16], "psnr": {"model": {"1": 30.0, "16": 22.0}, "copy_last": {"1": 29.0, "16": 20.0},
                                                    "regressor": {"1": 31.0, "16": 21.5}},
                      "delta_psnr": {"model": {"1": 0.5, "16": 3.2}}},
         "speed": {"fps": 30.0, "p95_ms": 40.0}}
    rows = {row["what"]: row for row in figures_to_reach(r, {})}
    assert rows["beats both baselines at every horizon (PSNR)"]["ok"] is False  # regressor wins at h1
    assert rows["clear margin at 16 and 64"]["ok"] is False  # +0.5 dB over the regressor at 16
    assert rows["controllability ΔPSNR at 16 frames"]["ok"] is True
    assert rows["live speed (unpaced generation)"]["ok"] is True


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
