"""The headset presenter: one more client of the session, with a frame loop of its own.

:class:`XrPresenter` is a thread (never the Qt GUI thread) that runs the OpenXR frame loop
at the headset's display rate, whatever the world model's rate:

1. follow the session state machine (:mod:`app.xr.lifecycle`), and tell the session (a
   ``headset_status`` request) what it is, whether the headset is worn and where the head
   looks;
2. wait for and begin the frame; locate the head; read the controllers (left stick walks,
   right stick snap-turns; :mod:`app.xr.locomotion`);
3. send the session the look that brings the model's view to the head's orientation
   (:class:`app.xr.head.LookTracker`): the generation pose is the head pose;
4. when the session has a new frame, upload it (with the comfort vignette while walking)
   and note the orientation it was generated for;
5. end the frame with one world-locked quad layer straight ahead of *that* orientation
   (:func:`app.xr.head.layer_pose`), so the runtime reprojects it as the head moves between
   model ticks and the image never drags with the head.

The runtime is reached only through an object with :class:`app.xr.runtime.XrRuntime`'s
methods, made on this thread by ``runtime_factory``; tests pass a simulated one.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from engine.world.motion import wrap_angle

from .head import LAYER_DISTANCE_M, LAYER_WIDTH_M, LookTracker, layer_pose
from .latency import MotionToPhoton
from .lifecycle import Lifecycle
from .locomotion import SnapTurn, Vignette, walk_action

#: Looks sent to the session at most this often (Hz): the session ticks at 20 Hz, and a
#: remote session limits requests per second.
LOOK_HZ = 40.0
#: Headset status sent this often (Hz) besides every state change.
STATUS_HZ = 2.0


@dataclass
class PresenterStats:
    """What a presenter run measured: XR frames submitted with a layer, distinct model frames
    shown, the session states seen, display times (monotonic s), and per XR frame the head's
    world yaw and the yaw of the model frame on show (radians, unwrapped later)."""

    frames_submitted: int = 0
    model_frames: int = 0
    display_times: list[float] = field(default_factory=list)
    head_yaws: list[float] = field(default_factory=list)
    model_yaws: list[float] = field(default_factory=list)
    layers: list[tuple] = field(default_factory=list)  # (layer yaw, layer pitch, frame yaw - body yaw, frame pitch)

    def display_hz(self) -> float | None:
        dt = np.diff(self.display_times)
        dt = dt[dt > 0]
        return round(float(1.0 / np.median(dt)), 2) if len(dt) else None

    def frames_dropped(self) -> int:
        """Display periods in which no frame was submitted (gaps between predicted display
        times beyond 1.5 periods)."""
        dt = np.diff(self.display_times)
        dt = dt[dt > 0]
        if not len(dt):
            return 0
        period = float(np.median(dt))
        return int(sum(max(0, round(d / period) - 1) for d in dt))

    def yaw_follow(self) -> float | None:
        """Correlation between the head's yaw and the shown model frame's yaw (1: the view
        follows the head exactly; the model's lag of a tick or two barely lowers it)."""
        if len(self.head_yaws) < 3:
            return None
        h, m = np.unwrap(self.head_yaws), np.unwrap(self.model_yaws)
        if np.std(h) < 1e-6 or np.std(m) < 1e-6:
            return None
        return round(float(np.corrcoef(h, m)[0, 1]), 3)


class XrPresenter(threading.Thread):
    """Shows ``client``'s frames (a TRAINEE client, in process or remote) in a headset and
    drives the trainee from it (see the module docstring).

    ``resolution``: the session's frame size (pixels); ``vignette``: the comfort vignette
    while walking; ``seconds``: stop by itself after this long in a running session (None:
    until :meth:`stop`); ``runtime_factory``: makes the runtime object on this thread
    (default :class:`app.xr.runtime.XrRuntime`). After :meth:`run`, :attr:`error` holds what
    stopped it early (an :class:`app.xr.runtime.XrUnavailable` when there was no runtime),
    :attr:`stats` and :attr:`motion_to_photon` what it measured.
    """

    def __init__(self, client, *, resolution: int, vignette: bool = True, seconds: float | None = None,
                 runtime_factory=None):
        super().__init__(name="ved-xr", daemon=True)
        self.client, self.resolution, self.seconds = client, resolution, seconds
        self.runtime_factory = runtime_factory
        self.lifecycle = Lifecycle()
        self.stats = PresenterStats()
        self.motion_to_photon = MotionToPhoton()
        self.tracker = LookTracker()
        self.snap = SnapTurn()
        self.vignette = Vignette(vignette)
        self.error: BaseException | None = None
        self.runtime_name = self.system_name = ""
        self.opened = threading.Event()  # set once the runtime answered (or failed: see error)
        #: World yaw of the headset's reference space: head yaw + body yaw = the trainee's world yaw.
        self.body_yaw: float | None = None
        self._stop_requested = threading.Event()
        self._shown = None  # the Frame message on the layer
        self._sent_action = np.zeros(4, np.float32)
        self._last_look = self._last_status = 0.0
        self._head = None

    def stop(self) -> None:
        """Leave the headset session cleanly (request exit, follow it to EXITING)."""
        self._stop_requested.set()

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        factory = self.runtime_factory
        if factory is None:
            from .runtime import XrRuntime as factory
        rt = None
        try:
            rt = factory()
            rt.open(self.resolution)
            self.runtime_name, self.system_name = rt.runtime_name, rt.system_name
            self.opened.set()
            self._loop(rt)
        except BaseException as exc:  # noqa: BLE001 - kept for the owner; the session goes on
            self.error = exc
        finally:
            self.opened.set()
            if rt is not None:
                try:
                    rt.close()
                except Exception as exc:  # noqa: BLE001
                    self.error = self.error or exc
            lost = self.error is not None or self.lifecycle.state == "LOSS_PENDING"
            self._status("lost" if lost else "exiting", worn=False, force=True)

    def _loop(self, rt) -> None:
        exit_requested = False
        started = None
        hard_stop = None
        while True:
            for state in rt.poll_states():
                todo = self.lifecycle.on_state(state)
                self._status(state, self.lifecycle.worn, force=True)
                if todo == "begin":
                    rt.begin_session()
                    started = started or time.monotonic()
                elif todo == "end":
                    rt.end_session()
                elif todo == "exit":
                    return
            now = time.monotonic()
            timed_out = self.seconds is not None and started is not None and now - started >= self.seconds
            if (self._stop_requested.is_set() or timed_out) and not exit_requested:
                if self.lifecycle.running:
                    rt.request_exit()
                    exit_requested = True
                    hard_stop = now + 5.0
                elif self._stop_requested.is_set():
                    return  # never began: nothing to end
            if hard_stop is not None and now > hard_stop:
                raise RuntimeError(f"the headset session did not reach EXITING; states: {self.lifecycle.seen}")
            if not self.lifecycle.running:
                time.sleep(0.005)
                continue
            self._frame(rt)

    def _frame(self, rt) -> None:
        display_time, should_render, period = rt.wait_frame()
        now = time.monotonic()
        head = rt.head(display_time)
        walk, turn, forward = rt.controllers() if self.lifecycle.focused else ((0.0, 0.0), (0.0, 0.0), False)
        if self.body_yaw is not None:
            self.body_yaw = wrap_angle(self.body_yaw + self.snap.update(turn[0]))
        action = walk_action((walk[0], 1.0 if forward and abs(walk[1]) < 0.5 else walk[1]))
        if not np.array_equal(action, self._sent_action):
            self.client.set_action(action)
            self._sent_action = action
        self.vignette.update(bool(np.any(action[:2] != 0)), period)
        msg = self.client.latest_frame
        if msg is not None and msg is not self._shown and msg.pose is not None:
            if self.body_yaw is None and head is not None:
                self.body_yaw = wrap_angle(msg.pose[2] - head[0])  # the world opens where the head looks
            self.tracker.on_frame(msg.pose, msg.input_seq)
            if should_render and self.body_yaw is not None:
                rt.upload(self.vignette.apply(np.asarray(msg.frame)))
                self._shown = msg
                self.stats.model_frames += 1
                self.motion_to_photon.displayed(msg.input_seq, rt.to_monotonic(display_time))
        if head is not None and self.body_yaw is not None:
            self._head = head
            world_yaw = wrap_angle(head[0] + self.body_yaw)
            if now - self._last_look >= 1.0 / LOOK_HZ:
                look = self.tracker.look(world_yaw, head[1])
                if look is not None:
                    seq = self.client.look(*look)
                    self.tracker.sent(seq, *look)
                    self.motion_to_photon.sampled(seq, now)
                    self._last_look = now
            if self._shown is not None:
                self.stats.head_yaws.append(world_yaw)
                self.stats.model_yaws.append(float(self._shown.pose[2]))
            if now - self._last_status >= 1.0 / STATUS_HZ:
                self._status(self.lifecycle.state, self.lifecycle.worn)
        layer = None
        if should_render and self._shown is not None:
            # the frame's generation orientation in the reference space (a snap turn moves it at once)
            yaw, pitch = wrap_angle(self._shown.pose[2] - self.body_yaw), float(self._shown.pose[3])
            position = self._head[2] if self._head is not None else (0.0, 0.0, 0.0)
            orientation, centre = layer_pose(yaw, pitch, position)
            layer = (orientation, centre, LAYER_WIDTH_M, LAYER_WIDTH_M)
            self.stats.layers.append((yaw, pitch, wrap_angle(self._shown.pose[2] - self.body_yaw),
                                      float(self._shown.pose[3])))
        rt.end_frame(display_time, layer)
        self.stats.display_times.append(rt.to_monotonic(display_time))
        self.stats.frames_submitted += layer is not None

    def _status(self, state: str, worn: bool, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < 1.0 / STATUS_HZ:
            return
        self._last_status = now
        yaw = pitch = None
        if self._head is not None and self.body_yaw is not None:
            yaw, pitch = wrap_angle(self._head[0] + self.body_yaw), float(self._head[1])
        try:
            self.client.headset_status(state, worn, yaw, pitch)
        except Exception:  # noqa: BLE001 - a closed client: the session has gone
            pass

    def figures(self) -> dict:
        """The run's figures, as ``ved xr-check`` prints them."""
        mtp = self.motion_to_photon.stats_ms()
        return {
            "runtime": self.runtime_name, "system": self.system_name,
            "display_hz": self.stats.display_hz(),
            "frames_submitted": self.stats.frames_submitted,
            "frames_dropped": self.stats.frames_dropped(),
            "model_frames": self.stats.model_frames,
            "states": list(self.lifecycle.seen),
            "yaw_follow": self.stats.yaw_follow(),
            "motion_to_photon_median_ms": mtp["median"],
            "motion_to_photon_p95_ms": mtp["p95"],
            "layer_distance_m": LAYER_DISTANCE_M, "layer_width_m": LAYER_WIDTH_M,
            "layer_fov_deg": round(math.degrees(2 * math.atan(LAYER_WIDTH_M / 2 / LAYER_DISTANCE_M)), 1),
        }
