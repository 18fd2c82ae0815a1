"""The session protocol: one class per kind of message a client receives and per request it
sends, the table of who may receive and send what, and the one codec that turns them into
records and back (DESIGN.md §4, "The session protocol").

Every client of a :class:`~engine.runtime.session.Session` — the trainee's view, the
game-master console, the recorder, an observer, and later a client across the network —
speaks this protocol and nothing else. The same codec writes the recording's JSONL log and
reads it back for the debrief, so a record means the same thing everywhere.

A record is a flat JSON object: ``{"type": KIND, "tick": N, ...fields}`` (the recording's log
format since issue 4; a ``state`` record carries the world-state fields at the top level).
Frames are not records: the recorder writes them to video and a network client receives them
as compressed images, so :class:`Frame` has no JSON form.

Messages (session → clients), with the roles that receive them (:data:`AUDIENCE`):
``start``, ``frame``, ``sound``, ``action``, ``state``, ``event``, ``cues``, ``marker``, ``bookmark``,
``rewind``, ``prompt``, ``pause``, ``resume``, ``notice``, ``caption``, ``headset``, ``end``. A trainee
receives the frames and sound of its own seat, the captions meant for it and the end, never
anything of the game master.

Requests (clients → session), with the roles that may send them (:data:`SENDERS`):
``set_action``, ``look`` and ``headset_status`` (trainee), ``fire_event``, ``fire_cue``, ``mark``, ``bookmark_request``,
``rewind_request``, ``pause_request``, ``resume_request``, ``prompt_request`` (game master;
a new world prompt, with the new scene's opening image as a base64 PNG or WebP when there is
one), ``say`` (game master: a caption for one trainee seat or all). A trainee's requests
act on its own seat: the session's side of its connection knows the seat, the request
never names it.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ..world.state import MAX_SEATS

#: Largest encoded record :func:`loads` accepts (bytes). Game-master notes and prompts are
#: short; anything larger is a malformed or hostile message.
MAX_RECORD_BYTES = 64 * 1024


class Role(str, Enum):
    """Who a client is: the trainee in the world, the game master steering it, or an
    observer (the recorder, an instructor watching, the debrief tools) who sees everything
    and steers nothing."""

    TRAINEE = "trainee"
    GAME_MASTER = "game_master"
    OBSERVER = "observer"


class ProtocolError(ValueError):
    """A record or request that is not part of the protocol: unknown type, a missing or
    mistyped field, or too large. The message says which and what was expected."""


_STAFF = frozenset({Role.GAME_MASTER, Role.OBSERVER})
_EVERYONE = frozenset(Role)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tick: int = Field(ge=0)

    @property
    def kind(self) -> str:
        """The record's ``type`` (the name of its kind on the wire and in the log)."""
        return self.type  # type: ignore[attr-defined]


# ------------------------------------------------------------------ messages


class Start(_Record):
    """The session opened the world at ``tick`` 0: the scenario's title, the prompt's text,
    the world model's name, the initial world state, the session's tick rate (Hz) and, when
    the opening needs a word to the designer, a notice."""

    type: Literal["start"] = "start"
    title: str
    prompt: str
    model: str
    state: dict[str, float]
    tick_hz: int = Field(default=20, gt=0)
    notice: str | None = None
    #: The trainee seats' names, seat 0 first (the scenario's trainee roles).
    seats: tuple[str, ...] = ("Trainee",)


