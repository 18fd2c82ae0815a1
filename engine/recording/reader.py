"""Reading a recording back, finished or left behind by a killed process."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .files import FORMAT, INDEX_NAME, LOG_NAME, META_NAME, SUMMARY_NAME, VIDEO_DIR, RecordingError
from .files import _SEGMENT_RE, _read_jsonl

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


class Recording:
    """A recording on disk, finished or left behind by a killed process.

    Attributes:
        directory: the recording directory.
        meta: contents of ``meta.json`` (dict; the caller's meta is ``meta["meta"]``).
        log: records of ``log.jsonl`` in order (list of dicts); a torn last
            line is ignored.
        summary: contents of ``summary.json``, or None if the recording was
            not closed (e.g. the process was killed).
        tick_hz, scale: from ``meta.json``.

    Build with :func:`read_recording`.
    """

    def __init__(self, directory: Path, meta: dict, log: list[dict], index: list[dict], summary: dict | None):
        self.directory = directory
        self.meta = meta
        self.log = log
        self.summary = summary
        self.tick_hz = int(meta.get("tick_hz", 20))
        self.scale = int(meta.get("scale", 1))
        self._index = index
        self._readable: list[tuple[Path, list[int]]] | None = None

    @property
    def complete(self) -> bool:
        """True if the recorder was closed cleanly (``summary.json`` exists)."""
        return self.summary is not None

    @property
    def events(self) -> list[dict]:
        """Log records with ``"type": "event"``, in order."""
        return [r for r in self.log if r.get("type") == "event"]

    @property
    def actions(self) -> list[dict]:
        """Log records with ``"type": "action"`` of trainee seat 0, in order."""
        return self.seat_actions(0)

    def seat_actions(self, seat: int) -> list[dict]:
        """Log records with ``"type": "action"`` of trainee seat ``seat``, in order."""
        return [r for r in self.log if r.get("type") == "action" and r.get("seat", 0) == seat]

    def audio(self) -> tuple["PcmTrack", int, int] | None:
        """What the trainee heard: ``(samples, sample rate Hz, the tick the first sample
        belongs to)``, read from ``audio.pcm`` (whole even when the session was killed: at
        most the last block is torn); None without sound. ``samples`` is a
        :class:`PcmTrack` over the file (memory-mapped: a slice is read when taken, so an
        hour of sound costs no memory until played); ``np.asarray(samples)`` reads it all."""
        from .files import AUDIO_META_NAME, AUDIO_NAME

        meta_path, pcm_path = self.directory / AUDIO_META_NAME, self.directory / AUDIO_NAME
        if not meta_path.is_file() or not pcm_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return PcmTrack(pcm_path), int(meta["sample_rate"]), int(meta["first_tick"])

    @property
    def seats(self) -> list[str]:
        """The trainee seats' names, seat 0 first (from the log's start record; one
        ``"Trainee"`` for a recording made before seats)."""
        start = next((r for r in self.log if r.get("type") == "start"), None)
        return list((start or {}).get("seats") or ["Trainee"])

    def seat(self, seat: int) -> "Recording":
        """The recording of trainee seat ``seat``'s view: this one for seat 0, else the one in
        ``seats/seat-K/`` (its frames; the log is this one's). Raises ``RecordingError`` when
        there is none."""
        if seat == 0:
            return self
        from .files import SEATS_DIR, seat_dir_name

        folder = self.directory / SEATS_DIR / seat_dir_name(seat)
        if not folder.is_dir():
            raise RecordingError(f"{self.directory}: no recording of seat {seat} (looked in {folder})")
        rec = read_recording(folder)
        rec.log = self.log
        return rec

    def _segments(self) -> list[tuple[Path, list[int]]]:
        """(segment path, ticks listed in the index for it) for every segment
        file that exists, in segment order."""
        by_seg: dict[int, list[int]] = {}
        for rec in self._index:
            try:
                by_seg.setdefault(int(rec["segment"]), []).append(int(rec["tick"]))
            except (KeyError, TypeError, ValueError):
                raise RecordingError(f"{self.directory / INDEX_NAME}: bad index record {rec!r}") from None
        vdir = self.directory / VIDEO_DIR
        files: dict[int, Path] = {}
        if vdir.is_dir():
            for p in vdir.iterdir():
                m = _SEGMENT_RE.match(p.name)
                if m:
                    files[int(m.group(1))] = p
        out = []
        for seg in sorted(files):
            ticks = by_seg.get(seg)
            if not ticks:
                _log.warning("%s: no frame index lines for it; skipped", files[seg])
                continue
            out.append((files[seg], ticks))
        return out

    def _readable_segments(self) -> list[tuple[Path, list[int]]]:
        """Segments that open as video, with their ticks trimmed to the number
        of frames the file holds.  Unreadable (e.g. truncated) ones are skipped."""
        if self._readable is None:
            good = []
            for path, ticks in self._segments():
                try:
                    with av.open(str(path)) as c:
                        if not c.streams.video:
                            raise ValueError("no video stream")
                        n = int(c.streams.video[0].frames or 0)
                except (av.FFmpegError, ValueError, OSError) as exc:
                    _log.info("skipping unreadable segment %s (%s)", path, exc)
                    continue
                if n <= 0:
                    n = len(ticks)  # container did not say; decoding decides
                good.append((path, ticks[:n]))
            self._readable = good
        return self._readable

    @property
    def ticks(self) -> list[int]:
        """Ticks of the frames :meth:`frames` yields, in order."""
        return [t for _, ticks in self._readable_segments() for t in ticks]

    @property
    def frame_count(self) -> int:
        """Number of frames :meth:`frames` yields (readable segments only)."""
        return sum(len(ticks) for _, ticks in self._readable_segments())

    def segment_ticks(self) -> list[list[int]]:
        """The ticks of each readable video segment, in order (what :meth:`frames` yields,
        a segment at a time; :meth:`segment_frames` decodes one)."""
        return [list(ticks) for _, ticks in self._readable_segments()]

    def segment_frames(self, k: int, *, native: bool = False) -> list[np.ndarray]:
        """The frames of readable segment ``k`` (see :meth:`segment_ticks`), decoded: as
        :meth:`frames` yields them; fewer when the segment fails mid-way. Raises
        ``IndexError`` for a segment that does not exist."""
        path, ticks = self._readable_segments()[k]
        return [frame for _, frame in self._decode(path, ticks, native)]

    def frames(self, *, native: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """Decode the video segments in order.

        Yields:
            ``(tick, frame)`` with ``frame`` a ``uint8`` array ``(H*scale,
            W*scale, 3)`` RGB as recorded, or ``(H, W, 3)`` with
            ``native=True`` (each ``scale x scale`` block averaged).

        A segment that cannot be opened (the one a killed process was
        writing) is skipped; one that fails mid-way ends early.
        """
        for path, ticks in self._readable_segments():
            yield from self._decode(path, ticks, native)

    def _decode(self, path: Path, ticks: list[int], native: bool) -> Iterator[tuple[int, np.ndarray]]:
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            _log.info("skipping unreadable segment %s (%s)", path, exc)
            return
        with container:
            it = iter(ticks)
            try:
                for vf in container.decode(video=0):
                    tick = next(it, None)
                    if tick is None:
                        break
                    arr = vf.to_ndarray(format="rgb24")
                    if native and self.scale > 1:
                        s = self.scale
                        h, w = arr.shape[0] // s, arr.shape[1] // s
                        arr = (
                            arr[: h * s, : w * s]
                            .reshape(h, s, w, s, 3)
                            .mean(axis=(1, 3))
                            .round()
                            .astype(np.uint8)
                        )
                    yield tick, arr
            except av.FFmpegError as exc:
                _log.warning("segment %s ends early (%s)", path, exc)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return f"Recording({str(self.directory)!r}, {state}, log={len(self.log)} records)"


class PcmTrack:
    """Stereo 16-bit PCM in a file, read as float32 ``(n, 2)`` in −1…1 a slice at a time:
    ``track[a:b]`` reads those samples from the file (an hour of sound is never in memory at
    once); ``len(track)`` and ``track.shape`` read nothing; ``np.asarray(track)`` reads it
    all. A track sees the samples the file held when it was made."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._n = self.path.stat().st_size // 4  # whole stereo frames

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int, int]:
        return (self._n, 2)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, tuple):
            rows, rest = index[0], index[1:]
            return self[rows][(slice(None), *rest)] if isinstance(rows, slice) else np.asarray(self)[index]
        if not isinstance(index, slice):
            return np.asarray(self)[index]
        start, stop, step = index.indices(self._n)
        count = max(0, stop - start)
        with open(self.path, "rb") as f:
            f.seek(4 * start)
            pcm = np.fromfile(f, "<i2", count=2 * count).reshape(-1, 2)
        return (pcm.astype(np.float32) / 32767.0)[::step] if step != 1 else pcm.astype(np.float32) / 32767.0

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def mean(self, axis=None):
        return self[:].mean(axis)


def read_recording(directory: str | os.PathLike) -> Recording:
    """Open a recording written by :class:`Recorder`, finished or not.

    Reads ``meta.json``, ``log.jsonl``, ``frames.jsonl`` and (if present)
    ``summary.json``; video is decoded lazily by :meth:`Recording.frames`.

    Raises:
        RecordingError: ``directory`` does not exist, has no valid
            ``meta.json`` of format ``"ved-recording/1"``, or a JSONL file is
            corrupt before its last line.
    """
    d = Path(directory)
    if not d.is_dir():
        raise RecordingError(f"{d} is not a recording: no such directory")
    meta_path = d / META_NAME
    if not meta_path.is_file():
        raise RecordingError(f"{d} is not a recording: {META_NAME} is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{d} is not a recording: {META_NAME} is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise RecordingError(f"{d} is not a recording: {META_NAME} format is {fmt!r}, expected {FORMAT!r}")
    summary = None
    sp = d / SUMMARY_NAME
    if sp.is_file():
        try:
            summary = json.loads(sp.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            _log.warning("%s is corrupt; treating the recording as incomplete", sp)
    return Recording(d, meta, _read_jsonl(d / LOG_NAME), _read_jsonl(d / INDEX_NAME), summary)
