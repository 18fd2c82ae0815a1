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


class SoundOutput:
    """Plays stereo float32 blocks at ``sample_rate`` on ``device`` (None: the default)."""

    def __init__(self, device=None, sample_rate: int = SAMPLE_RATE):
        import sounddevice as sd

        self.buffer = JitterBuffer(sample_rate)
        self._stream = sd.OutputStream(samplerate=sample_rate, channels=2, dtype="float32", device=device,
                                       blocksize=sample_rate // 100, latency="low", callback=self._callback)
        self._stream.start()

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio's thread
        outdata[:] = self.buffer.pull(frames)

    def push(self, samples: np.ndarray) -> None:
        self.buffer.push(samples)

    @property
    def healthy(self) -> bool:
        """False once the device has gone (unplugged): PortAudio stops the stream."""
        return bool(self._stream.active)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


def open_output(device=None) -> tuple[SoundOutput | None, str]:
    """A :class:`SoundOutput`, or ``(None, reason)`` when no device can be opened (PortAudio
    missing, no device, device busy): the reason says what to do."""
    try:
        return SoundOutput(device), ""
    except OSError as exc:  # PortAudio itself is missing
        return None, f"no sound: PortAudio is not installed ({exc}); install libportaudio2 — the session goes on silently"
    except Exception as exc:  # noqa: BLE001 - sounddevice raises PortAudioError (and ValueError) for no device
        return None, (f"no sound output device ({exc}); plug in speakers or headphones and start the session again "
                      "— it goes on silently")