class Frame(_Record):
    """The frame trainee seat ``seat`` sees at ``tick``: uint8 ``(H, W, 3)`` RGB, generated
    from that trainee's input up to ``input_seq`` (the ``seq`` of the last ``set_action`` or
    ``look`` applied; 0 before any): a client measures its input-to-frame latency with it.
    ``pose`` is where the seat's trainee stands and looks on the floor plan, ``(x, z, yaw,
    pitch)`` in metres and radians (None when not known). A trainee receives only the frames
    of its own seat. Not a JSON record."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    type: Literal["frame"] = "frame"
    frame: Any = Field(repr=False)
    input_seq: int = Field(default=0, ge=0)
    seat: int = Field(default=0, ge=0, lt=MAX_SEATS)
    pose: tuple[float, float, float, float] | None = None

    @field_validator("frame")
    @classmethod
    def _image(cls, v):
        a = np.asarray(v)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"a frame is uint8 (H, W, 3); got {a.dtype} {a.shape}")
        return a


class Sound(_Record):
    """What trainee seat ``seat`` hears during ``tick``: float32 ``(n, 2)`` samples (left,
    right) in −1…1 at ``sample_rate`` Hz, one tick long (:mod:`engine.audio`). A trainee
    receives only its own seat's. Not a JSON record (the recorder writes it as the
    recording's sound track)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    type: Literal["sound"] = "sound"
    samples: Any = Field(repr=False)
    sample_rate: int = Field(default=48_000, gt=0)
    seat: int = Field(default=0, ge=0, lt=MAX_SEATS)

    @field_validator("samples")
    @classmethod
    def _stereo(cls, v):
        a = np.asarray(v)
        if a.dtype != np.float32 or a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"sound is float32 (n, 2); got {a.dtype} {a.shape}")
        return a


class Voice(_Record):
    """The game master's voice as trainee seat ``seat`` hears it, sent as it is spoken (not
    once a tick, so it is not held back to the tick's 50 ms block): float32 ``(n, 2)``
    samples at ``sample_rate`` Hz, already in the avatar's voice when the game master speaks
    as the avatar, and placed where the speaker is (the avatar's place, or in the ears for
    the game master's own voice). ``tick``: the session tick when it was sent. Not a JSON
    record (the recorder mixes it into the sound track)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    type: Literal["voice"] = "voice"
    samples: Any = Field(repr=False)
    sample_rate: int = Field(default=48_000, gt=0)
    seat: int = Field(default=0, ge=0, lt=MAX_SEATS)

    _stereo = field_validator("samples")(Sound._stereo.__func__)


class Action(_Record):
    """The action of the trainee in seat ``seat`` applied at ``tick``: ``(forward, strafe,
    yaw, pitch)`` in metres and radians per tick (:mod:`engine.actions`)."""

    type: Literal["action"] = "action"
    action: tuple[float, float, float, float]
    seat: int = Field(default=0, ge=0, lt=MAX_SEATS)


class State(_Record):
    """The world state from ``tick`` on (:meth:`engine.world.state.WorldState.as_dict`). In a
    record its fields sit at the top level, beside ``type`` and ``tick``."""

    type: Literal["state"] = "state"
    state: dict[str, float]


class Event(_Record):
    """A game-master event fired at ``tick``: its name, who fired it (``"cue"`` or
    ``"game_master"``, or another source), the game master's label or free-text request, and
    the scenario cue it came from (its index), if any."""

    type: Literal["event"] = "event"
    event: str
    source: str = "game_master"
    label: str | None = None
    cue: int | None = None
    #: The trainee seat it was aimed at (None: the whole room).
    seat: int | None = None

    @property
    def from_cue(self) -> bool:
        """Whether a timed cue fired it (also when the game master fired the cue early)."""
        return self.source == "cue" or self.cue is not None


class CueRow(BaseModel):
    """One timed cue as the console lists it: its ``index`` in the scenario, ``event``,
    ``note``, the tick it is due at and the tick it fired at (None while pending)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    index: int
    event: str
    note: str | None = None
    due_tick: int
    fired_tick: int | None = None


class Cues(_Record):
    """The cue schedule as of ``tick`` (sent at the start and whenever it changes)."""

    type: Literal["cues"] = "cues"
    cues: tuple[CueRow, ...]


class Marker(_Record):
    """A marker the game master placed at ``tick`` with a note for the debrief."""

    type: Literal["marker"] = "marker"
    id: int
    note: str = ""


