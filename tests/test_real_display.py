"""The app on a real X display: every other GUI test runs on Qt's offscreen platform, which
needs none of the xcb libraries a desktop does, so a missing one (*Could not load the Qt
platform plugin "xcb"*) went unnoticed. Here an X server (Xvfb) is started and the designer
runs on Qt's ``xcb`` platform in a child process (tests/helpers/xcb_smoke.py): *Preview* is
clicked, the trainee window and the console appear, ticks advance, a screenshot is taken and
everything closes. CI installs Xvfb (``.ci/run``); elsewhere the test says how to get it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def x_display(tmp_path):
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); CI installs it and runs this test")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        server.kill()
        pytest.fail(f"Xvfb did not start: {server.stderr.read().decode(errors='replace')[-500:]}")
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_the_app_opens_previews_and_closes_on_a_real_x_display(x_display, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=x_display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    shot = tmp_path / "screen.png"
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "xcb_smoke.py"), str(shot),
                          str(tmp_path / "recordings")], env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert "Could not load the Qt platform plugin" not in out.stderr, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report (exit {out.returncode}): {out.stderr[-2000:]}"
    report = json.loads(lines[-1])
    assert report["platform"] == "xcb"
    assert report["ok"], report
    assert report["ticks"][1] >= report["ticks"][0] + 20
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1600, 1000)
    assert len(img.getcolors(1 << 20) or []) > 50  # windows drawn, not a blank screen
    assert out.returncode == 0
