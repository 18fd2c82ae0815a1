"""The trainee's speakers or headphones: the session's sound blocks played on a device.

:class:`SoundOutput` opens a PortAudio output stream (sounddevice) whose callback pulls from
a :class:`~engine.audio.buffer.JitterBuffer`; :meth:`push` feeds it each tick's block. When
no output device can be opened, :func:`open_output` returns None with a one-line reason and
the session goes on silently. Thin on purpose: no device exists on the build machine, so
this layer is the only part of the sound path its tests cannot run.
"""

from __future__ import annotations

import numpy as np

from engine.audio import SAMPLE_RATE
from engine.audio.buffer import JitterBuffer

from .stream import PortAudioStream


#: Sound queued before the game master's voice starts playing (ms): it comes in 10–20 ms
#: stretches as it is spoken, steadier than the session's ticks, so it waits less.
VOICE_TARGET_MS = 30.0


class SoundOutput(PortAudioStream):
    """Plays stereo float32 blocks at ``sample_rate`` on ``device`` (None: the default; a
    PortAudio device index or name): the world's sound a tick at a time (:meth:`push`) and
    the game master's voice as it is spoken (:meth:`push_voice`), each through a jitter
    buffer of its own, mixed in the device's callback."""

    def __init__(self, device=None, sample_rate: int = SAMPLE_RATE):
        import sounddevice as sd

        self.buffer = JitterBuffer(sample_rate)
        self.voice = JitterBuffer(sample_rate, target_ms=VOICE_TARGET_MS, max_ms=200.0, grow_ms=0.0)
        self._stream = sd.OutputStream(samplerate=sample_rate, channels=2, dtype="float32", device=device,
                                       blocksize=sample_rate // 100, latency="low", callback=self._callback)
        self._stream.start()

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio's thread
        mix = self.buffer.pull(frames)
        if self.voice.queued or self.voice.primed:
            mix += self.voice.pull(frames)
            np.clip(mix, -1.0, 1.0, out=mix)
        outdata[:] = mix

    def push(self, samples: np.ndarray) -> None:
        """Queue a tick's world sound, float32 ``(n, 2)``."""
        self.buffer.push(samples)

    def clear(self) -> None:
        """Drop what is queued (a player that seeks or pauses)."""
        self.buffer.clear()
        self.voice.clear()

    def push_voice(self, samples: np.ndarray) -> None:
        """Queue a stretch of the game master's voice, float32 ``(n, 2)``."""
        self.voice.push(samples)


def open_output(device=None) -> tuple[SoundOutput | None, str]:
    """A :class:`SoundOutput` on ``device`` (None: the one chosen in the app's settings, else
    the system's default), or ``(None, reason)`` when no device can be opened (PortAudio
    missing, no device, device busy): the reason says what to do."""
    if device is None:
        from .devices import chosen_device

        device = chosen_device("output")
    try:
        return SoundOutput(device), ""
    except OSError as exc:  # PortAudio itself is missing
        return None, f"no sound: PortAudio is not installed ({exc}); install libportaudio2 — the session goes on silently"
    except Exception as exc:  # noqa: BLE001 - sounddevice raises PortAudioError (and ValueError) for no device
        return None, (f"no sound output device ({exc}); plug in speakers or headphones and start the session again "
                      "— it goes on silently")
