"""The session server: a running session offered to other computers over websockets + TLS.

``ved serve`` wires a session (:func:`engine.runtime.wiring.open_live_session`), ticks it on
its own thread and starts a :class:`SessionServer`. Each remote client proves a join code
(:mod:`engine.net.codes`) within :data:`AUTH_TIMEOUT_S` seconds and then gets a
:class:`~engine.runtime.session.Client` of its seat's role on the session's side — the same
object an in-process window uses, so the role checks and what the role receives are the
session's, not the network's. A trainee's socket therefore never carries anything of the
game master.

Per connection, two threads: the websocket's own (reading requests) and a sender. The
session thread only appends to the connection's outbox (never blocks on a socket): records
queue in order; frames keep only the newest, so a slow client skips frames and never slows
the tick for the others. The sender keeps at most :data:`~engine.net.wire.MAX_IN_FLIGHT`
frames unacknowledged by the client, so on a slow link the skipping happens here, where
the newest frame replaces an older one, and not in the network's buffers, where frames
would wait in line and the client would show the past.

Every incoming message is size-limited (:data:`~engine.net.wire.MAX_CLIENT_MESSAGE`, the
websocket closes on more), rate-limited (:data:`RATE_PER_S`, burst :data:`RATE_BURST`) and
validated against the protocol; a bad one is answered with a ``refused`` message and logged,
and the session goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

from pydantic import ValidationError

from ..runtime.protocol import Frame, ProtocolError, Role, Sound, Voice, dumps, loads
from ..runtime.session import Session
from ..world.state import UnknownEventError
from .codes import CodeBook, Seat
from .tls import ServerCertificate
from .wire import MAX_CLIENT_MESSAGE, MAX_IN_FLIGHT, Ack, Hello, Refused, Welcome, encode_frame

log = logging.getLogger(__name__)

#: Seconds a new connection has to send its join code.
AUTH_TIMEOUT_S = 5.0
#: Requests per second a connection may send on average, and in a burst.
RATE_PER_S = 120.0
RATE_BURST = 240
#: Records kept for a client that does not read (after that the oldest are dropped).
OUTBOX_RECORDS = 20_000


#: Sound messages kept for a connection that does not keep up (0.5 s; older ones are dropped).
OUTBOX_SOUNDS = 10


class _Outbox:
    """What the session thread hands a connection: records in order, the newest frame of
    each trainee seat only, and the sound (Opus, encoded once per tick for everyone) in
    order, the last half second at most, sent only while the connection keeps up with its
    frames."""

    def __init__(self, sound_wire=None) -> None:
        self._cond = threading.Condition()
        self._records: deque[str] = deque(maxlen=OUTBOX_RECORDS)
        self._sounds: deque[bytes] = deque(maxlen=OUTBOX_SOUNDS)
        self._sound_wire = sound_wire
        self.sounds_dropped = 0
        self._frames: dict[int, Frame] = {}  # seat -> newest frame not yet sent
        self.closed = False
        self.frames_skipped = 0
        self.in_flight = 0  # frames sent and not yet acknowledged

    def put(self, msg) -> None:  # session thread: never blocks on the network
        if isinstance(msg, (Sound, Voice)):
            if self._sound_wire is None:
                return
            data = self._sound_wire.message(msg)
            with self._cond:
                self._sounds.append(data)
                self._cond.notify()
            return
        with self._cond:
            if isinstance(msg, Frame):
                self.frames_skipped += msg.seat in self._frames
                self._frames[msg.seat] = msg
            else:
                self._records.append(dumps(msg))
            self._cond.notify()

    def take(self, timeout: float = 0.5) -> tuple[list[str], list[Frame], list[bytes]]:
        """The records queued, the newest frames (one per seat, oldest first) the connection
        may have now (while fewer than :data:`~engine.net.wire.MAX_IN_FLIGHT` are
        unacknowledged; the rest stay here, to be replaced by newer ones) and the sound
        messages queued."""
        with self._cond:
            if (not self._records and not self._sounds and (not self._frames or self.in_flight >= MAX_IN_FLIGHT)
                    and not self.closed):
                self._cond.wait(timeout)
            records = list(self._records)
            self._records.clear()
            # Sound yields to frames: a link that has frames waiting for acknowledgement
            # (it is not keeping up) drops the sound rather than queue it in the network.
            sounds = list(self._sounds) if self.in_flight < MAX_IN_FLIGHT // 2 else []
            self.sounds_dropped += len(self._sounds) - len(sounds)
            self._sounds.clear()
            frames = []
            for seat in sorted(self._frames, key=lambda k: self._frames[k].tick):
                if self.in_flight >= MAX_IN_FLIGHT:
                    break
                frames.append(self._frames.pop(seat))
                self.in_flight += 1
            return records, frames, sounds

    def ack(self) -> None:
        with self._cond:
            self.in_flight = max(0, self.in_flight - 1)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def _ack_fields(raw: str) -> dict | None:
    """The fields of ``raw`` when it is a frame acknowledgement (``type`` "ack"), else None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("type") == "ack" else None


