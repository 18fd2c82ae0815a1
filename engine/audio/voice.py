"""The avatar's voice: the game master's voice with its pitch and formants shifted.

AVATAR therapy (Craig et al. 2018) has the therapist speak *as* the patient's voice through
a real-time voice transform; the transform here shifts the pitch (F0) by ``pitch`` and the
formants (the vocal tract's resonances, what makes a voice sound larger or smaller) by
``formant``, with Rubber Band through pedalboard: the first pass shifts both together (pitch
shift without formant preservation), the second brings the pitch to ``pitch`` keeping the
shifted formants (formant-preserving pitch shift).

:func:`f0_median` measures a voice's fundamental frequency (the autocorrelation method of
Rabiner 1977, on voiced 40 ms frames), for the presets' figures and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoicePreset:
    """A voice for an avatar role: ``pitch`` and ``formant`` ratios (1.0 = unchanged)."""

    name: str
    pitch: float
    formant: float
    description: str


#: The presets a scenario's avatar role may name (``voice = "deeper"``).
VOICE_PRESETS: dict[str, VoicePreset] = {p.name: p for p in (
    VoicePreset("deeper", 0.75, 0.88, "lower and larger: a big, older-sounding voice"),
    VoicePreset("lower", 0.85, 0.94, "a little lower"),
    VoicePreset("higher", 1.25, 1.10, "higher and smaller"),
    VoicePreset("much_higher", 1.5, 1.18, "much higher: a light, young-sounding voice"),
    VoicePreset("same_pitch_darker", 1.0, 0.85, "the same pitch from a larger vocal tract"),
)}


class UnknownVoiceError(ValueError):
    """A voice preset name that is not in :data:`VOICE_PRESETS` (the message lists them)."""


def preset(name: str) -> VoicePreset:
    """The preset called ``name``. Raises :class:`UnknownVoiceError` listing the presets."""
    try:
        return VOICE_PRESETS[name]
    except KeyError:
        raise UnknownVoiceError(f"unknown voice {name!r}; presets: {', '.join(VOICE_PRESETS)}") from None


def transform(x: np.ndarray, sample_rate: int, voice: VoicePreset) -> np.ndarray:
    """``x`` (float32 ``(n,)`` mono or ``(n, c)``) spoken in ``voice``: pitch × ``voice.pitch``,
    formants × ``voice.formant``; same length and layout. Offline (whole buffers)."""
    import pedalboard

    x = np.asarray(x, np.float32)
    mono = x.ndim == 1
    audio = x[None, :] if mono else x.T.copy()  # pedalboard: (channels, samples)
    if abs(voice.formant - 1.0) > 1e-6:
        audio = pedalboard.time_stretch(audio, sample_rate, pitch_shift_in_semitones=12 * math.log2(voice.formant),
                                        preserve_formants=False)
    rest = voice.pitch / voice.formant
    if abs(rest - 1.0) > 1e-6:
        audio = pedalboard.time_stretch(audio, sample_rate, pitch_shift_in_semitones=12 * math.log2(rest),
                                        preserve_formants=True)
    audio = audio[:, : x.shape[0]]
    if audio.shape[1] < x.shape[0]:
        audio = np.pad(audio, ((0, 0), (0, x.shape[0] - audio.shape[1])))
    return (audio[0] if mono else audio.T).astype(np.float32)


def f0_median(x: np.ndarray, sample_rate: int, fmin: float = 60.0, fmax: float = 500.0) -> float | None:
    """The median fundamental frequency (Hz) over the voiced 40 ms frames of mono ``x``, by
    normalised autocorrelation (a frame is voiced when its peak reaches 0.5); None when no
    frame is voiced."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        x = x.mean(1)
    n = int(0.04 * sample_rate)
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    f0s = []
    for start in range(0, len(x) - n - hi, n // 2):
        frame = x[start:start + n + hi]
        frame = frame - frame.mean()
        if np.sqrt(np.mean(frame[:n] ** 2)) < 1e-3:
            continue
        ref = frame[:n]
        corr = np.array([np.dot(ref, frame[k:k + n]) / (np.linalg.norm(ref) * np.linalg.norm(frame[k:k + n]) + 1e-12)
                         for k in range(lo, hi)])
        k = int(np.argmax(corr))
        if corr[k] < 0.5:
            continue
        # parabolic interpolation of the peak for sub-sample lag
        if 0 < k < len(corr) - 1:
            a, b, c = corr[k - 1], corr[k], corr[k + 1]
            k = k + 0.5 * (a - c) / (a - 2 * b + c + 1e-12)
        f0s.append(sample_rate / (lo + k))
    return float(np.median(f0s)) if f0s else None
