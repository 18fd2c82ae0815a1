"""Where the trainees of a session stand: one seat per trainee, each with its own pose.

A session with several trainees (a surgeon, an anaesthetist, a scrub nurse) puts them side by
side at the room's start: seat 0 on the scene's start pose, the others beside it, all facing
the same way, so that each sees the others when turning. Every trainee's view then shows the
others (:meth:`WorldState.with_others`, each seat in its colours,
:data:`~engine.world.scene.SEAT_COLORS`).
"""

from __future__ import annotations

import numpy as np

from .motion import BODY_RADIUS
from .scene import Scene

#: Distance between two neighbouring trainees at the start (metres).
SEAT_SPACING = 0.9


def seat_start_poses(scene: Scene, n: int) -> list[tuple[float, float, float, float]]:
    """``n`` start poses ``(x, z, yaw, pitch)`` (metres, radians): seat 0 on the scene's
    start pose, seat k beside it at ``SEAT_SPACING`` steps, alternately to the right and the
    left, facing the same way, each on a free spot of the floor (further out along the same
    line, or back on seat 0's spot when the line is blocked). Raises ``ValueError`` for
    ``n < 1``."""
    if n < 1:
        raise ValueError(f"a session has at least one trainee seat, got {n}")
    x0, z0, yaw = (float(v) for v in scene.start_pose)
    right = np.array([np.cos(yaw), -np.sin(yaw)])  # the camera's +x on the floor at this yaw
    poses = [(x0, z0, yaw, 0.0)]
    taken = [np.array([x0, z0])]
    for k in range(1, n):
        side = 1.0 if k % 2 else -1.0
        spot = None
        for step in range((k + 1) // 2, (k + 1) // 2 + 6):
            for s in (side, -side):
                p = np.array([x0, z0]) + s * step * SEAT_SPACING * right
                if scene.is_free(*p, BODY_RADIUS) and all(np.linalg.norm(p - q) > 2 * BODY_RADIUS for q in taken):
                    spot = p
                    break
            if spot is not None:
                break
        if spot is None:  # nowhere free on that line: share the start spot
            spot = np.array([x0, z0])
        taken.append(spot)
        poses.append((float(spot[0]), float(spot[1]), yaw, 0.0))
    return poses


def others_seen_by(poses, seat: int) -> tuple[tuple[int, float, float, float], ...]:
    """The other trainees as seat ``seat`` sees them: ``(seat, x, z, yaw)`` of every other
    seat's pose in ``poses`` (``(x, z, yaw, pitch)`` each), for
    :meth:`~engine.world.state.WorldState.with_others`."""
    return tuple((k, float(p[0]), float(p[1]), float(p[2])) for k, p in enumerate(poses) if k != seat)
