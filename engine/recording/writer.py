"""The crash-safe :class:`Recorder` (see :mod:`engine.recording` for the layout it writes)."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from .contact_sheet import SHEET_MAX_TILES, render_contact_sheet
from .files import (AUDIO_META_NAME, AUDIO_NAME, FORMAT, MICROPHONE_META_NAME, MICROPHONE_NAME, MICROPHONE_WAV_NAME, INDEX_NAME, LOG_NAME, META_NAME, SEATS_DIR, SESSION_NAME,
                    SHEET_NAME, SUMMARY_NAME, VIDEO_DIR, seat_dir_name)
from .files import _dumps, _write_json_atomic

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# Recorder
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingSummary:
    """What :meth:`Recorder.close` wrote (also saved as ``summary.json``).

    Attributes:
        directory: the recording directory.
        frames: number of frames written.
        duration_s: span of ticks covered, ``(last_tick - first_tick + 1) /
            tick_hz`` seconds (0.0 without frames).
        events: number of log records with ``"type": "event"``.
        log_records: number of log records of any type.
        first_tick, last_tick: ticks of the first/last frame (None without frames).
        segments: number of video segment files.
        width, height: encoded (scaled) frame size in pixels (0 without frames).
        tick_hz, scale: as given to the recorder.
        session_mp4: path of ``session.mp4`` (None without frames or if the
            concatenation failed; the segments are still readable then).
        contact_sheet: path of ``contact_sheet.png`` (None if not requested or
            no frames).
        write_frame_ms_mean, write_frame_ms_max: cost of
            :meth:`Recorder.write_frame` in milliseconds (wall clock).
        seats: the other trainee seats' recordings (``seats/seat-K``), as paths
            relative to ``directory``; empty for a session with one trainee.
    """

    directory: Path
    frames: int
    duration_s: float
    events: int
    log_records: int
    first_tick: int | None
    last_tick: int | None
    segments: int
    width: int
    height: int
    tick_hz: int
    scale: int
    session_mp4: Path | None
    contact_sheet: Path | None
    write_frame_ms_mean: float
    write_frame_ms_max: float
    seats: tuple[str, ...] = ()

    def to_json(self) -> dict:
        d = asdict(self)
        d["directory"] = str(self.directory)
        d["session_mp4"] = self.session_mp4.name if self.session_mp4 else None
        d["contact_sheet"] = self.contact_sheet.name if self.contact_sheet else None
        d["seats"] = list(self.seats)
        return d


class Recorder:
    """Record a session's frames and log into a new directory, crash-safely.

    Args:
        directory: where to record; created (with parents).  It must not exist
            or be an empty directory.
        tick_hz: session tick rate in Hz (frame timestamps are ticks / tick_hz).
        scale: integer nearest-neighbour upscale applied to every frame before
            encoding (64x64 model frames -> 256x256 video at the default 4).
        segment_ticks: frames per video segment (20 = 1 s at 20 Hz); a killed
            process loses at most this many frames.
        meta: free-form JSON-serialisable metadata (scenario, model, seed, ...),
            stored under the ``"meta"`` key of ``meta.json``.
        crf, preset: libx264 quality/speed settings.

    Raises:
        FileExistsError: ``directory`` exists and is a file or a non-empty
            directory.
        ValueError: ``tick_hz``, ``scale`` or ``segment_ticks`` is not a
            positive integer.

    Thread-safe: ``write_frame`` and ``log`` may be called from different
    threads.  Use as a context manager or call :meth:`close` at the end.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        tick_hz: int = 20,
        scale: int = 4,
        segment_ticks: int = 20,
        meta: dict | None = None,
        crf: int = 18,
        preset: str = "ultrafast",
    ) -> None:
        for name, val in (("tick_hz", tick_hz), ("scale", scale), ("segment_ticks", segment_ticks)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        self.directory = Path(directory)
        self.tick_hz = int(tick_hz)
        self.scale = int(scale)
        self.segment_ticks = int(segment_ticks)
        self._crf = int(crf)
        self._preset = str(preset)

        d = self.directory
        if d.exists():
            if not d.is_dir():
                raise FileExistsError(
                    f"cannot record into {d}: it exists and is not a directory; "
                    "choose a new path for the recording"
                )
            if any(d.iterdir()):
                raise FileExistsError(
                    f"cannot record into {d}: the directory is not empty; "
                    "choose a new (or empty) directory, or move the old recording away"
                )
        (d / VIDEO_DIR).mkdir(parents=True, exist_ok=True)

        now = time.time()
        self._meta = {
            "format": FORMAT,
            "tick_hz": self.tick_hz,
            "scale": self.scale,
            "segment_ticks": self.segment_ticks,
            "codec": {"name": "libx264", "pix_fmt": "yuv420p", "crf": self._crf, "preset": self._preset},
            "created": _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat(timespec="seconds"),
            "created_unix": now,
            "meta": dict(meta) if meta else {},
        }
        _write_json_atomic(d / META_NAME, self._meta)

        # Unbuffered binary files: every record goes out in one write() call,
        # so SIGKILL can at worst tear the line being written.
        self._log_f = open(d / LOG_NAME, "ab", buffering=0)
        self._index_f = open(d / INDEX_NAME, "ab", buffering=0)

        self._lock = threading.RLock()
        self._closed = False
        self._summary: RecordingSummary | None = None

        self._frames = 0
        self._events = 0
        self._log_records = 0
        self._first_tick: int | None = None
        self._last_tick: int | None = None
        self._shape: tuple[int, int] | None = None  # native (H, W)

        self._seg_index = -1
        self._seg_container: Any = None
        self._seg_stream: Any = None
        self._seg_first_tick = 0
        self._seg_frames = 0
        self._seg_first_ticks: list[int] = []  # first tick of each segment

        # Contact-sheet thumbnails: every `_thumb_stride`-th frame (native size).
        self._thumbs: list[tuple[int, np.ndarray]] = []
        self._thumb_stride = 1
        self._last_thumb: tuple[int, np.ndarray] | None = None

        self._ms_sum = 0.0
        self._ms_max = 0.0
        self._audio_f = None  # audio.pcm, opened with the first block
        self._audio_rate = 0
        self._audio_first_tick: int | None = None
        self._audio_samples = 0  # sample frames written (silence for missed ticks included)
        self._seat_recorders: dict[int, Recorder] = {}  # trainee seats 1, 2, …: a recording each
        self._mic_f = None  # gm_microphone.pcm, opened with the first stretch
        self._mic = {"sample_rate": 0, "channels": 1, "format": "s16le", "utterances": []}
        self._mic_samples = 0
        self._mic_last: tuple[int, str] | None = None  # (tick, mode) of the last stretch

    # ------------------------------------------------------------------ API

    def seat_recorder(self, seat: int) -> "Recorder":
        """The recorder of trainee seat ``seat``'s view (seat 0: this one; seat K ≥ 1: a
        recording of its own in ``seats/seat-K/``, made on first use, with this one's
        settings and metadata plus ``seat``, and closed with this one)."""
        if seat == 0:
            return self
        with self._lock:
            self._check_open()
            rec = self._seat_recorders.get(seat)
            if rec is None:
                meta = {**self._meta["meta"], "seat": int(seat)}
                rec = Recorder(self.directory / SEATS_DIR / seat_dir_name(seat), tick_hz=self.tick_hz, scale=self.scale,
                               segment_ticks=self.segment_ticks, meta=meta, crf=self._crf, preset=self._preset)
                self._seat_recorders[seat] = rec
            return rec

    @property
    def frames_written(self) -> int:
        """Number of frames written so far."""
        return self._frames

    @property
    def closed(self) -> bool:
        return self._closed

    def write_audio(self, tick: int, samples: np.ndarray, sample_rate: int) -> None:
        """Append the sound of ``tick``: float32 ``(n, 2)`` in −1…1 at ``sample_rate`` Hz,
        written at once as 16-bit PCM to ``audio.pcm`` (so a killed session keeps what was
        heard up to then). Ticks without sound in between become silence; at close the
        sound is muxed into ``session.mp4`` as AAC. Raises ``RuntimeError`` when closed,
        ``ValueError`` for another shape or rate than before."""
        samples = np.asarray(samples, np.float32)
        if samples.ndim != 2 or samples.shape[1] != 2:
            raise ValueError(f"audio is float32 (n, 2); got {samples.shape}")
        with self._lock:
            self._check_open()
            if self._audio_f is None:
                self._audio_rate, self._audio_first_tick = int(sample_rate), int(tick)
                _write_json_atomic(self.directory / AUDIO_META_NAME, {
                    "sample_rate": self._audio_rate, "channels": 2, "format": "s16le", "first_tick": int(tick),
                    "tick_hz": self.tick_hz})
                self._audio_f = open(self.directory / AUDIO_NAME, "ab", buffering=0)
            elif sample_rate != self._audio_rate:
                raise ValueError(f"audio at {sample_rate} Hz after {self._audio_rate} Hz")
            due = round((tick - self._audio_first_tick) * self._audio_rate / self.tick_hz)
            if due > self._audio_samples:  # missed ticks: silence, so the sound stays on the clock
                gap = due - self._audio_samples
                self._audio_f.write(np.zeros((gap, 2), "<i2").tobytes())
                self._audio_samples += gap
            pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
            self._audio_f.write(pcm.tobytes())
            self._audio_samples += len(pcm)

    def write_microphone(self, samples: np.ndarray, sample_rate: int, mode: str, tick: int) -> None:
        """Append a stretch of the game master's raw microphone (float32 mono ``(n,)``, before
        any voice transform), spoken in ``mode`` at session ``tick``, to ``gm_microphone.pcm``
        at once (a killed session keeps it); a stretch more than a tick after the last, or
        in another mode, starts a new utterance in ``gm_microphone.json``. At close the
        samples become ``gm_microphone.wav``. Raises ``RuntimeError`` when closed."""
        pcm = np.clip(np.round(np.asarray(samples, np.float32).reshape(-1) * 32767), -32768, 32767).astype("<i2")
        with self._lock:
            self._check_open()
            if self._mic_f is None:
                self._mic["sample_rate"] = int(sample_rate)
                self._mic_f = open(self.directory / MICROPHONE_NAME, "ab", buffering=0)
            if self._mic_last is None or self._mic_last[1] != mode or tick > self._mic_last[0] + 1:
                self._mic["utterances"].append({"sample": self._mic_samples, "tick": int(tick), "mode": mode})
                _write_json_atomic(self.directory / MICROPHONE_META_NAME, self._mic)
            self._mic_last = (int(tick), mode)
            self._mic_f.write(pcm.tobytes())
            self._mic_samples += len(pcm)

    def _finish_microphone(self) -> None:
        """``gm_microphone.pcm`` → ``gm_microphone.wav`` (the PCM is kept if that fails)."""
        if self._mic_f is None:
            return
        self._mic_f.close()
        import soundfile

        pcm = np.fromfile(self.directory / MICROPHONE_NAME, "<i2")
        soundfile.write(self.directory / MICROPHONE_WAV_NAME, pcm, self._mic["sample_rate"], subtype="PCM_16")
        (self.directory / MICROPHONE_NAME).unlink()

    def write_frame(self, tick: int, frame: np.ndarray) -> None:
        """Append one frame.

        Args:
            tick: session tick of the frame; integers, strictly increasing
                across calls (gaps allowed: missed ticks).
            frame: ``uint8`` array of shape ``(H, W, 3)`` (RGB); every frame of
                a recording has the same shape, and ``H * scale`` and
                ``W * scale`` must be even (yuv420p).

        Raises:
            RuntimeError: the recorder is closed.
            TypeError: ``frame`` is not a uint8 array.
            ValueError: wrong shape, a shape change, odd scaled size, or a tick
                not greater than the previous one.
        """
        t0 = time.perf_counter()
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise TypeError(
                f"frame must be a numpy uint8 array, got "
                f"{type(frame).__name__}{'/' + str(frame.dtype) if isinstance(frame, np.ndarray) else ''}"
            )
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must have shape (H, W, 3), got {frame.shape}")
        if isinstance(tick, bool) or not isinstance(tick, (int, np.integer)):
            raise ValueError(f"tick must be an integer, got {tick!r}")
        tick = int(tick)
        with self._lock:
            self._check_open()
            h, w = int(frame.shape[0]), int(frame.shape[1])
            if self._shape is None:
                if (h * self.scale) % 2 or (w * self.scale) % 2:
                    raise ValueError(
                        f"scaled frame size {w * self.scale}x{h * self.scale} must be even "
                        f"for H.264 yuv420p (frame {w}x{h}, scale {self.scale})"
                    )
                self._shape = (h, w)
            elif (h, w) != self._shape:
                raise ValueError(
                    f"frame shape changed from {self._shape + (3,)} to {frame.shape} "
                    "within one recording"
                )
            if self._last_tick is not None and tick <= self._last_tick:
                raise ValueError(f"ticks must increase: got {tick} after {self._last_tick}")

            if self._seg_container is None:
                self._open_segment(tick)

            # Index line first: a frame listed here but missing from a
            # segment can only be in the (unreadable) segment in progress.
            self._index_f.write((_dumps({"tick": tick, "segment": self._seg_index}) + "\n").encode())

            big = frame
            if self.scale > 1:
                big = np.repeat(np.repeat(frame, self.scale, axis=0), self.scale, axis=1)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")
            vf.pts = tick - self._seg_first_tick
            vf.time_base = Fraction(1, self.tick_hz)
            for packet in self._seg_stream.encode(vf):
                self._seg_container.mux(packet)

            if self._first_tick is None:
                self._first_tick = tick
            self._last_tick = tick
            self._frames += 1
            self._seg_frames += 1
            self._keep_thumb(tick, frame)

            if self._seg_frames >= self.segment_ticks:
                self._close_segment()

            ms = (time.perf_counter() - t0) * 1e3
            self._ms_sum += ms
            self._ms_max = max(self._ms_max, ms)

    def log(self, record: dict) -> None:
        """Append one record to ``log.jsonl`` as a single JSON line.

        Args:
            record: a dict with at least ``"type"`` (str, e.g. "action",
                "event") and ``"tick"`` (int).  numpy scalars and arrays
                become numbers and (nested) lists (float32 values in their
                shortest form that reads back to the same float32), paths
                strings, sets sorted lists; other values must be JSON types.

        Raises:
            RuntimeError: the recorder is closed.
            ValueError: ``record`` is not a dict or lacks "type"/"tick".
            TypeError: a value cannot be serialised.
        """
        if not isinstance(record, dict):
            raise ValueError(f"log record must be a dict, got {type(record).__name__}")
        if "type" not in record or "tick" not in record:
            raise ValueError(f"log record needs 'type' and 'tick' keys, got keys {sorted(record)}")
        line = (_dumps(record) + "\n").encode("utf-8")
        with self._lock:
            self._check_open()
            self._log_f.write(line)
            self._log_records += 1
            if record.get("type") == "event":
                self._events += 1

    def close(self, contact_sheet: bool = True) -> RecordingSummary:
        """Finish the recording: close the open segment, write ``session.mp4``
        (segments remuxed, no re-encode), ``contact_sheet.png`` (if asked and
        there are frames) and ``summary.json``.

        Idempotent: later calls return the first call's summary.  A failure
        to build ``session.mp4`` or the contact sheet is logged, not raised
        (the segments hold the video either way).
        """
        with self._lock:
            if self._summary is not None:
                return self._summary
            self._closed = True
            seats = []
            for seat, rec in sorted(self._seat_recorders.items()):
                try:
                    rec.close(contact_sheet)
                    seats.append(f"{SEATS_DIR}/{seat_dir_name(seat)}")
                except Exception:  # noqa: BLE001 - never lose the main recording over a seat's
                    _log.exception("could not finish the recording of seat %d", seat)
            try:
                self._close_segment()
            finally:
                self._log_f.close()
                self._index_f.close()
                if self._audio_f is not None:
                    self._audio_f.close()
                try:
                    self._finish_microphone()
                except Exception:  # noqa: BLE001 - the raw PCM stays beside its index
                    _log.exception("could not write %s", self.directory / MICROPHONE_WAV_NAME)

            session: Path | None = None
            if self._frames:
                try:
                    session = self._concat_segments()
                except Exception:  # noqa: BLE001 - never lose the recording over this
                    _log.exception("could not write %s", self.directory / SESSION_NAME)
                    session = None

            sheet: Path | None = None
            if contact_sheet and self._frames:
                try:
                    sheet = self._write_contact_sheet()
                except Exception:  # noqa: BLE001
                    _log.exception("could not write %s", self.directory / SHEET_NAME)
                    sheet = None

            h, w = self._shape or (0, 0)
            duration = 0.0
            if self._first_tick is not None and self._last_tick is not None:
                duration = (self._last_tick - self._first_tick + 1) / self.tick_hz
            summary = RecordingSummary(
                directory=self.directory,
                frames=self._frames,
                duration_s=duration,
                events=self._events,
                log_records=self._log_records,
                first_tick=self._first_tick,
                last_tick=self._last_tick,
                segments=len(self._seg_first_ticks),
                width=w * self.scale,
                height=h * self.scale,
                tick_hz=self.tick_hz,
                scale=self.scale,
                session_mp4=session,
                contact_sheet=sheet,
                write_frame_ms_mean=(self._ms_sum / self._frames) if self._frames else 0.0,
                write_frame_ms_max=self._ms_max,
                seats=tuple(seats),
            )
            data = summary.to_json()
            data["closed"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            _write_json_atomic(self.directory / SUMMARY_NAME, data)
            self._summary = summary
            self._thumbs = []
            self._last_thumb = None
            return summary

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"recorder for {self.directory} is closed")

    def _segment_path(self, index: int) -> Path:
        return self.directory / VIDEO_DIR / f"seg_{index:06d}.mp4"

    def _open_segment(self, tick: int) -> None:
        assert self._shape is not None
        h, w = self._shape
        self._seg_index += 1
        self._seg_first_tick = tick
        self._seg_frames = 0
        self._seg_first_ticks.append(tick)
        container = av.open(str(self._segment_path(self._seg_index)), mode="w", format="mp4")
        try:
            stream = container.add_stream(
                "libx264",
                rate=self.tick_hz,
                options={"preset": self._preset, "crf": str(self._crf), "threads": "1"},
            )
            stream.width = w * self.scale
            stream.height = h * self.scale
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = Fraction(1, self.tick_hz)
            stream.time_base = Fraction(1, self.tick_hz)
        except Exception:
            container.close()
            raise
        self._seg_container = container
        self._seg_stream = stream

    def _close_segment(self) -> None:
        if self._seg_container is None:
            return
        container, stream = self._seg_container, self._seg_stream
        self._seg_container = self._seg_stream = None
        try:
            for packet in stream.encode(None):
                container.mux(packet)
        finally:
            container.close()

    def _keep_thumb(self, tick: int, frame: np.ndarray) -> None:
        """Keep every stride-th frame; when more than 2*N are kept, drop every
        other one and double the stride: memory stays O(N), spacing even."""
        i = self._frames - 1
        self._last_thumb = (tick, frame.copy())
        if i % self._thumb_stride == 0:
            self._thumbs.append((tick, self._last_thumb[1]))
            if len(self._thumbs) > 2 * SHEET_MAX_TILES:
                self._thumbs = self._thumbs[::2]
                self._thumb_stride *= 2

    def _concat_segments(self) -> Path:
        """Remux all segments into ``session.mp4`` with timestamps
        ``tick - first_tick`` (no re-encode)."""
        out_path = self.directory / SESSION_NAME
        tmp_path = self.directory / (SESSION_NAME + ".part")
        first = self._first_tick or 0
        out = av.open(str(tmp_path), mode="w", format="mp4")
        try:
            out_stream = None
            for index, seg_tick in enumerate(self._seg_first_ticks):
                with av.open(str(self._segment_path(index))) as inp:
                    in_stream = inp.streams.video[0]
                    if out_stream is None:
                        out_stream = out.add_stream_from_template(in_stream)
                        audio = self._add_audio_stream(out) if self._audio_samples else None
                    tb = in_stream.time_base
                    offset = round(Fraction(seg_tick - first, self.tick_hz) / tb)
                    for packet in inp.demux(in_stream):
                        if packet.dts is None:
                            continue
                        packet.pts += offset
                        packet.dts += offset
                        packet.stream = out_stream
                        out.mux(packet)
            if out_stream is not None and audio is not None:
                self._mux_audio(out, audio, first)
        finally:
            out.close()
        os.replace(tmp_path, out_path)
        return out_path

    def _add_audio_stream(self, out):
        stream = out.add_stream("aac", rate=self._audio_rate, layout="stereo")
        stream.bit_rate = 128_000
        return stream

    def _mux_audio(self, out, stream, first_tick: int) -> None:
        """Encode ``audio.pcm`` as AAC into ``stream`` of ``out``, starting at its tick."""
        rate = self._audio_rate
        path = self.directory / AUDIO_NAME
        start = round((self._audio_first_tick - first_tick) * rate / self.tick_hz)
        step, done = 1024, 0
        with open(path, "rb") as f:  # read a second at a time: an hour of sound is never in memory at once
            while True:
                pcm = np.fromfile(f, "<i2", count=2 * 48 * step)
                pcm = pcm[: len(pcm) // 2 * 2].reshape(-1, 2)
                if not len(pcm):
                    break
                for i in range(0, len(pcm), step):
                    chunk = np.ascontiguousarray(pcm[i:i + step].reshape(1, -1))  # packed s16: L R L R …
                    frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
                    frame.sample_rate = rate
                    frame.pts = start + done + i
                    frame.time_base = Fraction(1, rate)
                    for packet in stream.encode(frame):
                        out.mux(packet)
                done += len(pcm)
        for packet in stream.encode(None):
            out.mux(packet)

    def _write_contact_sheet(self) -> Path:
        cands = list(self._thumbs)
        if self._last_thumb is not None and (not cands or cands[-1][0] != self._last_thumb[0]):
            cands.append(self._last_thumb)
        n = min(SHEET_MAX_TILES, len(cands))
        picks = [cands[int(round(k))] for k in np.linspace(0, len(cands) - 1, n)]
        assert self._shape is not None
        img = render_contact_sheet(picks, self._shape, self.scale, self.tick_hz)
        path = self.directory / SHEET_NAME
        img.save(path)
        return path
