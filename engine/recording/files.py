"""The recording folder's file names, format tag and JSON helpers (see :mod:`engine.recording`)."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

_log = logging.getLogger(__name__)

#: Format tag written to ``meta.json``.
FORMAT = "ved-recording/1"

META_NAME = "meta.json"
LOG_NAME = "log.jsonl"
INDEX_NAME = "frames.jsonl"
VIDEO_DIR = "video"
SESSION_NAME = "session.mp4"
SHEET_NAME = "contact_sheet.png"
SUMMARY_NAME = "summary.json"
#: What the trainee heard: 16-bit little-endian stereo PCM appended as it plays (crash-safe
#: like the log), described by ``audio.json`` (sample rate, channels, the tick it starts at).
AUDIO_NAME = "audio.pcm"
AUDIO_META_NAME = "audio.json"
#: The game master's raw microphone (push-to-talk stretches, before any voice transform):
#: mono 16-bit PCM while the session runs, a WAV file once it is closed, and its index
#: (sample rate, and where each utterance starts: sample offset, session tick, mode).
MICROPHONE_NAME = "gm_microphone.pcm"
MICROPHONE_WAV_NAME = "gm_microphone.wav"
MICROPHONE_META_NAME = "gm_microphone.json"
#: Where the views of trainee seats 1, 2, … go (``seats/seat-1/``, each a recording of its
#: own with video, index and summary; seat 0's view is the main recording's).
SEATS_DIR = "seats"


def seat_dir_name(seat: int) -> str:
    """The folder of trainee seat ``seat``'s view under :data:`SEATS_DIR`."""
    return f"seat-{int(seat)}"

_SEGMENT_RE = re.compile(r"^seg_(\d{6,})\.mp4$")



class RecordingError(ValueError):
    """A directory is not a readable ved recording (missing or bad meta.json,
    unknown format, or a corrupt line in the middle of a JSONL file)."""


# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, sets and bytes for :func:`json.dumps`."""
    if isinstance(obj, np.ndarray):
        if obj.dtype in (np.float32, np.float16) and obj.size <= 4096:
            # shortest repr that round-trips at the array's precision:
            # float32 0.1 is written as 0.1, not 0.10000000149011612
            flat = [float(str(v)) for v in obj.ravel()]
            return np.array(flat, dtype=object).reshape(obj.shape).tolist()
        return obj.tolist()
    if isinstance(obj, (np.float32, np.float16)):
        return float(str(obj))
    if isinstance(obj, np.generic):  # np.int64, np.bool_, np.float64, ...
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", errors="replace")
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _dumps(record: Any) -> str:
    """One-line JSON.  Non-finite floats are written as ``NaN``/``Infinity``
    (which Python's json reads back)."""
    return json.dumps(record, default=_json_default, separators=(",", ":"))


def video_scale(resolution: int) -> int:
    """The nearest-neighbour upscale that records ``resolution``-pixel frames as a video at
    least 256 pixels wide (4 for 64×64 frames, 2 for 128×128, 1 from 256 on)."""
    return max(1, 256 // max(1, int(resolution)))


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, default=_json_default, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict]:
    """Read a JSON-lines file written line by line by a process that may have
    been killed: a torn (unparseable) *last* line is dropped; a bad line
    anywhere else raises :class:`RecordingError`."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    out: list[dict] = []
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if i == last:
                _log.info("%s: ignoring torn last line", path)
                break
            raise RecordingError(f"{path}: line {i + 1} is not valid JSON ({exc})") from exc
        if not isinstance(rec, dict):
            raise RecordingError(f"{path}: line {i + 1} is not a JSON object")
        out.append(rec)
    return out