class Bookmark(_Record):
    """The world at ``tick`` was remembered as bookmark ``id`` (to rewind to)."""

    type: Literal["bookmark"] = "bookmark"
    id: int
    label: str


class Rewind(_Record):
    """At ``tick`` the world was put back to bookmark ``bookmark`` taken at ``to_tick``."""

    type: Literal["rewind"] = "rewind"
    bookmark: int
    label: str
    to_tick: int


class PromptChange(_Record):
    """The world prompt changed at ``tick``: its text, the opening image's file name when an
    image opened a new scene, whether the model applied it, and why not."""

    type: Literal["prompt"] = "prompt"
    text: str
    image: str | None = None
    applied: bool = True
    note: str | None = None


class Pause(_Record):
    """The game master stopped the clock at ``tick``."""

    type: Literal["pause"] = "pause"


class Resume(_Record):
    """The game master started the clock again at ``tick``."""

    type: Literal["resume"] = "resume"


class Notice(_Record):
    """Something the game master should know (a request that could not be carried out)."""

    type: Literal["notice"] = "notice"
    text: str


class Caption(_Record):
    """Words for trainee seat ``seat`` (None: every trainee), shown in the trainee's view as
    a caption from ``tick`` on (the game master speaking to one trainee or all; until the
    voice comes, as text)."""

    type: Literal["caption"] = "caption"
    text: str
    seat: int | None = None


class Headset(_Record):
    """Where trainee ``seat`` is seeing the world from: ``device`` ("headset" or "desktop"),
    the headset session's ``state`` (OpenXR's: idle, ready, synchronized, visible, focused,
    stopping, loss_pending, exiting; "lost" when the runtime went away), whether the headset is
    ``worn`` (the session visible or focused) and where the head actually looks, world
    ``head_yaw`` and ``head_pitch`` (radians; None when not tracked). Sent when it changes
    and twice a second."""

    type: Literal["headset"] = "headset"
    seat: int = Field(default=0, ge=0, lt=MAX_SEATS)
    device: Literal["headset", "desktop"] = "headset"
    state: str
    worn: bool
    head_yaw: float | None = None
    head_pitch: float | None = None


class Recovery(_Record):
    """The world model's rollout left the range it was trained on and the session re-anchored
    it (:mod:`engine.runtime.guard`): ``seats`` the views that diverged, ``score`` the highest
    divergence score among them (1 = the edge of the trained range), ``recoveries`` how many
    re-anchorings this session has had so far. For the game master and the recording only."""

    type: Literal["recovery"] = "recovery"
    seats: tuple[int, ...] = ()
    score: float = 0.0
    recoveries: int = Field(default=1, ge=1)


class Quality(_Record):
    """The rung of the world model's quality ladder the session draws at from ``tick`` on
    (:mod:`engine.runtime.quality`): ``level`` its name, ``auto`` whether the session
    chooses it from its frame times (else it was fixed, ``--quality``), ``reason`` why it
    changed. For the game master and the recording only."""

    type: Literal["quality"] = "quality"
    level: str
    auto: bool = True
    reason: str = ""


class End(_Record):
    """The session ended at ``tick``, for ``reason``."""

    type: Literal["end"] = "end"
    reason: str = "finished"


#: Every kind of message, and their union (discriminated by ``type``).
MESSAGE_TYPES: tuple[type, ...] = (Start, Frame, Sound, Voice, Action, State, Event, Cues, Marker, Bookmark, Rewind, PromptChange,
                                   Pause, Resume, Notice, Caption, Headset, Recovery, Quality, End)
Message = Annotated[Union[MESSAGE_TYPES], Field(discriminator="type")]

