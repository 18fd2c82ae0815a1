"""Prompt-fidelity judge: a small CNN that reads room type, wall colour and objects off a frame.

The judge is trained on reference-world frames whose labels come from the scene graph and the
camera pose (:func:`frame_labels`). Given the frames of one generated view sequence (e.g. a
360° turn) it says which room, wall colour and objects they show (:func:`judge_sequence`), and
:func:`score_against_scene` compares that with the scene the prompt described. Its own accuracy
on held-out reference-world scenes (:func:`judge_accuracy_on_real`) is the ceiling that a
world model's score should be read against.
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
from ..world.motion import wrap_angle
from ..world.scene import _HIDDEN_KINDS, _NOUNS, _WALLS, ROOM_TYPES, Scene, make_scene
from ..world.state import WorldState

#: Every wall colour name, room by room in palette order; labels index into this.
WALL_COLOURS: tuple[str, ...] = tuple(name for rt in ROOM_TYPES for name, _ in _WALLS[rt])
#: Object kinds a caption can name (furniture minus doors, beacons and baseboards).
OBJECT_KINDS: tuple[str, ...] = tuple(k for k in dict.fromkeys([*_NOUNS, "whiteboard"]) if k not in _HIDDEN_KINDS)
assert len(set(WALL_COLOURS)) == len(WALL_COLOURS), "wall colour names must be unique across rooms"
#: Horizontal field of view (radians; = the renderer's vertical fov for square frames), the
#: margin added on each side, and the farthest distance (metres) at which an object counts.
FOV, FOV_MARGIN, MAX_DIST = float(np.radians(75)), 0.05, 6.0  # FOV: Renderer's default fov
RESOLUTION = 64
#: Part of the cache file name: bump it when the architecture or the training recipe changes.
VERSION = "judge/1"
#: Sizes of the cached default judge (:func:`load_or_train_judge`): many scenes with few frames
#: each generalise better to unseen scenes than few scenes seen from many poses.
DEFAULT_TRAINING = {"n_scenes": 1600, "frames_per_scene": 4, "steps": 1500, "batch": 64}
_WALL_ROOM = torch.tensor([ROOM_TYPES.index(rt) for rt in ROOM_TYPES for _ in _WALLS[rt]])


def frame_labels(scene: Scene, pose) -> dict:
    """Labels of the view from ``pose = (x, z, yaw, pitch)`` (metres, radians) in ``scene``.

    Returns ``{"room": int, "wall": int, "objects": float32 (len(OBJECT_KINDS),)}``: indices
    into :data:`ROOM_TYPES` and :data:`WALL_COLOURS`, and a multi-hot of the kinds with at
    least one object whose centre (mean of its parts' centres) lies within ``MAX_DIST`` of the
    camera and within ``±(FOV/2 + FOV_MARGIN)`` of its heading. Occlusion and pitch are ignored.
    """
    x, z, yaw = float(pose[0]), float(pose[1]), float(pose[2])
    objects = np.zeros(len(OBJECT_KINDS), np.float32)
    for o in scene.objects:
        if o.kind not in OBJECT_KINDS or not o.parts:
            continue
        cx, _, cz = np.mean([p.center for p in o.parts], axis=0)
        dx, dz = cx - x, cz - z
        bearing = np.arctan2(-dx, -dz)  # the yaw that looks straight at the object
        if np.hypot(dx, dz) <= MAX_DIST and abs(wrap_angle(bearing - yaw)) <= FOV / 2 + FOV_MARGIN:
            objects[OBJECT_KINDS.index(o.kind)] = 1.0
    return {"room": ROOM_TYPES.index(scene.room_type), "wall": WALL_COLOURS.index(scene.wall_color_name),
            "objects": objects}


def _random_pose(scene: Scene, rng: np.random.Generator) -> tuple[float, float, float, float]:
    for _ in range(100):
        x = rng.uniform(-scene.width / 2 + 0.4, scene.width / 2 - 0.4)
        z = rng.uniform(-scene.depth / 2 + 0.4, scene.depth / 2 - 0.4)
        if scene.is_free(x, z, margin=0.35):
            break
    else:
        x, z = scene.start_pose[:2]
    return float(x), float(z), float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-0.3, 0.3))


def _random_state(rng: np.random.Generator, pose) -> WorldState:
    state = WorldState()
    if rng.random() < 0.3:
        state = replace(state, light=float(rng.uniform(0.5, 1.0)))
    if rng.random() < 0.1:
        state = replace(state, alarm=True)
    if rng.random() < 0.2:  # about two metres ahead, somewhere in or near the view
        state = state.apply("avatar_enter", viewer_pose=(pose[0], pose[1], pose[2] + rng.uniform(-0.6, 0.6)))
    if rng.random() < 0.1:
        state = replace(state, bleeding=float(rng.uniform(0.2, 1.0)))
    return state


def make_judge_data(n_scenes: int, frames_per_scene: int, seed: int, resolution: int = RESOLUTION,
                    *, held_out: bool = False, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Render ``n_scenes * frames_per_scene`` labelled frames from random scenes.

    Scenes cycle through the room types with random seeds below ``HELD_OUT_SEED_BASE``
    (``held_out=True``: at or above it, for measuring the judge). Each frame has a random free
    pose (any yaw, pitch in ±0.3 rad) and a random world state (dimmed light, alarm, avatar,
    blood). Returns ``(frames, labels)``: frames uint8 ``(N, resolution, resolution, 3)``, labels
    ``{"room": int64 (N,), "wall": int64 (N,), "objects": float32 (N, K)}``. Raises
    ``RuntimeError`` when no headless OpenGL (EGL) is available.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    world = ReferenceWorld(resolution)
    frames, labels = [], []
    try:
        for i in tqdm(range(n_scenes), desc="judge data", unit="scene", disable=not progress):
            lo = HELD_OUT_SEED_BASE if held_out else 0
            scene = make_scene(ROOM_TYPES[i % len(ROOM_TYPES)], int(rng.integers(lo, lo + HELD_OUT_SEED_BASE)))
            for _ in range(frames_per_scene):
                pose = _random_pose(scene, rng)
                frames.append(world.reset(scene, state=_random_state(rng, pose), pose=pose))
                labels.append(frame_labels(scene, pose))
    finally:
        world.renderer.release()
    out = np.zeros((0, resolution, resolution, 3), np.uint8) if not frames else np.stack(frames)
    return out, {"room": np.array([lb["room"] for lb in labels], np.int64),
                 "wall": np.array([lb["wall"] for lb in labels], np.int64),
                 "objects": np.array([lb["objects"] for lb in labels], np.float32).reshape(-1, len(OBJECT_KINDS))}


def _block(cin: int, cout: int, double: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if double:
        layers += [nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers


class Judge(nn.Module):
    """CNN (~145k float32 parameters) on 64×64 RGB with room, wall and object heads.

    ``forward`` takes float ``(N, 3, 64, 64)`` in [0, 1] and returns logits
    ``(room (N, 3), wall (N, len(WALL_COLOURS)), objects (N, len(OBJECT_KINDS)))``.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(nn.Conv2d(3, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                                      *_block(w, 2 * w), *_block(2 * w, 4 * w), *_block(4 * w, 8 * w, False))
        self.room = nn.Linear(16 * w, len(ROOM_TYPES))
        self.wall = nn.Linear(16 * w, len(WALL_COLOURS))
        self.objects = nn.Linear(16 * w, len(OBJECT_KINDS))

    def forward(self, x: torch.Tensor):
        h = self.features(x - 0.5)
        h = torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)
        return self.room(h), self.wall(h), self.objects(h)

    def predict(self, frames: np.ndarray, batch: int = 256) -> dict:
        """Judge uint8 frames ``(N, H, W, 3)`` (resized to 64×64 if needed).

        Returns ``{"room": int64 (N,), "wall": int64 (N,), "objects": float32 (N, K),
        "room_probs": float32 (N, 3), "wall_probs": float32 (N, len(WALL_COLOURS))}``: room and
        wall indices (the wall is the likeliest colour of the predicted room's palette), per-kind
        probabilities in :data:`OBJECT_KINDS` order, and the class probabilities. Raises
        ``ValueError`` for another dtype or shape.
        """
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
        self.eval()
        out = {"room": [], "wall": [], "objects": [], "room_probs": [], "wall_probs": []}
        with torch.inference_mode():
            for i in range(0, max(len(frames), 1), batch):  # an empty input still gives (0, ...) arrays
                x = torch.from_numpy(frames[i:i + batch]).permute(0, 3, 1, 2).float() / 255
                if x.shape[-2:] != (RESOLUTION, RESOLUTION):
                    x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="area")
                r, w, o = self(x.contiguous(memory_format=torch.channels_last))
                room = r.argmax(1)
                out["room"].append(room)
                out["wall"].append(w.masked_fill(_WALL_ROOM[None, :] != room[:, None], float("-inf")).argmax(1))
                out["objects"].append(torch.sigmoid(o))
                out["room_probs"].append(r.softmax(1))
                out["wall_probs"].append(w.softmax(1))
        return {key: torch.cat(v).numpy() for key, v in out.items()}


