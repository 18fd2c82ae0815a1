"""The movable things in a room, and where they appear in a viewer's camera.

An *entity table* lists, in fixed slots, what the world state places in the room:

====  ===========  ==========================================================
slot  name         what
====  ===========  ==========================================================
0     ``avatar``   the game master's avatar (while ``state.avatar``)
1-3   ``seat0-2``  the other participants (``state.others``), one slot per seat
4     ``blood``    the blood pool (while ``state.bleeding > 0`` and the site is known)
====  ===========  ==========================================================

Each row is ``(present, x, y, z, yaw, size, colours...)``: world coordinates in metres (y
up), facing in radians (0 faces +z), the size in metres (a person's height; the pool's
radius), and three RGB colours in 0..1 (a person's skin, shirt and trousers; the pool's
colour three times).

:func:`project_entities` turns a table into what a world model can use for the view from a
camera pose: per slot, how much of each cell of a ``grid × grid`` partition of the image the
entity's projected bounding box covers, and a few features (projected centre and extent,
inverse depth, facing relative to the viewer). This is the pinhole projection of the
reference world's camera (:class:`~engine.world.renderer.Renderer`: 75° field of view, eye
height 1.6 m), the same idea as the camera-ray and layout maps that camera-controlled video
models are conditioned on (e.g. CameraCtrl, He et al. 2024; GLIGEN's boxes, Li et al. 2023).
"""

from __future__ import annotations

import numpy as np

from .scene import SEAT_COLORS, Scene
from .state import MAX_OTHERS, WorldState

SLOTS: tuple[str, ...] = ("avatar", *(f"seat{i}" for i in range(MAX_OTHERS)), "blood")
N_SLOTS = len(SLOTS)
BLOOD_SLOT = N_SLOTS - 1
#: Columns of an entity table row.
TABLE_DIM = 15
#: Features per slot from :func:`project_entities` (``colours=False``: the first 9).
FEATURE_DIM = 18
GEOMETRY_DIM = 9
#: The avatar's colours when the scene does not say (the renderer's default humanoid).
DEFAULT_AVATAR_COLORS = ((0.9, 0.75, 0.6), (0.3, 0.3, 0.6), (0.2, 0.2, 0.2))
BLOOD_COLOR = (0.45, 0.02, 0.03)


def slot_colours(scene: Scene | None = None) -> np.ndarray:
    """float32 ``(N_SLOTS, 9)``: each slot's three colours (skin, shirt, trousers; the pool's
    colour thrice), the avatar's from ``scene`` when given."""
    avatar = (scene.avatar_colors if scene is not None and scene.avatar_colors else DEFAULT_AVATAR_COLORS)
    rows = [np.ravel(avatar)] + [np.ravel([skin, shirt, trousers]) for shirt, trousers, skin in SEAT_COLORS]
    rows.append(np.ravel([BLOOD_COLOR] * 3))
    return np.asarray(rows, np.float32)
PERSON_HEIGHT = 1.75  # metres (the humanoid of engine.world.scene)
PERSON_HALF_WIDTH = 0.28  # metres, arms included
EYE_HEIGHT = 1.6  # metres: Renderer.EYE_HEIGHT
FOV = float(np.radians(75))  # Renderer's default vertical (= horizontal) field of view
_NEAR = 0.15  # metres: nearer than this an entity is not projected


def entity_table(state: WorldState, scene: Scene | None = None) -> np.ndarray:
    """float32 ``(N_SLOTS, TABLE_DIM)``: the entities ``state`` places in ``scene`` (see the
    module docstring). Without a scene the blood pool's site is unknown and its slot is empty,
    and the avatar has the renderer's default colours."""
    t = np.zeros((N_SLOTS, TABLE_DIM), np.float32)
    if state.avatar:
        x, z, yaw = state.avatar_pose
        t[0, :6] = (1.0, x, 0.0, z, yaw, PERSON_HEIGHT)
    for seat, x, z, yaw in state.others:
        t[1 + seat, :6] = (1.0, x, 0.0, z, yaw, PERSON_HEIGHT)
    if state.bleeding > 0 and scene is not None:
        bx, by, bz = scene.bleed_site
        t[BLOOD_SLOT, :6] = (1.0, bx, by, bz, 0.0, scene.bleed_radius * float(state.bleeding))
    t[:, 6:] = slot_colours(scene) * t[:, :1]
    return t


def people_array(state: WorldState) -> np.ndarray:
    """float32 ``(1 + MAX_OTHERS, 4)``: ``(present, x, z, yaw)`` of the avatar and each seat,
    as a dataset stores them per tick."""
    t = entity_table(state)
    return t[:1 + MAX_OTHERS][:, [0, 1, 3, 4]].copy()


def table_from_people(people: np.ndarray, bleeding: np.ndarray, bleed_site, bleed_radius: float,
                      avatar_colors=None) -> np.ndarray:
    """Entity tables ``(..., N_SLOTS, TABLE_DIM)`` from a dataset's ``people`` ``(..., 4, 4)``
    and bleeding level ``(...,)`` plus the scene's bleed site ``(x, y, z)`` and radius (m) and
    the avatar's three colours (None: the renderer's default)."""
    people = np.asarray(people, np.float32)
    bleeding = np.asarray(bleeding, np.float32)
    t = np.zeros(people.shape[:-2] + (N_SLOTS, TABLE_DIM), np.float32)
    t[..., :1 + MAX_OTHERS, 0] = people[..., 0]
    t[..., :1 + MAX_OTHERS, 1] = people[..., 1]
    t[..., :1 + MAX_OTHERS, 3] = people[..., 2]
    t[..., :1 + MAX_OTHERS, 4] = people[..., 3]
    t[..., :1 + MAX_OTHERS, 5] = PERSON_HEIGHT * (people[..., 0] > 0)
    on = bleeding > 0
    t[..., BLOOD_SLOT, 0] = on
    t[..., BLOOD_SLOT, 1:4] = np.where(on[..., None], np.asarray(bleed_site, np.float32), 0.0)
    t[..., BLOOD_SLOT, 5] = bleed_radius * bleeding * on
    colours = slot_colours()
    if avatar_colors is not None and len(avatar_colors):
        colours[0] = np.ravel(avatar_colors)
    t[..., 6:] = colours * t[..., :1]
    return t


