"""Debrief: what happened in a recorded session, and exports of it (headless).

Reads a recording written by :class:`engine.recording.Recorder` — finished, or left
behind by a killed process — and turns its log into things a person reviews:

- :func:`timeline`: the moments worth looking at (events, cues, markers, bookmarks,
  rewinds, prompt changes, pauses) as :class:`TimelineItem` with plain-words labels;
- :func:`session_summary`: the figures of the session as a JSON-ready dict;
- :func:`export_events_csv` and :func:`export_video`: files to hand on;
- :class:`FrameIndex`: where every frame is, decoded a segment at a time for a player that
  seeks (memory bounded by a few segments, whatever the session's length).

Times are *session time*: ``tick / tick_hz`` seconds from tick 0 (the session start).
Ticks keep increasing across rewinds; the session clock stands still while paused, so a
pause's wall-clock length is not in the recording.

This module must not import Qt, pyopenxr or sounddevice (engine/ rule).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np

from engine.progress import null_progress

from ..world.state import EVENTS
from ..runtime.protocol import (End, Event, Marker, Notice, Pause, PromptChange, ProtocolError, Quality, Recovery, Resume,
                                Rewind, Start, from_record)
from ..runtime.protocol import Bookmark as BookmarkMessage
from .contact_sheet import SHEET_MAX_TILES, render_contact_sheet
from .files import SHEET_NAME
from .reader import Recording

__all__ = [
    "KINDS",
    "TimelineItem",
    "FrameIndex",
    "timeline",
    "describe",
    "session_summary",
    "export_events_csv",
    "export_video",
    "format_time",
    "parse_time",
    "comparison_strip",
]

_log = logging.getLogger(__name__)

ProgressFn = Callable[..., None]

#: Kinds of :class:`TimelineItem`, in the order a legend lists them.
KINDS: tuple[str, ...] = ("event", "cue", "marker", "bookmark", "rewind", "prompt", "pause", "resume")
#: Log record types that become timeline items ("event" gives kind "event" or "cue").
_TIMELINE_TYPES = frozenset({"event", "marker", "bookmark", "rewind", "prompt", "pause", "resume", "recovery", "quality"})

#: Log record types that are not exported to CSV: one per tick, or bulky schedules.
CSV_SKIPPED_TYPES: frozenset[str] = frozenset({"action", "state", "cues"})
CSV_COLUMNS: tuple[str, ...] = ("tick", "time", "time_s", "type", "what", "event", "source", "label", "note", "detail")
# record keys with a column of their own (the rest goes to "detail" as JSON)
_CSV_OWN_KEYS = frozenset({"tick", "type", "event", "source", "label", "note"})

# libx264 settings of exported videos (made to be handed on: smaller than the recorder's).
EXPORT_CRF = 20
EXPORT_PRESET = "veryfast"


@dataclass(frozen=True)
class TimelineItem:
    """One moment of a session worth finding again.

    Attributes:
        tick: session tick (20 Hz by default) of the moment.
        time_s: session time of the moment in seconds (``tick / tick_hz``).
        kind: one of :data:`KINDS`; events fired by a cue are ``"cue"``.
        label: what happened, in plain words ("Bleeding starts (cue)", "Marker: missed
            the bleeder"); no time in it.
        detail: the log record it comes from (a dict with ``"type"``, ``"tick"``, ...).
    """

    tick: int
    time_s: float
    kind: str
    label: str
    detail: dict = field(default_factory=dict, compare=False)


def format_time(seconds: float) -> str:
    """Seconds as ``mm:ss`` (``h:mm:ss`` from one hour on), rounded down to the second."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


_TIME_RE = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float | None:
    """Read a time typed by a person: ``"75"``, ``"75.5"`` (seconds), ``"1:15"``,
    ``"01:15.5"`` (mm:ss) or ``"1:01:15"`` (h:mm:ss). Empty text gives None.

    Returns:
        seconds (float, >= 0) or None.

    Raises:
        ValueError: the text is none of these forms (the message quotes it).
    """
    text = text.strip()
    if not text:
        return None
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(f"cannot read {text!r} as a time; write seconds (75) or minutes:seconds (1:15)")
    a, b, sec = m.groups()
    hours, minutes = (int(a), int(b)) if b is not None else (0, int(a or 0))
    return hours * 3600 + minutes * 60 + float(sec)


def _event_phrase(name: Any) -> str:
    """Plain words for an event (:attr:`engine.world.state.EventSpec.label`); an event this
    version does not know is shown with its name made readable ("door_open" -> "Door open")."""
    name = str(name or "event")
    spec = EVENTS.get(name)
    return spec.label if spec else name.replace("_", " ").capitalize()


def _message(record: dict):
    """The protocol message of a log record, or None when it is not a valid one."""
    try:
        return from_record(record)
    except ProtocolError:
        return None


def describe(record: dict, tick_hz: int = 20) -> str:
    """A log record in plain words, for a person (timeline, CSV "what" column).

    Known types get a sentence ("Bleeding starts (cue) — arterial bleed", "Marker: missed
    the bleeder", "Rewind to bookmark “before incision” (taken at 00:05)"); an unknown type,
    or a record that is not valid for its type (:func:`engine.runtime.protocol.from_record`),
    is shown as its type and fields. Never raises for a dict.
    """
    match _message(record):
        case Event() as m:
            if m.from_cue:
                how = " (cue)" if m.source == "cue" else " (cue, fired by the game master)"
            else:
                how = " (game master)" if m.source == "game_master" else f" ({m.source})"
            return _event_phrase(m.event) + how + (f" — {m.label}" if m.label else "")
        case Marker() as m:
            return f"Marker: {m.note}" if m.note else "Marker"
        case BookmarkMessage() as m:
            return f"Bookmark “{m.label or m.id}”"
        case Rewind() as m:
            return f"Rewind to bookmark “{m.label or m.bookmark}” (taken at {format_time(m.to_tick / tick_hz)})"
        case PromptChange() as m:
            applied = "" if m.applied else " (recorded, not applied)"
            return f"Image injected: {m.image}{applied}" if m.image else f"World prompt changed{applied}: “{m.text}”"
        case Pause():
            return "Paused"
        case Resume():
            return "Resumed"
        case Start() as m:
            return f"Session starts: {m.title}" if m.title else "Session starts"
        case End() as m:
            return f"Session ends ({m.reason})"
        case Notice() as m:
            return f"Notice: {m.text}"
        case Quality() as m:
            return f"World model quality {m.level} ({'auto' if m.auto else 'fixed'}): {m.reason}"
        case Recovery() as m:
            return (f"World model re-anchored (divergence {m.score:.2f}; recovery {m.recoveries}): the rollout left "
                    "its trained range and restarted from the last good view")
    kind = str(record.get("type", "?"))
    rest = {k: v for k, v in record.items() if k not in ("type", "tick")}
    return f"{kind}: {json.dumps(rest, ensure_ascii=False, default=str)}" if rest else kind


def _tick_of(record: dict) -> int | None:
    tick = record.get("tick")
    return int(tick) if isinstance(tick, (int, float)) and not isinstance(tick, bool) else None


def timeline(recording: Recording) -> list[TimelineItem]:
    """The moments of a recording, ordered by tick (log order within a tick).

    Included log records: ``event`` (kind ``"cue"`` when fired by a cue, also when the game
    master fired the cue early; else ``"event"``), ``marker``, ``bookmark``, ``rewind``,
    ``prompt``, ``pause``, ``resume``, ``recovery`` (the world model re-anchored), ``quality``
    (the world model's quality rung changed). Other types (action, state, cues, start, end,
    notice, unknown ones) and records without an integer tick are left out.
    """
    items = []
    for record in recording.log:
        kind, tick = record.get("type"), _tick_of(record)
        if kind not in _TIMELINE_TYPES or tick is None:
            continue
        if kind == "event" and isinstance(msg := _message(record), Event) and msg.from_cue:
            kind = "cue"
        items.append(TimelineItem(tick, tick / recording.tick_hz, str(kind), describe(record, recording.tick_hz), record))
    items.sort(key=lambda it: it.tick)  # stable: log order kept within a tick
    return items


# --------------------------------------------------------------------------
# Frames for a player
# --------------------------------------------------------------------------


class FrameIndex:
    """Where every readable frame of a recording is, for a player that seeks: the frames are
    decoded a video segment (1 s) at a time when first shown, at native size, and the last
    :data:`CACHED_SEGMENTS` decoded segments are kept. Memory is bounded whatever the
    session's length (8 segments of 20 frames at 128×128: 7.9 MB), and opening a 60-minute
    recording reads only its index; showing a frame of a segment not in memory decodes that
    segment (20 frames, a few ms each).

    Attributes:
        ticks: int64 array ``(N,)``, increasing: the tick of each frame.
        tick_hz: session tick rate (Hz).
    """

    def __init__(self, recording: Recording | None, segments: list[list[int]], tick_hz: int,
                 cached_segments: int = 8):
        self.recording, self.tick_hz = recording, tick_hz
        self.ticks = np.asarray([t for seg in segments for t in seg], np.int64)
        self._seg = np.repeat(np.arange(len(segments)), [len(seg) for seg in segments]).astype(np.int64)
        self._start = np.cumsum([0] + [len(seg) for seg in segments])[:-1].astype(np.int64)
        self._cache: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self._max = max(1, int(cached_segments))
        self._lock = threading.Lock()

    @classmethod
    def load(cls, recording: Recording, *, progress: ProgressFn = null_progress,
             cached_segments: int = 8) -> "FrameIndex":
        """Index the readable frames of ``recording`` (nothing is decoded yet). Reports
        ``progress(fraction, text)``; raises :class:`engine.progress.Cancelled` from it."""
        progress(0.0, "reading the frame index")
        segments = recording.segment_ticks()
        n = sum(len(seg) for seg in segments)
        progress(1.0, f"{n} frames indexed")
        return cls(recording, segments, recording.tick_hz, cached_segments)

    def __len__(self) -> int:
        return len(self.ticks)

    @property
    def nbytes(self) -> int:
        """Memory held by the decoded frames now in memory, bytes."""
        with self._lock:
            return int(sum(f.nbytes for seg in self._cache.values() for f in seg))

    @property
    def cached_segments(self) -> int:
        """How many decoded segments are in memory now."""
        return len(self._cache)

    def position(self, tick: int) -> int:
        """Index of the frame on screen at ``tick``: the last frame at or before it (the
        first frame for a tick before it). Raises IndexError when there are no frames."""
        if not len(self.ticks):
            raise IndexError("the recording has no frames")
        return max(0, int(np.searchsorted(self.ticks, tick, side="right")) - 1)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (0 … N−1), uint8 ``(H, W, 3)``, decoding its segment if needed. A frame
        its segment failed to decode (a damaged file) is the nearest earlier one there."""
        seg, off = int(self._seg[i]), i - int(self._start[self._seg[i]])
        with self._lock:
            frames = self._cache.get(seg)
            if frames is not None:
                self._cache.move_to_end(seg)
        if frames is None:
            frames = self.recording.segment_frames(seg, native=True) if self.recording is not None else []
            if not frames:
                raise IndexError(f"frame {i}: its video segment could not be decoded")
            with self._lock:
                self._cache[seg] = frames
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return frames[min(off, len(frames) - 1)]

    def frame_at(self, tick: int) -> tuple[int, np.ndarray]:
        """``(tick of the frame shown, frame uint8 (H, W, 3))`` at session tick ``tick``
        (see :meth:`position`). Raises IndexError when there are no frames."""
        i = self.position(tick)
        return int(self.ticks[i]), self.frame(i)


def _when(tick: int, tick_hz: int) -> dict:
    return {"tick": tick, "time_s": round(tick / tick_hz, 3), "time": format_time(tick / tick_hz)}


def _contact_sheet(recording: Recording, frames: FrameIndex | None, path: Path) -> Path | None:
    """Write a contact sheet of up to 16 evenly spaced frames to ``path``; None without
    frames or when it cannot be written (logged)."""
    ticks = frames.ticks.tolist() if frames is not None else recording.ticks
    if not ticks:
        return None
    picks = sorted({int(round(k)) for k in np.linspace(0, len(ticks) - 1, min(SHEET_MAX_TILES, len(ticks)))})
    if frames is not None:
        chosen = [(ticks[i], frames.frame(i)) for i in picks]
    else:
        wanted, chosen = set(picks), []
        for i, (tick, frame) in enumerate(recording.frames(native=True)):
            if i in wanted:
                chosen.append((tick, frame))
            if i >= picks[-1]:
                break
    if not chosen:
        return None
    shape = chosen[0][1].shape[:2]
    try:
        render_contact_sheet(chosen, shape, recording.scale, recording.tick_hz).save(path)
    except OSError as exc:
        _log.warning("could not write the contact sheet %s (%s)", path, exc)
        return None
    return path


def session_summary(
    recording: Recording,
    *,
    frames: FrameIndex | None = None,
    sheet_path: str | os.PathLike | None = None,
) -> dict:
    """The figures of a session, JSON-serialisable.

    Args:
        recording: from :func:`engine.recording.read_recording`.
        frames: already decoded frames (saves decoding again for the contact sheet).
        sheet_path: where to write a contact sheet when the recording has none (it was not
            closed cleanly); default ``contact_sheet.png`` in the recording folder.

    Returns:
        dict with ``title``, ``prompt``, ``model`` (from the "start" record or the
        recording's meta; None if unknown), ``directory``, ``complete`` (closed cleanly),
        ``end_reason`` (None without an "end" record), ``tick_hz``, ``frames`` (count),
        ``first_tick``/``last_tick`` (None without frames), ``duration_s``
        (``(last_tick - first_tick + 1) / tick_hz``, 0.0 without frames), ``duration``
        (mm:ss), ``missing_ticks`` (ticks in that span without a frame: missed ticks or
        gaps), ``events_fired`` and ``events`` (list of {tick, time_s, time, what, event,
        source, label, cue}), ``markers`` ({id, note, ...}), ``bookmarks`` ({id, label,
        ...}), ``rewinds`` ({bookmark, label, to_tick, ...}), ``pauses`` ({resume_tick
        (None if never resumed), ...}), ``prompt_changes`` ({text, image, applied, note,
        ...}) — each item also has tick, time_s and time — and ``contact_sheet`` (path
        as str, or None without frames or when it could not be written).

    Raises:
        engine.recording.RecordingError: the frame index is corrupt.
    """
    hz = recording.tick_hz
    ticks = frames.ticks.tolist() if frames is not None else recording.ticks
    start = next((r for r in recording.log if r.get("type") == "start"), {})
    end = next((r for r in reversed(recording.log) if r.get("type") == "end"), None)
    caller_meta = recording.meta.get("meta") or {}
    out: dict[str, Any] = {
        "title": start.get("title", caller_meta.get("title", caller_meta.get("scenario"))),
        "prompt": start.get("prompt"),
        "model": start.get("model", caller_meta.get("model")),
        "directory": str(recording.directory),
        "complete": recording.complete,
        "end_reason": end.get("reason") if end else None,
        "tick_hz": hz,
        "frames": len(ticks),
        "first_tick": ticks[0] if ticks else None,
        "last_tick": ticks[-1] if ticks else None,
    }
    span = ticks[-1] - ticks[0] + 1 if ticks else 0
    out.update(duration_s=span / hz, duration=format_time(span / hz), missing_ticks=span - len(ticks))

    lists: dict[str, list[dict]] = {k: [] for k in ("events", "markers", "bookmarks", "rewinds", "pauses", "prompt_changes")}
    for r in recording.log:
        msg = _message(r)
        if msg is None:
            continue
        when = _when(msg.tick, hz)
        match msg:
            case Event():
                lists["events"].append({**when, "what": describe(r, hz), "event": msg.event, "source": msg.source,
                                        "label": msg.label, "cue": msg.cue})
            case Marker():
                lists["markers"].append({**when, "id": msg.id, "note": msg.note})
            case BookmarkMessage():
                lists["bookmarks"].append({**when, "id": msg.id, "label": msg.label})
            case Rewind():
                lists["rewinds"].append({**when, "bookmark": msg.bookmark, "label": msg.label, "to_tick": msg.to_tick})
            case Pause():
                lists["pauses"].append({**when, "resume_tick": None})
            case Resume() if lists["pauses"] and lists["pauses"][-1]["resume_tick"] is None:
                lists["pauses"][-1]["resume_tick"] = msg.tick
            case PromptChange():
                lists["prompt_changes"].append({**when, "text": msg.text, "image": msg.image, "applied": msg.applied,
                                                "note": msg.note})
    out["events_fired"] = len(lists["events"])
    out.update(lists)

    existing = recording.directory / SHEET_NAME
    if existing.is_file():
        sheet: Path | None = existing
    else:
        sheet = _contact_sheet(recording, frames, Path(sheet_path) if sheet_path else existing)
    out["contact_sheet"] = str(sheet) if sheet else None
    return out


# --------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------


def export_events_csv(recording: Recording, path: str | os.PathLike) -> Path:
    """Write the session's log as a spreadsheet, one row per log record in log order.

    Included: every record except ``action``, ``state`` (one per tick) and ``cues`` (the
    cue schedule), so start, events, cues fired, markers, bookmarks, rewinds, prompt
    changes, pauses, notices, end and unknown types all appear. Columns
    (:data:`CSV_COLUMNS`): ``tick``, ``time`` (mm:ss of session time), ``time_s``
    (seconds, 2 decimals), ``type``, ``what`` (plain words, see :func:`describe`),
    ``event``, ``source``, ``label``, ``note`` (empty when the record has none) and
    ``detail`` (the record's other fields as JSON, empty if none).

    Encoding UTF-8 with a byte-order mark, so spreadsheet programs show accents right.

    Returns:
        the path written.

    Raises:
        OSError: the file cannot be written.
    """
    path = Path(path)
    hz = recording.tick_hz
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in recording.log:
            kind = str(r.get("type", ""))
            if kind in CSV_SKIPPED_TYPES:
                continue
            tick = _tick_of(r)
            rest = {k: v for k, v in r.items() if k not in _CSV_OWN_KEYS}
            writer.writerow([
                "" if tick is None else tick,
                "" if tick is None else format_time(tick / hz),
                "" if tick is None else f"{tick / hz:.2f}",
                kind,
                describe(r, hz),
                *("" if r.get(k) is None else str(r[k]) for k in ("event", "source", "label", "note")),
                json.dumps(rest, ensure_ascii=False, default=str) if rest else "",
            ])
    return path


def export_video(
    recording: Recording,
    path: str | os.PathLike,
    *,
    start_tick: int | None = None,
    end_tick: int | None = None,
    progress: ProgressFn = null_progress,
) -> Path:
    """Write the recording, or the frames with ``start_tick <= tick <= end_tick``, as an
    H.264 MP4 (libx264, yuv420p, frames at the recorded size, e.g. 256x256), with the
    sound of the same ticks as an AAC track when the recording has sound (what the trainee
    heard, the game master's voice included).

    Timestamps are ``(tick - first exported tick) / tick_hz`` seconds, as in the recorder's
    ``session.mp4``: a missed tick or a gap shows as a longer frame. The file is written
    next to ``path`` as ``<name>.part`` and renamed when complete, so ``path`` never holds
    a partial video.

    Args:
        start_tick, end_tick: inclusive tick range; None means from the first / to the last
            frame.
        progress: called ``progress(fraction, text)`` as frames are written.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: ``start_tick > end_tick``, or no frame lies in the range (the message
            gives the recording's span).
        engine.progress.Cancelled: from ``progress``; the partial file is removed.
        OSError, av.FFmpegError: writing failed; the partial file is removed.
    """
    if start_tick is not None and end_tick is not None and start_tick > end_tick:
        raise ValueError(f"the range starts at tick {start_tick}, after its end at tick {end_tick}")
    all_ticks = recording.ticks
    lo = start_tick if start_tick is not None else (all_ticks[0] if all_ticks else 0)
    hi = end_tick if end_tick is not None else (all_ticks[-1] if all_ticks else 0)
    chosen = [t for t in all_ticks if lo <= t <= hi]
    if not all_ticks:
        raise ValueError("the recording has no frames to export")
    if not chosen:
        raise ValueError(f"no frames between tick {lo} and tick {hi}: the recording has frames "
                         f"from tick {all_ticks[0]} to tick {all_ticks[-1]}")
    first, last, total = chosen[0], chosen[-1], len(chosen)
    path = Path(path)
    part = path.with_name(path.name + ".part")
    tb = Fraction(1, recording.tick_hz)
    sound = recording.audio()
    progress(0.0, "finding the first frame")
    try:
        written = 0
        with av.open(str(part), mode="w", format="mp4") as out:
            stream = audio_stream = None
            # only the segments that hold the range are decoded (a clip from the end of a
            # long session does not decode the session before it)
            segments = recording.segment_ticks()
            wanted = [k for k, ticks in enumerate(segments) if ticks[0] <= last and ticks[-1] >= first]
            pairs = ((t, f) for k in wanted for t, f in zip(segments[k], recording.segment_frames(k)))
            for tick, frame in pairs:
                if tick < first or tick > last:
                    continue
                if stream is None:
                    stream = out.add_stream("libx264", rate=recording.tick_hz,
                                            options={"preset": EXPORT_PRESET, "crf": str(EXPORT_CRF)})
                    stream.width, stream.height = frame.shape[1], frame.shape[0]
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.time_base = tb
                    stream.time_base = tb
                    if sound is not None:
                        audio_stream = out.add_stream("aac", rate=sound[1], layout="stereo")
                        audio_stream.bit_rate = 128_000
                vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                vf.pts, vf.time_base = tick - first, tb
                for packet in stream.encode(vf):
                    out.mux(packet)
                written += 1
                progress(written / total, f"frame {written} of {total}")
            if stream is not None:
                for packet in stream.encode(None):
                    out.mux(packet)
            if audio_stream is not None:
                _encode_sound(out, audio_stream, sound, first, last + 1, recording.tick_hz)
        if not written:
            raise ValueError(f"no readable frames between tick {first} and tick {last}")
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path


def _encode_sound(out, stream, sound: tuple[np.ndarray, int, int], first: int, end: int, tick_hz: int) -> None:
    """Encode the sound of ticks ``first`` … ``end - 1`` (``sound``: :meth:`Recording.audio`)
    into ``stream``, its first sample at time 0."""
    samples, rate, first_tick = sound
    per_tick = rate / tick_hz
    lo, hi = round((first - first_tick) * per_tick), round((end - first_tick) * per_tick)
    pad = max(0, -lo)  # sound that starts after the first exported tick: silence before it
    clip = samples[max(lo, 0):max(hi, 0)]
    pcm = np.clip(np.round(clip * 32767), -32768, 32767).astype("<i2")
    step = 1024
    for i in range(0, len(pcm), step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[i:i + step].reshape(1, -1)), format="s16",
                                           layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, pad + i, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def comparison_strip(recording: Recording, other: Recording, path: str | os.PathLike, *, columns: int = 8,
                     labels: tuple[str, str] | None = None) -> Path:
    """Write ``path`` (PNG): ``columns`` evenly spaced ticks that both recordings hold, one row
    each (``recording`` above ``other``), at the frames' native size — e.g. a session above
    the reference world's replay of its actions (``ved run ... --model reference --actions
    RECORDING/log.jsonl``). Rows are labelled with each recording's model (or ``labels``).

    Raises :class:`ValueError` when the recordings share fewer than two ticks.
    """
    from ..eval.report import Strip, render_strip

    common = sorted(set(recording.ticks) & set(other.ticks))
    if len(common) < 2:
        raise ValueError("the two recordings share fewer than two ticks; record the second one by replaying the "
                         "first one's actions (ved run SCENARIO --headless --actions FIRST/log.jsonl)")
    picks = {common[int(round(k))] for k in np.linspace(0, len(common) - 1, min(columns, len(common)))}
    rows = []
    for i, rec in enumerate((recording, other)):
        frames = {t: f for t, f in rec.frames(native=True) if t in picks}
        name = labels[i] if labels else str((rec.meta.get("meta") or {}).get("model") or rec.directory.name)
        rows.append((name, np.stack([frames[t] for t in sorted(frames)])))
    hz = recording.tick_hz
    strip = Strip(f"{recording.directory.name} above {other.directory.name} (seconds)", rows,
                  ticks=[round(t / hz, 1) for t in sorted(picks)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_strip(strip).save(path)
    return path
