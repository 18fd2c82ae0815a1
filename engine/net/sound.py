"""Sound on the wire: each seat's 50 ms blocks as Opus packets (RFC 6716), through PyAV.

Opus at 64 kbit/s carries a tick's stereo block in two or three packets of 20 ms (about
8 KB/s per listener, as much as the frames). The server encodes each seat's sound once, for
every connection that may hear it; each client decodes with its own decoder per seat.
A binary sound message is ``b"S"``, the tick (uint32), the seat (uint8), the number of
packets (uint8), then each packet as its length (uint16) and its bytes. The game master's
voice (:class:`~engine.runtime.protocol.Voice`, sent as it is spoken, not per tick) travels
the same way under ``b"V"``, with an encoder of its own per seat.
"""

from __future__ import annotations

import struct
import threading

import numpy as np

from ..runtime.protocol import ProtocolError, Sound, Voice

_HEADER = struct.Struct(">cIBB")
_LEN = struct.Struct(">H")
#: Opus bit rate, bits per second.
BIT_RATE = 64_000


class SoundEncoder:
    """One seat's Opus encoder (stateful: blocks go in in order)."""

    def __init__(self, sample_rate: int = 48_000):
        import av

        self.sample_rate = sample_rate
        self._enc = av.CodecContext.create("libopus", "w")
        self._enc.sample_rate, self._enc.layout, self._enc.format = sample_rate, "stereo", "s16"
        self._enc.bit_rate = BIT_RATE
        self._enc.open()
        self._pts = 0

    def encode(self, samples: np.ndarray) -> list[bytes]:
        import av

        pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32767), -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = self.sample_rate, self._pts
        self._pts += len(pcm)
        return [bytes(p) for p in self._enc.encode(frame)]


class SoundDecoder:
    """One seat's Opus decoder: packets in, float32 ``(n, 2)`` out."""

    def __init__(self, sample_rate: int = 48_000):
        import av

        self.sample_rate = sample_rate
        self._dec = av.CodecContext.create("libopus", "r")
        self._dec.sample_rate, self._dec.layout = sample_rate, "stereo"
        self._dec.open()

    def decode(self, packets: list[bytes]) -> np.ndarray:
        import av

        out = []
        for data in packets:
            for frame in self._dec.decode(av.Packet(data)):
                a = frame.to_ndarray()
                a = a.reshape(-1, 2) if a.shape[0] == 1 else a.T  # packed (1, 2n) or planar (2, n)
                out.append(a.astype(np.float32) / (32767.0 if a.dtype == np.int16 else 1.0))
        return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def encode_sound_message(tick: int, seat: int, packets: list[bytes], tag: bytes = b"S") -> bytes:
    """A binary sound (``tag`` ``b"S"``) or voice (``b"V"``) message."""
    parts = [_HEADER.pack(tag, tick, seat, len(packets))]
    for p in packets:
        parts += [_LEN.pack(len(p)), p]
    return b"".join(parts)


def decode_sound_message(data: bytes) -> tuple[int, int, list[bytes]]:
    """``(tick, seat, packets)`` of a binary sound or voice message. Raises ``ProtocolError``."""
    if len(data) < _HEADER.size or data[:1] not in (b"S", b"V"):
        raise ProtocolError("a sound message is b'S' (or b'V'), the tick, the seat, a packet count and the packets")
    _, tick, seat, count = _HEADER.unpack_from(data)
    packets, pos = [], _HEADER.size
    for _ in range(count):
        if pos + _LEN.size > len(data):
            raise ProtocolError(f"sound {tick}: cut short")
        (n,) = _LEN.unpack_from(data, pos)
        pos += _LEN.size
        packets.append(data[pos:pos + n])
        pos += n
    return tick, seat, packets


class SoundWire:
    """The server's side: each seat's encoder, and each :class:`Sound` encoded once however
    many connections send it (the last few are remembered)."""

    def __init__(self) -> None:
        self._encoders: dict[tuple[bool, int], SoundEncoder] = {}
        self._done: dict[int, tuple[Sound, bytes]] = {}
        self._lock = threading.Lock()

    def message(self, sound: Sound | Voice) -> bytes:
        with self._lock:
            hit = self._done.get(id(sound))
            if hit is not None and hit[0] is sound:
                return hit[1]
            voice = isinstance(sound, Voice)
            key = (voice, sound.seat)
            enc = self._encoders.get(key)
            if enc is None:
                enc = self._encoders[key] = SoundEncoder(sound.sample_rate)
            data = encode_sound_message(sound.tick, sound.seat, enc.encode(sound.samples), b"V" if voice else b"S")
            if len(self._done) >= 8:
                self._done.pop(next(iter(self._done)))
            self._done[id(sound)] = (sound, data)
            return data
