"""Ego-motion warp: the previous latent frame moved as the camera moved, as a hint for the next.

Turning the head shifts the whole image sideways; looking up shifts it down; stepping forward
magnifies it about the centre; a side step shifts it by an amount that depends on depth. These
are approximated by one affine map per frame (a nominal depth of ``NOMINAL_DEPTH`` metres for
the translation terms) and applied to the previous frame's latent with bilinear sampling. The
dynamics model receives the warped latent beside each frame's own tokens and corrects it —
occlusions, parallax, newly revealed walls are left to the network. Warping what is already
known into the new view as conditioning follows camera-controlled video models such as GEN3C
(Ren et al. 2025) and ViewCrafter (Yu et al. 2024), here with a 2-D affine map instead of a
3-D cache.

The same map can instead be applied to the previous frame's *pixels* (``padding="border"``),
which are then encoded again (``DynamicsConfig.pixel_warp``): a sub-cell shift of a 16×16
latent by bilinear sampling averages neighbouring cells — the very blur the dynamics model
must not learn — while a shift of 128×128 pixels keeps the edges (on the quick data, frame
t-1 warped into frame t's view reaches 35.9 dB against 31.1 dB for the unwarped frame).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

#: The renderer's vertical (= horizontal) field of view, radians, and the depth (metres) at
#: which translations are approximated.
FOV = math.radians(75)
NOMINAL_DEPTH = 2.5


def ego_warp(latent: torch.Tensor, motion: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Warp ``latent`` ``(N, C, h, w)`` (a latent or an image) by camera motion ``motion``
    ``(N, 4)`` = (forward, strafe metres, Δyaw, Δpitch radians) from the frame it shows to the
    next. Regions that come into view are zero (``padding="zeros"``) or repeat the edge
    (``"border"``). Returns ``(N, C, h, w)`` float32."""
    n = latent.shape[0]
    fwd, strafe, dyaw, dpitch = motion.unbind(-1)
    half = math.tan(FOV / 2)  # normalised image half-width per unit focal length
    # Normalised coordinates in [-1, 1]: a rotation by a moves content by a / half (small-angle).
    tx = (dyaw - strafe / NOMINAL_DEPTH) / half  # +yaw (turn left) moves content right
    ty = (dpitch) / half  # +pitch (look up) moves content down (y grows downwards)
    scale = 1.0 + fwd / NOMINAL_DEPTH  # forward magnifies
    theta = torch.zeros(n, 2, 3, dtype=latent.dtype, device=latent.device)
    # grid_sample reads the source at theta @ target: the inverse of the content motion.
    theta[:, 0, 0] = 1.0 / scale
    theta[:, 1, 1] = 1.0 / scale
    theta[:, 0, 2] = -tx
    theta[:, 1, 2] = -ty
    grid = F.affine_grid(theta, list(latent.shape), align_corners=False)
    return F.grid_sample(latent, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def warp_frames(images: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Images float32 ``(N, 3, H, W)`` in [0, 1] moved by camera motion ``(N, 4)`` (see
    :func:`ego_warp`), edges repeated into the regions that come into view."""
    return ego_warp(images, motion, padding="border").clamp(0.0, 1.0)


def warp_shift_cells(action, size: int) -> float:
    """The largest displacement, in cells of a ``size``-cell-wide grid, that :func:`ego_warp`
    gives any point for ``action`` ``(forward, strafe, yaw, pitch)`` (metres, radians; the
    pitch change taken as the action's): 0 for a still camera."""
    fwd, strafe, dyaw, dpitch = (float(v) for v in action)
    half = math.tan(FOV / 2)
    tx = abs(dyaw - strafe / NOMINAL_DEPTH) / half
    ty = abs(dpitch) / half
    zoom = abs(fwd / NOMINAL_DEPTH)  # a point at the edge moves by this share of the half-width
    return max(tx, ty, zoom) * size / 2
