"""What a view really shows, read off the renderer's instance-label pass.

The label vocabularies (room types, wall colours, object kinds) and the per-view labels the
evaluation scores against: which object kinds are visible (occlusion included, at least
:data:`MIN_SHARE` of the frame), whether a person is visible, and in which of
:data:`PERSON_BINS` vertical bands of the image.
"""

from __future__ import annotations

import numpy as np

from .renderer import AVATAR_ID, SEAT_ID0
from .scene import _HIDDEN_KINDS, _NOUNS, _WALLS, ROOM_TYPES, Scene
from .state import MAX_OTHERS

#: Every wall colour name, room by room in palette order; labels index into this.
WALL_COLOURS: tuple[str, ...] = tuple(name for rt in ROOM_TYPES for name, _ in _WALLS[rt])
#: Object kinds a caption can name (furniture minus doors, beacons and baseboards).
OBJECT_KINDS: tuple[str, ...] = tuple(k for k in dict.fromkeys([*_NOUNS, "whiteboard"]) if k not in _HIDDEN_KINDS)
assert len(set(WALL_COLOURS)) == len(WALL_COLOURS), "wall colour names must be unique across rooms"
#: A thing counts as in view when it covers at least this share of the frame's pixels
#: (1 %: 164 pixels at 128×128, about a 13×13 patch; a sliver at the frame's edge or a
#: speck across the room is not something a trainee is expected to recognise).
MIN_SHARE = 0.01
#: Vertical bands of the image in which a person's position is told.
PERSON_BINS = 8
#: A band shows a person when the person's pixels in it reach this share of the frame.
BIN_SHARE = 0.004
PERSON_IDS: tuple[int, ...] = (AVATAR_ID, *(SEAT_ID0 + s for s in range(MAX_OTHERS)))


def view_labels(ids: np.ndarray, scene: Scene) -> dict:
    """Labels of one view from its label pass ``ids`` int ``(H, W)``
    (:meth:`~engine.world.renderer.Renderer.render_labels`) in ``scene``.

    Returns ``{"objects": float32 (len(OBJECT_KINDS),), "person": float32 0/1, "persons":
    float32 (PERSON_BINS,)}``: a multi-hot of the object kinds with at least
    :data:`MIN_SHARE` of the pixels, whether people cover that share, and the bands (left to
    right) in which they cover :data:`BIN_SHARE`.
    """
    ids = np.asarray(ids)
    h, w = ids.shape
    n = h * w
    counts = np.bincount(ids.ravel(), minlength=max(PERSON_IDS) + 1)
    objects = np.zeros(len(OBJECT_KINDS), np.float32)
    per_kind: dict[str, int] = {}
    for i, obj in enumerate(scene.objects):
        if obj.kind in OBJECT_KINDS and 1 + i < len(counts):
            per_kind[obj.kind] = per_kind.get(obj.kind, 0) + int(counts[1 + i])
    for kind, c in per_kind.items():
        if c >= MIN_SHARE * n:
            objects[OBJECT_KINDS.index(kind)] = 1.0
    mask = np.isin(ids, PERSON_IDS)
    person = float(mask.sum() >= MIN_SHARE * n)
    cols = mask.sum(0)
    bands = np.array_split(np.arange(w), PERSON_BINS)
    persons = np.array([cols[b].sum() >= BIN_SHARE * n for b in bands], np.float32) * person
    return {"objects": objects, "person": np.float32(person), "persons": persons}


def stack_labels(rows: list[dict]) -> dict:
    """A list of :func:`view_labels` results as arrays ``(N, ...)``."""
    return {k: np.stack([r[k] for r in rows]).astype(np.float32) for k in ("objects", "person", "persons")}