#: Which roles receive each kind of message: the one table (the trainee's stream carries
#: frames, captions meant for it and the end, nothing of the game master). A message with a
#: ``seat`` (a frame, a caption for one trainee) goes only to that seat's trainee.
AUDIENCE: dict[str, frozenset[Role]] = {
    "frame": _EVERYONE,
    "sound": _EVERYONE,
    "voice": _EVERYONE,
    "caption": _EVERYONE,
    "end": _EVERYONE,
    **{kind: _STAFF for kind in ("start", "action", "state", "event", "cues", "marker", "bookmark", "rewind",
                                 "prompt", "pause", "resume", "notice", "headset",
                                 "recovery", "quality")},
}

# ------------------------------------------------------------------ requests


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @property
    def kind(self) -> str:
        return self.type  # type: ignore[attr-defined]


class SetAction(_Request):
    """Trainee: apply ``action`` ``(forward, strafe, yaw, pitch)`` (metres, radians per
    tick) from the next tick on. Non-finite or out-of-range values are clamped by the
    session (:func:`engine.actions.sanitize_action`)."""

    type: Literal["set_action"] = "set_action"
    action: tuple[float, float, float, float]
    #: The client's running number of its inputs (for latency; 0: not counted).
    seq: int = Field(default=0, ge=0, lt=2**32)


class Look(_Request):
    """Trainee: turn by ``yaw`` and look by ``pitch`` (radians) once, at the next tick (mouse
    or head motion since the last look). Looks sent between two ticks add up; the tick's
    action is clamped to :data:`engine.actions.ACTION_LIMITS`."""

    type: Literal["look"] = "look"
    yaw: float = Field(ge=-3.15, le=3.15, allow_inf_nan=False)
    pitch: float = Field(ge=-3.15, le=3.15, allow_inf_nan=False)
    seq: int = Field(default=0, ge=0, lt=2**32)


class HeadsetStatus(_Request):
    """Trainee (its headset presenter): the headset session's ``state``, whether it is
    ``worn``, and the head's world yaw and pitch (radians). The session passes it to the game
    master as :class:`Headset`, and pauses while the headset is off when the scenario says so
    (``[headset] when_removed = "pause"``)."""

    type: Literal["headset_status"] = "headset_status"
    state: str = Field(max_length=20)
    worn: bool
    head_yaw: float | None = Field(default=None, ge=-7.0, le=7.0, allow_inf_nan=False)
    head_pitch: float | None = Field(default=None, ge=-3.2, le=3.2, allow_inf_nan=False)


class FireEvent(_Request):
    """Game master: fire ``event`` at the next tick, with an optional label. ``seat`` is the
    trainee seat it is aimed at (an entering avatar stands before that trainee); None: the
    whole room (placed relative to seat 0)."""

    type: Literal["fire_event"] = "fire_event"
    event: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=500)
    source: str = Field(default="game_master", max_length=64)
    seat: int | None = Field(default=None, ge=0, lt=MAX_SEATS)


class FireCue(_Request):
    """Game master: fire timed cue ``index`` now instead of when it is due."""

    type: Literal["fire_cue"] = "fire_cue"
    index: int = Field(ge=0)


class Mark(_Request):
    """Game master: place a marker with ``note`` at the current tick."""

    type: Literal["mark"] = "mark"
    note: str = Field(default="", max_length=2000)


class BookmarkRequest(_Request):
    """Game master: remember the world as it is now, as ``label``."""

    type: Literal["bookmark_request"] = "bookmark_request"
    label: str = Field(default="", max_length=200)


class RewindRequest(_Request):
    """Game master: put the world back to bookmark ``bookmark_id`` at the next tick."""

    type: Literal["rewind_request"] = "rewind_request"
    bookmark_id: int


class PauseRequest(_Request):
    """Game master: stop the clock at the next tick boundary."""

    type: Literal["pause_request"] = "pause_request"


class ResumeRequest(_Request):
    """Game master: start the clock again."""

    type: Literal["resume_request"] = "resume_request"


class Say(_Request):
    """Game master: show ``text`` to the trainee in ``seat`` (None: every trainee) as a
    caption."""

    type: Literal["say"] = "say"
    text: str = Field(min_length=1, max_length=500)
    seat: int | None = Field(default=None, ge=0, lt=MAX_SEATS)


