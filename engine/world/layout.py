"""The scene layout of a view: what class of thing each pixel shows, and how far away it is.

A *layout-conditioned* world model (``DynamicsConfig.layout``) is told, every tick, the coarse
geometry of the view it must draw: a class map (floor, ceiling, wall, each furniture kind,
person, blood pool) and an inverse-depth map, rendered from the room preset's scene graph at
the trainee's pose. It must still invent every colour, texture, light and event from the
prompt, the world state and its own past frames, but it can no longer forget where the
table, the walls and the people are. This is the idea of conditioning a video model on a
per-frame rendering of a 3D proxy of the world, as GEN3C (Ren et al. 2025) does with a point
cloud cache and world-consistent vid2vid (Mallya et al. 2020) with guidance images; the maps
play the part of SPADE's semantic layout (Park et al. 2019).

Two arrays per view, kept small for datasets and the live loop:

* ``classes``: uint8 ``(2s, 2s)``, an index into :data:`LAYOUT_CLASSES` per pixel, at twice
  the latent's size ``s`` (so the model can pool it to per-latent-pixel class shares);
* ``inv_depth``: float16 ``(s, s)``, the mean of ``1 / depth`` (1/metres, at most
  :data:`MAX_INV_DEPTH`) over each latent pixel.

:func:`layout_features` turns a batch of them into the ``(…, LAYOUT_DIM, s, s)`` float maps
the dynamics model patchifies beside its tokens. A decoder may also read the view's *albedo
map* (:meth:`engine.world.renderer.Renderer.render_albedo`): the surface colour of what each
pixel shows, as the scene graph paints it before any light falls on it (the floor's tiles
included), so that the walls keep the colour the room was given however long the session
runs. Class 0 (``none``) everywhere with zero
depth is the empty layout: a model trained with layouts dropped now and then still draws a
world without a scene graph (a prompt with no room preset).
"""

from __future__ import annotations

import numpy as np

from .renderer import AVATAR_ID, BLOOD_ID, CEILING_ID, SEAT_ID0, WALL_ID, Renderer
from .scene import Scene
from .state import MAX_OTHERS, WorldState

#: Every furniture kind the reference world builds (engine.world.scene), in a fixed order.
FURNITURE_KINDS: tuple[str, ...] = (
    "or_table", "surgical_lamp", "monitor", "trolley", "cabinet", "sofa", "armchair", "coffee_table", "plant",
    "floor_lamp", "rug", "bookshelf", "desk", "teacher_desk", "chair", "whiteboard", "door", "alarm_beacon",
    "baseboard")
#: The layout's classes; index 0 is "no layout" (dropped, or no scene graph known).
LAYOUT_CLASSES: tuple[str, ...] = ("none", "floor", "ceiling", "wall", *FURNITURE_KINDS, "person", "blood", "other")
N_CLASSES = len(LAYOUT_CLASSES)
#: Channels of :func:`layout_features`: one share per class, then inverse depth.
LAYOUT_DIM = N_CLASSES + 1
#: Channels of an albedo map (linear RGB, 0..1).
ALBEDO_DIM = 3
#: Inverse depth is clipped here (1/metres: nearer than 25 cm reads as 25 cm) and scaled to 0..1.
MAX_INV_DEPTH = 4.0


def class_lookup(scene: Scene) -> np.ndarray:
    """uint8 ``(BLOOD_ID + 3,)``: the layout class of every instance id of ``scene``'s label pass."""
    cls = {name: i for i, name in enumerate(LAYOUT_CLASSES)}
    lut = np.full(max(BLOOD_ID, WALL_ID, CEILING_ID) + 1, cls["other"], np.uint8)
    lut[0] = cls["floor"]
    lut[WALL_ID], lut[CEILING_ID] = cls["wall"], cls["ceiling"]
    for i, obj in enumerate(scene.objects):
        lut[1 + i] = cls.get(obj.kind, cls["other"])
    lut[AVATAR_ID:SEAT_ID0 + MAX_OTHERS] = cls["person"]
    lut[BLOOD_ID] = cls["blood"]
    return lut


