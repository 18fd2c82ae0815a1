"""Tests for engine.eval.metrics and engine.eval.report (fast, headless)."""

import math
import re
import sys

import numpy as np
import pytest
from PIL import Image

from engine.eval.metrics import psnr, ssim, ssim_batch
from engine.eval.report import Strip, render_strip, write_report


def _frames(n, seed=0, size=64):
    rng = np.random.default_rng(seed)
    # Smooth-ish frames (blocky gradients) so SSIM has structure to compare.
    base = rng.integers(0, 256, (n, size // 8, size // 8, 3), dtype=np.uint8)
    return base.repeat(8, axis=1).repeat(8, axis=2)


def _noisy(frames, sigma, seed=1):
    rng = np.random.default_rng(seed)
    return np.clip(frames + rng.normal(0, sigma, frames.shape), 0, 255).astype(np.uint8)


# --- metrics ---------------------------------------------------------------------------------

def test_psnr_identical_is_cap():
    f = _frames(1)[0]
    assert psnr(f, f) == 60.0


def test_psnr_matches_formula():
    a = np.full((64, 64, 3), 100, np.uint8)
    b = a.copy()
    b[::2] += 10  # half the pixels off by 10 -> mse = 50
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 50.0), abs=1e-9)
    noisy = _noisy(_frames(1)[0], 20)
    mse = np.mean((noisy.astype(float) - _frames(1)[0]) ** 2)
    assert psnr(noisy, _frames(1)[0]) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


def test_psnr_rejects_bad_input():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(TypeError):
        psnr(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32))


def test_ssim_identical_is_one_and_decreases_with_noise():
    f = _frames(1)[0]
    assert ssim(f, f) == pytest.approx(1.0, abs=1e-6)
    values = [ssim(f, _noisy(f, s)) for s in (5, 20, 60)]
    assert 1.0 > values[0] > values[1] > values[2]
    assert all(isinstance(v, float) for v in values)


def test_ssim_batch_equals_per_pair():
    a = _frames(5, seed=3)
    b = np.stack([_noisy(a[i], 10 * i, seed=i) for i in range(5)])
    batch = ssim_batch(a, b)
    assert batch.shape == (5,) and batch.dtype == np.float64
    np.testing.assert_allclose(batch, [ssim(a[i], b[i]) for i in range(5)], atol=1e-6)
    assert ssim_batch(a[:0], b[:0]).shape == (0,)


