"""Prompt-fidelity judge: labels, data, training, cache, sequence scoring."""

import numpy as np
import pytest
import torch

from engine.data.generate import HELD_OUT_SEED_BASE
from engine.eval import judge as J
from engine.world.scene import _HIDDEN_KINDS, ROOM_TYPES, make_scene

TINY = {"n_scenes": 3, "frames_per_scene": 2, "steps": 2, "batch": 4}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny batches train fastest on one thread, and it keeps the tests quick when other
    processes share the CPU (two-thread barriers then stall for a whole time slice)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return J.make_judge_data(6, 4, seed=0, resolution=64)


@pytest.fixture(scope="module")
def tiny_judge(data):
    return J.train_judge(*data, steps=30, batch=8, seed=0)


def _centre(obj):
    return np.mean([p.center for p in obj.parts], axis=0)


def test_vocabularies_cover_what_captions_name():
    assert "whiteboard" in J.OBJECT_KINDS and "or_table" in J.OBJECT_KINDS
    assert not set(J.OBJECT_KINDS) & _HIDDEN_KINDS
    assert len(J.WALL_COLOURS) == 14 and J.WALL_COLOURS[0] == "pale green"
    for rt in ROOM_TYPES:
        for seed in range(4):
            scene = make_scene(rt, seed)
            assert {o.kind for o in scene.objects} - _HIDDEN_KINDS <= set(J.OBJECT_KINDS)
            assert scene.wall_color_name in J.WALL_COLOURS


def test_make_judge_data_shapes_and_labels(data):
    frames, labels = data
    assert frames.shape == (24, 64, 64, 3) and frames.dtype == np.uint8
    assert labels["room"].dtype == np.int64 and labels["room"].tolist() == ([0] * 4 + [1] * 4 + [2] * 4) * 2
    assert labels["wall"].shape == (24,) and labels["objects"].shape == (24, len(J.OBJECT_KINDS))
    assert labels["objects"].dtype == np.float32 and labels["objects"].sum() > 0
    assert labels["person"].shape == (24,) and labels["persons"].shape == (24, J.PERSON_BINS)
    assert labels["person"].sum() > 0  # people are placed in a good share of the views
    # a frame with a person has a band with a person, and none without
    assert ((labels["persons"].sum(1) > 0) == (labels["person"] > 0)).all()
    rooms_of_walls = [J.ROOM_TYPES[r] for r in labels["room"]]
    assert all(J.WALL_COLOURS[w] in [n for n, _ in J._WALLS[rt]] for w, rt in zip(labels["wall"], rooms_of_walls))
    assert len({f.tobytes() for f in frames}) == 24 and frames.std() > 10
    again, _ = J.make_judge_data(6, 4, seed=0, resolution=64)
    assert np.array_equal(again, frames)


def test_make_judge_data_seed_ranges(monkeypatch):
    seeds = []
    real_make_scene = J.make_scene
    monkeypatch.setattr(J, "make_scene", lambda rt, seed: seeds.append(seed) or real_make_scene(rt, seed))
    J.make_judge_data(3, 1, seed=1)
    assert len(seeds) == 3 and max(seeds) < HELD_OUT_SEED_BASE
    held, _ = J.make_judge_data(2, 1, seed=1, held_out=True, resolution=32)
    assert held.shape == (2, 32, 32, 3) and len(seeds) == 5 and min(seeds[3:]) >= HELD_OUT_SEED_BASE


def test_train_judge_learns_and_predicts(tiny_judge, data):
    losses = tiny_judge.losses
    assert len(losses) == 30 and np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    assert sum(p.numel() for p in tiny_judge.parameters()) < 1_500_000
    assert all(p.dtype == torch.float32 for p in tiny_judge.parameters())
    pred = tiny_judge.predict(data[0][:5])
    assert pred["room"].shape == (5,) and pred["room"].dtype == np.int64 and pred["wall"].shape == (5,)
    assert pred["objects"].shape == (5, len(J.OBJECT_KINDS))
    assert 0 <= pred["objects"].min() <= pred["objects"].max() <= 1
    assert np.allclose(pred["room_probs"].sum(1), 1, atol=1e-5)
    assert pred["person"].shape == (5,) and pred["persons"].shape == (5, J.PERSON_BINS)
    assert pred["embed"].shape == (5, J.EMBED_DIM) and pred["embed"].dtype == np.float32
    # The wall is always one of the predicted room's colours.
    assert all(J._WALL_ROOM[w] == r for r, w in zip(pred["room"], pred["wall"]))
    small = tiny_judge.predict(data[0][:3, ::2, ::2])  # other resolutions are resized
    assert small["room"].shape == (3,)
    assert tiny_judge.predict(data[0][:0])["objects"].shape == (0, len(J.OBJECT_KINDS))
    with pytest.raises(ValueError, match="uint8"):
        tiny_judge.predict(data[0][:2].astype(np.float32))