#: The two ways the game master can speak: as themselves, or as the scenario's avatar (the
#: voice transformed into the avatar role's preset; the trainee never hears it untransformed).
SPEAK_MODES = ("own", "avatar")


class Speak(_Request):
    """Game master: the next stretch of their microphone (push-to-talk), ``pcm``: base64 of
    mono 16-bit little-endian samples at 48 kHz, at most 200 ms. ``mode`` is ``"own"`` or
    ``"avatar"``; ``seat`` the trainee who hears it (None: every trainee); ``final`` marks
    the end of an utterance (the key released: the transform's tail is flushed)."""

    type: Literal["speak"] = "speak"
    pcm: str = Field(max_length=25_600)
    mode: Literal["own", "avatar"] = "own"
    seat: int | None = Field(default=None, ge=0, lt=MAX_SEATS)
    final: bool = False

    def samples(self) -> np.ndarray:
        """The samples, float32 ``(n,)`` in −1…1. Raises ``ValueError`` when ``pcm`` is not
        base64 of whole 16-bit samples."""
        import base64
        import binascii

        try:
            raw = base64.b64decode(self.pcm, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"speak: the pcm is not base64 ({exc})") from None
        if len(raw) % 2:
            raise ValueError("speak: the pcm holds half a sample; send 16-bit samples")
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0

    @classmethod
    def from_samples(cls, samples: np.ndarray, mode: str = "own", seat: int | None = None,
                     final: bool = False) -> "Speak":
        """A request carrying float32 mono ``samples`` (−1…1, 48 kHz, at most 200 ms)."""
        import base64

        pcm = np.clip(np.round(np.asarray(samples, np.float32).reshape(-1) * 32767), -32768, 32767).astype("<i2")
        return cls(pcm=base64.b64encode(pcm.tobytes()).decode("ascii"), mode=mode, seat=seat, final=final)


