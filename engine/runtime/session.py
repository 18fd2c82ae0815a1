"""The session: the one authority over a running scenario (DESIGN.md §2).

A :class:`Session` owns the world model's state, the tick clock and the event log. Everyone
else — trainee view, game-master console, recorder, observers — is a :class:`Client`
connected through :meth:`Session.connect`, and receives only what its :class:`Role` may see:
the trainee's stream carries frames and nothing of the game master.

Per tick ``t`` (at 20 Hz): the world state advances (a spreading bleed grows), cues due at
``t`` and game-master events queued since the last tick change the state, the world model
generates frame ``t`` from the trainee's current action and the state, and the frame, the
action and the events are published (and so recorded) with tick ``t``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

import numpy as np

from ..actions import TICK_HZ, sanitize_action
from ..world.motion import apply_action
from ..world.scene import Scene
from ..world.state import WorldState, check_event
from .opening import open_floor


class Role(str, Enum):
    TRAINEE = "trainee"
    GAME_MASTER = "game_master"
    OBSERVER = "observer"  # recorder, debrief tools: sees everything


#: Which roles receive each kind of message.
AUDIENCE: dict[str, frozenset[Role]] = {
    "frame": frozenset(Role),
    "end": frozenset(Role),
    "start": frozenset({Role.GAME_MASTER, Role.OBSERVER}),
    "action": frozenset({Role.GAME_MASTER, Role.OBSERVER}),
    "event": frozenset({Role.GAME_MASTER, Role.OBSERVER}),
    "state": frozenset({Role.GAME_MASTER, Role.OBSERVER}),
}


@dataclass(frozen=True)
class Message:
    """One thing a client receives. ``frame`` is uint8 ``(H, W, 3)`` for ``kind == "frame"``."""

    kind: str
    tick: int
    data: dict = field(default_factory=dict)
    frame: np.ndarray | None = None


class Client:
    """A connection to a session in one :class:`Role`.

    Messages are queued (the newest ``maxlen`` kept) for :meth:`poll`, or delivered at once
    on the session's thread to ``on_message`` (the recorder uses this). A trainee client
    sets the participant's action; a game-master client fires events.
    """

    def __init__(self, session: "Session", role: Role, *, maxlen: int = 256,
                 on_message: Callable[[Message], None] | None = None):
        self.session, self.role = session, Role(role)
        self._queue: deque[Message] = deque(maxlen=maxlen)
        self._on_message = on_message
        self.latest_frame: Message | None = None

    def deliver(self, msg: Message) -> None:
        if self.role not in AUDIENCE[msg.kind]:
            return
        if msg.kind == "frame":
            self.latest_frame = msg
        if self._on_message is not None:
            self._on_message(msg)
        else:
            self._queue.append(msg)

    def poll(self) -> list[Message]:
        """All messages received since the last poll, oldest first."""
        out = []
        while self._queue:
            out.append(self._queue.popleft())
        return out

    def set_action(self, action) -> None:
        """Trainee only: the action ``(forward, strafe, yaw, pitch)`` to apply from the next tick."""
        if self.role is not Role.TRAINEE:
            raise PermissionError(f"a {self.role.value} client cannot move the participant")
        self.session._set_action(action)

    def fire(self, event: str, *, label: str | None = None, source: str = "game_master") -> None:
        """Game master only: queue ``event`` for the next tick. Raises ``UnknownEventError``."""
        if self.role is not Role.GAME_MASTER:
            raise PermissionError(f"a {self.role.value} client cannot fire events")
        self.session._queue_event(event, label=label, source=source)

    def fire_text(self, request: str, *, source: str = "game_master") -> tuple[str, float]:
        """Game master only: fire the trained event nearest to a free-text ``request``
        ("switch the lights off" → ``lights_dim``), matched through the prompt's sentence
        encoder (:func:`engine.model.text.match_event`). Returns ``(event, similarity)``; the
        request is kept as the event's label in the log. Raises ``ValueError`` (with the
        nearest events) when nothing matches well enough."""
        from ..model.text import match_event

        event, sim = match_event(request)
        self.fire(event, label=request, source=source)
        return event, sim

    def close(self) -> None:
        self.session.disconnect(self)


class Session:
    """Runs ``scenario`` on ``model`` (see :mod:`engine.model.interface`).

    ``prompt`` opens the world; ``scene`` is the room's floor plan when known (used to track
    where the participant stands, for events placed relative to them).
    """

    def __init__(self, scenario, model, prompt, *, scene: Scene | None = None, tick_hz: int = TICK_HZ):
        self.scenario, self.model, self.prompt = scenario, model, prompt
        #: What the designer should know about the opening (set by start(); see opening_notice).
        self.notice: str | None = None
        self.tick_hz = tick_hz
        self.scene = scene or open_floor()
        self.tick = -1
        self.world_state: WorldState = scenario.world.initial_state()
        self.pose = (*self.scene.start_pose, 0.0)
        self.event_log: list[dict] = []
        self._cues = deque(scenario.cue_ticks(tick_hz))
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._action = np.zeros(4, np.float32)
        self._pending_events: list[tuple[str, str | None, str]] = []
        self.ended = False

    # ------------------------------------------------------------ clients
    def connect(self, role: Role | str, **kwargs) -> Client:
        client = Client(self, Role(role), **kwargs)
        with self._lock:
            self._clients.append(client)
        return client

    def disconnect(self, client: Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def _publish(self, msg: Message) -> None:
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.deliver(msg)

    def _set_action(self, action) -> None:
        a = sanitize_action(action)
        with self._lock:
            self._action = a

    def _queue_event(self, event: str, *, label: str | None, source: str) -> None:
        check_event(event)
        with self._lock:
            self._pending_events.append((event, label, source))

    # ------------------------------------------------------------ ticking
    def start(self) -> np.ndarray:
        """Open the world (tick 0) and publish the opening frame."""
        from .opening import opening_notice

        frame = self.model.reset(self.prompt, self.world_state)
        self.tick = 0
        start = {"title": self.scenario.title, "prompt": self.prompt.text,
                 "model": getattr(self.model, "name", type(self.model).__name__), "state": self.world_state.as_dict()}
        self.notice = opening_notice(self.prompt, self.model)
        if self.notice:
            start["notice"] = self.notice
        self._publish(Message("start", 0, start))
        self._fire_due_events()
        self._publish(Message("state", 0, self.world_state.as_dict()))
        self._publish(Message("frame", 0, frame=frame))
        return frame

    def step(self) -> np.ndarray:
        """Advance one tick; returns the new frame. Raises ``RuntimeError`` before start or after end."""
        if self.tick < 0 or self.ended:
            raise RuntimeError("Session.step needs a started, not yet ended session")
        with self._lock:
            action = self._action.copy()
        self.tick += 1
        self.pose = apply_action(self.scene, self.pose, action)
        before = self.world_state
        self.world_state = self.world_state.advance()
        self._fire_due_events()
        if self.world_state != before:
            self._publish(Message("state", self.tick, self.world_state.as_dict()))
        frame = self.model.step(action, self.world_state)
        self._publish(Message("action", self.tick, {"action": [float(v) for v in action]}))
        self._publish(Message("frame", self.tick, frame=frame))
        return frame

    def _fire_due_events(self) -> None:
        due: list[tuple[str, str | None, str]] = []
        while self._cues and self._cues[0][0] <= self.tick:
            due.append((self._cues.popleft()[1], None, "cue"))
        with self._lock:
            due += self._pending_events
            self._pending_events = []
        if not due:
            return
        viewer = getattr(self.model, "viewer_pose", None) or self.pose[:3]
        for event, label, source in due:
            self.world_state = self.world_state.apply(event, viewer_pose=viewer)
            record = {"event": event, "source": source, "label": label}
            self.event_log.append({"tick": self.tick, **record})
            self._publish(Message("event", self.tick, record))

    def end(self, reason: str = "finished") -> None:
        if not self.ended:
            self.ended = True
            self._publish(Message("end", max(self.tick, 0), {"reason": reason}))


class RecorderSink:
    """Connects a :class:`~engine.runtime.recorder.Recorder` to a session as an observer:
    frames go to the video, everything else to the JSONL log, as it happens."""

    def __init__(self, session: Session, recorder):
        self.recorder = recorder
        self.client = session.connect(Role.OBSERVER, on_message=self)

    def __call__(self, msg: Message) -> None:
        if msg.kind == "frame":
            self.recorder.write_frame(msg.tick, msg.frame)
        else:
            self.recorder.log({"type": msg.kind, "tick": msg.tick, **msg.data})


class SessionRunner(threading.Thread):
    """Ticks a session on its own thread, paced at the session's tick rate (or as fast as
    the model goes with ``paced=False``). Records per-tick generation time (seconds) and
    missed ticks (a tick whose frame was late by more than one tick)."""

    def __init__(self, session: Session, *, paced: bool = True, max_ticks: int | None = None,
                 before_tick: Callable[[Session], None] | None = None):
        super().__init__(name="ved-session", daemon=True)
        self.session, self.paced, self.max_ticks = session, paced, max_ticks
        self.before_tick = before_tick
        self.frame_times: list[float] = []
        self.missed_ticks = 0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        s = self.session
        period = 1.0 / s.tick_hz
        try:
            if s.tick < 0:
                s.start()
            deadline = time.perf_counter() + period
            while not self._stop_event.is_set() and (self.max_ticks is None or s.tick < self.max_ticks):
                if self.before_tick:
                    self.before_tick(s)
                t0 = time.perf_counter()
                s.step()
                self.frame_times.append(time.perf_counter() - t0)
                if self.paced:
                    now = time.perf_counter()
                    if now > deadline + period:
                        self.missed_ticks += int((now - deadline) / period)
                        deadline = now
                    else:
                        time.sleep(max(0.0, deadline - now))
                    deadline += period
        except BaseException as exc:  # surfaced to the owner; the recording is already on disk
            self.error = exc
            s.end(reason=f"error: {exc}")
            return
        s.end()
