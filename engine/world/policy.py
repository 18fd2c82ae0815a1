"""A scripted participant that explores a room the way a person does.

It walks with momentum towards places of interest, stops, looks around, and in a good
share of episodes turns back to a pose it has already been at (a *revisit*), because
revisit consistency is trained and measured on those returns (DESIGN.md §4). The policy
plans on the scene's floor plan only; it never sees pixels.

:class:`ExplorationPolicy` alone keeps moving: its gaze always carries a little noise, so it
never holds still for more than a few ticks. Real participants mostly do hold still (the
surgeon at the table, the patient facing the avatar), so :class:`ExplorationPolicy` with
``participant_share > 0`` also plays the :data:`PARTICIPANT_BEHAVIOURS` — standing still for
seconds, slow head turns, a headset's head jitter, stop-and-look, stepping back, and long
waits while events happen around them (issue 25).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..actions import ACTION_LIMITS
from .motion import MAX_PITCH, wrap_angle
from .scene import Scene

#: The behaviours of real participants the policy plays besides exploring (ticks at 20 Hz):
#: ``still`` exactly zero actions for 1–6 s; ``slow_look`` a smooth head turn of at most
#: 0.5° a tick; ``jitter`` a headset's involuntary head motion (yaw and pitch a smoothed
#: random walk of about 0.05–0.3° a tick, millimetres of sway, at times exactly still);
#: ``stop_look`` a hard stop, a pause, one glance aside and still again; ``step_back`` one
#: or two slow steps backwards, then still; ``wait`` still for 3–6 s while game-master events
#: fire at :data:`WAIT_EVENT_BOOST` times the usual rate.
PARTICIPANT_BEHAVIOURS = ("still", "slow_look", "jitter", "stop_look", "step_back", "wait")
#: The explorer's own modes, for the per-mode shares of a dataset.
EXPLORER_MODES = ("walk", "look", "pause", "revisit", "spin")
#: How much more often events fire while a participant waits (``wait``).
WAIT_EVENT_BOOST = 8.0
#: Half a degree, radians: the upper bound of a *slow look* per tick.
SLOW_LOOK_MAX = float(np.radians(0.5))


def free_point(scene: Scene, rng: np.random.Generator) -> tuple[float, float]:
    """A random floor point (x, z metres) at least 0.6 m from the walls with 0.45 m free
    around it; the room's centre if 100 draws find none."""
    for _ in range(100):
        x = rng.uniform(-scene.width / 2 + 0.6, scene.width / 2 - 0.6)
        z = rng.uniform(-scene.depth / 2 + 0.6, scene.depth / 2 - 0.6)
        if scene.is_free(x, z, 0.45):
            return float(x), float(z)
    return 0.0, 0.0