def test_ssim_rejects_bad_input():
    with pytest.raises(ValueError):
        ssim(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError):
        ssim_batch(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(TypeError):
        ssim(np.zeros((64, 64, 3)), np.zeros((64, 64, 3)))


# --- report ----------------------------------------------------------------------------------

def _results():
    return {
        "title": "ved eval <script>alert(1)</script>",
        "figures_to_reach": [
            {"what": "PSNR@16 vs copy_last", "target": ">= +2 dB", "measured": "+3.1 dB", "ok": True},
            {"what": "revisit <script>x</script>", "target": "> 0.8", "measured": "0.5", "ok": False},
        ],
        "fidelity": {
            "horizons": [1, 4, 16, 64],
            "psnr": {"model": {"1": 28.1, "4": 25.0, "16": 22.3, "64": 19.9},
                     "copy_last": {"1": 30.0, "4": 21.0, "16": 17.5, "64": 15.0},
                     "my_new_method": {"1": 27.0, "4": 24.0}},
            "ssim": {"model": {"1": 0.91, "4": 0.85, "16": 0.7, "64": 0.6},
                     "regressor": {"1": 0.8, "4": 0.7, "16": 0.6, "64": 0.5}},
        },
        "controllability": {"delta_psnr": {"4": 1.234567, "16": 2.5}, "samples": 12, "passed": True},
        "speed": {"fps": 41.98765, "latency_ms": {"p50": 12.0, "p99": 30.25}, "device": "cpu"},
        "stability": {"drift": np.float64(3.14159), "stable": np.bool_(True), "n": np.int64(7)},
        "events": {"alarm": [{"tick": 3, "detected": True}], "names": ["a", "b"]},
        "seed": 0,
    }


def _strips():
    gen, ref = _frames(4, seed=5), _frames(4, seed=6)
    return [
        Strip("rollout 1", [("generated", gen), ("reference", ref)], caption="start tick 8", ticks=[9, 10, 11, 12]),
        Strip("prompt", [("prompt", gen[:1]), ("generated", gen)]),
    ]


def test_write_report(tmp_path):
    path = write_report(tmp_path / "out", _results(), _strips())
    assert path == tmp_path / "out" / "report.html"
    text = path.read_text(encoding="utf-8")
    for heading in ("Figures to reach", "fidelity", "frame strips", "controllability", "speed", "events", "run"):
        assert f"<h2>{heading}</h2>" in text
    # 2 fidelity plots + 2 strips, all embedded.
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', text)) == 4
    assert "✔" in text and "✘" in text
    assert "1.23" in text and "41.99" in text and "1.234567" not in text
    assert "<td>stable</td><td>yes</td>" in text and '<td class="num">3.14</td>' in text
    assert "latency_ms.p99" in text and "my_new_method" in text and "regressor" in text
    figs = sorted(p.name for p in (tmp_path / "out" / "figures").glob("*.png"))
    assert figs == ["fidelity_psnr.png", "fidelity_ssim.png", "strip_01_rollout_1.png", "strip_02_prompt.png"]
    for name in figs:
        with Image.open(tmp_path / "out" / "figures" / name) as im:
            im.verify()


def test_strip_image_layout():
    img = render_strip(_strips()[0])
    assert img.mode == "RGB"
    # 4 frames upscaled x2 = 4 * 128 px wide at least, 2 rows of 128 px high at least.
    assert img.width >= 4 * 128 and img.height >= 2 * 128
    px = np.asarray(img)
    gen = _frames(4, seed=5)[0].repeat(2, 0).repeat(2, 1)
    # The first generated frame appears verbatim (nearest-neighbour) somewhere in the image.
    found = any((px[y:y + 128, x:x + 128] == gen).all()
                for y in range(px.shape[0] - 127) for x in range(0, px.shape[1] - 127)
                if (px[y, x] == gen[0, 0]).all() and (px[y + 127, x + 127] == gen[-1, -1]).all())
    assert found


def test_strip_rejects_bad_frames():
    with pytest.raises(ValueError):
        render_strip(Strip("bad", [("x", np.zeros((2, 8, 8, 3), np.float32))]))
    with pytest.raises(ValueError):
        render_strip(Strip("empty", []))


def test_missing_sections_do_not_fail(tmp_path):
    path = write_report(tmp_path, {}, [])
    text = path.read_text(encoding="utf-8")
    assert "<title>ved eval</title>" in text and "data:image/png" not in text
    partial = {"fidelity": {"horizons": [1, 4], "psnr": {"model": {"1": 20.0}}}, "speed": {}}
    text = write_report(tmp_path / "p", partial, []).read_text(encoding="utf-8")
    assert "<h2>speed</h2>" in text and text.count("data:image/png") == 1
    assert not (tmp_path / "p" / "figures" / "fidelity_ssim.png").exists()


def test_text_is_escaped(tmp_path):
    strips = [Strip("<script>bad()</script>", [("<b>", _frames(1))], caption="<script>c</script>")]
    results = _results()
    results["<script>k</script>"] = {"<script>n</script>": "<script>v</script>"}
    text = write_report(tmp_path, results, strips).read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;" in text


def test_report_and_metrics_import_no_gui_modules(tmp_path):
    """engine/ must never pull in Qt, sounddevice or pyopenxr, even after drawing plots."""
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "from engine.eval.metrics import psnr, ssim\n"
        "from engine.eval.report import write_report\n"
        "f = np.zeros((16, 16, 3), np.uint8); psnr(f, f); ssim(f, f)\n"
        "write_report(sys.argv[1], {'fidelity': {'horizons': [1], 'psnr': {'m': {'1': 1.0}}}}, [])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6',"
        " 'sounddevice', 'xr', 'pyopenxr')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=120)
