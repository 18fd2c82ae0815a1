"""The layering of DESIGN.md §2 as an import-linter contract (pyproject.toml,
``[tool.importlinter]``): engine/ never imports Qt, pyopenxr, sounddevice or app/.

A static check of every import statement, so a violation in a module no test happens to
import is caught too. What a library pulls in at run time (matplotlib choosing a Qt
backend) is checked where it can happen, in tests/test_report.py.
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_engine_is_headless_by_the_import_contract(monkeypatch, capsys):
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is a test dependency (pip install -e .[test])")
    monkeypatch.chdir(ROOT)
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 kept, 0 broken" in out


def test_the_contract_catches_a_forbidden_import(tmp_path, monkeypatch, capsys):
    """The contract is live: a copy of the tree with engine/ importing sounddevice breaks it."""
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is a test dependency (pip install -e .[test])")
    for pkg in ("engine", "app"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "engine" / "actions.py", "a") as fh:
        fh.write("\nimport sounddevice  # noqa\n")
    ours = lambda name: name.split(".")[0] in ("engine", "app")  # noqa: E731
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if ours(m)]:  # so the copy is found, not the tree under test
        monkeypatch.delitem(sys.modules, name)
    try:
        code = cli.lint_imports(config_filename=str(tmp_path / "pyproject.toml"), no_cache=True)
    finally:  # drop whatever was imported from the copy; monkeypatch puts the originals back
        for name in [m for m in sys.modules if ours(m)]:
            del sys.modules[name]
    out = capsys.readouterr().out
    assert code != 0 and "engine.actions -> sounddevice" in out
