"""What the microphone and the speakers share: a PortAudio stream that may go away."""

from __future__ import annotations


class PortAudioStream:
    """A started sounddevice stream in ``self._stream``, with the two things every device
    layer here asks of it."""

    _stream = None

    @property
    def healthy(self) -> bool:
        """False once the device has gone (unplugged): PortAudio stops the stream."""
        return bool(self._stream.active)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