@dataclass
class ExplorationPolicy:
    """Produces one action ``(forward, strafe, yaw, pitch)`` per tick for ``scene``.

    Modes: ``walk`` (to a free waypoint, steering with momentum), ``look`` (stand and sweep
    the gaze), ``pause`` (stand still), ``revisit`` (walk back to an earlier pose and face
    the way it faced then), ``spin`` (a full turn in place). ``revisit_prob`` is the chance
    that a mode change picks a revisit once there is history. ``participant_share`` is the
    chance that a mode change picks one of :data:`PARTICIPANT_BEHAVIOURS` instead (0: the
    explorer alone, as the models up to R12 were trained); :attr:`mode_ticks` counts the
    ticks spent in each mode and :attr:`event_rate_scale` says how much more often events
    should fire this tick (a ``wait``).
    """

    scene: Scene
    rng: np.random.Generator
    revisit_prob: float = 0.35
    participant_share: float = 0.0
    mode: str = "look"
    timer: int = 20
    target: tuple[float, float] | None = None
    target_yaw: float | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    history: list[tuple[float, float, float, float]] = field(default_factory=list)
    revisits: int = 0
    _sweep_phase: float = 0.0
    _spun: float = 0.0
    mode_ticks: dict = field(default_factory=dict)
    _phase: int = 0
    _glance: float = 0.0

    def __post_init__(self) -> None:
        if self.participant_share > 0 and self.rng.random() < self.participant_share:
            self._pick_participant()  # a participant may stand still from the first tick

    @property
    def event_rate_scale(self) -> float:
        """Factor on the episode's event rate this tick: :data:`WAIT_EVENT_BOOST` while waiting."""
        return WAIT_EVENT_BOOST if self.mode == "wait" else 1.0

    def _pick_participant(self) -> None:
        """Start one of :data:`PARTICIPANT_BEHAVIOURS`, drawn uniformly."""
        rng = self.rng
        self.mode = PARTICIPANT_BEHAVIOURS[int(rng.integers(len(PARTICIPANT_BEHAVIOURS)))]
        self._phase = 0
        if self.mode == "still":
            self.timer = int(rng.integers(20, 120))
        elif self.mode == "slow_look":
            self.timer = int(rng.integers(30, 100))
            self._glance = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * SLOW_LOOK_MAX)
        elif self.mode == "jitter":
            self.timer = int(rng.integers(30, 120))
            self._glance = float(rng.uniform(0.001, 0.005))  # the tremor's scale, radians a tick
        elif self.mode == "stop_look":
            self.timer = int(rng.integers(40, 90))
            self._glance = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.2))  # the glance, radians
        elif self.mode == "step_back":
            self.timer = int(rng.integers(25, 60))
        else:  # wait
            self.timer = int(rng.integers(60, 120))
        self.velocity[:] = 0.0

    def _participant_action(self, pose) -> np.ndarray:
        """This tick's action in one of :data:`PARTICIPANT_BEHAVIOURS` (no momentum noise: a
        still participant's action is exactly zero)."""
        rng, v = self.rng, np.zeros(4, np.float32)
        pitch = pose[3]
        self._phase += 1
        k = self._phase
        if self.mode == "slow_look":
            ramp = min(1.0, k / 10.0, max(0.0, self.timer) / 10.0)  # ease in and out
            v[2] = self._glance * ramp
            v[3] = float(np.clip(-0.02 * pitch, -SLOW_LOOK_MAX / 4, SLOW_LOOK_MAX / 4))
        elif self.mode == "jitter":
            # a smoothed random walk of the head: what a headset reports between glances
            self.velocity[2] = 0.8 * self.velocity[2] + 0.2 * self._glance * rng.standard_normal() * 3
            self.velocity[3] = 0.8 * self.velocity[3] + 0.2 * self._glance * rng.standard_normal() * 2 - 0.01 * pitch
            self.velocity[0] = 0.8 * self.velocity[0] + 0.2 * 0.002 * rng.standard_normal()
            self.velocity[1] = 0.8 * self.velocity[1] + 0.2 * 0.002 * rng.standard_normal()
            v = self.velocity.copy()
            if rng.random() < 0.15:  # a tick with no motion reported at all
                v[:] = 0.0
        elif self.mode == "stop_look":
            if 15 <= k < 35:  # the glance: ease there and back within 20 ticks
                u = (k - 15) / 20.0
                v[2] = self._glance * np.pi / 20.0 * np.sin(2 * np.pi * u)
        elif self.mode == "step_back":
            if k <= 20:
                v[0] = -0.03 * np.sin(np.pi * k / 20.0)
        return np.clip(v, -ACTION_LIMITS, ACTION_LIMITS).astype(np.float32)

    def _pick_mode(self, pose) -> None:
        if self.participant_share > 0 and self.rng.random() < self.participant_share:
            self._pick_participant()
            return
        r = self.rng.random()
        if len(self.history) > 30 and r < self.revisit_prob:
            old = self.history[int(self.rng.integers(0, len(self.history) - 20))]
            self.mode, self.target, self.target_yaw, self.timer = "revisit", (old[0], old[1]), old[2], 200
            self.revisits += 1
        elif r < self.revisit_prob + 0.45:
            self.mode, self.timer = "walk", int(self.rng.integers(40, 120))
            self.target = self._free_point()
        elif r < self.revisit_prob + 0.7:
            self.mode, self.timer = "look", int(self.rng.integers(15, 50))
            self._sweep_phase = float(self.rng.uniform(0, 2 * np.pi))
        elif r < self.revisit_prob + 0.85:
            self.mode, self.timer = "pause", int(self.rng.integers(4, 20))
        else:
            self.mode, self.timer, self._spun = "spin", 200, 0.0
            self._spin_dir = 1.0 if self.rng.random() < 0.5 else -1.0

    def _free_point(self) -> tuple[float, float]:
        return free_point(self.scene, self.rng)

    def _steer(self, pose, target, speed) -> np.ndarray:
        x, z, yaw, _ = pose
        dx, dz = target[0] - x, target[1] - z
        dist = float(np.hypot(dx, dz))
        want_yaw = float(np.arctan2(-dx, -dz))
        err = wrap_angle(want_yaw - yaw)
        turn = np.clip(0.35 * err, -0.12, 0.12)
        fwd = speed * min(1.0, dist / 0.8) * max(0.0, np.cos(err)) ** 2
        return np.array([fwd, 0.0, turn, 0.0], np.float32), dist

    def act(self, pose: tuple[float, float, float, float]) -> np.ndarray:
        """The action for this tick given the current pose ``(x, z, yaw, pitch)``."""
        self.history.append(pose)
        self.timer -= 1
        self.mode_ticks[self.mode] = self.mode_ticks.get(self.mode, 0) + 1
        if self.mode in PARTICIPANT_BEHAVIOURS:
            action = self._participant_action(pose)
            if self.timer <= 0:
                self._pick_mode(pose)
            return action
        x, z, yaw, pitch = pose
        target_v = np.zeros(4, np.float32)
        if self.mode == "walk":
            target_v, dist = self._steer(pose, self.target, 0.07 + 0.03 * self.rng.random())
            target_v[1] = 0.01 * np.sin(self.timer * 0.3)  # a little sway
            if dist < 0.3:
                self.timer = 0
        elif self.mode == "revisit":
            target_v, dist = self._steer(pose, self.target, 0.08)
            if dist < 0.15:
                err = wrap_angle(self.target_yaw - yaw)
                target_v = np.array([0, 0, np.clip(0.4 * err, -0.1, 0.1), -0.3 * pitch], np.float32)
                if abs(err) < 0.03:
                    self.timer = min(self.timer, 10)
                    self.mode = "pause"
        elif self.mode == "look":
            self._sweep_phase += 0.08
            target_v[2] = 0.08 * np.sin(self._sweep_phase)
            target_v[3] = 0.03 * np.sin(0.7 * self._sweep_phase + 1.0) - 0.05 * pitch
        elif self.mode == "spin":
            target_v[2] = 0.1 * self._spin_dir
            self._spun += abs(float(self.velocity[2]))
            if self._spun >= 2 * np.pi:
                self.timer = 0
        # Momentum: actions change smoothly, like a walking person's.
        self.velocity = 0.75 * self.velocity + 0.25 * target_v
        if self.mode == "pause":
            self.velocity *= 0.6
        # Drift the gaze back towards level and add small head motion.
        self.velocity[3] += -0.02 * pitch / MAX_PITCH + 0.004 * self.rng.standard_normal()
        if self.timer <= 0:
            self._pick_mode(pose)
        action = np.clip(self.velocity, -ACTION_LIMITS, ACTION_LIMITS).astype(np.float32)
        action[np.abs(action) < 1e-4] = 0.0
        return action


