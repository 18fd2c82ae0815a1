"""The desktop bundle's pieces that can be checked without building it (packaging/build
takes minutes and runs outside CI: see docs/benchmarks.md): the per-user installer of the
menu entry and scenario file association, and the spec's entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]


def test_install_sh_adds_the_menu_entry_icon_and_scenario_type_and_removes_them(tmp_path):
    bundle = tmp_path / "ved"
    (bundle / "share").mkdir(parents=True)
    for name in ("ved.desktop", "ved.png", "ved-scenario.xml"):
        shutil.copy(ROOT / "packaging" / "linux" / name, bundle / "share" / name)
    shutil.copy(ROOT / "packaging" / "linux" / "install.sh", bundle / "install.sh")
    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["bash", str(bundle / "install.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    desktop = (data / "applications" / "ved.desktop").read_text()
    assert f"Exec={bundle}/ved design %f" in desktop and "MimeType=application/x-ved-scenario;" in desktop
    assert (data / "icons" / "hicolor" / "256x256" / "apps" / "ved.png").is_file()
    mime = ElementTree.parse(data / "mime" / "packages" / "ved-scenario.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = mime.find("m:mime-type", ns)
    assert kind.get("type") == "application/x-ved-scenario"
    assert kind.find("m:magic/m:match", ns).get("value") == "[world]"
    # every shipped scenario carries what the type's magic looks for, within its first 4 KB
    for scenario in (ROOT / "scenarios").glob("*.toml"):
        assert "[world]" in scenario.read_text()[:4096], scenario
    out = subprocess.run(["bash", str(bundle / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and not (data / "applications" / "ved.desktop").exists()


def test_the_bundle_entry_point_runs_the_cli_and_child_modules(tmp_path):
    entry = ROOT / "packaging" / "ved_entry.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(entry), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "design" in out.stdout
    out = subprocess.run([sys.executable, str(entry), "--run-module", "app.bench_gui"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "usage: ved bench --gui" in out.stderr  # the module ran as __main__