class _RateLimit:
    """A token bucket: ``allow()`` is False once a client sends faster than the rate."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens, self.t = float(burst), time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class SessionServer:
    """Serves ``session`` on ``host:port`` (port 0: any free port) with TLS.

    ``seats``: the trainee and game-master seats as ``(name, role)`` pairs (one code each;
    observers share one more). After :meth:`start`, :attr:`url` (with the certificate's
    fingerprint) and :meth:`codes` are what the host hands out. :attr:`refusals` counts
    refused messages per reason kind, :attr:`connections` the live ones.
    """

    def __init__(self, session: Session, certificate: ServerCertificate, *, host: str = "127.0.0.1", port: int = 0,
                 seats: list[tuple[str, Role]] | None = None, resolution: int = 0):
        from websockets.sync.server import serve

        self.session, self.certificate, self.host = session, certificate, host
        self.resolution = resolution or int(getattr(session.model, "resolution", 0))
        self.codebook = CodeBook(seats or [("trainee", Role.TRAINEE), ("game_master", Role.GAME_MASTER)])
        from .sound import SoundWire

        self._sound_wire = SoundWire()
        self.refusals: dict[str, int] = {}
        self.connections = 0
        self._lock = threading.Lock()
        self._seat_ws: dict[str, object] = {}  # the connection holding each (unshared) seat
        self._server = serve(self._handle, host, port, ssl=certificate.server_context(), max_size=MAX_CLIENT_MESSAGE,
                             compression=None, open_timeout=AUTH_TIMEOUT_S, server_header=None,
                             logger=logging.getLogger("ved.net.websockets"))
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ved-serve", daemon=True)

    @property
    def url(self) -> str:
        """``wss://HOST:PORT/?fp=FINGERPRINT``: what a client needs besides its code."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"wss://{host}:{self.port}/?fp={self.certificate.fingerprint}"

    def codes(self) -> dict[str, str]:
        return self.codebook.codes()

    def _scenario_text(self) -> str | None:
        """The session's scenario as TOML, for a game master's console (None if it has none)."""
        scenario = getattr(self.session, "scenario", None)
        if scenario is None:
            return None
        from ..scenario.loader import dump_scenario

        return dump_scenario(scenario)

    def start(self) -> "SessionServer":
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the server thread."""
        self._server.shutdown()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------ one connection
    def _refuse(self, ws, kind: str, reason: str, *, fatal: bool = False, who: str = "?") -> None:
        with self._lock:
            self.refusals[kind] = self.refusals.get(kind, 0) + 1
        log.warning("refused (%s) from %s: %s", kind, who, reason)
        try:
            ws.send(Refused(reason=reason, fatal=fatal).model_dump_json())
            if fatal:
                ws.close(code=1008, reason=reason[:120])
        except Exception:  # noqa: BLE001 - the connection may be gone already
            pass

    def _handle(self, ws) -> None:
        who = str(ws.remote_address)
        try:
            raw = ws.recv(timeout=AUTH_TIMEOUT_S)
        except TimeoutError:
            self._refuse(ws, "auth", f"no join code within {AUTH_TIMEOUT_S:.0f} s", fatal=True, who=who)
            return
        except Exception:  # noqa: BLE001 - closed before saying anything
            return
        try:
            hello = Hello.model_validate(json.loads(raw))
        except (ValueError, TypeError, ValidationError):
            self._refuse(ws, "auth", "the first message must be {\"type\": \"hello\", \"code\": ...}", fatal=True, who=who)
            return
        seat, why = self.codebook.claim(hello.code)
        if seat is None:
            self._refuse(ws, "auth", why, fatal=True, who=who)
            return
        generation = None if seat.shared else seat.generation
        if not seat.shared:  # a rejoin takes the seat over from a connection that may be dead
            with self._lock:
                old, self._seat_ws[seat.name] = self._seat_ws.get(seat.name), ws
            if old is not None:
                log.info("%s rejoined; closing its previous connection", seat.name)
                try:
                    old.close(code=4000, reason="the seat was taken over by a new connection")
                except Exception:  # noqa: BLE001 - already gone
                    pass
        try:
            self._serve_seat(ws, seat, f"{seat.name}@{who}")
        finally:
            self.codebook.release(seat, generation)
            with self._lock:
                if self._seat_ws.get(seat.name) is ws:
                    del self._seat_ws[seat.name]

    def _serve_seat(self, ws, seat: Seat, who: str) -> None:
        outbox = _Outbox(self._sound_wire)
        client = self.session.connect(seat.role, seat=seat.index, on_message=outbox.put)
        with self._lock:
            self.connections += 1
        log.info("%s joined as %s", who, seat.role.value)
        sender = threading.Thread(target=self._send_loop, args=(ws, outbox), name=f"ved-send-{seat.name}", daemon=True)
        try:
            ws.send(Welcome(seat=seat.name, role=seat.role.value, tick_hz=self.session.tick_hz,
                            resolution=self.resolution, input_seq=self.session.input_seq_of(seat.index or 0),
                            scenario=self._scenario_text() if seat.role is Role.GAME_MASTER else None,
                            seats=tuple(self.session.seats), seat_index=seat.index,
                            vignette=bool(getattr(getattr(self.session.scenario, "headset", None), "vignette", True)),
                            ).model_dump_json())
            for p in self.session.participants:  # something to show at once: the seat's view, or every view
                if p.last_frame is not None and seat.index in (None, p.seat):
                    outbox.put(Frame(tick=max(self.session.tick, 0), frame=p.last_frame, seat=p.seat,
                                     pose=tuple(float(v) for v in p.pose)))
            sender.start()
            limit = _RateLimit(RATE_PER_S, RATE_BURST)
            for raw in ws:
                if not limit.allow():
                    self._refuse(ws, "rate", f"more than {RATE_PER_S:.0f} messages a second; slow down", who=who)
                    continue
                if isinstance(raw, bytes):
                    self._refuse(ws, "schema", "clients send JSON text messages only", who=who)
                    continue
                ack = _ack_fields(raw) if '"ack"' in raw[:64] else None
                if ack is not None:  # the transport's own message, not a session request
                    try:
                        Ack.model_validate(ack)
                        outbox.ack()
                    except ValidationError as exc:
                        self._refuse(ws, "schema", f"a bad frame acknowledgement: {exc.errors()[0]['msg']}", who=who)
                    continue
                try:
                    client.send(loads(raw, request=True))
                except ProtocolError as exc:
                    self._refuse(ws, "schema", str(exc), who=who)
                except PermissionError as exc:
                    self._refuse(ws, "role", str(exc), who=who)
                except UnknownEventError as exc:
                    self._refuse(ws, "event", str(exc), who=who)
                except ValueError as exc:  # e.g. a seat this session does not have
                    self._refuse(ws, "request", str(exc), who=who)
        except Exception as exc:  # noqa: BLE001 - a dropped connection ends here; the session goes on
            log.info("%s: connection ended (%s)", who, type(exc).__name__)
        finally:
            client.close()
            outbox.close()
            with self._lock:
                self.connections -= 1
            log.info("%s left", who)

    @staticmethod
    def _send_loop(ws, outbox: _Outbox) -> None:
        try:
            while not outbox.closed:
                records, frames, sounds = outbox.take()
                for text in records:
                    ws.send(text)
                for data in sounds:
                    ws.send(data)
                for frame in frames:
                    ws.send(encode_frame(frame))
        except Exception:  # noqa: BLE001 - the receive side notices the close and cleans up
            outbox.close()
