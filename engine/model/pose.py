"""Dead-reckoned camera pose: the sum of the participant's actions since the opening frame.

The dynamics model is conditioned on where the camera is relative to the opening frame
(WorldMem, Xiao et al. 2025, conditions on camera poses the same way), and the pose-indexed
frame memory retrieves earlier frames by it. The pose is integrated from the actions alone
— collisions are not known to the model — so training (from dataset actions) and live play
(from the participant's actions) compute it the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from ..world.motion import MAX_PITCH

#: Pose features per frame: x/3, z/3 (metres, clipped to ±2), sin yaw, cos yaw, pitch/MAX_PITCH.
POSE_DIM = 5

#: A memory frame counts as showing the same view when its yaw is within this (radians) ...
MEMORY_YAW_SCALE = 0.65
#: ... and its position within this (metres) — the score adds the two ratios.
MEMORY_DIST_SCALE = 1.0


def memory_score(query: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """How far apart two views are: ``query`` ``(..., 4)`` and ``candidates`` ``(..., N, 4)``
    poses (x, z metres; yaw, pitch radians) → ``(..., N)``, 0 for the same view, lower is
    closer. Shared by training and the live memory so both retrieve alike."""
    d = candidates - query.unsqueeze(-2)
    dyaw = torch.atan2(torch.sin(d[..., 2]), torch.cos(d[..., 2])).abs()
    return dyaw / MEMORY_YAW_SCALE + d[..., :2].norm(dim=-1) / MEMORY_DIST_SCALE + d[..., 3].abs() / MEMORY_YAW_SCALE


def step_pose(pose: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One tick of dead reckoning: ``pose`` float32 ``(4,)`` = (x, z, yaw, pitch) in metres and
    radians relative to the opening frame; ``action`` float32 ``(4,)`` (see :mod:`engine.actions`).
    Same kinematics as :func:`engine.world.motion.apply_action` without collisions."""
    x, z, yaw, pitch = (float(v) for v in pose)
    fwd, strafe, dyaw, dpitch = (float(v) for v in action)
    yaw += dyaw
    pitch = float(np.clip(pitch + dpitch, -MAX_PITCH, MAX_PITCH))
    sy, cy = np.sin(yaw), np.cos(yaw)
    return np.array([x - sy * fwd + cy * strafe, z - cy * fwd - sy * strafe, yaw, pitch], np.float32)


def dead_reckon(actions: np.ndarray) -> np.ndarray:
    """Poses float32 ``(..., T, 4)`` for actions ``(..., T, 4)`` (raw units); frame 0's action
    is ignored (frame 0 is the opening frame, at the origin)."""
    a = np.asarray(actions, np.float32)
    yaw = np.cumsum(np.concatenate([np.zeros_like(a[..., :1, 2]), a[..., 1:, 2]], -1), -1)
    pitch = np.zeros_like(yaw)
    for t in range(1, a.shape[-2]):
        pitch[..., t] = np.clip(pitch[..., t - 1] + a[..., t, 3], -MAX_PITCH, MAX_PITCH)
    fwd, strafe = a[..., 0].copy(), a[..., 1].copy()
    fwd[..., 0] = strafe[..., 0] = 0.0
    sy, cy = np.sin(yaw), np.cos(yaw)
    x = np.cumsum(-sy * fwd + cy * strafe, -1)
    z = np.cumsum(-cy * fwd - sy * strafe, -1)
    return np.stack([x, z, yaw, pitch], -1).astype(np.float32)


def pose_features(poses):
    """``(..., 4)`` poses (numpy or torch) → ``(..., POSE_DIM)`` features of the same type."""
    if isinstance(poses, np.ndarray):
        x, z, yaw, pitch = np.moveaxis(poses, -1, 0)
        return np.stack([np.clip(x / 3, -2, 2), np.clip(z / 3, -2, 2), np.sin(yaw), np.cos(yaw),
                         pitch / MAX_PITCH], -1).astype(np.float32)
    x, z, yaw, pitch = poses.unbind(-1)
    return torch.stack([(x / 3).clamp(-2, 2), (z / 3).clamp(-2, 2), yaw.sin(), yaw.cos(), pitch / MAX_PITCH], -1)


def compose(origin, rel) -> np.ndarray:
    """World pose float32 ``(4,)`` of a pose ``rel`` (x, z, yaw, pitch) dead-reckoned relative
    to the opening camera at world pose ``origin`` (same layout; metres and radians): the
    offset is turned by the opening yaw, and yaws add."""
    ox, oz, oyaw, _ = (float(v) for v in origin)
    x, z, yaw, pitch = (float(v) for v in rel)
    c, s = np.cos(oyaw), np.sin(oyaw)
    return np.array([ox + x * c + z * s, oz - x * s + z * c, oyaw + yaw, pitch], np.float32)
