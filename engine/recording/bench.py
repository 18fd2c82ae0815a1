"""``ved bench --debrief``: a long session recorded, debriefed and exported, with the memory
each step holds, to show it stays bounded (the figures in docs/benchmarks.md).

The session is synthetic (moving bands at 128×128, drawn with numpy, and a tone on the sound
track, written through the real :class:`~engine.recording.Recorder`), so the figure is the
recording and debrief machinery's own, not the world model's. Memory is the process's
resident set (``VmRSS``), sampled every 0.2 s; each step reports its peak above the level
before it.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Peak:
    """Peak resident memory over a ``with`` block, MB above the level at its start."""

    def __enter__(self):
        self.base = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        self.t0 = time.perf_counter()
        return self

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mb())
        self.seconds = time.perf_counter() - self.t0

    def figures(self) -> dict:
        return {"seconds": round(self.seconds, 1), "peak_above_start_mb": round(self.peak - self.base, 1)}


def run_debrief_bench(minutes: float = 60.0, *, folder: str | Path | None = None, size: int = 128,
                      tick_hz: int = 20, seed: int = 0) -> dict:
    """Record ``minutes`` of a synthetic session into ``folder`` (a temporary one by
    default, removed after), open it for the debrief, seek, play and export the last
    minute with its sound. Returns the figures."""
    from . import Recorder, read_recording
    from .debrief import FrameIndex, export_events_csv, export_video

    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="ved-debrief-bench-")
        folder = Path(tmp.name)
    folder = Path(folder)
    rec_dir = folder / "rec"
    ticks = int(minutes * 60 * tick_hz)
    rate = 48_000
    block = rate // tick_hz
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(block) / rate)).astype(np.float32)
    stereo = np.stack([tone, tone], 1)
    y = np.arange(size)[:, None]
    out: dict = {"minutes": minutes, "ticks": ticks, "frame": f"{size}x{size}, recorded at 2x"}
    try:
        with _Peak() as p:
            r = Recorder(rec_dir, tick_hz=tick_hz, scale=2)
            for t in range(ticks):
                band = ((y + t) // 8 % 2 * 180 + 40).astype(np.uint8)
                frame = np.repeat(np.broadcast_to(band, (size, size))[..., None], 3, axis=2).copy()
                frame[..., 1] = (t * 3) % 256
                r.write_frame(t, frame)
                r.write_audio(t, stereo, rate)
                if t % (60 * tick_hz) == 0:
                    r.log({"type": "marker", "tick": t, "id": t, "note": f"minute {t // (60 * tick_hz)}"})
            summary = r.close()
        out["record"] = {**p.figures(), "frames_per_s": round(ticks / p.seconds, 1),
                         "segments": summary.segments,
                         "on_disk_mb": round(sum(f.stat().st_size for f in rec_dir.rglob("*") if f.is_file()) / 2**20, 1)}
        with _Peak() as p:
            rec = read_recording(rec_dir)
            index = FrameIndex.load(rec)
            sound = rec.audio()
        out["open"] = {**p.figures(), "frames": len(index)}
        rng = np.random.default_rng(seed)
        with _Peak() as p:
            seek_ms = []
            for tick in rng.integers(0, ticks, 200):
                t0 = time.perf_counter()
                index.frame_at(int(tick))
                seek_ms.append((time.perf_counter() - t0) * 1000)
        out["seek"] = {**p.figures(), "seeks": 200, "median_ms": round(float(np.median(seek_ms)), 1),
                       "p95_ms": round(float(np.percentile(seek_ms, 95)), 1)}
        with _Peak() as p:
            start = ticks // 2
            for t in range(start, min(ticks, start + 60 * tick_hz)):  # one minute played, frames and sound
                index.frame_at(t)
                lo = (t - sound[2]) * block
                sound[0][lo:lo + block]
        out["play_a_minute"] = {**p.figures(), "ms_per_frame": round(p.seconds * 1000 / (60 * tick_hz), 2),
                                "cached_mb": round(index.nbytes / 2**20, 1)}
        with _Peak() as p:
            export_video(rec, folder / "last-minute.mp4", start_tick=ticks - 60 * tick_hz, end_tick=ticks - 1)
            export_events_csv(rec, folder / "events.csv")
        out["export_last_minute"] = {**p.figures(),
                                     "mp4_mb": round((folder / "last-minute.mp4").stat().st_size / 2**20, 1)}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return out
