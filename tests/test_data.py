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
    assert len(ds) == 3 and ds.resolution == 128
    ep = ds[0]
    assert ep.frames.shape == (30, 128, 128, 3) and ep.frames.dtype == np.uint8
    assert ep.actions.shape == (30, 4) and ep.actions.dtype == np.float32
    assert ep.states.shape == (30, 4) and ep.poses.shape == (30, 4)
    assert ep.people.shape == (30, 4, 4) and ep.labels is None  # labels only for held-out episodes
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
    with pytest.raises(DatasetError, match="supported: ved-dataset/1, ved-dataset/2"):
        Dataset(tmp_path)


def test_others_walk_and_episodes_rebuild_their_world_state(tmp_path):
    from engine.data.generate import generate_episode
    from engine.world.env import ReferenceWorld

    world = ReferenceWorld(48)
    try:
        ep = generate_episode(world, np.random.default_rng(3), length=60, others=2, labels=True)
    finally:
        world.renderer.release()
    seats = ep.meta["others"]
    assert len(seats) == 2
    present = ep.people[:, 1:, 0]
    assert present.sum(1).tolist() == [2.0] * 60
    moved = np.abs(np.diff(ep.people[:, [1 + s for s in seats], 1:3], axis=0)).sum()
    assert moved > 0.5  # they walk about
    state = ep.world_state(30)
    assert sorted(o[0] for o in state.others) == seats
    assert np.allclose([o[1] for o in state.others if o[0] == seats[0]], ep.people[30, 1 + seats[0], 1])
    tables = ep.entity_tables()
    assert tables.shape == (60, 5, 15) and (tables[:, 1:4, 0].sum(1) == 2).all()
    assert set(ep.labels) == {"objects", "person", "persons"} and ep.labels["persons"].shape == (60, 8)
    # round trip through the writer and reader keeps people and labels
    from engine.data.format import DatasetWriter

    w = DatasetWriter(tmp_path / "ds", resolution=48)
    w.add(ep)
    w.close()
    back = Dataset(tmp_path / "ds")[0]
    np.testing.assert_array_equal(back.people, ep.people)
    np.testing.assert_array_equal(back.labels["objects"], ep.labels["objects"])


def test_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["data", "generate", "--out", str(tmp_path), "--episodes", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