@dataclass
class Walker:
    """Another participant walking about the room: to a free spot at an easy pace (0.03–0.06
    m per tick), a pause, then elsewhere; they keep clear of furniture and never step within
    ``personal_space`` metres of the viewer. :meth:`step` returns their new ``(x, z, yaw)``
    (metres, radians; yaw 0 faces +z, as the renderer's humanoids)."""

    scene: Scene
    rng: np.random.Generator
    x: float = 0.0
    z: float = 0.0
    yaw: float = 0.0
    personal_space: float = 0.7
    target: tuple[float, float] | None = None
    speed: float = 0.045
    wait: int = 0

    @classmethod
    def placed(cls, scene: Scene, rng: np.random.Generator, avoid: tuple[float, float] | None = None) -> "Walker":
        """A walker at a free spot of ``scene`` (at least 1 m from ``avoid``, if given)."""
        w = cls(scene, rng)
        for _ in range(200):
            x, z = w._free_point()
            if avoid is None or np.hypot(x - avoid[0], z - avoid[1]) > 1.0:
                break
        w.x, w.z, w.yaw = x, z, float(rng.uniform(-np.pi, np.pi))
        return w

    def _free_point(self) -> tuple[float, float]:
        return free_point(self.scene, self.rng)

    def step(self, viewer: tuple[float, float] | None = None) -> tuple[float, float, float]:
        if self.wait > 0:
            self.wait -= 1
            return self.x, self.z, self.yaw
        if self.target is None:
            self.target = self._free_point()
            self.speed = float(self.rng.uniform(0.03, 0.06))
        dx, dz = self.target[0] - self.x, self.target[1] - self.z
        dist = float(np.hypot(dx, dz))
        if dist < 0.15:
            self.target, self.wait = None, int(self.rng.integers(5, 60))
            return self.x, self.z, self.yaw
        want = float(np.arctan2(dx, dz))
        self.yaw = wrap_angle(self.yaw + float(np.clip(wrap_angle(want - self.yaw), -0.25, 0.25)))
        step = min(self.speed, dist) * max(0.0, float(np.cos(wrap_angle(want - self.yaw))))
        nx, nz = self.x + step * np.sin(self.yaw), self.z + step * np.cos(self.yaw)
        blocked = not self.scene.is_free(nx, nz, 0.3)
        if viewer is not None and np.hypot(nx - viewer[0], nz - viewer[1]) < self.personal_space:
            blocked = True
        if blocked:  # pick somewhere else next tick
            self.target, self.wait = None, int(self.rng.integers(0, 10))
        else:
            self.x, self.z = float(nx), float(nz)
        return self.x, self.z, self.yaw