def train_judge(frames: np.ndarray, labels: dict, steps: int, batch: int, seed: int, progress: bool = False) -> Judge:
    """Train a :class:`Judge` on ``make_judge_data`` output for ``steps`` AdamW steps.

    Loss: cross-entropy (room, wall) + binary cross-entropy (objects); augmentation: brightness
    ×0.75..1.25 and horizontal flips (labels are mirror-symmetric). The returned judge is in
    eval mode; ``judge.losses`` lists the training loss per step.
    """
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # uint8 (N, 3, H, W)
    room, wall = torch.from_numpy(labels["room"]), torch.from_numpy(labels["wall"])
    objects = torch.from_numpy(labels["objects"])
    judge = Judge().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(judge.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(1, steps), pct_start=0.15)
    judge.train()
    judge.losses = []
    for _ in tqdm(range(steps), desc="judge", unit="step", disable=not progress):
        idx = torch.randint(0, len(x_all), (batch,), generator=gen)
        x = x_all[idx].float() / 255 * (0.75 + 0.5 * torch.rand(batch, 1, 1, 1, generator=gen))
        flip = torch.rand(batch, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x).clamp(0, 1)
        r, w, o = judge(x.contiguous(memory_format=torch.channels_last))
        loss = (F.cross_entropy(r, room[idx]) + F.cross_entropy(w, wall[idx])
                + F.binary_cross_entropy_with_logits(o, objects[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        judge.losses.append(loss.item())
    return judge.eval()


def _config(seed: int, training: dict | None = None) -> dict:
    return {"version": VERSION, "seed": seed, "resolution": RESOLUTION, **(training or DEFAULT_TRAINING),
            "rooms": ROOM_TYPES, "walls": WALL_COLOURS, "objects": OBJECT_KINDS}


def load_or_train_judge(cache_dir: Path, *, seed: int = 0, progress: bool = True, log=print,
                        training: dict | None = None) -> Judge:
    """The default judge: loaded from ``cache_dir``, or trained and cached (about 80 s on two
    idle CPU cores; much longer when other processes share them). ``training`` replaces
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


def judge_sequence(pred: dict, min_frames: int = 2, threshold: float = 0.3) -> dict:
    """Aggregate :meth:`Judge.predict` output over the frames of ONE view sequence.

    Room: the highest mean log-probability over frames (``room_probs``; a soft vote in which
    confident frames that show furniture outweigh unsure close-ups of a bare wall); without
    ``room_probs``, the majority of ``room``. Wall: the same over ``wall_probs`` / ``wall``,
    restricted to the chosen room's palette. Objects: the kinds whose probability exceeds ``threshold`` in at least
    ``min_frames`` frames (a one-frame blip is ignored; 0.3 rather than 0.5 because the judge
    is trained on labels that ignore occlusion, so its probabilities run low). Ties go to the
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
    """A 360° turn from ``scene``'s start pose: uint8 frames ``(ticks, H, W, 3)`` and poses."""
    world.reset(scene)
    frames, poses = [], []
    for _ in range(ticks):
        frames.append(world.step(np.array([0, 0, 2 * np.pi / ticks, 0], np.float32), WorldState()))
        poses.append(world.pose)
    return np.stack(frames), poses


def judge_accuracy_on_real(judge: Judge, n_scenes: int, seed: int) -> dict:
    """The judge on real frames: 360° turns (32 ticks) in ``n_scenes`` held-out scenes.

    Returns means over scenes of ``room_ok``, ``wall_ok``, ``object_f1`` and ``score`` (the
    :func:`score_against_scene` fields), ``oracle_object_f1`` (the same aggregation run on the
    true per-frame labels: the ceiling set by ``MAX_DIST``), and per-frame ``frame_room_acc``,
    ``frame_wall_acc``, ``frame_object_acc`` (per kind and frame) and ``frame_object_f1``.
    """
    rng = np.random.default_rng(seed)
    world = ReferenceWorld(RESOLUTION)
    rows = []
    try:
        for i in range(n_scenes):
            scene = make_scene(ROOM_TYPES[i % len(ROOM_TYPES)],
                               int(rng.integers(HELD_OUT_SEED_BASE, 2 * HELD_OUT_SEED_BASE)))
            frames, poses = turn_in_place(world, scene)
            pred = judge.predict(frames)
            truth = [frame_labels(scene, p) for p in poses]
            oracle = {"room": np.array([t["room"] for t in truth]), "wall": np.array([t["wall"] for t in truth]),
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
