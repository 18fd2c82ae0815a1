"""The game master's voice on its way to the trainees' ears.

Push-to-talk in the console sends the microphone a few milliseconds at a time
(:class:`~engine.runtime.protocol.Speak`). :class:`GameMasterVoice` turns each stretch into
what the trainees hear: in ``"own"`` mode the voice as it is, in the ears (a voice-over, as
a trainer speaking through the headset); in ``"avatar"`` mode the voice through the avatar
role's :class:`~engine.audio.voice.VoiceTransform` and placed where the avatar stands, so
that it speaks from its body. The untransformed voice never reaches an ``"avatar"`` output:
a switch of mode mid-utterance flushes the transform's tail first.

Streamed, not held to the session's 50 ms ticks: each stretch is sent on as soon as it is
transformed, and the trainee's output mixes it with the world's sound.
"""

from __future__ import annotations

import threading

import numpy as np

from . import SAMPLE_RATE
from .spatial import place
from .voice import VOICE_PRESETS, VoicePreset, VoiceTransform

#: The gain of the game master's own voice in each ear (a centred voice-over, −3 dB).
OWN_VOICE_GAIN = 0.707
#: The preset used for ``"avatar"`` mode when the scenario's avatar role names none.
DEFAULT_AVATAR_VOICE = "lower"


class GameMasterVoice:
    """Turns the game master's microphone into the voice the trainees hear. Thread-safe
    (one utterance at a time: several game masters talking at once are mixed in arrival
    order, not separated)."""

    def __init__(self, avatar_voice: str | VoicePreset | None = None, sample_rate: int = SAMPLE_RATE):
        if isinstance(avatar_voice, str):
            avatar_voice = VOICE_PRESETS[avatar_voice]
        self.avatar_voice = avatar_voice or VOICE_PRESETS[DEFAULT_AVATAR_VOICE]
        self.sample_rate = sample_rate
        self._transform: VoiceTransform | None = None
        self._lock = threading.Lock()

    def speak(self, samples: np.ndarray, mode: str, final: bool = False) -> list[tuple[str, np.ndarray]]:
        """The mono stretches ``[(mode, float32 (n,)), …]`` to play now for microphone
        ``samples`` (float32 ``(n,)``) spoken in ``mode`` (``"own"`` or ``"avatar"``);
        ``final`` ends the utterance. Raises ``ValueError`` for another mode."""
        if mode not in ("own", "avatar"):
            raise ValueError(f"unknown speaking mode {mode!r}; 'own' or 'avatar'")
        x = np.asarray(samples, np.float32).reshape(-1)
        out: list[tuple[str, np.ndarray]] = []
        with self._lock:
            if mode == "own":
                if self._transform is not None:  # the avatar's last words first, transformed
                    out.append(("avatar", self._transform.process(np.zeros(0, np.float32), final=True)))
                    self._transform = None
                out.append(("own", x))
            else:
                if self._transform is None:
                    self._transform = VoiceTransform(self.avatar_voice, self.sample_rate)
                out.append(("avatar", self._transform.process(x, final=final)))
                if final:
                    self._transform = None
        return [(m, s) for m, s in out if len(s)]


def heard(mode: str, mono: np.ndarray, head_pose, avatar_xz) -> np.ndarray:
    """float32 ``(n, 2)``: a stretch of the game master's voice as a trainee with head
    ``head_pose`` ``(x, z, yaw, …)`` hears it: from ``avatar_xz`` (metres) in ``"avatar"``
    mode, centred in the ears in ``"own"`` mode."""
    if mode == "avatar":
        return place(mono, avatar_xz, head_pose, min_distance=1.5)
    return np.repeat((np.asarray(mono, np.float32) * OWN_VOICE_GAIN)[:, None], 2, axis=1)