class PromptRequest(_Request):
    """Game master: change the world prompt to ``text``; with ``image`` (a PNG or WebP file,
    base64, at most 48 KB encoded; the session decodes only those two formats) the image
    opens a new scene. ``image_name`` is the file's
    name for the log. The session prepares it on a thread of its own and applies it at the
    first tick after that (see :meth:`~engine.runtime.session.Session.request_prompt`)."""

    type: Literal["prompt_request"] = "prompt_request"
    text: str = Field(max_length=2000)
    image: str | None = Field(default=None, max_length=48 * 1024)
    image_name: str | None = Field(default=None, max_length=200)

    def image_bytes(self) -> bytes | None:
        """The image file's bytes, None without one. Raises ``ValueError`` when ``image`` is
        not base64."""
        if self.image is None:
            return None
        import base64
        import binascii

        try:
            return base64.b64decode(self.image, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the prompt's image is not base64 ({exc})") from None

    @classmethod
    def with_image(cls, text: str, pixels: np.ndarray | None, name: str | None = None) -> "PromptRequest":
        """A request carrying uint8 ``(H, W, 3)`` ``pixels`` as a WebP: lossless when that
        fits the size limit, else lossy at the best quality that does. Raises ``ValueError``
        when even quality 50 does not fit (an image far larger than a frame)."""
        if pixels is None:
            return cls(text=text)
        import base64
        import io

        from PIL import Image

        im = Image.fromarray(np.asarray(pixels, np.uint8))
        for options in ({"lossless": True}, {"quality": 95}, {"quality": 85}, {"quality": 70}, {"quality": 50}):
            buf = io.BytesIO()
            im.save(buf, format="WEBP", method=2, **options)
            encoded = base64.b64encode(buf.getvalue()).decode("ascii")
            if len(encoded) <= 48 * 1024:
                break
        else:
            raise ValueError(f"the image ({im.width}×{im.height}) does not fit a prompt request even as a lossy WebP; "
                             "send it at the session's frame size")
        return cls(text=text, image=encoded, image_name=name)


#: Every kind of request, and their union (discriminated by ``type``).
REQUEST_TYPES: tuple[type, ...] = (SetAction, Look, HeadsetStatus, FireEvent, FireCue, Mark, BookmarkRequest, RewindRequest,
                                   PauseRequest, ResumeRequest, PromptRequest, Say, Speak)
Request = Annotated[Union[REQUEST_TYPES], Field(discriminator="type")]

#: Which roles may send each kind of request (observers send none).
SENDERS: dict[str, frozenset[Role]] = {
    "set_action": frozenset({Role.TRAINEE}),
    "look": frozenset({Role.TRAINEE}),
    "headset_status": frozenset({Role.TRAINEE}),
    **{kind: frozenset({Role.GAME_MASTER}) for kind in ("fire_event", "fire_cue", "mark", "bookmark_request",
                                                        "rewind_request", "pause_request", "resume_request",
                                                        "prompt_request", "say", "speak")},
}

# ------------------------------------------------------------------ the codec

_MESSAGES: TypeAdapter = TypeAdapter(Message)
_REQUESTS: TypeAdapter = TypeAdapter(Request)


def to_record(msg: _Record) -> dict:
    """The flat JSON-able record of a message: ``{"type", "tick", ...fields}``. Raises
    ``ProtocolError`` for a :class:`Frame` (frames travel as video or images)."""
    if isinstance(msg, (Frame, Sound, Voice)):
        raise ProtocolError(f"a {msg.kind} has no record form: the recorder writes it to the video or sound track")
    d = msg.model_dump(mode="json")
    out = {"type": d.pop("type"), "tick": d.pop("tick")}
    if isinstance(msg, State):
        out.update(d["state"])
    else:
        out.update(d)
    return out


def _legacy(record: dict) -> dict:
    """Records as written before this module: an event named under ``"name"``."""
    if record.get("type") == "event" and "event" not in record and "name" in record:
        record = {**record, "event": record["name"]}
        del record["name"]
    return record


def from_record(record: Any) -> _Record:
    """The message of a record (:func:`to_record`'s inverse). Raises ``ProtocolError``
    naming the record's type and what is wrong with it."""
    if not isinstance(record, dict):
        raise ProtocolError(f"a record is a JSON object; got {type(record).__name__}")
    record = _legacy(record)
    kind = record.get("type")
    if kind == "state":
        record = {"type": "state", "tick": record.get("tick"),
                  "state": {k: v for k, v in record.items() if k not in ("type", "tick")}}
    try:
        return _MESSAGES.validate_python(record)
    except ValidationError as exc:
        raise ProtocolError(f"not a valid {kind!r} record: {_errors(exc)}") from None


def request_from_dict(data: Any) -> _Request:
    """The request of a JSON object ``{"type": KIND, ...fields}``. Raises ``ProtocolError``."""
    if not isinstance(data, dict):
        raise ProtocolError(f"a request is a JSON object; got {type(data).__name__}")
    try:
        return _REQUESTS.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(f"not a valid {data.get('type')!r} request: {_errors(exc)}") from None


def request_to_dict(request: _Request) -> dict:
    """The JSON-able form of a request."""
    return request.model_dump(mode="json")


def dumps(obj: _Record | _Request) -> str:
    """One message (not a frame) or request as a line of JSON."""
    d = request_to_dict(obj) if isinstance(obj, _Request) else to_record(obj)
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes, *, request: bool = False) -> _Record | _Request:
    """A message (or with ``request=True`` a request) from one line of JSON. Raises
    ``ProtocolError`` when it is larger than :data:`MAX_RECORD_BYTES`, not JSON, or not a
    valid record."""
    if len(text) > MAX_RECORD_BYTES:
        raise ProtocolError(f"a record of {len(text)} bytes is over the {MAX_RECORD_BYTES}-byte limit")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    return request_from_dict(data) if request else from_record(data)


def _errors(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(p) for p in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)
