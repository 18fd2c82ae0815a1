"""The inference path per machine (issue 26): candidate runtimes, every runnable runtime's
frames against torch float32 over a 30-tick rollout, the choice and its cache."""

import json
import time

import numpy as np
import pytest
import torch

from engine.machine import native_bf16
from engine.model.runtimes import OpenVinoRuntime, RuntimeUnavailable, TorchRuntime, openvino_available
from engine.runtime import inference_path as ip
from engine.runtime.wiring import load_model


@pytest.fixture(scope="module")
def model():
    return load_model(None, seed=0)


@pytest.fixture(scope="module")
def scenario():
    from engine.scenario.loader import load_scenario

    return load_scenario(ip._DEFAULT_SCENARIO)


def test_candidates_follow_the_processor_and_the_libraries():
    avx2 = frozenset({"avx2"})
    bf16 = frozenset({"avx2", "avx512f", "avx512_bf16"})
    assert ip.candidate_runtimes(avx2, have_openvino=True) == ["torch-fp32", "openvino-fp32"]
    assert ip.candidate_runtimes(bf16, have_openvino=True) == ["torch-fp32", "openvino-fp32", "openvino-bf16"]
    assert ip.candidate_runtimes(frozenset({"amx_bf16"}), have_openvino=True)[-1] == "openvino-bf16"
    assert ip.candidate_runtimes(bf16, have_openvino=False) == ["torch-fp32"]
    assert ip.candidate_runtimes(bf16, device="gpu", have_openvino=True) == ["torch-fp32"]


@pytest.mark.slow
def test_every_runtime_this_machine_runs_draws_torch_fp32_frames_over_30_ticks(model, scenario, tmp_path):
    names = ip.candidate_runtimes()
    assert names[0] == "torch-fp32"
    ref = ip.calibration_rollout(model, TorchRuntime(model.ae, model.dyn), TorchRuntime(model.ae, model.dyn),
                                 scenario, ticks=30)
    assert len(ref["frames"]) == 30
    assert len({f.tobytes() for f in ref["frames"]}) > 20  # a moving trainee: the frames change
    for name in names[1:]:
        rt = ip._make_runtime(name, model, tmp_path)
        run = ip.calibration_rollout(model, rt, rt, scenario, ticks=30)
        low = min(ip.psnr(a, b) for a, b in zip(ref["frames"], run["frames"]))
        assert low >= ip.MIN_PSNR_DB, f"{name}: a frame {low:.1f} dB from torch-fp32"
    # the model is back on its own runtimes afterwards
    assert model.inference_path == {"decoder": "torch-fp32", "dynamics": "torch-fp32"}


class _Slow(TorchRuntime):
    """torch float32, 10 ms slower a dynamics call (made every tick; the decoder is skipped
    on a tick where nothing in view changed)."""

    def dynamics(self, *args):
        time.sleep(0.010)
        return super().dynamics(*args)


class _Renamed(TorchRuntime):
    def __init__(self, ae, dyn, name, noise=0.0):
        super().__init__(ae, dyn)
        self.name, self.noise = name, noise

    def decode(self, z, layout):
        out = super().decode(z, layout)
        return out + self.noise * (out.new_tensor(np.random.default_rng(0).standard_normal(out.shape)).float())

    def verify(self):
        return True


@pytest.fixture
def fakes(monkeypatch):
    """torch-fp32 10 ms slower a dynamics call; openvino-fp32: torch as it is (exact, faster);
    openvino-bf16: torch with noise on every frame (fast, but drifting)."""
    made = []

    def make(name, model, folder):
        made.append(name)
        if name == "torch-fp32":
            return _Slow(model.ae, model.dyn)
        return _Renamed(model.ae, model.dyn, name, noise=0.05 if name.endswith("bf16") else 0.0)

    monkeypatch.setattr(ip, "_make_runtime", make)
    monkeypatch.setattr(ip, "candidate_runtimes", lambda *a, **k: ["torch-fp32", "openvino-fp32", "openvino-bf16"])
    monkeypatch.setattr(ip, "CALIBRATION_TICKS", 10)
    monkeypatch.setattr(ip, "WARMUP_TICKS", 2)
    return made


