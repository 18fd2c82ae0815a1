"""Head pose ↔ the world model's look, and where a generated frame is shown in the headset.

OpenXR's reference spaces are right-handed, +Y up, −Z forward; so is the reference world
(:func:`engine.world.renderer.view_matrix`): yaw turns about +Y (positive = left), pitch
about the camera's +X (positive = up). The trainee's world yaw is the head's yaw in the
headset's reference space plus the *body yaw* (the snap turns and the world's start yaw).

A frame is generated for one head orientation; it is shown on a world-locked quad layer
placed straight ahead of that orientation (:func:`layer_pose`), so between 20 Hz model ticks
the runtime reprojects it while the head moves and the image stays put in the world rather
than following the head (the idea of timewarp / asynchronous reprojection).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.world.motion import MAX_PITCH, wrap_angle

#: Distance of the frame's layer from the eyes (metres) and its width (metres): 2.0 m away
#: and 1.6 m wide, 43.6° of the field of view, about what a 2 m-distant 70-inch screen covers
#: — the model's 128×128 frame fills the central vision without filling the periphery, where
#: a low-resolution, 20 Hz image is least comfortable.
LAYER_DISTANCE_M = 2.0
LAYER_WIDTH_M = 1.6


def yaw_pitch(q) -> tuple[float, float]:
    """Yaw and pitch (radians) of an orientation quaternion ``q`` with fields ``x, y, z, w``
    (OpenXR's ``XrQuaternionf`` or a tuple-like object): the direction −Z is turned to."""
    x, y, z, w = (float(q.x), float(q.y), float(q.z), float(q.w)) if hasattr(q, "x") else map(float, q)
    # forward = R · (0, 0, -1)
    fx = -2.0 * (x * z + w * y)
    fy = -2.0 * (y * z - w * x)
    fz = -(1.0 - 2.0 * (x * x + y * y))
    yaw = math.atan2(-fx, -fz)
    pitch = math.atan2(fy, math.hypot(fx, fz))
    return yaw, pitch


def quaternion(yaw: float, pitch: float = 0.0) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of yaw about +Y then pitch about the turned +X (radians)."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    # q = q_yaw * q_pitch, q_yaw = (0, sy, 0, cy), q_pitch = (sp, 0, 0, cp)
    return (cy * sp, sy * cp, -sy * sp, cy * cp)


def layer_pose(yaw: float, pitch: float, head_position=(0.0, 0.0, 0.0), distance: float = LAYER_DISTANCE_M
               ) -> tuple[tuple[float, float, float, float], tuple[float, float, float]]:
    """Pose ``(orientation (x, y, z, w), position (x, y, z))`` of a quad layer facing the
    eyes, ``distance`` metres straight ahead of a head at ``head_position`` (metres, the
    reference space) looking at ``yaw``, ``pitch`` (radians)."""
    fwd = (-math.sin(yaw) * math.cos(pitch), math.sin(pitch), -math.cos(yaw) * math.cos(pitch))
    pos = tuple(float(h + distance * f) for h, f in zip(head_position, fwd))
    return quaternion(yaw, pitch), pos


@dataclass
class _Sent:
    seq: int
    yaw: float
    pitch: float


class LookTracker:
    """Turns the head's absolute orientation into the session's relative ``look`` requests.

    The session integrates looks (clamped to :data:`engine.actions.ACTION_LIMITS` per tick)
    and reports, with every frame, the pose it generated for and the newest input it applied
    (``Frame.pose``, ``Frame.input_seq``). Each call to :meth:`look` returns the turn still
    missing: the head's world yaw and pitch minus the frame's pose minus the looks sent but
    not yet applied, so a look the session clamped is sent again and the model's view
    converges on the head instead of drifting from it.
    """

    def __init__(self) -> None:
        self._pending: deque[_Sent] = deque()
        self.pose: tuple[float, float] | None = None  # (yaw, pitch) of the newest frame
        self.applied_seq = 0

    def on_frame(self, pose, input_seq: int) -> None:
        """A frame arrived: generated at ``pose`` ``(x, z, yaw, pitch)`` with inputs up to
        ``input_seq`` applied."""
        if pose is None:
            return
        self.pose = (float(pose[2]), float(pose[3]))
        self.applied_seq = max(self.applied_seq, int(input_seq))
        while self._pending and self._pending[0].seq <= self.applied_seq:
            self._pending.popleft()

    def look(self, head_yaw: float, head_pitch: float, min_step: float = 1e-3) -> tuple[float, float] | None:
        """The ``(yaw, pitch)`` look (radians) to send now for a head at world ``head_yaw``,
        ``head_pitch``; None when the model's view is already there (within ``min_step``)
        or no frame has told where it is yet. Call :meth:`sent` with its ``seq`` after
        sending it."""
        if self.pose is None:
            return None
        yaw = wrap_angle(head_yaw - self.pose[0] - sum(p.yaw for p in self._pending))
        pitch = float(np.clip(head_pitch, -MAX_PITCH, MAX_PITCH)) - self.pose[1] - sum(p.pitch for p in self._pending)
        if abs(yaw) < min_step and abs(pitch) < min_step:
            return None
        return yaw, pitch

    def sent(self, seq: int, yaw: float, pitch: float) -> None:
        """A look of ``(yaw, pitch)`` went out as input ``seq``."""
        self._pending.append(_Sent(int(seq), float(yaw), float(pitch)))
