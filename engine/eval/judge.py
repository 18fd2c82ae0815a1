"""The judge: a small CNN that reads room type, wall colour, objects and people off a frame.

It is trained on reference-world frames labelled from the scene graph and the renderer's
label pass (:mod:`engine.world.labels`: what is really in view, occlusion included). It
serves three measures of ``ved eval``:

* *prompt fidelity*: over the frames of one generated view sequence (a 360° turn) it says
  which room, wall colour and objects they show (:func:`judge_sequence`), and
  :func:`score_against_scene` compares that with the scene the prompt described;
* *object and person recall/precision* per frame against what the reference world shows at
  the same tick (:mod:`engine.eval.perception`);
* *Fréchet distance* in its penultimate features (:meth:`Judge.embed`, 128-d), as FID uses
  Inception's (Heusel et al. 2017), but with a network that knows this domain.

Its own accuracy on held-out reference-world frames is always reported beside a world
model's score, as the ceiling to read it against.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.generate import HELD_OUT_SEED_BASE
from ..world.env import ReferenceWorld
from ..world.labels import OBJECT_KINDS, PERSON_BINS, WALL_COLOURS, view_labels
from ..world.policy import Walker
from ..world.scene import _WALLS, ROOM_TYPES, Scene, make_scene
from ..world.state import MAX_OTHERS, WorldState

#: Frame size the judge reads (other sizes are resized to it).
RESOLUTION = 128
#: Part of the cache file name: bump it when the architecture or the training recipe changes.
VERSION = "judge/3"
#: Sizes of the cached default judge (:func:`load_or_train_judge`): many scenes with few frames
#: each generalise better to unseen scenes than few scenes seen from many poses.
DEFAULT_TRAINING = {"n_scenes": 3000, "frames_per_scene": 4, "steps": 4000, "batch": 64}
EMBED_DIM = 128
#: Weight of a positive object label in the judge's loss.
OBJECT_POS_WEIGHT = 2.0
_WALL_ROOM = torch.tensor([ROOM_TYPES.index(rt) for rt in ROOM_TYPES for _ in _WALLS[rt]])


def _random_pose(scene: Scene, rng: np.random.Generator) -> tuple[float, float, float, float]:
    for _ in range(100):
        x = rng.uniform(-scene.width / 2 + 0.4, scene.width / 2 - 0.4)
        z = rng.uniform(-scene.depth / 2 + 0.4, scene.depth / 2 - 0.4)
        if scene.is_free(x, z, margin=0.35):
            break
    else:
        x, z = scene.start_pose[:2]
    return float(x), float(z), float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-0.3, 0.3))


def _random_state(rng: np.random.Generator, pose, scene: Scene) -> WorldState:
    state = WorldState()
    if rng.random() < 0.3:
        state = replace(state, light=float(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.1:
        state = replace(state, alarm=True)
    if rng.random() < 0.25:  # about two metres ahead, somewhere in or near the view
        state = state.apply("avatar_enter", viewer_pose=(pose[0], pose[1], pose[2] + rng.uniform(-0.6, 0.6)))
    if rng.random() < 0.15:
        state = replace(state, bleeding=float(rng.uniform(0.2, 1.0)))
    n = int(rng.integers(0, MAX_OTHERS + 1))
    seats = rng.choice(MAX_OTHERS, size=n, replace=False).tolist()
    others = []
    for seat in seats:
        w = Walker.placed(scene, rng, avoid=pose[:2])
        others.append((seat, w.x, w.z, w.yaw))
    return state.with_others(others)


def make_judge_data(n_scenes: int, frames_per_scene: int, seed: int, resolution: int = RESOLUTION,
                    *, held_out: bool = False, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Render ``n_scenes * frames_per_scene`` labelled frames from random scenes.

    Scenes cycle through the room types with random seeds below ``HELD_OUT_SEED_BASE``
    (``held_out=True``: at or above it, for measuring the judge). Each frame has a random free
    pose (any yaw, pitch in ±0.3 rad) and a random world state (light level, alarm, avatar,
    blood, 0–3 other participants). Returns ``(frames, labels)``: frames uint8 ``(N,
    resolution, resolution, 3)``, labels ``{"room": int64 (N,), "wall": int64 (N,),
    "objects": float32 (N, K), "person": float32 (N,), "persons": float32 (N,
    PERSON_BINS)}`` (see :func:`engine.world.labels.view_labels`). Raises ``RuntimeError``
    when no headless OpenGL (EGL) is available.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    world = ReferenceWorld(resolution)
    frames, rows = [], []
    try:
        for i in tqdm(range(n_scenes), desc="judge data", unit="scene", disable=not progress):
            lo = HELD_OUT_SEED_BASE if held_out else 0
            scene = make_scene(ROOM_TYPES[i % len(ROOM_TYPES)], int(rng.integers(lo, lo + HELD_OUT_SEED_BASE)))
            for _ in range(frames_per_scene):
                pose = _random_pose(scene, rng)
                state = _random_state(rng, pose, scene)
                frames.append(world.reset(scene, state=state, pose=pose))
                rows.append({"room": ROOM_TYPES.index(scene.room_type),
                             "wall": WALL_COLOURS.index(scene.wall_color_name),
                             **view_labels(world.renderer.render_labels(pose, state), scene)})
    finally:
        world.renderer.release()
    out = np.zeros((0, resolution, resolution, 3), np.uint8) if not frames else np.stack(frames)
    return out, labels_to_arrays(rows)


def labels_to_arrays(rows: list[dict]) -> dict:
    return {"room": np.array([r["room"] for r in rows], np.int64),
            "wall": np.array([r["wall"] for r in rows], np.int64),
            "objects": np.array([r["objects"] for r in rows], np.float32).reshape(-1, len(OBJECT_KINDS)),
            "person": np.array([r["person"] for r in rows], np.float32),
            "persons": np.array([r["persons"] for r in rows], np.float32).reshape(-1, PERSON_BINS)}


def _block(cin: int, cout: int, double: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if double:
        layers += [nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers


class Judge(nn.Module):
    """CNN (~0.9M float32 parameters) on 128×128 RGB.

    ``forward`` takes float ``(N, 3, 128, 128)`` in [0, 1] and returns a dict of logits:
    ``room (N, 3)``, ``wall (N, len(WALL_COLOURS))``, ``objects (N, len(OBJECT_KINDS))``,
    ``person (N,)`` and ``persons (N, PERSON_BINS)`` (a person in each vertical band, left to
    right), plus ``embed (N, EMBED_DIM)``, the penultimate features used for the Fréchet
    distance. Objects and people are found on the 8×8 feature map (a 1×1 convolution, then
    the maximum over places: "is there one anywhere", multiple-instance style), the room and
    wall from the pooled embedding.
    """

    def __init__(self, width: int = 24):
        super().__init__()
        w = width
        self.features = nn.Sequential(nn.Conv2d(3, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                                      *_block(w, 2 * w), *_block(2 * w, 4 * w), *_block(4 * w, 8 * w),
                                      *_block(8 * w, 8 * w, False))  # 128 → 64 → 32 → 16 → 8 → 4
        self.embed_layer = nn.Sequential(nn.Linear(16 * w, EMBED_DIM), nn.ReLU(inplace=True))
        self.room = nn.Linear(EMBED_DIM, len(ROOM_TYPES))
        self.wall = nn.Linear(EMBED_DIM, len(WALL_COLOURS))
        self.objects = nn.Linear(EMBED_DIM, len(OBJECT_KINDS))
        self.objects_map = nn.Conv2d(8 * w, len(OBJECT_KINDS), 1)  # on the 8×8 map (before the last stage)
        self.person = nn.Linear(EMBED_DIM, 1)
        self.persons = nn.Conv2d(8 * w, 2, 1)

    def forward(self, x: torch.Tensor) -> dict:
        h8 = self.features[:-3](x - 0.5)  # (N, 8w, 8, 8)
        h = self.features[-3:](h8)
        e = self.embed_layer(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))
        cols = self.persons(h8).amax(2)  # (N, 2, 8): max over rows
        cols = F.interpolate(cols, size=PERSON_BINS, mode="linear", align_corners=False)[:, 0] \
            if cols.shape[-1] != PERSON_BINS else cols[:, 0]
        objects = self.objects(e) + self.objects_map(h8).amax((2, 3))
        return {"room": self.room(e), "wall": self.wall(e), "objects": objects,
                "person": self.person(e)[:, 0], "persons": cols, "embed": e}

    @staticmethod
    def _input(frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
        if x.shape[-2:] != (RESOLUTION, RESOLUTION):
            x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False, antialias=True)
        return x.contiguous(memory_format=torch.channels_last)

    def predict(self, frames: np.ndarray, batch: int = 128) -> dict:
        """Judge uint8 frames ``(N, H, W, 3)`` (resized to 128×128 if needed).

        Returns ``{"room": int64 (N,), "wall": int64 (N,), "objects": float32 (N, K),
        "person": float32 (N,), "persons": float32 (N, PERSON_BINS), "room_probs": float32
        (N, 3), "wall_probs": float32 (N, len(WALL_COLOURS)), "embed": float32 (N,
        EMBED_DIM)}``: room and wall indices (the wall is the likeliest colour of the
        predicted room's palette), per-kind, per-frame and per-band probabilities, class
        probabilities and the embedding. Raises ``ValueError`` for another dtype or shape.
        """
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
        self.eval()
        keys = ("room", "wall", "objects", "person", "persons", "room_probs", "wall_probs", "embed")
        out = {k: [] for k in keys}
        with torch.inference_mode():
            for i in range(0, max(len(frames), 1), batch):  # an empty input still gives (0, ...) arrays
                o = self(self._input(frames[i:i + batch]))
                room = o["room"].argmax(1)
                out["room"].append(room)
                out["wall"].append(o["wall"].masked_fill(_WALL_ROOM[None, :] != room[:, None], float("-inf")).argmax(1))
                out["objects"].append(torch.sigmoid(o["objects"]))
                out["person"].append(torch.sigmoid(o["person"]))
                out["persons"].append(torch.sigmoid(o["persons"]))
                out["room_probs"].append(o["room"].softmax(1))
                out["wall_probs"].append(o["wall"].softmax(1))
                out["embed"].append(o["embed"])
        return {key: torch.cat(v).numpy() for key, v in out.items()}


def train_judge(frames: np.ndarray, labels: dict, steps: int, batch: int, seed: int, progress: bool = False) -> Judge:
    """Train a :class:`Judge` on ``make_judge_data`` output for ``steps`` AdamW steps.

    Loss: cross-entropy (room, wall) + binary cross-entropy (objects, person, person bands),
    the objects' weighted twice and their positives ``OBJECT_POS_WEIGHT`` times (most kinds are
    out of view in most frames); augmentation: brightness ×0.75..1.25 and horizontal flips
    (the bands flip with the image). The returned judge is in eval mode; ``judge.losses`` lists the training loss per
    step.
    """
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # uint8 (N, 3, H, W)
    lab = {k: torch.from_numpy(v) for k, v in labels.items()}
    judge = Judge().to(memory_format=torch.channels_last)
    pos_weight = torch.full((len(OBJECT_KINDS),), OBJECT_POS_WEIGHT)
    opt = torch.optim.AdamW(judge.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(1, steps), pct_start=0.15)
    judge.train()
    judge.losses = []
    for _ in tqdm(range(steps), desc="judge", unit="step", disable=not progress):
        idx = torch.randint(0, len(x_all), (batch,), generator=gen)
        x = x_all[idx].float() / 255 * (0.75 + 0.5 * torch.rand(batch, 1, 1, 1, generator=gen))
        if x.shape[-2:] != (RESOLUTION, RESOLUTION):
            x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False, antialias=True)
        flip = torch.rand(batch, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x).clamp(0, 1)
        bands = torch.where(flip[:, None], lab["persons"][idx].flip(1), lab["persons"][idx])
        o = judge(x.contiguous(memory_format=torch.channels_last))
        loss = (F.cross_entropy(o["room"], lab["room"][idx]) + F.cross_entropy(o["wall"], lab["wall"][idx])
                + 2 * F.binary_cross_entropy_with_logits(o["objects"], lab["objects"][idx], pos_weight=pos_weight)
                + 0.5 * F.binary_cross_entropy_with_logits(o["person"], lab["person"][idx])
                + 0.5 * F.binary_cross_entropy_with_logits(o["persons"], bands))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        judge.losses.append(loss.item())
    return judge.eval()


def _config(seed: int, training: dict | None = None) -> dict:
    return {"version": VERSION, "seed": seed, "resolution": RESOLUTION, **(training or DEFAULT_TRAINING),
            "rooms": ROOM_TYPES, "walls": WALL_COLOURS, "objects": OBJECT_KINDS, "person_bins": PERSON_BINS}


def load_or_train_judge(cache_dir: Path, *, seed: int = 0, progress: bool = True, log=print,
                        training: dict | None = None) -> Judge:
    """The default judge: loaded from ``cache_dir``, or trained and cached (a few minutes on
    two idle CPU cores; much longer when other processes share them). ``training`` replaces
    :data:`DEFAULT_TRAINING` (smaller sizes for smoke tests).

    The safetensors file name holds :data:`VERSION` and a hash of the training configuration
    (:data:`DEFAULT_TRAINING`, seed, label vocabularies), so a change retrains. An unreadable
    or mismatched cache file is retrained with a logged warning.
    """
    from safetensors.torch import load_file, save_file

    config = _config(seed, training)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    path = Path(cache_dir) / f"{VERSION.replace('/', '-')}-{digest}.safetensors"
    if path.is_file():
        try:
            judge = Judge()
            judge.load_state_dict(load_file(path))
            return judge.eval()
        except Exception as exc:  # any unreadable or mismatched file: retrain rather than fail
            log(f"warning: judge cache {path} is unreadable ({exc}); retraining")
    log(f"training the prompt-fidelity judge ({config['n_scenes']} scenes x {config['frames_per_scene']} frames, "
        f"{config['steps']} steps); cached in {path}")
    t0 = time.perf_counter()
    frames, labels = make_judge_data(config["n_scenes"], config["frames_per_scene"], seed, progress=progress)
    judge = train_judge(frames, labels, config["steps"], config["batch"], seed, progress=progress)
    log(f"judge trained in {time.perf_counter() - t0:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    save_file({k: v.contiguous() for k, v in judge.state_dict().items()}, tmp,
              metadata={"config": json.dumps(config)})
    os.replace(tmp, path)
    return judge


def judge_sequence(pred: dict, min_frames: int = 2, threshold: float = 0.5) -> dict:
    """Aggregate :meth:`Judge.predict` output over the frames of ONE view sequence.

    Room: the highest mean log-probability over frames (``room_probs``; a soft vote in which
    confident frames that show furniture outweigh unsure close-ups of a bare wall); without
    ``room_probs``, the majority of ``room``. Wall: the same over ``wall_probs`` / ``wall``,
    restricted to the chosen room's palette. Objects: the kinds whose probability exceeds
    ``threshold`` in at least ``min_frames`` frames (a one-frame blip is ignored). Ties go to the
    lower index. Returns ``{"room": int, "wall": int, "room_name": str, "wall_name": str,
    "objects": sorted list of kind names}``. Raises ``ValueError`` for an empty sequence.
    """
    if len(pred["room"]) == 0:
        raise ValueError("judge_sequence needs at least one frame")

    def votes(key: str, n: int) -> np.ndarray:
        probs = pred.get(f"{key}_probs")
        if probs is None:
            return np.bincount(pred[key], minlength=n).astype(np.float64)
        return np.log(np.asarray(probs, np.float64) + 1e-4).mean(0)

    room = int(votes("room", len(ROOM_TYPES)).argmax())
    wall = int(np.where(_WALL_ROOM.numpy() == room, votes("wall", len(WALL_COLOURS)), -np.inf).argmax())
    hits = (np.asarray(pred["objects"]) > threshold).sum(0)
    return {"room": room, "wall": wall, "room_name": ROOM_TYPES[room], "wall_name": WALL_COLOURS[wall],
            "objects": sorted(k for k, n in zip(OBJECT_KINDS, hits) if n >= min_frames)}


def score_against_scene(seq_pred: dict, scene: Scene) -> dict:
    """Compare a :func:`judge_sequence` result with what ``scene`` (the prompt's room) holds.

    The truth is the scene's room type, wall colour and the set of kinds its caption names.
    Returns ``{"room_ok": bool, "wall_ok": bool, "object_recall", "object_precision",
    "object_f1": float in [0, 1], "score": mean of room_ok, wall_ok and object_f1}``.
    Precision is 1 when nothing is detected and recall is 1 when the scene has no objects.
    """
    truth = {o.kind for o in scene.objects if o.kind in OBJECT_KINDS}
    found = set(seq_pred["objects"])
    hit = len(truth & found)
    recall = hit / len(truth) if truth else 1.0
    precision = hit / len(found) if found else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    room_ok = ROOM_TYPES[int(seq_pred["room"])] == scene.room_type
    wall_ok = WALL_COLOURS[int(seq_pred["wall"])] == scene.wall_color_name
    return {"room_ok": room_ok, "wall_ok": wall_ok, "object_recall": recall, "object_precision": precision,
            "object_f1": f1, "score": (room_ok + wall_ok + f1) / 3}


def turn_in_place(world: ReferenceWorld, scene: Scene, ticks: int = 32) -> tuple[np.ndarray, list]:
    """A 360° turn from ``scene``'s start pose: uint8 frames ``(ticks, H, W, 3)`` and the view
    labels of each frame (:func:`engine.world.labels.view_labels`)."""
    world.reset(scene)
    frames, labels = [], []
    for _ in range(ticks):
        frames.append(world.step(np.array([0, 0, 2 * np.pi / ticks, 0], np.float32), WorldState()))
        labels.append(view_labels(world.renderer.render_labels(world.pose, WorldState()), scene))
    return np.stack(frames), labels


def judge_accuracy_on_real(judge: Judge, n_scenes: int, seed: int, resolution: int = RESOLUTION) -> dict:
    """The judge on real frames: 360° turns (32 ticks) in ``n_scenes`` held-out scenes,
    rendered at ``resolution`` (the world model's).

    Returns means over scenes of ``room_ok``, ``wall_ok``, ``object_f1`` and ``score`` (the
    :func:`score_against_scene` fields), ``oracle_object_f1`` (the same aggregation run on the
    true per-frame labels: the ceiling set by what a turn shows), and per-frame
    ``frame_room_acc``, ``frame_wall_acc``, ``frame_object_acc`` (per kind and frame) and
    ``frame_object_f1``.
    """
    rng = np.random.default_rng(seed)
    world = ReferenceWorld(resolution)
    rows = []
    try:
        for i in range(n_scenes):
            scene = make_scene(ROOM_TYPES[i % len(ROOM_TYPES)],
                               int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)))
            frames, truth = turn_in_place(world, scene)
            pred = judge.predict(frames)
            oracle = {"room": np.full(len(truth), ROOM_TYPES.index(scene.room_type)),
                      "wall": np.full(len(truth), WALL_COLOURS.index(scene.wall_color_name)),
                      "objects": np.stack([t["objects"] for t in truth])}
            det, obj = pred["objects"] > 0.5, oracle["objects"] > 0.5
            tp, fp, fn = (det & obj).sum(), (det & ~obj).sum(), (~det & obj).sum()
            score = score_against_scene(judge_sequence(pred), scene)
            rows.append({k: score[k] for k in ("room_ok", "wall_ok", "object_f1", "score")} | {
                "oracle_object_f1": score_against_scene(judge_sequence(oracle), scene)["object_f1"],
                "frame_room_acc": np.mean(pred["room"] == oracle["room"]),
                "frame_wall_acc": np.mean(pred["wall"] == oracle["wall"]),
                "frame_object_acc": np.mean(det == obj), "frame_object_f1": 2 * tp / max(1, 2 * tp + fp + fn)})
    finally:
        world.renderer.release()
    return {k: float(np.mean([r[k] for r in rows])) for k in (rows[0] if rows else ())} | {"n_scenes": n_scenes}
