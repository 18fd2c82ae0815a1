"""The session: the one authority over a running scenario (DESIGN.md §2).

A :class:`Session` owns the world model's state, the tick clock and the event log. Everyone
else — trainee view, game-master console, recorder, observers — is a :class:`Client`
connected through :meth:`Session.connect`, and receives only what its :class:`Role` may see:
the trainee's stream carries frames and nothing of the game master.

Per tick ``t`` of world time (at 20 Hz, :meth:`Session.advance_clock`): the trainees'
input moves them, the world state advances (a spreading bleed grows), cues due at ``t`` and
game-master events queued since the last tick change the state, and the tick's actions,
events and sound are published (and so recorded) with tick ``t``. Each frame
(:meth:`Session.generate`) is generated from the newest tick and the actions of the ticks
since the last frame, and published with the tick it shows; a live session runs the clock
and the frames on two threads (:mod:`engine.runtime.runner`), so a world model slower than
the tick costs frames, never time. The game master's requests queued since the last frame
are carried out first (bookmark, rewind, marker, prompt change, pause; see
:mod:`engine.runtime.control`); a rewind or a new opening image gives a frame of its own.

A scenario with several trainee roles gets one :class:`~engine.runtime.participants.Participant`
per seat, side by side at the start (:func:`engine.world.seats.seat_start_poses`): each has
its own pose, input and view, the world state is shared, and the world model steps every
view in one batched pass (``step_views``), each view showing the others where they stand.
Frames and actions carry their ``seat``; a trainee's client receives its own seat's frames.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..actions import ACTION_LIMITS, TICK_HZ, sanitize_action
from ..world.motion import apply_action
from ..world.scene import Scene
from ..world.state import WorldState, check_event
from ..audio import SAMPLE_RATE
from ..world.seats import others_seen_by, seat_start_poses
from .client_api import ClientRequests
from .control import Bookmark, CueState, cue_states, reschedule
from .guard import DivergenceGuard
from .opening import open_floor
from .participants import Participant
from .quality import QUALITY_MODES, QualityGovernor
from .protocol import (AUDIENCE, Action, BookmarkRequest, Caption, Cues, End, Event, FireCue, FireEvent, Frame,
                       Headset, HeadsetStatus, Mark, Marker, Message, Notice, Pause, PauseRequest, PromptChange,
                       Request, Resume, Sound, Speak, Voice,
                       PromptRequest, Quality, Recovery, ResumeRequest, Rewind, RewindRequest, Role, Say, SetAction, Look, Start,
                       State, to_record)
from .protocol import Bookmark as BookmarkMessage

_log = logging.getLogger(__name__)

__all__ = ["Client", "Message", "RecorderSink", "Role", "Session"]


class Client(ClientRequests):
    """The session's side of one connection, in one :class:`Role`: what the role may receive
    (:data:`~engine.runtime.protocol.AUDIENCE`) and send
    (:data:`~engine.runtime.protocol.SENDERS`) is checked here. In process it is also the
    client a window uses; a network server holds one per remote client.

    A trainee's client sits in one ``seat``: it receives that seat's frames (and captions
    for it or for everyone), and its actions move that seat's trainee. Game masters and
    observers receive every seat's frames (``Frame.seat`` says whose).

    Messages are queued (the newest ``maxlen`` kept) for :meth:`poll`, or delivered at once
    on the session's thread to ``on_message`` (the recorder and the network server use
    this); the newest frame is also kept as :attr:`latest_frame` (seat 0's for a game
    master or observer; every seat's in :attr:`latest_frames`). Requests go through
    :meth:`send` (or the helpers of :class:`~engine.runtime.client_api.ClientRequests`); a
    request the role may not send raises ``PermissionError``.
    """

    def __init__(self, session: "Session", role: Role, *, seat: int | None = None, maxlen: int = 256,
                 on_message: Callable[[Message], None] | None = None):
        self.session, self.role = session, Role(role)
        #: The trainee seat (index) of a trainee's client; None for a game master or observer.
        self.seat = (seat or 0) if self.role is Role.TRAINEE else None
        self._queue: deque[Message] = deque(maxlen=maxlen)
        self._on_message = on_message
        self.latest_frame: Frame | None = None
        self.latest_frames: dict[int, Frame] = {}

    def deliver(self, msg: Message) -> None:
        """Hand ``msg`` to this client if its role (and, for a trainee, its seat) may
        receive it (session thread)."""
        if self.role not in AUDIENCE[msg.kind]:
            return
        if self.seat is not None and getattr(msg, "seat", None) not in (None, self.seat):
            return  # another trainee's frame or caption
        if isinstance(msg, Frame):
            self.latest_frames[msg.seat] = msg
            if msg.seat == (self.seat or 0):
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

    def _deliver(self, request: Request) -> None:
        self.session.submit(request, seat=self.seat or 0)

    @property
    def tick_hz(self) -> int:
        """The session's tick rate (Hz), as a remote client learns it when it joins."""
        return self.session.tick_hz

    def set_prompt(self, text: str, image=None) -> threading.Thread:
        """Game master only: change the world prompt live; with ``image`` (a file path, or
        uint8 ``(H, W, 3)``) the image becomes the new scene's opening frame. The prompt is
        prepared on a background thread (the text embedding can take seconds the first
        time) and applied at the first tick after that; returns the thread. Problems (an
        unreadable image) come back as a "notice" message."""
        if self.role is not Role.GAME_MASTER:
            raise PermissionError(f"a {self.role.value} client cannot change the prompt")
        return self.session.request_prompt(text, image)

    def fire_text(self, request: str, *, source: str = "game_master") -> tuple[str, float]:
        """Game master only: fire the trained event nearest to a free-text ``request``
        ("switch the lights off" → ``lights_dim``), matched through the prompt's sentence
        encoder (:func:`engine.model.text.match_event`). Returns ``(event, similarity)``; the
        request is kept as the event's label in the log. Raises ``ValueError`` (with the
        nearest events) when nothing matches well enough."""
        from ..model.text import match_event

        if self.role is not Role.GAME_MASTER:
            raise PermissionError(f"a {self.role.value} client cannot send 'fire_event'")
        event, sim = match_event(request)
        self.fire(event, label=request, source=source)
        return event, sim

    def close(self) -> None:
        self.session.disconnect(self)


@dataclass(frozen=True)
class _FromSeat:
    """A trainee's request that needs its seat, queued for the next tick boundary."""

    seat: int
    request: HeadsetStatus


@dataclass(frozen=True)
class _PromptReady:
    """A prompt change whose text embedding (and image) is ready: applied at the next tick."""

    prompt: object
    image_name: str | None


class Session:
    """Runs ``scenario`` on ``model`` (a :class:`~engine.model.interface.WorldModel`).

    ``prompt`` opens the world; ``scene`` is the room's floor plan when known (used to track
    where the participants stand, for events placed relative to them). With several trainee
    seats (``scenario.seats``), ``seat_prompts`` gives each seat's opening (the view from its
    start pose, :func:`engine.runtime.opening.open_seats`); without it every seat opens on
    ``prompt``.
    """

    def __init__(self, scenario, model, prompt, *, scene: Scene | None = None, tick_hz: int = TICK_HZ,
                 seat_prompts: list | None = None, quality: str | None = None):
        if quality is not None and quality not in QUALITY_MODES:
            raise ValueError(f"no quality {quality!r}; choose one of {', '.join(QUALITY_MODES)}")
        self.scenario, self.model, self.prompt = scenario, model, prompt
        #: How the quality rung is chosen: "auto" (from the frame times), a fixed rung, or None
        #: (the model as it was given, no ladder).
        self.quality_mode = quality
        #: The rung of the model's quality ladder in use (None: no ladder in use).
        self.quality: str | None = None
        #: Every rung change ``(tick, level)``, the first at the start.
        self.quality_changes: list[tuple[int, str]] = []
        self._governor: QualityGovernor | None = None
        #: What the designer should know about the opening (set by start(); see opening_notice).
        self.notice: str | None = None
        self.tick_hz = tick_hz
        self.scene = scene or open_floor()
        self.tick = -1
        self.world_state: WorldState = scenario.world.initial_state()
        names = list(getattr(scenario, "seats", None) or ["Trainee"])
        #: One participant per trainee seat, seat 0 first.
        self.participants: list[Participant] = [
            Participant(k, name, pose) for k, (name, pose) in enumerate(zip(names, seat_start_poses(self.scene, len(names))))]
        if seat_prompts is not None and len(seat_prompts) != len(names):
            raise ValueError(f"{len(seat_prompts)} seat prompts for {len(names)} trainee seats")
        self._seat_prompts = seat_prompts
        self._audio = self._make_audio()
        from ..audio.gm_voice import GameMasterVoice

        self._gm_voice = GameMasterVoice(self._avatar_voice())
        #: Called with each stretch of the game master's raw microphone ``(samples float32
        #: (n,), sample_rate, mode, tick)`` as it arrives (the recorder keeps it as a file of its own).
        self.microphone_sinks: list = []
        #: Every event fired so far, in order.
        self.event_log: list[Event] = []
        #: The timed cues with their due and fired ticks (see :mod:`engine.runtime.control`).
        self.cues: list[CueState] = cue_states(scenario, tick_hz)
        self.bookmarks: dict[int, Bookmark] = {}
        #: True while the game master has the clock stopped (the runner then only serves requests).
        self.paused = False
        self._clients: list[Client] = []
        self._lock = threading.Lock()  # inputs, queued requests and events, the client list
        #: Held while the clock ticks and while a frame's inputs are taken or published, so a
        #: clock thread and a generating thread (:class:`~engine.runtime.runner.SessionRunner`)
        #: never see the world half-changed; never held while the world model steps.
        self._clock = threading.RLock()
        self._publish_lock = threading.RLock()  # messages reach every client in one order
        #: Set by every tick of the clock (a generating thread waits on it).
        self.ticked = threading.Event()
        #: The tick of the last frame published (-1: none yet).
        self.frame_tick = -1
        self._pending_events: list[tuple[str, str | None, str, int | None, int | None]] = []
        #: Seats whose headset came off while the scenario pauses for that (the clock waits for them).
        self.headset_off: set[int] = set()
        self._worn: dict[int, bool] = {}
        self._headset_paused = False
        self._commands: list[Request | _PromptReady] = []
        self._next_id = 1
        self.ended = False
        #: Re-anchors a diverging rollout (engine.runtime.guard); ``guard.recoveries`` counts them.
        self.guard = DivergenceGuard()

    def _make_audio(self) -> list:
        """One :class:`~engine.audio.world.WorldAudio` per seat, with the scenario's ``[sounds]``."""
        from ..audio.world import SoundSettings, WorldAudio

        cfg = getattr(self.scenario, "sounds", None)
        settings = SoundSettings(**cfg.model_dump()) if cfg is not None else SoundSettings()
        scene = self.scene if self.scene.room_type != "unknown" else None
        return [WorldAudio(scene, settings, tick_hz=self.tick_hz, seed=k) for k in range(len(self.participants))]

    def _avatar_voice(self) -> str | None:
        """The voice preset of the scenario's (first) avatar role that names one."""
        for role in getattr(self.scenario, "roles", None) or []:
            if getattr(role, "kind", None) == "avatar" and getattr(role, "voice", None):
                return role.voice
        return None

    def _speak(self, request: Speak) -> None:
        """The game master's microphone, as it arrives (on the sender's thread, not at a
        tick): kept raw for the recording, transformed in avatar mode, placed, and sent to
        the trainee seat(s) as :class:`Voice` at once."""
        self._check_seat(request.seat)
        raw = request.samples()
        for sink in list(self.microphone_sinks):
            try:
                sink(raw, SAMPLE_RATE, request.mode, max(self.tick, 0))
            except Exception:  # noqa: BLE001 - a recorder that has closed never stops the voice
                _log.exception("the game master's microphone could not be kept")
        from ..audio.gm_voice import heard

        avatar_xz = tuple(self.world_state.avatar_pose[:2])
        seats = self.participants if request.seat is None else [self.participants[request.seat]]
        tick = max(self.tick, 0)
        for mode, mono in self._gm_voice.speak(raw, request.mode, final=request.final):
            for p in seats:
                self._publish(Voice(tick=tick, samples=heard(mode, mono, p.pose, avatar_xz), sample_rate=SAMPLE_RATE,
                                    seat=p.seat))

    # ------------------------------------------------------------ seats
    @property
    def seats(self) -> list[str]:
        """The trainee seats' names, seat 0 first."""
        return [p.name for p in self.participants]

    @property
    def pose(self) -> tuple[float, float, float, float]:
        """Seat 0's pose ``(x, z, yaw, pitch)`` (metres, radians) on the floor plan."""
        return self.participants[0].pose

    @property
    def last_frame(self) -> np.ndarray | None:
        """The last frame seat 0 saw, uint8 ``(H, W, 3)`` (None before the start)."""
        return self.participants[0].last_frame

    def _views(self) -> tuple[list[WorldState], list[tuple]]:
        """The world state as each seat sees it (the other trainees in it) and each seat's pose."""
        poses = [p.pose for p in self.participants]
        if len(poses) == 1:
            return [self.world_state], poses
        return [self.world_state.with_others(others_seen_by(poses, k)) for k in range(len(poses))], poses

    # ------------------------------------------------------------ clients
    @property
    def input_seq(self) -> int:
        """Seat 0's :meth:`input_seq_of`."""
        return self.input_seq_of(0)

    def input_seq_of(self, seat: int) -> int:
        """The newest input's sequence number received from seat ``seat``'s trainee: a
        trainee who joins (or rejoins) numbers its inputs on from here, so a frame's
        ``input_seq`` says which of its inputs the frame reflects."""
        with self._lock:
            return self.participants[seat].input_seq

    def connect(self, role: Role | str, *, seat: int | None = None, **kwargs) -> Client:
        """A new client in ``role``; a trainee's sits in trainee ``seat`` (default 0). Raises
        ``ValueError`` for a seat the scenario does not have."""
        if Role(role) is Role.TRAINEE and not 0 <= (seat or 0) < len(self.participants):
            raise ValueError(f"no trainee seat {seat}; this scenario has {len(self.participants)}: "
                             + ", ".join(f"{k} {n}" for k, n in enumerate(self.seats)))
        client = Client(self, Role(role), seat=seat, **kwargs)
        with self._lock:
            self._clients.append(client)
        return client

    def disconnect(self, client: Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def _publish(self, msg: Message) -> None:
        with self._publish_lock:
            with self._lock:
                clients = list(self._clients)
            for c in clients:
                c.deliver(msg)

    def submit(self, request: Request, *, seat: int = 0) -> None:
        """Take a request from a client (its role already checked by its :class:`Client`;
        ``seat``: the trainee seat of the client, for actions and looks): an action applies
        from the next tick, everything else is carried out, in order, at the next tick
        boundary on the session's thread. Raises ``UnknownEventError`` for an event the world
        does not know, ``ValueError`` for a seat the session does not have, ``TypeError`` for
        something that is not a request."""
        if isinstance(request, (SetAction, Look)):
            if not 0 <= seat < len(self.participants):
                raise ValueError(f"no trainee seat {seat}")
            p = self.participants[seat]
            with self._lock:
                if isinstance(request, SetAction):
                    p.action = sanitize_action(request.action)
                else:
                    p.look += (request.yaw, request.pitch)
                p.input_seq = max(p.input_seq, request.seq)
        elif isinstance(request, FireEvent):
            self._check_seat(request.seat)
            self._queue_event(request.event, label=request.label, source=request.source, seat=request.seat)
        elif isinstance(request, Say):
            self._check_seat(request.seat)
            with self._lock:
                self._commands.append(request)
        elif isinstance(request, Speak):
            self._speak(request)
        elif isinstance(request, HeadsetStatus):
            self._check_seat(seat)
            with self._lock:
                self._commands.append(_FromSeat(seat, request))
        elif isinstance(request, (FireCue, Mark, BookmarkRequest, RewindRequest, PauseRequest, ResumeRequest)):
            with self._lock:
                self._commands.append(request)
        elif isinstance(request, PromptRequest):
            try:
                data = request.image_bytes()
            except ValueError as exc:
                self._publish(Notice(tick=max(self.tick, 0), text=f"the new prompt was not applied: {exc}"))
                return
            import io

            self.request_prompt(request.text, None if data is None else io.BytesIO(data),
                                image_name=request.image_name or "(image)", formats=("PNG", "WEBP"))
        else:
            raise TypeError(f"not a session request: {request!r}")

    def _check_seat(self, seat: int | None) -> None:
        if seat is not None and not 0 <= seat < len(self.participants):
            raise ValueError(f"no trainee seat {seat}; this session has seats 0-{len(self.participants) - 1} "
                             f"({', '.join(self.seats)})")

    def _queue_event(self, event: str, *, label: str | None, source: str, cue: int | None = None,
                     seat: int | None = None) -> None:
        check_event(event)
        with self._lock:
            self._pending_events.append((event, label, source, cue, seat))

    def request_prompt(self, text: str, image, *, image_name: str | None = None,
                       formats: tuple[str, ...] | None = None) -> threading.Thread:
        """Prepare a new world prompt (``text``, and ``image``: None, a file path or binary
        file object — read in one of ``formats`` when given, cropped and resized to the
        model's frame size — or uint8 ``(H, W, 3)``; ``image_name`` names it in the log) on a
        background thread and apply it at the first tick after that; returns the thread. A
        prompt that cannot be prepared is answered with a notice."""
        def prepare() -> None:
            from ..model.interface import Prompt
            from .opening import load_image

            try:
                if image is None:
                    pixels, name = None, None
                elif isinstance(image, np.ndarray):
                    pixels, name = image, image_name or "(image)"
                else:
                    name = image_name or Path(image).name
                    pixels = load_image(image, self.model.resolution, formats=formats, name=name)
                prompt = self.model.prepare_prompt(Prompt(str(text), pixels))
            except Exception as exc:
                self._publish(Notice(tick=max(self.tick, 0), text=f"the new prompt was not applied: {exc}"))
                return
            with self._lock:
                self._commands.append(_PromptReady(prompt, name))

        thread = threading.Thread(target=prepare, name="ved-prompt", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------ ticking
    def start(self) -> np.ndarray:
        """Open the world (tick 0) and publish the opening frame."""
        from .opening import opening_notice

        frames = self._open_views(self._seat_prompts or [self.prompt] * len(self.participants))
        self.guard.opened(frames)
        self.tick = 0
        self.notice = opening_notice(self.prompt, self.model)
        self._publish(Start(tick=0, title=self.scenario.title, prompt=self.prompt.text,
                            model=self.model.name, state=self.world_state.as_dict(), tick_hz=self.tick_hz,
                            notice=self.notice or None, seats=tuple(self.seats)))
        self._publish_cues()
        self._start_quality()
        self._fire_due_events()
        self._publish(State(tick=0, state=self.world_state.as_dict()))
        self._publish_frames(frames)
        self._publish_sound()
        return frames[0]

    def _start_quality(self) -> None:
        """Set the model's rung as :attr:`quality_mode` asks (auto: the top rung, then the
        governor). A model with no ladder keeps drawing as it does (said in a notice when a
        rung was asked for). Raises ``ValueError`` for a rung the model does not have."""
        levels, mode = tuple(self.model.quality_levels), self.quality_mode
        if mode is None:
            return
        if not levels:
            if mode != "auto":
                self._publish(Notice(tick=0, text=f"{self.model.name} draws one way: quality {mode!r} does not apply"))
            return
        if mode == "auto":
            self._governor = QualityGovernor(levels, 1.0 / self.tick_hz)
            self._set_quality(levels[0], "auto: the top rung first")
        elif mode not in levels:
            raise ValueError(f"{self.model.name} has no quality level {mode!r}; it has {', '.join(levels)}")
        else:
            self._set_quality(mode, "fixed")

    def _set_quality(self, level: str, reason: str) -> None:
        """Draw from the next frame at ``level``; published to the game master and the recording."""
        self.model.set_quality(level)
        self.quality = level
        tick = max(self.tick, 0)
        self.quality_changes.append((tick, level))
        _log.info("tick %d: quality %s (%s)", tick, level, reason)
        self._publish(Quality(tick=tick, level=level, auto=self._governor is not None, reason=reason))

    def _open_views(self, prompts: list) -> list[np.ndarray]:
        """Open the model on every seat's view (one seat: the plain ``reset``)."""
        states, poses = self._views()
        if len(poses) == 1:
            return [self.model.reset(prompts[0], states[0], viewer_pose=poses[0])]
        return self.model.reset_views(prompts, states, poses)

    def step(self) -> np.ndarray:
        """Advance one tick and generate its frame (the clock and the frame in lock step, as
        a headless run, a bench or a test want); returns seat 0's new frame. Raises
        ``RuntimeError`` before start or after end.

        The game master's queued requests are carried out first; a rewind or a new opening
        image gives this tick's frame (no generation step then)."""
        if self.tick < 0 or self.ended:
            raise RuntimeError("Session.step needs a started, not yet ended session")
        frame = self.apply_commands()
        if frame is not None:
            return frame
        self.advance_clock()
        return self.generate()

    def advance_clock(self) -> None:
        """One tick of world time (``1 / tick_hz`` s), whether a frame follows it or not:
        each seat's input of the tick moves its trainee (and is kept for the next frame), the
        world state advances, due cues and queued events fire, and the tick's actions and
        sound are published. So world time, cues, events and sound keep the wall clock when
        the world model is slower than the tick. Raises ``RuntimeError`` before start or
        after end."""
        with self._clock:
            if self.tick < 0 or self.ended:
                raise RuntimeError("the session's clock needs a started, not yet ended session")
            with self._lock:
                actions = [p.take_input() for p in self.participants]
            actions = [np.clip(a, -ACTION_LIMITS, ACTION_LIMITS).astype(np.float32) for a in actions]
            self.tick += 1
            for p, action in zip(self.participants, actions):
                p.pose = apply_action(self.scene, p.pose, action)
                p.unseen += action
            before = self.world_state
            self.world_state = self.world_state.advance()
            self._fire_due_events()
            if self.world_state != before:
                self._publish(State(tick=self.tick, state=self.world_state.as_dict()))
            for p, action in zip(self.participants, actions):
                self._publish(Action(tick=self.tick, action=tuple(float(v) for v in action), seat=p.seat))
            self._publish_sound()
        self.ticked.set()

    def generate(self) -> np.ndarray | None:
        """Every seat's frame of the current tick, from the actions of the ticks since the
        last frame (summed; the world model takes at most its action limits in one step) and
        the world as it is now; published, and seat 0's returned. None when the current tick
        has its frame already. The clock may tick on while the model works (the frame keeps
        the tick it was started at). Raises ``RuntimeError`` before start or after end."""
        with self._clock:
            if self.tick < 0 or self.ended:
                raise RuntimeError("Session.generate needs a started, not yet ended session")
            tick = self.tick
            if tick == self.frame_tick:
                return None
            with self._lock:
                actions = [np.clip(p.take_unseen(), -ACTION_LIMITS, ACTION_LIMITS) for p in self.participants]
                seqs = [p.applied_seq for p in self.participants]
            states, poses = self._views()
        t0 = time.perf_counter()
        if len(poses) == 1:
            frames = [self.model.step(actions[0], states[0], viewer_pose=poses[0])]
        else:
            frames = self.model.step_views(actions, states, poses)
        t1 = time.perf_counter()
        with self._clock:
            frames = self._guarded(frames, states, poses, tick)
            self._publish_frames(frames, tick=tick, poses=poses, seqs=seqs)
            if self._governor is not None:
                change = self._governor.observe(t1 - t0, t1)
                if change is not None:
                    self._set_quality(*change)
        return frames[0]

    def _guarded(self, frames: list[np.ndarray], states: list[WorldState], poses: list,
                 tick: int) -> list[np.ndarray]:
        """``frames``, or — when a view's rollout left the model's trained range — the frames
        of the context re-anchored on each view's last healthy frame (see
        :mod:`engine.runtime.guard`); the recovery is counted, logged and published. A model
        that fails to re-anchor leaves the frames as they are (logged), never the session."""
        scores = self.model.divergence()
        diverged = self.guard.check(scores, frames)
        if not diverged:
            return frames
        score = max(float(scores[i]) for i in diverged)
        try:
            frames = self.model.reanchor(self.guard.anchors(diverged, frames), states, poses)
        except Exception:  # noqa: BLE001 - a model that cannot re-anchor never ends the session
            _log.exception("tick %d: the world model diverged (score %.2f) and could not be re-anchored",
                           tick, score)
            return frames
        self.guard.opened(frames)
        _log.warning("tick %d: world model diverged on seat(s) %s (score %.2f); context re-anchored (recovery %d)",
                     tick, diverged, score, self.guard.recoveries)
        self._publish(Recovery(tick=tick, seats=tuple(diverged), score=round(score, 3),
                               recoveries=self.guard.recoveries))
        return frames

    def _publish_frames(self, frames: list[np.ndarray], *, tick: int | None = None, poses: list | None = None,
                        seqs: list | None = None) -> None:
        """Publish each seat's frame (seat 0 first) of ``tick`` (default: the current one),
        seen from ``poses`` with the inputs up to ``seqs`` applied (default: as they are now)."""
        tick = self.tick if tick is None else tick
        for k, (p, frame) in enumerate(zip(self.participants, frames)):
            p.last_frame = frame
            pose = p.pose if poses is None else poses[k]
            seq = p.applied_seq if seqs is None else seqs[k]
            self._publish(Frame(tick=tick, frame=frame, input_seq=seq, seat=p.seat,
                                pose=tuple(float(v) for v in pose)))
        self.frame_tick = tick

    def _publish_sound(self) -> None:
        """Publish each seat's sound of the current tick (the world's sounds where it stands)."""
        for p in self.participants:
            self._publish(Sound(tick=self.tick, samples=self._audio[p.seat].render(self.world_state, p.pose),
                                sample_rate=SAMPLE_RATE, seat=p.seat))

    def _publish_cues(self) -> None:
        self._publish(Cues(tick=max(self.tick, 0), cues=tuple(c.as_dict() for c in self.cues)))

    def _fire_due_events(self) -> None:
        due: list[tuple[str, str | None, str, int | None, int | None]] = []
        for cue in self.cues:
            if cue.fired_tick is None and cue.due_tick <= self.tick:
                due.append((cue.event, None, "cue", cue.index, None))
        with self._lock:
            due += self._pending_events
            self._pending_events = []
        if not due:
            return
        cues_changed = False
        for event, label, source, cue_index, seat in due:
            if seat is None or seat == 0:
                viewer = self.model.viewer_pose or self.pose[:3]
            else:  # placed relative to the trainee it is aimed at
                viewer = self.participants[seat].pose[:3]
            self.world_state = self.world_state.apply(event, viewer_pose=viewer)
            msg = Event(tick=self.tick, event=event, source=source, label=label, cue=cue_index, seat=seat)
            if cue_index is not None:
                for cue in self.cues:
                    if cue.index == cue_index and cue.fired_tick is None:
                        cue.fired_tick, cues_changed = self.tick, True
            self.event_log.append(msg)
            self._publish(msg)
        if cues_changed:
            self._publish_cues()

    # ------------------------------------------------------------ game-master requests
    def apply_commands(self) -> np.ndarray | None:
        """Carry out the game master's queued requests, in order, on the calling (session)
        thread. Returns the frame a rewind or a new opening image published at a new tick,
        else None. A request that cannot be carried out (unknown bookmark, a model that
        cannot open an image) is answered with a "notice" message; the session goes on."""
        with self._lock:
            commands, self._commands = self._commands, []
        if not commands:
            return None
        with self._clock:
            return self._carry_out(commands)

    def _carry_out(self, commands: list) -> np.ndarray | None:
        frame = None
        for command in commands:
            handler, what = self._HANDLERS[type(command)]
            try:
                out = handler(self, command)
            except Exception as exc:  # a bad request never stops the session
                self._publish(Notice(tick=max(self.tick, 0), text=f"{what} failed: {exc}"))
                continue
            if out is not None:
                frame = out
        return frame

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _do_mark(self, req: Mark) -> None:
        self._publish(Marker(tick=self.tick, id=self._new_id(), note=req.note))

    def _do_bookmark(self, req: BookmarkRequest) -> None:
        bid = self._new_id()
        label = req.label or f"bookmark {len(self.bookmarks) + 1}"
        self.bookmarks[bid] = Bookmark(bid, label, self.tick, self.model.snapshot(), self.world_state,
                                       tuple(tuple(p.pose) for p in self.participants), [replace(c) for c in self.cues],
                                       tuple(p.last_frame for p in self.participants))
        self._publish(BookmarkMessage(tick=self.tick, id=bid, label=label))

    def _do_rewind(self, req: RewindRequest) -> np.ndarray:
        bm = self.bookmarks.get(req.bookmark_id)
        if bm is None:
            raise KeyError(f"no bookmark {req.bookmark_id}; bookmarks: {sorted(self.bookmarks) or 'none yet'}")
        self.model.restore(bm.snapshot)
        self.tick += 1
        self.world_state = bm.world_state
        for p, pose in zip(self.participants, bm.poses):
            p.pose = pose
            p.unseen[:] = 0.0
        self.cues = reschedule(bm.cues, bm.tick, self.tick - bm.tick)
        self.guard.opened(list(bm.frames))
        self._publish(Rewind(tick=self.tick, bookmark=bm.id, label=bm.label, to_tick=bm.tick))
        self._publish(State(tick=self.tick, state=self.world_state.as_dict()))
        self._publish_cues()
        self._publish_frames(list(bm.frames))
        self._publish_sound()
        return bm.frames[0]

    def _do_prompt(self, req: _PromptReady) -> np.ndarray | None:
        prompt = req.prompt
        if prompt.image is not None:  # a new scene: the image opens it (for every seat), the floor plan is unknown
            self.tick += 1
            self.prompt, self.scene = prompt, open_floor()
            self._audio = self._make_audio()
            for p, pose in zip(self.participants, seat_start_poses(self.scene, len(self.participants))):
                p.pose = pose
                p.unseen[:] = 0.0
            frames = self._open_views([prompt] * len(self.participants))
            self.guard.opened(frames)
            self._publish(PromptChange(tick=self.tick, text=prompt.text, image=req.image_name))
            self._publish_frames(frames)
            self._publish_sound()
            return frames[0]
        applied = bool(self.model.update_prompt(prompt))
        note = None if applied else ("this world model is not conditioned on text: the new prompt is recorded, "
                                     "the world is unchanged")
        self.prompt = replace(self.prompt, text=prompt.text, text_embedding=prompt.text_embedding)
        self._publish(PromptChange(tick=self.tick, text=prompt.text, image=req.image_name, applied=applied, note=note))
        return None

    def _do_fire_cue(self, req: FireCue) -> None:
        cue = next((c for c in self.cues if c.index == req.index), None)
        if cue is None:
            raise KeyError(f"no cue {req.index}; the scenario has {len(self.cues)} cues")
        if cue.fired_tick is not None:
            raise ValueError(f"cue {req.index} ({cue.event}) fired already at tick {cue.fired_tick}")
        self._queue_event(cue.event, label=cue.note, source="game_master", cue=req.index)

    def _do_headset(self, req: _FromSeat) -> None:
        st, seat = req.request, req.seat
        self._publish(Headset(tick=max(self.tick, 0), seat=seat, state=st.state, worn=st.worn, head_yaw=st.head_yaw,
                              head_pitch=st.head_pitch))
        was = self._worn.get(seat)
        self._worn[seat] = st.worn
        if was is None or was == st.worn:
            return
        name = self.participants[seat].name
        policy = getattr(getattr(self.scenario, "headset", None), "when_removed", "pause")
        if not st.worn:
            self._publish(Notice(tick=max(self.tick, 0), text=f"{name} took the headset off ({st.state.lower()})"
                                 + ("; the session is paused until it is back on" if policy == "pause" else "")))
            if policy == "pause":
                self.headset_off.add(seat)
                if not self.paused:  # a pause the game master made is theirs to end
                    self._headset_paused = True
                    self._do_pause(PauseRequest())
        elif seat in self.headset_off:
            self.headset_off.discard(seat)
            self._publish(Notice(tick=max(self.tick, 0), text=f"{name} has the headset on again"))
            if not self.headset_off and self._headset_paused:
                self._headset_paused = False
                self._do_resume(ResumeRequest())

    def _do_say(self, req: Say) -> None:
        self._publish(Caption(tick=self.tick, text=req.text, seat=req.seat))

    def _do_pause(self, req: PauseRequest) -> None:
        if not self.paused:
            self.paused = True
            self._publish(Pause(tick=self.tick))

    def _do_resume(self, req: ResumeRequest) -> None:
        if self.paused:
            self.paused = False
            self._publish(Resume(tick=self.tick))

    #: The handler of each queued request, and what it is called in a notice when it fails.
    _HANDLERS: dict[type, tuple[Callable, str]] = {
        Mark: (_do_mark, "mark"), BookmarkRequest: (_do_bookmark, "bookmark"), RewindRequest: (_do_rewind, "rewind"),
        _PromptReady: (_do_prompt, "prompt"), FireCue: (_do_fire_cue, "fire_cue"), PauseRequest: (_do_pause, "pause"),
        ResumeRequest: (_do_resume, "resume"), Say: (_do_say, "say"), _FromSeat: (_do_headset, "headset status"),
    }

    def end(self, reason: str = "finished") -> None:
        if not self.ended:
            self.ended = True
            self._publish(End(tick=max(self.tick, 0), reason=reason))


class RecorderSink:
    """Connects a :class:`~engine.recording.Recorder` to a session as an observer:
    frames go to the video (seat 0's to the recording's own, each other trainee seat's to
    its seat recording, :meth:`~engine.recording.Recorder.seat_recorder`), everything else
    to the JSONL log, as it happens."""

    def __init__(self, session: Session, recorder):
        self.recorder = recorder
        self._voice: dict[int, np.ndarray] = {}  # per seat: the game master's voice not yet in the track
        self._voice_lock = threading.Lock()
        self.client = session.connect(Role.OBSERVER, on_message=self)
        session.microphone_sinks.append(recorder.write_microphone)

    def __call__(self, msg: Message) -> None:
        if isinstance(msg, Frame):
            self.recorder.seat_recorder(msg.seat).write_frame(msg.tick, msg.frame)
        elif isinstance(msg, Sound):
            samples = msg.samples
            with self._voice_lock:  # the game master's voice heard since the last tick, mixed in
                voice = self._voice.pop(msg.seat, None)
                if voice is not None and len(voice) > len(samples):
                    self._voice[msg.seat] = voice[len(samples):]
            if voice is not None and len(voice):
                n = min(len(voice), len(samples))
                samples = samples.copy()
                samples[:n] += voice[:n]
                np.clip(samples, -1.0, 1.0, out=samples)
            self.recorder.seat_recorder(msg.seat).write_audio(msg.tick, samples, msg.sample_rate)
        elif isinstance(msg, Voice):
            with self._voice_lock:
                old = self._voice.get(msg.seat)
                voice = msg.samples if old is None else np.concatenate([old, msg.samples])
                self._voice[msg.seat] = voice[-msg.sample_rate:]  # at most a second waits (a paused clock)
        else:
            self.recorder.log(to_record(msg))