def test_cache_round_trip_and_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setattr(J, "DEFAULT_TRAINING", dict(TINY))
    calls, logs = [], []
    real_train = J.train_judge

    def counting_train(*args, **kwargs):
        calls.append(args)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(J, "train_judge", counting_train)
    first = J.load_or_train_judge(tmp_path, progress=False, log=logs.append)
    (path,) = tmp_path.glob("*.safetensors")
    assert len(calls) == 1 and J.VERSION.replace("/", "-") in path.name
    second = J.load_or_train_judge(tmp_path, progress=False, log=logs.append)
    assert len(calls) == 1  # loaded, not trained
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    path.write_bytes(b"not a safetensors file")
    logs.clear()
    third = J.load_or_train_judge(tmp_path, progress=False, log=logs.append)
    assert len(calls) == 2 and any("warning" in m and "retraining" in m for m in logs)
    assert isinstance(third, J.Judge) and path.stat().st_size > 100_000
    monkeypatch.setattr(J, "DEFAULT_TRAINING", {**TINY, "steps": 3})  # a new configuration retrains
    J.load_or_train_judge(tmp_path, progress=False, log=logs.append)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.safetensors"))) == 2


def test_judge_sequence_votes_and_needs_two_frames():
    k = len(J.OBJECT_KINDS)
    objects = np.zeros((4, k), np.float32)
    objects[[0, 2], J.OBJECT_KINDS.index("sofa")] = 0.9  # two frames: detected
    objects[1, J.OBJECT_KINDS.index("plant")] = 0.9  # one frame: a blip
    objects[:, J.OBJECT_KINDS.index("rug")] = 0.2  # never confident
    pred = {"room": np.array([1, 1, 2, 1]), "wall": np.array([5, 5, 9, 4]), "objects": objects}
    seq = J.judge_sequence(pred)
    assert seq["room_name"] == "therapy_room" and seq["wall_name"] == "sage"
    assert seq["objects"] == ["sofa"]
    # Soft vote: one confident frame outweighs three unsure ones.
    probs = np.array([[0.4, 0.6, 0.0]] * 3 + [[1.0, 0.0, 0.0]])
    wall_probs = np.zeros((4, len(J.WALL_COLOURS)))
    wall_probs[:, J.WALL_COLOURS.index("beige")] = 1.0  # a therapy-room colour: not allowed for an OR
    wall_probs[:, J.WALL_COLOURS.index("teal")] = 0.5
    seq = J.judge_sequence({**pred, "room_probs": probs, "wall_probs": wall_probs})
    assert seq["room_name"] == "operating_room" and seq["wall_name"] == "teal"
    with pytest.raises(ValueError):
        J.judge_sequence({"room": np.zeros(0, int), "wall": np.zeros(0, int), "objects": np.zeros((0, k))})


def test_score_against_scene_numbers():
    scene = make_scene("classroom", 0)
    truth = sorted({o.kind for o in scene.objects} - _HIDDEN_KINDS)
    assert len(truth) >= 4
    wrong_wall = next(i for i, n in enumerate(J.WALL_COLOURS) if n != scene.wall_color_name)
    pred = {"room": ROOM_TYPES.index("classroom"), "wall": wrong_wall, "objects": truth[:2] + ["or_table"]}
    s = J.score_against_scene(pred, scene)
    recall, precision = 2 / len(truth), 2 / 3
    f1 = 2 * recall * precision / (recall + precision)
    assert s["room_ok"] is True and s["wall_ok"] is False
    assert s["object_recall"] == pytest.approx(recall) and s["object_precision"] == pytest.approx(precision)
    assert s["object_f1"] == pytest.approx(f1) and s["score"] == pytest.approx((1 + 0 + f1) / 3)
    perfect = {"room": 2, "wall": J.WALL_COLOURS.index(scene.wall_color_name), "objects": truth}
    assert J.score_against_scene(perfect, scene)["score"] == pytest.approx(1.0)
    nothing = J.score_against_scene({"room": 0, "wall": 0, "objects": []}, scene)
    assert nothing["object_precision"] == 1.0 and nothing["object_f1"] == 0.0 and nothing["score"] == 0.0


def test_accuracy_on_real_uses_held_out_turns(tiny_judge, monkeypatch):
    seeds = []
    real_make_scene = J.make_scene
    monkeypatch.setattr(J, "make_scene", lambda rt, seed: seeds.append(seed) or real_make_scene(rt, seed))
    res = J.judge_accuracy_on_real(tiny_judge, 2, seed=0, resolution=64)
    assert len(seeds) == 2 and min(seeds) >= HELD_OUT_SEED_BASE
    assert res["n_scenes"] == 2 and res["oracle_object_f1"] > 0.5
    for key in ("room_ok", "wall_ok", "object_f1", "score", "frame_room_acc", "frame_wall_acc", "frame_object_acc"):
        assert 0.0 <= res[key] <= 1.0
