"""How an action moves the participant's camera through a scene, with collisions."""

from __future__ import annotations

import numpy as np

from .scene import Scene

#: Largest pitch (radians) either way: the participant looks at most ~40° up or down.
MAX_PITCH = 0.7
BODY_RADIUS = 0.3  # metres


def wrap_angle(a: float) -> float:
    """Wrap an angle to [-pi, pi) radians."""
    return float((a + np.pi) % (2 * np.pi) - np.pi)


def apply_action(scene: Scene, pose: tuple[float, float, float, float], action: np.ndarray
                 ) -> tuple[float, float, float, float]:
    """Pose ``(x, z, yaw, pitch)`` after ``action`` (see :mod:`engine.actions`).

    The turn happens first, then the step along the new heading. A step into a wall or
    furniture slides along it (each axis is tried on its own) or stops.
    """
    x, z, yaw, pitch = pose
    fwd, strafe, dyaw, dpitch = (float(v) for v in action)
    yaw = wrap_angle(yaw + dyaw)
    pitch = float(np.clip(pitch + dpitch, -MAX_PITCH, MAX_PITCH))
    sy, cy = np.sin(yaw), np.cos(yaw)
    dx = -sy * fwd + cy * strafe
    dz = -cy * fwd - sy * strafe
    if scene.is_free(x + dx, z + dz, BODY_RADIUS):
        x, z = x + dx, z + dz
    elif scene.is_free(x + dx, z, BODY_RADIUS):
        x = x + dx
    elif scene.is_free(x, z + dz, BODY_RADIUS):
        z = z + dz
    return float(x), float(z), yaw, pitch
