"""Record synthetic frames forever, for the recorder's SIGKILL test.

Usage: python tests/helpers/record_forever.py DIR [--size N] [--segment-ticks K]

Needs the project root on sys.path (run with cwd / PYTHONPATH set to it).
Each tick logs an action, every 10th tick an event, then writes a frame; after
every ``segment_ticks`` frames (i.e. right after a segment is closed) prints
``ticks N`` (N = frames written so far) to stdout and flushes.  Runs unpaced
until killed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from engine.recording import Recorder


def synthetic_frame(tick: int, size: int = 64) -> np.ndarray:
    """uint8 (size, size, 3): a gradient background and a red 12-px square
    moving one pixel per tick (wrapping), so every frame differs."""
    yy, xx = np.mgrid[0:size, 0:size]
    frame = np.empty((size, size, 3), np.uint8)
    frame[..., 0] = (xx * 255 // max(size - 1, 1)).astype(np.uint8)
    frame[..., 1] = (yy * 255 // max(size - 1, 1)).astype(np.uint8)
    frame[..., 2] = (tick * 7) % 256
    x = tick % (size - 12)
    y = (tick * 3) % (size - 12)
    frame[y : y + 12, x : x + 12] = (255, 32, 32)
    return frame


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("directory", type=Path)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--segment-ticks", type=int, default=20)
    args = ap.parse_args(argv)
    rec = Recorder(args.directory, segment_ticks=args.segment_ticks, meta={"helper": "record_forever"})
    tick = 0
    while True:
        rec.log({"type": "action", "tick": tick, "action": np.array([0.1, 0.0, 0.01 * tick, 0.0], np.float32)})
        if tick % 10 == 0:
            rec.log({"type": "event", "tick": tick, "name": "ping", "n": np.int64(tick // 10)})
        rec.write_frame(tick, synthetic_frame(tick, args.size))
        tick += 1
        if tick % args.segment_ticks == 0:
            print(f"ticks {tick}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
