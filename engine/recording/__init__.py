"""Recordings: the crash-safe recorder, the reader, and the debrief (DESIGN.md §4
"Crash-safe recording").

- :mod:`.writer`: :class:`Recorder` writes a session as it happens;
- :mod:`.reader`: :func:`read_recording` reads one back, finished or left by a killed process;
- :mod:`.contact_sheet`: the grid of frames drawn at close;
- :mod:`.debrief`: the timeline, summary and exports a person reviews;
- :mod:`.files`: the folder's file names, format tag and JSON helpers.

A plain MP4 writes its index (``moov``) only when it is closed, so a process
killed mid-session leaves an unreadable file.  The :class:`Recorder` therefore
writes video in short, self-contained H.264 segments and flushes its JSON-lines
files line by line: a ``SIGKILL`` loses at most the segment in progress (by
default 20 ticks = 1 s at 20 Hz) and never a log line already written.

Recording layout (format ``"ved-recording/1"``)::

    DIR/
      meta.json            written at once: {"format": "ved-recording/1",
                           "tick_hz", "scale", "segment_ticks", "codec",
                           "created" (ISO-8601 UTC), "created_unix",
                           "meta": {...caller's meta...}}
      log.jsonl            one JSON object per line, each with "type" and
                           "tick", e.g. {"type": "action", "tick": 3,
                           "action": [f, s, yaw, pitch]} or
                           {"type": "event", "tick": 40, "event": "lights_dim", ...}
                           (the records of engine.runtime.protocol)
      frames.jsonl         the frame index: one line per frame written,
                           {"tick": <int>, "segment": <int>}, in write order;
                           the k-th line naming segment s is the k-th frame of
                           video/seg_<s>.mp4
      video/seg_000000.mp4 H.264 (libx264, yuv420p, preset ultrafast, crf 18),
      video/seg_000001.mp4 ``segment_ticks`` frames each, closed as soon as the
      ...                  last of them is written
      session.mp4          (at close) all segments remuxed into one file, no
                           re-encode
      contact_sheet.png    (at close) grid of up to 16 evenly spaced frames,
                           each labelled with its tick and time
      summary.json         (at close) frames, duration_s, events, ...; its
                           presence marks a recording that was closed cleanly

The frame index lives in ``frames.jsonl`` rather than in ``log.jsonl`` so that
the log holds only session records (its ``action`` lines have the same schema
as ``ved run --actions`` files and can be replayed directly).

Timing inside the video: each segment's timestamps are ``tick - first tick of
the segment`` in units of ``1 / tick_hz`` seconds, and ``session.mp4`` uses
``tick - first tick of the recording``, so a missed tick shows as a longer
frame.  Segments are kept after close (they are what :func:`read_recording`
decodes; ``session.mp4`` is the file to hand to a person).

Cost: at 64x64 frames scaled x4 (256x256 encoded; 128x128 frames are scaled x2, see
:func:`video_scale`) :meth:`Recorder.write_frame`
takes about 1 ms on one core (single-threaded x264 so the world model keeps the
other cores); closing a segment adds a few ms to the frame that completes it.

This module must not import Qt, pyopenxr or sounddevice (engine/ rule).
"""

from .files import FORMAT, SHEET_NAME, RecordingError, video_scale
from .reader import Recording, read_recording
from .writer import Recorder, RecordingSummary

__all__ = ["FORMAT", "SHEET_NAME", "Recorder", "Recording", "RecordingError", "RecordingSummary", "read_recording",
           "video_scale"]
