"""The remote client: a session on another computer, with the in-process client's API.

:class:`RemoteClient` connects to a :class:`~engine.net.server.SessionServer` URL with a
join code, checks the server's certificate against the fingerprint in the URL before
sending the code, and then behaves like :class:`~engine.runtime.session.Client`:
:meth:`poll` returns the protocol messages received since the last call,
:attr:`latest_frame` holds the newest frame, and the request helpers (``set_action``,
``look``, ``fire``, ``bookmark``, …) send requests. So the trainee window and the
game-master console work with it unchanged. A request the server refuses comes back as a
:class:`~engine.runtime.protocol.Notice`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from urllib.parse import parse_qs, urlsplit

from ..runtime.client_api import ClientRequests
from ..runtime.protocol import End, Frame, Message, Notice, ProtocolError, Request, Role, Sound, Voice, dumps, loads
from .tls import check_pin, pinned_client_context
from .sound import SoundDecoder, decode_sound_message
from .wire import MAX_SERVER_MESSAGE, Ack, Hello, Refused, Welcome, decode_frame

log = logging.getLogger(__name__)

#: Tries at the websocket handshake before giving up.
CONNECT_ATTEMPTS = 3


class JoinError(ConnectionError):
    """Joining failed: a bad URL, no server there, a certificate that is not the pinned one,
    or a wrong or used-up code. The message says which, in one line."""


def parse_join_url(url: str) -> tuple[str, str]:
    """``(websocket URI, fingerprint)`` of a join URL ``wss://HOST:PORT/?fp=HEX``. Raises
    :class:`JoinError` when it is not one."""
    parts = urlsplit(url)
    fp = parse_qs(parts.query).get("fp", [""])[0].lower()
    if parts.scheme != "wss" or not parts.hostname or not parts.port:
        raise JoinError(f"{url!r} is not a session URL (wss://HOST:PORT/?fp=…, as `ved serve` prints it)")
    if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        raise JoinError(f"{url!r} has no certificate fingerprint (?fp= and 64 hex digits); copy the whole URL")
    return f"wss://{parts.netloc}/", fp


class RemoteClient(ClientRequests):
    """A client of a session served at ``url``, admitted by ``code``.

    Raises :class:`JoinError` (one line, for a person) when it cannot join. After joining,
    :attr:`role`, :attr:`seat`, :attr:`tick_hz` and :attr:`resolution` say what the server
    granted. Messages are queued (the newest ``maxlen``) for :meth:`poll`; :attr:`connected`
    turns False when the connection ends (:attr:`ended_reason` says why).
    """

    def __init__(self, url: str, code: str, *, maxlen: int = 4096, timeout_s: float = 10.0, name: str = ""):
        from websockets.sync.client import connect

        uri, fingerprint = parse_join_url(url)
        for attempt in range(CONNECT_ATTEMPTS):  # a handshake cut short (a busy server, a lossy link) is retried
            try:
                self._ws = connect(uri, ssl=pinned_client_context(), max_size=MAX_SERVER_MESSAGE, compression=None,
                                   open_timeout=timeout_s, proxy=None, user_agent_header=None,
                                   logger=logging.getLogger("ved.net.websockets")).__enter__()  # closed by close()
                break
            except Exception as exc:  # noqa: BLE001 - refused, unreachable, TLS failure: one line
                if attempt == CONNECT_ATTEMPTS - 1 or isinstance(exc, ConnectionRefusedError):
                    raise JoinError(f"cannot reach {uri}: {exc}") from None
                log.info("connecting to %s failed (%s); trying again", uri, exc)
                time.sleep(0.3)
        try:
            check_pin(self._ws.socket.getpeercert(binary_form=True), fingerprint)
            self._ws.send(Hello(code=code, client=name).model_dump_json())
            answer = json.loads(self._ws.recv(timeout=timeout_s))
        except ConnectionRefusedError as exc:
            self._ws.close()
            raise JoinError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001
            self._ws.close()
            raise JoinError(f"the server did not answer the join code ({type(exc).__name__}: {exc})") from None
        if answer.get("type") != "welcome":
            reason = answer.get("reason", "refused") if isinstance(answer, dict) else "refused"
            self._ws.close()
            raise JoinError(f"the server refused the join code: {reason}")
        welcome = Welcome.model_validate(answer)
        self.role, self.seat = Role(welcome.role), welcome.seat
        self.tick_hz, self.resolution = welcome.tick_hz, welcome.resolution
        self.input_seq = welcome.input_seq  # a rejoining trainee numbers its inputs on from the seat's last
        #: The scenario's TOML text (game masters only, for the console), else None.
        self.scenario_text = welcome.scenario
        #: The session's trainee seats (seat 0 first) and, for a trainee, its own seat's index.
        self.seats, self.seat_index = list(welcome.seats), welcome.seat_index
        #: The scenario's comfort-vignette setting (for a headset presenter).
        self.vignette = welcome.vignette
        #: The newest frame of the client's own seat (a trainee), or of seat 0 (staff).
        self.latest_frame: Frame | None = None
        #: The newest frame of every seat received (staff receive every seat's).
        self.latest_frames: dict[int, Frame] = {}
        self.connected, self.ended_reason, self.session_ended = True, None, False
        self.frames_received = 0
        #: Bytes received since joining (frames and messages, without TLS and websocket framing).
        self.bytes_received = 0
        #: Wall-clock arrival time (``time.perf_counter()``) of each frame's tick, newest 1000.
        self.frame_arrivals: deque[tuple[int, float]] = deque(maxlen=1000)
        self._queue: deque[Message] = deque(maxlen=maxlen)
        self._sound_decoders: dict = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="ved-remote-client", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------ receiving
    def _read_loop(self) -> None:
        try:
            for raw in self._ws:
                self.bytes_received += len(raw)
                if isinstance(raw, bytes) and raw[:1] in (b"S", b"V"):  # sound of a tick, or the voice
                    tick, seat, packets = decode_sound_message(raw)
                    kind = Voice if raw[:1] == b"V" else Sound
                    dec = self._sound_decoders.get((kind, seat))
                    if dec is None:
                        dec = self._sound_decoders[(kind, seat)] = SoundDecoder()
                    samples = dec.decode(packets)
                    if len(samples):
                        with self._lock:
                            self._queue.append(kind(tick=tick, samples=samples, sample_rate=dec.sample_rate, seat=seat))
                    continue
                if isinstance(raw, bytes):
                    frame = decode_frame(raw)
                    self._ws.send(Ack(tick=frame.tick).model_dump_json())  # lets the server send the next
                    with self._lock:
                        self.latest_frames[frame.seat] = frame
                        if frame.seat == (self.seat_index or 0):
                            self.latest_frame = frame
                        self.frames_received += 1
                        self.frame_arrivals.append((frame.tick, time.perf_counter()))
                    continue
                data = json.loads(raw)
                if data.get("type") == "refused":
                    refused = Refused.model_validate(data)
                    msg = Notice(tick=max(self.latest_frame.tick if self.latest_frame else 0, 0),
                                 text=f"the server refused a request: {refused.reason}")
                else:
                    msg = loads(raw)
                    if isinstance(msg, End):
                        self.session_ended = True
                with self._lock:
                    self._queue.append(msg)
        except ProtocolError as exc:
            log.warning("the server sent a message this version cannot read: %s", exc)
            self.ended_reason = f"unreadable message from the server: {exc}"
        except Exception as exc:  # noqa: BLE001 - the connection closed
            self.ended_reason = f"connection closed ({type(exc).__name__})"
        finally:
            self.connected = False
            if self.ended_reason is None:
                self.ended_reason = "the server closed the connection"

    def poll(self) -> list[Message]:
        """All messages received since the last poll, oldest first."""
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
        return out

    def wait_for(self, predicate, timeout_s: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds (polling every 10 ms); False on timeout."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if predicate(self):
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------ sending
    def _deliver(self, request: Request) -> None:
        self._ws.send(dumps(request))

    def close(self) -> None:
        """Leave the session (the seat's code may rejoin for a minute)."""
        try:
            self._ws.close()
        finally:
            self._reader.join(timeout=5)
