"""On-disk dataset format ``ved-dataset/1``: writer and reader.

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
==========  ==============  =========  ==================================================

The episode ``.json`` holds ``caption`` (str), ``scene`` (scene parameters), ``events``
(list of ``{"tick": t, "event": name}``; the event takes effect from frame ``t``),
``revisits`` (how many times the policy returned to an earlier pose) and ``length``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..actions import ACTION_NAMES, TICK_HZ
from ..world.state import STATE_NAMES

FORMAT = "ved-dataset/1"


class DatasetError(ValueError):
    """A folder that is not a readable ``ved-dataset/1`` dataset."""


@dataclass
class Episode:
    """One episode in memory. Array shapes as in the module docstring."""

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    poses: np.ndarray
    meta: dict

    def __len__(self) -> int:
        return len(self.frames)


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
        np.savez(base.with_suffix(".npz"), frames=ep.frames.astype(np.uint8), actions=ep.actions.astype(np.float32),
                 states=ep.states.astype(np.float32), poses=ep.poses.astype(np.float32))
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
        if self.manifest.get("format") != FORMAT:
            raise DatasetError(f"{mpath}: format {self.manifest.get('format')!r} is not supported (supported: {FORMAT})")
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
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable episode ({exc}); regenerate the dataset") from None
        return Episode(**arrays, meta=self.meta(i))