def _block_centres(ids: np.ndarray, size: int) -> np.ndarray:
    """A square pass ``ids`` ``(H, H[, C])`` (labels, or the albedo pass) subsampled to
    ``(2·size, 2·size[, C])``: each block's centre pixel."""
    h = ids.shape[0]
    if h % (2 * size) or ids.shape[1] != h:
        raise ValueError(f"a square label pass of a multiple of {2 * size} pixels is needed, got {ids.shape}")
    k = h // (2 * size)
    return ids[k // 2::k, k // 2::k]


def layout_arrays(ids: np.ndarray, depth: np.ndarray, lut: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes uint8 (2·size, 2·size), inv_depth float16 (size, size))`` of one view from its
    label pass ``ids`` int ``(H, W)`` and ``depth`` float ``(H, W)`` in metres (H and W multiples
    of ``2·size``), ``lut`` from :func:`class_lookup`. The class map is subsampled (the
    pixel at each block's centre), the inverse depth averaged over each latent pixel."""
    h = ids.shape[0]
    classes = lut[np.clip(_block_centres(ids, size), 0, len(lut) - 1)]
    inv = np.minimum(1.0 / np.maximum(depth, 1e-3), MAX_INV_DEPTH) / MAX_INV_DEPTH
    m = h // size
    inv = inv.reshape(size, m, size, m).mean(axis=(1, 3))
    return classes.astype(np.uint8), inv.astype(np.float16)


class LayoutRenderer:
    """Renders the layout arrays of views of one scene at a latent size ``size`` (pixels of
    the latent grid). Owns a small :class:`~engine.world.renderer.Renderer` (``2·size`` square,
    EGL); raises ``RuntimeError`` with install advice where no EGL driver is found."""

    def __init__(self, size: int):
        self.size = int(size)
        self.renderer = Renderer(2 * self.size, 2 * self.size, samples=0)
        self._lut: np.ndarray | None = None

    def set_scene(self, scene: Scene) -> None:
        self.renderer.set_scene(scene)
        self._lut = class_lookup(scene)

    def __call__(self, pose, state: WorldState, *, albedo: bool = False) -> tuple[np.ndarray, ...]:
        """Layout arrays of the view from ``pose = (x, z, yaw, pitch)`` (metres, radians):
        ``(classes, inv_depth)`` as :func:`layout_arrays`, and with ``albedo`` a third, the
        albedo map uint8 ``(2·size, 2·size, 3)`` (the renderer's albedo pass) at the class
        map's pixels. Raises ``RuntimeError`` before :meth:`set_scene`."""
        if self._lut is None:
            raise RuntimeError("LayoutRenderer called before set_scene")
        pose = tuple(float(v) for v in pose)
        ids, depth = self.renderer.render_layout(pose, state)
        out = layout_arrays(ids, depth, self._lut, self.size)
        if not albedo:
            return out
        return (*out, _block_centres(self.renderer.render_albedo(pose, state), self.size))

    def release(self) -> None:
        self.renderer.release()


def empty_layout(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The layout arrays meaning "no layout" (class ``none``, zero inverse depth)."""
    return np.zeros((2 * size, 2 * size), np.uint8), np.zeros((size, size), np.float16)


def layout_features(classes, inv_depth):
    """Float maps ``(…, LAYOUT_DIM, s, s)`` from ``classes`` ``(…, 2s, 2s)`` (any dtype holding
    class indices) and ``inv_depth`` ``(…, s, s)`` torch tensors: the share of each class
    among the four class-map pixels over each latent pixel, then the inverse depth."""
    import torch
    from torch.nn import functional as F

    lead = classes.shape[:-2]
    c = classes.reshape(-1, *classes.shape[-2:]).long()
    onehot = F.one_hot(c, N_CLASSES).permute(0, 3, 1, 2).float()
    shares = F.avg_pool2d(onehot, 2)
    inv = inv_depth.reshape(-1, 1, *inv_depth.shape[-2:]).float()
    return torch.cat([shares, inv], 1).reshape(*lead, LAYOUT_DIM, *shares.shape[-2:])
