import json

import numpy as np
import pytest

from app.cli import main
from engine.data.format import Dataset, DatasetError


def test_generate_and_read_back(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["data", "generate", "--out", str(out), "--episodes", "3", "--length", "30", "--seed", "1"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["frames"] == 90 and stats["frames_per_s"] > 0
    ds = Dataset(out)
    assert len(ds) == 3 and ds.resolution == 64
    ep = ds[0]
    assert ep.frames.shape == (30, 64, 64, 3) and ep.frames.dtype == np.uint8
    assert ep.actions.shape == (30, 4) and ep.actions.dtype == np.float32
    assert ep.states.shape == (30, 4) and ep.poses.shape == (30, 4)
    assert np.all(ep.actions[0] == 0)
    assert ep.meta["caption"] and ep.meta["length"] == 30 and ep.meta["scene"]["room_type"]
    for e in ep.meta["events"]:
        assert 0 < e["tick"] < 30
    # same seed, same data
    out2 = tmp_path / "ds2"
    main(["data", "generate", "--out", str(out2), "--episodes", "1", "--length", "30", "--seed", "1"])
    np.testing.assert_array_equal(Dataset(out2)[0].frames, ep.frames)


def test_bad_datasets_are_explained(tmp_path):
    with pytest.raises(DatasetError, match="ved data generate"):
        Dataset(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "ved-dataset/99", "episodes": []}')
    with pytest.raises(DatasetError, match="supported: ved-dataset/1"):
        Dataset(tmp_path)


def test_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["data", "generate", "--out", str(tmp_path), "--episodes", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
