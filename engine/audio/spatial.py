"""Where a sound comes from, relative to the trainee's head: stereo panning and distance.

A source at floor position ``(x, z)`` (metres) is heard from a head at ``(x, z, yaw)``
(yaw 0 looks along −z, positive turns left, as :mod:`engine.world.motion`): its azimuth
decides the balance between the ears by constant-power panning (equal loudness as it
moves), sources behind are a little quieter, and the level falls as 1/distance beyond 1 m
(the inverse-distance law of a point source). Stereo, not binaural: no HRTF library here is
both well kept and light enough for the 2-core machine (see the README).
"""

from __future__ import annotations

import math

import numpy as np


def azimuth(source_xz, head_pose) -> float:
    """Angle (radians) of the source from the head's forward direction; positive = to the
    left, ±π behind."""
    dx, dz = source_xz[0] - head_pose[0], source_xz[1] - head_pose[1]
    world = math.atan2(-dx, -dz)  # the yaw that would face the source
    return (world - head_pose[2] + math.pi) % (2 * math.pi) - math.pi


def pan_gains(source_xz, head_pose, *, min_distance: float = 1.0, rear: float = 0.7) -> tuple[float, float]:
    """``(left, right)`` gains of a source at ``source_xz`` for a head at ``head_pose``
    ``(x, z, yaw, ...)``: constant-power panning by azimuth (``sin``/``cos`` of the pan
    angle), ``rear`` times quieter straight behind, and ``min_distance / distance`` beyond
    ``min_distance`` metres."""
    az = azimuth(source_xz, head_pose)
    side = math.sin(az)  # +1 hard left, −1 hard right; front and back both centre
    theta = (1.0 - side) * math.pi / 4  # 0 → left only, π/2 → right only
    distance = math.hypot(source_xz[0] - head_pose[0], source_xz[1] - head_pose[1])
    level = min(1.0, min_distance / max(distance, 1e-6))
    level *= 1.0 - (1.0 - rear) * (1.0 - math.cos(az)) / 2  # 1 ahead, ``rear`` behind
    return level * math.cos(theta), level * math.sin(theta)


def place(mono: np.ndarray, source_xz, head_pose, **kwargs) -> np.ndarray:
    """float32 ``(n, 2)``: ``mono`` ``(n,)`` heard from ``source_xz`` (see :func:`pan_gains`)."""
    left, right = pan_gains(source_xz, head_pose, **kwargs)
    return np.stack([mono * left, mono * right], axis=1).astype(np.float32)