def _camera(pose):
    """Right, up, forward unit vectors ``(..., 3)`` and the eye ``(..., 3)`` for poses ``(..., 4)``."""
    x, z, yaw, pitch = (pose[..., i] for i in range(4))
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    zero = np.zeros_like(cy)
    right = np.stack([cy, zero, -sy], -1)
    fwd = np.stack([-sy * cp, sp, -cy * cp], -1)
    up = np.cross(right, fwd)
    eye = np.stack([x, np.full_like(x, EYE_HEIGHT), z], -1)
    return right, up, fwd, eye


def project_entities(table: np.ndarray, pose: np.ndarray, grid: int = 4,
                     colours: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Project entity tables into cameras.

    ``table`` float32 ``(..., N_SLOTS, TABLE_DIM)``; ``pose`` float32 ``(..., 4)`` = the
    viewer's ``(x, z, yaw, pitch)`` in metres and radians, in the same world coordinates.
    Returns ``(coverage, features)``:

    * ``coverage`` float32 ``(..., N_SLOTS, grid * grid)``: the share of each image cell (row
      major, top row first) covered by the entity's projected bounding box, 0..1;
    * ``features`` float32 ``(..., N_SLOTS, FEATURE_DIM)``: present (in front of the camera),
      projected centre ``u, v`` and half extents (image half-widths, right and up positive,
      clipped to ±4), inverse depth (1/m, clipped to 4), sin and cos of the entity's facing
      relative to the viewer's, whether the centre lies inside the image, and the entity's
      nine colour values (left out with ``colours=False``: ``GEOMETRY_DIM`` features).

    Slots that are absent or behind the camera are all zeros.
    """
    table = np.asarray(table, np.float32)
    pose = np.asarray(pose, np.float32)[..., None, :]  # broadcast over slots
    right, up, fwd, eye = _camera(pose)
    present = table[..., 0] > 0
    centre = table[..., 1:4]
    size = table[..., 5]
    person = np.ones_like(size, dtype=bool)
    person[..., BLOOD_SLOT] = False
    # Sample points of each entity's extent: a person is a vertical box, the pool a disc.
    h = np.where(person, size, 0.0)
    half = np.where(person, PERSON_HALF_WIDTH, size)
    offsets = []
    for dx, dy, dz in ((-1, 0, -1), (1, 0, -1), (-1, 0, 1), (1, 0, 1), (-1, 1, -1), (1, 1, -1), (-1, 1, 1), (1, 1, 1)):
        offsets.append(np.stack([dx * half, dy * h, dz * half], -1))
    pts = centre[..., None, :] + np.stack(offsets, -2)  # (..., S, 8, 3)
    v = pts - eye[..., None, :]
    xc = np.einsum("...kd,...d->...k", v, right)
    yc = np.einsum("...kd,...d->...k", v, up)
    zc = np.einsum("...kd,...d->...k", v, fwd)
    f = 1.0 / np.tan(FOV / 2)
    front = zc > _NEAR
    zs = np.maximum(zc, _NEAR)
    u, w = f * xc / zs, f * yc / zs
    big = 1e3
    u0 = np.where(front, u, big).min(-1)
    u1 = np.where(front, u, -big).max(-1)
    w0 = np.where(front, w, big).min(-1)
    w1 = np.where(front, w, -big).max(-1)
    # The centre of the entity (a person's chest, the pool's middle) decides "in front".
    cv = centre + np.stack([np.zeros_like(h), 0.6 * h, np.zeros_like(h)], -1) - eye
    cz = np.einsum("...d,...d->...", cv, fwd)
    visible = present & (cz > _NEAR) & front.any(-1)
    u0, u1, w0, w1 = (np.clip(a, -4, 4) for a in (u0, u1, w0, w1))
    # Coverage of the grid cells (image spans [-1, 1]; rows from the top, w = +1).
    edges = np.linspace(-1, 1, grid + 1, dtype=np.float32)
    cu = np.clip(np.minimum(u1[..., None], edges[1:]) - np.maximum(u0[..., None], edges[:-1]), 0, None)
    top, bottom = edges[::-1][:-1], edges[::-1][1:]
    cw = np.clip(np.minimum(w1[..., None], top) - np.maximum(w0[..., None], bottom), 0, None)
    cell = (2.0 / grid) ** 2
    coverage = (cw[..., :, None] * cu[..., None, :]).reshape(*cu.shape[:-1], grid * grid) / cell
    coverage = np.where(visible[..., None], np.clip(coverage, 0, 1), 0.0).astype(np.float32)
    fyaw = table[..., 4] - pose[..., 2]
    uc, wc = (u0 + u1) / 2, (w0 + w1) / 2
    feats = np.stack([np.ones_like(uc), uc, wc, (u1 - u0) / 2, (w1 - w0) / 2, np.clip(1.0 / np.maximum(cz, _NEAR), 0, 4),
                      np.sin(fyaw), np.cos(fyaw), ((np.abs(uc) < 1) & (np.abs(wc) < 1)).astype(np.float32)], -1)
    if colours:
        feats = np.concatenate([feats, table[..., 6:]], -1)
    feats = np.where(visible[..., None], feats, 0.0).astype(np.float32)
    return coverage, feats