@pytest.mark.slow
def test_auto_takes_the_fastest_runtime_whose_frames_hold_and_caches_the_choice(model, scenario, fakes, tmp_path):
    lines = []
    choice = ip.choose_path(model, "auto", scenario=scenario, progress=lines.append, folder=tmp_path)
    assert choice["cached"] is False
    assert choice["dynamics"] == "openvino-fp32"  # 10 ms a call faster, frames exact
    # the drifting runtime was measured, then left out for its frames
    assert choice["measured"]["openvino-bf16"]["min_psnr_db"] < ip.MIN_PSNR_DB
    assert any("openvino-bf16 left out" in line for line in lines)
    assert any("measuring" in line for line in lines)
    assert model.dynamics_runtime.name == "openvino-fp32"
    record = json.loads((tmp_path / "choice.json").read_text())
    assert record["dynamics"] == "openvino-fp32" and record["key"] == ip.path_key(model)[0]

    # once cached: no measuring, the same choice
    lines.clear()
    fakes.clear()
    again = ip.choose_path(model, "auto", scenario=scenario, progress=lines.append, folder=tmp_path)
    assert again["cached"] is True and again["dynamics"] == "openvino-fp32"
    assert not any("measuring" in line for line in lines)

    # a corrupt record is measured again, never trusted
    (tmp_path / "choice.json").write_text("{not json")
    lines.clear()
    rebuilt = ip.choose_path(model, "auto", scenario=scenario, progress=lines.append, folder=tmp_path)
    assert rebuilt["cached"] is False and any("does not parse" in line for line in lines)

    # a stale one (another model, library or processor) too
    record = json.loads((tmp_path / "choice.json").read_text())
    record["key"] = "0" * 64
    (tmp_path / "choice.json").write_text(json.dumps(record))
    lines.clear()
    rebuilt = ip.choose_path(model, "auto", scenario=scenario, progress=lines.append, folder=tmp_path)
    assert rebuilt["cached"] is False and any("another model" in line for line in lines)

    # and one naming a runtime this machine cannot run
    record = json.loads((tmp_path / "choice.json").read_text())
    record["decoder"] = "tensorrt-fp8"
    (tmp_path / "choice.json").write_text(json.dumps(record))
    lines.clear()
    assert ip.choose_path(model, "auto", scenario=scenario, progress=lines.append, folder=tmp_path)["cached"] is False
    assert any("cannot run here" in line for line in lines)
    model.set_runtimes(TorchRuntime(model.ae, model.dyn), TorchRuntime(model.ae, model.dyn))


def test_a_named_path_this_machine_cannot_run_says_why(model, tmp_path):
    with pytest.raises(ValueError, match="unknown inference path"):
        ip.choose_path(model, "tensorrt", folder=tmp_path)
    if not native_bf16():
        with pytest.raises(RuntimeUnavailable, match="no native bf16"):
            ip.choose_path(model, "openvino-bf16", folder=tmp_path)
    assert ip.choose_path(model, "torch-fp32", folder=tmp_path)["decoder"] == "torch-fp32"


@pytest.mark.skipif(not openvino_available(), reason="the openvino package is not installed")
@torch.inference_mode()
def test_openvino_graphs_are_kept_checked_and_exported_again_when_corrupt(model, tmp_path):
    z = model.encode(np.zeros((1, 128, 128, 3), np.uint8)) * model.std + model.mean
    ref = TorchRuntime(model.ae, model.dyn).decode(z, None)
    first = OpenVinoRuntime(model.ae, model.dyn, folder=tmp_path)
    out = first.decode(z, None)
    assert first.exported == ["decoder"] and first.verify()
    assert float((out - ref).abs().max()) < 1e-3
    second = OpenVinoRuntime(model.ae, model.dyn, folder=tmp_path)
    second.decode(z, None)
    assert second.exported == []  # read back, not traced again
    blob = tmp_path / "decoder.bin"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    third = OpenVinoRuntime(model.ae, model.dyn, folder=tmp_path)
    assert not third.verify()
    out = third.decode(z, None)
    assert third.exported == ["decoder"]  # the corrupt graph was not trusted
    assert float((out - ref).abs().max()) < 1e-3
