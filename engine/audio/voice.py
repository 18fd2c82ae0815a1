"""The avatar's voice: the game master's voice with its pitch and formants shifted, live.

AVATAR therapy (Craig et al. 2018) has the therapist speak *as* the patient's voice through
a real-time voice transform. :class:`VoiceTransform` shifts the pitch (F0) by ``pitch`` and
the formants (the vocal tract's resonances, what makes a voice sound larger or smaller) by
``formant``, block by block as the microphone delivers them, with the Rubber Band library's
real-time stretcher (its R3 engine, formant-preserving pitch shift with a separate formant
scale) through the ``pylibrb`` bindings. The same stream runs offline in :func:`transform`
(``ved voice``, the designer's audition), so a designer hears exactly what the trainee will.
(pedalboard wraps the same library but its pitch shifter returns silence when fed a stream:
spotify/pedalboard#415.)

:func:`f0_median` measures a voice's fundamental frequency (the autocorrelation method of
Rabiner 1977, on voiced 40 ms frames), for the presets' figures and the tests.
"""

from __future__ import annotations

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


#: Samples a :class:`VoiceTransform` takes per call into the stretcher (10 ms at 48 kHz).
STREAM_BLOCK = 480


class VoiceTransform:
    """A live voice transform: :meth:`process` takes float32 mono blocks (any length) and
    returns the transformed samples available so far, float32 ``(m,)``; the output is the
    input ``latency_samples`` later (about 35–50 ms at 48 kHz, depending on the shift).
    Not thread-safe: one producer. Raises ``RuntimeError`` naming the package when the
    Rubber Band bindings (``pylibrb``) are not installed."""

    def __init__(self, voice: VoicePreset, sample_rate: int = 48_000):
        try:
            from pylibrb import Option, RubberBandStretcher
        except ImportError as exc:
            raise RuntimeError(f"the voice transform needs the Rubber Band bindings: pip install pylibrb ({exc})") from None
        self.voice, self.sample_rate = voice, sample_rate
        opts = (Option.PROCESS_REALTIME | Option.ENGINE_FINER | Option.FORMANT_PRESERVED | Option.WINDOW_SHORT
                | Option.PitchHighConsistency)
        self._rb = RubberBandStretcher(sample_rate=sample_rate, channels=1, options=opts, initial_time_ratio=1.0,
                                       initial_pitch_scale=voice.pitch)
        # the formant envelope's scale relative to the pitch-shifted voice (Rubber Band's convention)
        self._rb.formant_scale = voice.formant / voice.pitch
        self._rb.set_max_process_size(STREAM_BLOCK)
        self.start_delay = int(self._rb.get_start_delay())
        self.start_pad = int(self._rb.get_preferred_start_pad())
        self._pending = np.zeros(0, np.float32)

    def process(self, block: np.ndarray, final: bool = False) -> np.ndarray:
        """Feed ``block`` (float32 ``(n,)``); returns what the stretcher has ready. ``final``
        flushes what it holds (the end of an utterance or a file)."""
        x = np.concatenate([self._pending, np.asarray(block, np.float32).reshape(-1)])
        out, i = [], 0
        while len(x) - i >= STREAM_BLOCK or (final and i < len(x)):
            chunk = x[i:i + STREAM_BLOCK]
            i += len(chunk)
            self._rb.process(chunk[None, :], final=final and i >= len(x))
            out.append(self._retrieve())
        self._pending = x[i:].copy()
        if final and not len(x):
            self._rb.process(np.zeros((1, 0), np.float32), final=True)
        if final:
            out.append(self._retrieve())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _retrieve(self) -> np.ndarray:
        n = self._rb.available()
        return self._rb.retrieve(n)[0].astype(np.float32) if n > 0 else np.zeros(0, np.float32)


def transform(x: np.ndarray, sample_rate: int, voice: VoicePreset) -> np.ndarray:
    """``x`` (float32 ``(n,)`` mono or ``(n, c)``) spoken in ``voice``: pitch × ``voice.pitch``,
    formants × ``voice.formant``; same length and layout, aligned with the input. The live
    transform (:class:`VoiceTransform`) run over the whole buffer, each channel alone."""
    x = np.asarray(x, np.float32)
    if x.ndim == 2:
        return np.stack([transform(x[:, c], sample_rate, voice) for c in range(x.shape[1])], 1)
    vt = VoiceTransform(voice, sample_rate)
    y = np.concatenate([vt.process(np.zeros(vt.start_pad, np.float32)), vt.process(x, final=True)])
    y = y[vt.start_delay:vt.start_delay + len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


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
