"""The game master's microphone, and push-to-talk.

:class:`Microphone` opens a PortAudio input stream (sounddevice; mono, 48 kHz, 10 ms blocks)
whose callback hands each block on. :class:`PushToTalk` forwards the blocks to the session
as :class:`~engine.runtime.protocol.Speak` requests only while the talk key is held, in
20 ms stretches, from a thread of its own (never PortAudio's callback, never the GUI's);
releasing the key sends the last stretch marked ``final`` so the voice transform flushes.

No microphone: :func:`open_microphone` returns ``(None, reason)`` and the console says so;
the session goes on. A microphone unplugged mid-session stops its stream
(:attr:`Microphone.healthy` turns False); :meth:`PushToTalk.check` reopens it. Thin on
purpose: the build machine has no sound card, so the device calls are the one part its
tests drive through a stand-in stream.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from engine.audio import SAMPLE_RATE

from .stream import PortAudioStream

#: Samples per microphone block (10 ms) and per Speak request (20 ms).
MIC_BLOCK = SAMPLE_RATE // 100
SPEAK_BLOCK = 2 * MIC_BLOCK
#: Seconds between attempts to reopen a microphone that went away.
REOPEN_S = 2.0


class Microphone(PortAudioStream):
    """A mono float32 input stream on ``device`` (None: the chosen or default one);
    ``on_block(samples float32 (n,), captured)`` is called on PortAudio's thread, with
    ``captured`` the ``time.perf_counter()`` when the block's first sample was taken."""

    def __init__(self, on_block, device=None, sample_rate: int = SAMPLE_RATE):
        import sounddevice as sd

        self._on_block = on_block
        self.sample_rate = sample_rate
        self._stream = sd.InputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device,
                                      blocksize=MIC_BLOCK, latency="low", callback=self._callback)
        self._stream.start()

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's thread
        now = time.perf_counter()
        self._on_block(np.array(indata[:, 0], np.float32), now - frames / self.sample_rate)


def open_microphone(on_block, device=None) -> tuple[Microphone | None, str]:
    """A :class:`Microphone`, or ``(None, reason)`` saying what to do when none opens."""
    if device is None:
        from .devices import chosen_device

        device = chosen_device("input")
    try:
        return Microphone(on_block, device), ""
    except OSError as exc:
        return None, f"no microphone: PortAudio is not installed ({exc}); install libportaudio2"
    except Exception as exc:  # noqa: BLE001 - PortAudioError, ValueError: no input device
        return None, f"no microphone ({exc}); plug one in (or choose it under Sound devices…) to speak to the trainee"


class PushToTalk:
    """Sends the game master's microphone to the session while :meth:`press` holds it.

    ``send(request)`` delivers a :class:`~engine.runtime.protocol.Speak` (a client's
    ``send``); ``open_mic(on_block)`` returns ``(microphone or None, reason)``
    (:func:`open_microphone` by default). The microphone opens with the console and stays
    open; blocks are dropped unless the key is held. :attr:`note` says why there is no
    voice, empty when there is one."""

    def __init__(self, send, open_mic=open_microphone):
        self._send, self._open_mic = send, open_mic
        self._queue: queue.Queue = queue.Queue(maxsize=500)
        self._held: tuple[str, int | None] | None = None  # (mode, seat) while talking
        self._pending: list[np.ndarray] = []
        self._closed = False
        self._retry_at = 0.0
        self.mic, self.note = open_mic(self._on_block)
        if self.mic is None:  # try again now and then: a microphone may be plugged in
            self._retry_at = time.monotonic() + REOPEN_S
        #: ``time.perf_counter()`` of the first sample of each Speak sent (latency figures).
        self.sent_captures: list[float] = []
        self._thread = threading.Thread(target=self._run, name="ved-push-to-talk", daemon=True)
        self._thread.start()

    @property
    def available(self) -> bool:
        return self.mic is not None

    @property
    def talking(self) -> bool:
        return self._held is not None

    def press(self, mode: str = "own", seat: int | None = None) -> None:
        """Start talking in ``mode`` (``"own"`` or ``"avatar"``) to ``seat`` (None: all)."""
        if mode not in ("own", "avatar"):
            raise ValueError(f"unknown speaking mode {mode!r}")
        self._held = (mode, seat)

    def release(self) -> None:
        """Stop talking: what was said is sent, the last stretch marked final."""
        if self._held is not None:
            self._queue.put(("release", self._held))
            self._held = None

    def _on_block(self, samples: np.ndarray, captured: float) -> None:  # PortAudio's thread
        held = self._held
        if held is not None:
            try:
                self._queue.put_nowait(("block", held, samples, captured))
            except queue.Full:  # the sender is stuck: drop rather than block the device
                pass

    def _run(self) -> None:
        from engine.runtime.protocol import Speak

        pending: list[np.ndarray] = []
        first_capture = None
        while not self._closed:
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            if item[0] == "stop":
                break
            mode, seat = item[1]
            if item[0] == "block":
                if first_capture is None:
                    first_capture = item[3]
                pending.append(item[2])
                if sum(len(p) for p in pending) < SPEAK_BLOCK:
                    continue
            final = item[0] == "release"
            samples = np.concatenate(pending) if pending else np.zeros(0, np.float32)
            pending = []
            try:
                self._send(Speak.from_samples(samples, mode=mode, seat=seat, final=final))
                if first_capture is not None:
                    self.sent_captures.append(first_capture)
            except Exception as exc:  # noqa: BLE001 - a session gone: say so, keep the console up
                self.note = f"the voice could not be sent ({exc})"
            first_capture = None

    def check(self) -> str:
        """Reopen a microphone that went away (every :data:`REOPEN_S` seconds); returns the
        note (empty when the microphone works). Call it now and then (GUI timer)."""
        if self.mic is not None and not self.mic.healthy:
            try:
                self.mic.close()
            except Exception:  # noqa: BLE001 - the device is gone already
                pass
            self.mic, self.note = None, "the microphone went away; trying to reopen it"
            self._retry_at = time.monotonic()
        if self.mic is None and self._retry_at and time.monotonic() >= self._retry_at:
            self.mic, note = self._open_mic(self._on_block)
            self.note = note
            self._retry_at = 0.0 if self.mic is not None else time.monotonic() + REOPEN_S
        return self.note

    def close(self) -> None:
        self._closed = True
        self._queue.put(("stop", None))
        if self.mic is not None:
            self.mic.close()
            self.mic = None
