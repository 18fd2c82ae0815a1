"""On-disk dataset format ``ved-dataset/2``: writer and reader (``ved-dataset/1`` still reads).

A dataset is a folder::

    DIR/manifest.json            format, resolution, tick rate, field layouts, episode list
    DIR/episodes/ep_000123.npz   arrays of one episode (numpy .npz, uncompressed)
    DIR/episodes/ep_000123.json  caption, scene parameters and events of that episode

Arrays in an episode ``.npz`` (``T`` ticks; row ``t`` is tick ``t``):

==========  ==============  =========  ==================================================
name        shape           dtype      meaning
==========  ==============  =========  ==================================================
frames      (T, H, W, 3)    uint8      RGB frame seen at tick t
actions     (T, 4)          float32    action applied *before* frame t (row 0 is zeros);
                                       see :mod:`engine.actions`
states      (T, 4)          float32    world state at tick t; see :mod:`engine.world.state`
poses       (T, 4)          float32    camera ``(x, z, yaw, pitch)``, metres and radians
people      (T, 4, 4)       float32    the avatar and the other participants' seats 0-2:
                                       ``(present, x, z, yaw)`` each (new in version 2;
                                       zeros when read from version 1)
==========  ==============  =========  ==================================================

Held-out (evaluation) episodes also carry what each frame really shows, from the label pass
(:mod:`engine.world.labels`): ``objects`` ``(T, K)``, ``person`` ``(T,)`` and ``persons``
``(T, PERSON_BINS)``, float32.

The episode ``.json`` holds ``caption`` (str), ``scene`` (scene parameters, the bleed site
included), ``events``
(list of ``{"tick": t, "event": name}``; the event takes effect from frame ``t``),
``revisits`` (how many times the policy returned to an earlier pose) and ``length``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..actions import ACTION_NAMES, TICK_HZ
from ..world.state import STATE_NAMES

FORMAT = "ved-dataset/2"
READABLE_FORMATS = ("ved-dataset/1", FORMAT)
LABEL_KEYS = ("objects", "person", "persons")


class DatasetError(ValueError):
    """A folder that is not a readable ``ved-dataset/1`` dataset."""


@dataclass
class Episode:
    """One episode in memory. Array shapes as in the module docstring; ``labels`` holds the
    per-frame view labels of held-out episodes (None otherwise)."""

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    poses: np.ndarray
    meta: dict
    people: np.ndarray | None = None
    labels: dict | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def world_state(self, t: int):
        """The :class:`~engine.world.state.WorldState` at tick ``t``: the state vector plus
        where the avatar and the other participants stand."""
        from ..world.state import WorldState

        state = WorldState.from_vector(self.states[t])
        if self.people is None:
            return state
        p = self.people[t]
        others = [(seat, float(p[1 + seat, 1]), float(p[1 + seat, 2]), float(p[1 + seat, 3]))
                  for seat in range(len(p) - 1) if p[1 + seat, 0] > 0]
        return replace(state, avatar_pose=(float(p[0, 1]), float(p[0, 2]), float(p[0, 3]))).with_others(others)

    def entity_tables(self) -> np.ndarray:
        """float32 ``(T, N_SLOTS, TABLE_DIM)``: the entities of every tick
        (:func:`engine.world.entities.table_from_people`)."""
        from ..world.entities import table_from_people

        scene = self.meta.get("scene", {})
        people = self.people if self.people is not None else np.zeros((len(self), 4, 4), np.float32)
        return table_from_people(people, self.states[:, 3], scene.get("bleed_site", (0.0, 0.0, 0.0)),
                                 float(scene.get("bleed_radius", 0.0)) if "bleed_site" in scene else 0.0,
                                 scene.get("avatar_colors"))


class DatasetWriter:
    """Writes episodes into ``root`` (created; must be empty or absent)."""

    def __init__(self, root: str | Path, *, resolution: int, seed: int | None = None, extra: dict | None = None):
        self.root = Path(root)
        if self.root.exists() and any(self.root.iterdir()):
            raise DatasetError(f"{self.root} is not empty; choose a new --out folder or delete this one")
        (self.root / "episodes").mkdir(parents=True, exist_ok=True)
        self.names: list[str] = []
        self.manifest = {"format": FORMAT, "resolution": int(resolution), "tick_hz": TICK_HZ,
                         "action_names": list(ACTION_NAMES), "state_names": list(STATE_NAMES),
                         "seed": seed, **(extra or {})}

    def add(self, ep: Episode) -> str:
        name = f"ep_{len(self.names):06d}"
        base = self.root / "episodes" / name
        people = ep.people if ep.people is not None else np.zeros((len(ep), 4, 4), np.float32)
        labels = {k: np.asarray(v, np.float32) for k, v in (ep.labels or {}).items()}
        np.savez(base.with_suffix(".npz"), frames=ep.frames.astype(np.uint8), actions=ep.actions.astype(np.float32),
                 states=ep.states.astype(np.float32), poses=ep.poses.astype(np.float32),
                 people=people.astype(np.float32), **labels)
        base.with_suffix(".json").write_text(json.dumps({**ep.meta, "length": len(ep)}, indent=1))
        self.names.append(name)
        return name

    def close(self) -> Path:
        """Write the manifest (the dataset is readable only after this)."""
        manifest = {**self.manifest, "episodes": self.names}
        (self.root / "manifest.json").write_text(json.dumps(manifest, indent=1))
        return self.root


class Dataset:
    """Reads a ``ved-dataset/1`` folder. ``len(ds)`` episodes; ``ds[i]`` an :class:`Episode`.

    Raises :class:`DatasetError` (naming the folder and the fix) if the folder has no
    manifest, another format version, or a missing/corrupt episode file.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.is_file():
            raise DatasetError(f"{self.root} has no manifest.json; create a dataset with 'ved data generate --out {self.root}'")
        try:
            self.manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{mpath} is not valid JSON ({exc.msg}); regenerate the dataset") from None
        if self.manifest.get("format") not in READABLE_FORMATS:
            raise DatasetError(f"{mpath}: format {self.manifest.get('format')!r} is not supported "
                               f"(supported: {', '.join(READABLE_FORMATS)}); regenerate the dataset")
        self.names: list[str] = list(self.manifest["episodes"])

    @property
    def resolution(self) -> int:
        return int(self.manifest["resolution"])

    def __len__(self) -> int:
        return len(self.names)

    def meta(self, i: int) -> dict:
        return json.loads((self.root / "episodes" / f"{self.names[i]}.json").read_text())

    def __getitem__(self, i: int) -> Episode:
        path = self.root / "episodes" / f"{self.names[i]}.npz"
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in ("frames", "actions", "states", "poses")}
                people = z["people"] if "people" in z.files else None
                labels = {k: z[k] for k in LABEL_KEYS if k in z.files} or None
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable episode ({exc}); regenerate the dataset") from None
        return Episode(**arrays, meta=self.meta(i), people=people, labels=labels)
