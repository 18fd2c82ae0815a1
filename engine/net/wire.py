"""What travels on a session's websocket, besides the protocol's records.

- **Text messages** are one JSON object each: the protocol's records and requests
  (:mod:`engine.runtime.protocol`), and the connection's own: the client's :class:`Hello`
  (its join code, the first message), the server's :class:`Welcome` (the seat, role, tick
  rate, frame size and the newest input number) and :class:`Refused` (why a message or the
  connection was refused), and the client's :class:`Ack` of every frame it received: the server keeps at most
  :data:`MAX_IN_FLIGHT` frames unacknowledged per connection, so on a slow link frames wait
  in the server's newest-frame slot (and are replaced) instead of queueing in the network's
  buffers, and what a slow client shows stays recent (the idea of TCP's congestion window,
  applied to frames).
- **Binary messages** are frames: ``b"F"``, the tick and the frame's ``input_seq`` as
  big-endian uint32, the trainee seat (uint8) and the seat's pose ``(x, z, yaw, pitch)``
  as four big-endian float32 (NaN when unknown), then the frame as a WebP image (lossy,
  quality :data:`FRAME_QUALITY`; about 3–6 KB at 128×128). A trainee's connection carries
  its own seat's frames only; a game master's and an observer's every seat's.
"""

from __future__ import annotations

import io
import struct
import threading
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..runtime.protocol import Frame, ProtocolError

#: WebP quality of frames on the wire (0–100).
FRAME_QUALITY = 90
#: Largest message a server accepts (bytes); clients accept frames up to 4 MB.
MAX_CLIENT_MESSAGE = 64 * 1024
MAX_SERVER_MESSAGE = 4 * 1024 * 1024
_HEADER = struct.Struct(">cIIB4f")
#: Frames a server sends a connection ahead of its acknowledgements (4 covers a 200 ms
#: round trip at 20 Hz).
MAX_IN_FLIGHT = 4


class _Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hello(_Control):
    """Client → server, first message: the join code (within 5 s of connecting)."""

    type: Literal["hello"] = "hello"
    code: str = Field(max_length=200)
    #: The client's name for the logs (e.g. the computer's).
    client: str = Field(default="", max_length=100)


class Welcome(_Control):
    """Server → client after a good code: the seat and role it opens, the session's tick
    rate (Hz) and frame size (pixels)."""

    type: Literal["welcome"] = "welcome"
    seat: str
    role: str
    tick_hz: int
    resolution: int
    #: The session's newest input sequence number: a trainee numbers its inputs on from it.
    input_seq: int = 0
    #: Game-master seats only: the scenario as TOML text (palette, cues, briefing), for the
    #: console. Never sent to a trainee or an observer.
    scenario: str | None = None
    #: The session's trainee seats, seat 0 first, and a trainee's own seat (its index).
    seats: tuple[str, ...] = ("trainee",)
    seat_index: int | None = None
    #: The scenario's comfort vignette setting, for a trainee's headset presenter.
    vignette: bool = True


class Refused(_Control):
    """Server → client: a message (or the whole connection, when ``fatal``) was refused,
    and why."""

    type: Literal["refused"] = "refused"
    reason: str
    fatal: bool = False


class Ack(_Control):
    """Client → server: the frame of ``tick`` arrived (one per frame received)."""

    type: Literal["ack"] = "ack"
    tick: int = Field(ge=0)


_ENCODED: dict[int, tuple[Frame, bytes]] = {}
_ENCODED_LOCK = threading.Lock()


def encode_frame(frame: Frame) -> bytes:
    """A frame message as a binary websocket message. The image is encoded once per frame
    object, however many connections send it (the last few are remembered)."""
    from PIL import Image

    with _ENCODED_LOCK:
        hit = _ENCODED.get(id(frame))
        if hit is not None and hit[0] is frame:
            return hit[1]
    buf = io.BytesIO()
    Image.fromarray(frame.frame).save(buf, format="WEBP", quality=FRAME_QUALITY, method=0)
    pose = frame.pose if frame.pose is not None else (float("nan"),) * 4
    data = _HEADER.pack(b"F", frame.tick, frame.input_seq, frame.seat, *pose) + buf.getvalue()
    with _ENCODED_LOCK:
        if len(_ENCODED) >= 8:
            _ENCODED.pop(next(iter(_ENCODED)))
        _ENCODED[id(frame)] = (frame, data)
    return data


def decode_frame(data: bytes) -> Frame:
    """The :class:`Frame` of a binary message. Raises ``ProtocolError`` for anything else."""
    from PIL import Image

    if len(data) < _HEADER.size or data[:1] != b"F":
        raise ProtocolError("a binary message is a frame: b'F', two uint32 (tick, input_seq), the seat (uint8), "
                            "the pose (4 float32) and a WebP image")
    _, tick, input_seq, seat, *pose = _HEADER.unpack_from(data)
    try:
        with Image.open(io.BytesIO(data[_HEADER.size:])) as im:
            pixels = np.asarray(im.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad message
        raise ProtocolError(f"frame {tick}: not a readable image ({exc})") from None
    try:
        return Frame(tick=tick, frame=pixels, input_seq=input_seq, seat=seat,
                     pose=None if any(np.isnan(pose)) else tuple(pose))
    except ValueError as exc:
        raise ProtocolError(f"frame {tick}: {exc}") from None
