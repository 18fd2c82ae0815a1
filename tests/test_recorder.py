"""Tests for engine.recording (DESIGN.md §4 "Crash-safe recording")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # pragma: no cover - depends on how pytest is run
    sys.path.insert(0, str(ROOT))

from engine.recording import FORMAT, Recorder, RecordingError, read_recording  # noqa: E402
from engine.recording.contact_sheet import contact_sheet_layout  # noqa: E402
from tests.helpers.record_forever import synthetic_frame  # noqa: E402

HELPER = ROOT / "tests" / "helpers" / "record_forever.py"


def _record(directory: Path, n: int = 50, **kw) -> tuple[list[np.ndarray], object]:
    frames = [synthetic_frame(t) for t in range(n)]
    with Recorder(directory, meta={"scenario": "unit"}, **kw) as rec:
        for t, f in enumerate(frames):
            rec.log({"type": "action", "tick": t, "action": np.array([0.1, 0.0, t / 100, 0.0], np.float32)})
            if t % 10 == 5:
                rec.log({"type": "event", "tick": t, "name": "lights", "level": np.float32(0.5)})
            rec.write_frame(t, f)
        summary = rec.close()
    return frames, summary


def test_round_trip(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    frames, summary = _record(d)
    assert summary.frames == 50
    assert summary.duration_s == pytest.approx(2.5)
    assert summary.events == 5
    assert summary.log_records == 55
    assert summary.segments == 3  # 20 + 20 + 10
    assert (summary.width, summary.height) == (256, 256)
    assert summary.write_frame_ms_mean < 50

    rec = read_recording(d)
    assert rec.complete
    assert rec.meta["format"] == FORMAT
    assert rec.meta["tick_hz"] == 20 and rec.meta["scale"] == 4
    assert rec.meta["meta"] == {"scenario": "unit"}
    assert rec.frame_count == 50
    assert rec.ticks == list(range(50))

    got = list(rec.frames())
    assert [t for t, _ in got] == list(range(50))
    errs = []
    for (tick, img), src in zip(got, frames):
        assert img.dtype == np.uint8 and img.shape == (256, 256, 3)
        expected = np.repeat(np.repeat(src, 4, axis=0), 4, axis=1)
        errs.append(np.abs(img.astype(np.int16) - expected.astype(np.int16)).mean())
    assert max(errs) < 4.0, errs
    # Content really differs per frame: the decoded frame matches its own
    # source far better than its neighbour's.
    other = np.repeat(np.repeat(frames[11], 4, axis=0), 4, axis=1)
    assert np.abs(got[10][1].astype(np.int16) - other).mean() > 2 * errs[10]

    native = next(rec.frames(native=True))[1]
    assert native.shape == (64, 64, 3)
    assert np.abs(native.astype(np.int16) - frames[0]).mean() < 4.0

    summary_json = json.loads((d / "summary.json").read_text())
    assert summary_json["frames"] == 50 and summary_json["events"] == 5


def test_session_mp4_concatenates_segments(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    _record(d, n=45)
    with av.open(str(d / "session.mp4")) as c:
        s = c.streams.video[0]
        decoded = list(c.decode(s))
    assert len(decoded) == 45
    times = [f.time for f in decoded]
    assert times[0] == pytest.approx(0.0)
    assert times[-1] == pytest.approx(44 / 20)
    assert all(b > a for a, b in zip(times, times[1:]))


def test_log_round_trip(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    _record(d, n=30)
    rec = read_recording(d)
    assert len(rec.log) == 33
    actions = rec.actions
    assert [a["tick"] for a in actions] == list(range(30))
    assert actions[7]["action"] == [0.1, 0.0, 0.07, 0.0]  # float32 written in shortest form
    sent = np.array([0.1, 0.0, 29 / 100, 0.0], np.float32)
    assert np.array_equal(np.array(actions[29]["action"], np.float32), sent)
    assert [e["tick"] for e in rec.events] == [5, 15, 25]
    assert rec.events[0] == {"type": "event", "tick": 5, "name": "lights", "level": 0.5}
    # every line of log.jsonl is standalone JSON
    lines = (d / "log.jsonl").read_text().splitlines()
    assert [json.loads(ln) for ln in lines] == rec.log


def test_log_validation_and_closed(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec")
    with pytest.raises(ValueError, match="type"):
        rec.log({"tick": 1})
    with pytest.raises(TypeError):
        rec.log({"type": "event", "tick": 1, "x": object()})
    rec.log({"type": "event", "tick": np.int64(2), "arr": np.arange(3, dtype=np.uint8), "b": np.bool_(True)})
    with pytest.raises(TypeError):
        rec.write_frame(0, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        rec.write_frame(0, np.zeros((8, 8), np.uint8))
    rec.write_frame(0, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="increase"):
        rec.write_frame(0, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="shape changed"):
        rec.write_frame(1, np.zeros((8, 10, 3), np.uint8))
    s1 = rec.close()
    s2 = rec.close()  # idempotent
    assert s1 is s2 and s1.frames == 1
    with pytest.raises(RuntimeError, match="closed"):
        rec.log({"type": "event", "tick": 3})
    with pytest.raises(RuntimeError, match="closed"):
        rec.write_frame(5, np.zeros((8, 8, 3), np.uint8))
    log = read_recording(tmp_path / "rec").log
    assert log == [{"type": "event", "tick": 2, "arr": [0, 1, 2], "b": True}]


def test_contact_sheet(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    _, summary = _record(d, n=50)
    assert summary.contact_sheet == d / "contact_sheet.png"
    lay = contact_sheet_layout(16, (64, 64), 4)
    assert (lay["cols"], lay["rows"], lay["tile_w"]) == (4, 4, 256)
    with Image.open(summary.contact_sheet) as im:
        assert im.size == (lay["width"], lay["height"])
        assert im.mode == "RGB"
        arr = np.asarray(im)
    # the first tile is the first frame, upscaled x4
    pad = 6
    tile0 = arr[pad : pad + 256, pad : pad + 256]
    np.testing.assert_array_equal(tile0, np.repeat(np.repeat(synthetic_frame(0), 4, 0), 4, 1))

    # fewer frames than tiles: one tile each
    d2 = tmp_path / "short"
    _, s2 = _record(d2, n=3)
    lay3 = contact_sheet_layout(3, (64, 64), 4)
    with Image.open(s2.contact_sheet) as im:
        assert im.size == (lay3["width"], lay3["height"])

    d3 = tmp_path / "nosheet"
    with Recorder(d3) as rec:
        rec.write_frame(0, synthetic_frame(0))
        s3 = rec.close(contact_sheet=False)
    assert s3.contact_sheet is None and not (d3 / "contact_sheet.png").exists()


def test_thumbnails_stay_bounded(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", scale=1, segment_ticks=100)
    f = np.zeros((16, 16, 3), np.uint8)
    for t in range(1000):
        rec.write_frame(t, f)
        assert len(rec._thumbs) <= 32
    ticks = [t for t, _ in rec._thumbs]
    assert ticks[0] == 0 and len(set(np.diff(ticks))) == 1  # evenly spaced
    rec.close()


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    d.mkdir()
    (d / "old.txt").write_text("x")
    with pytest.raises(FileExistsError) as info:
        Recorder(d)
    assert str(d) in str(info.value) and "empty" in str(info.value)
    assert sorted(p.name for p in d.iterdir()) == ["old.txt"]  # untouched

    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(FileExistsError, match="not a directory"):
        Recorder(f)

    empty = tmp_path / "empty"
    empty.mkdir()
    Recorder(empty).close()  # an empty existing directory is fine
    assert (empty / "meta.json").exists()


def test_meta_written_at_once(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    rec = Recorder(d, tick_hz=10, scale=2, meta={"seed": np.int64(3)})
    meta = json.loads((d / "meta.json").read_text())
    assert meta["format"] == FORMAT and meta["tick_hz"] == 10 and meta["scale"] == 2
    assert meta["meta"] == {"seed": 3} and "created" in meta
    rec.close()


def test_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such directory"):
        read_recording(tmp_path / "missing")
    with pytest.raises(RecordingError, match="meta.json is missing"):
        read_recording(tmp_path)
    (tmp_path / "meta.json").write_text('{"format": "other/9"}')
    with pytest.raises(RecordingError, match="format"):
        read_recording(tmp_path)
    (tmp_path / "meta.json").write_text("{nope")
    with pytest.raises(RecordingError, match="not valid JSON"):
        read_recording(tmp_path)
    assert issubclass(RecordingError, ValueError)


def test_reads_unfinished_recording_with_corrupt_tail(tmp_path: Path) -> None:
    """Simulate a crash: no close(), a torn log line, a truncated segment."""
    d = tmp_path / "rec"
    rec = Recorder(d)
    for t in range(40):  # segments 0 and 1, both closed
        rec.log({"type": "action", "tick": t, "action": [0.0, 0.0, 0.0, 0.0]})
        rec.write_frame(t, synthetic_frame(t))
    assert rec._seg_container is None
    rec._log_f.close()  # abandon the recorder as a killed process would
    rec._index_f.close()
    # The segment in progress at the kill: indexed, but the file is truncated.
    with open(d / "frames.jsonl", "a") as f:
        for t in range(40, 47):
            f.write(json.dumps({"tick": t, "segment": 2}) + "\n")
    good = (d / "video" / "seg_000000.mp4").read_bytes()
    (d / "video" / "seg_000002.mp4").write_bytes(good[: len(good) // 3])
    (d / "video" / "seg_000003.mp4").write_bytes(b"")  # opened, nothing written
    with open(d / "log.jsonl", "ab") as f:
        f.write(b'{"type":"action","ti')
    r = read_recording(d)
    assert not r.complete and r.summary is None
    assert [a["tick"] for a in r.actions] == list(range(40))
    assert r.frame_count == 40
    assert [t for t, _ in r.frames()] == list(range(40))


def test_corrupt_middle_log_line_is_an_error(tmp_path: Path) -> None:
    d = tmp_path / "rec"
    Recorder(d).close()
    (d / "log.jsonl").write_text('{"type":"event","tick":1}\n{broken\n{"type":"event","tick":2}\n')
    with pytest.raises(RecordingError, match="line 2"):
        read_recording(d)


@pytest.mark.slow
def test_sigkill_leaves_readable_recording(tmp_path: Path) -> None:
    d = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(d)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = 0
    lines: list[str] = []

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.strip())

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = time.monotonic() + 8.0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if lines and lines[-1].startswith("ticks "):
                reported = int(lines[-1].split()[1])
                if reported >= 80:
                    break
            time.sleep(0.005)
        assert proc.poll() is None, f"helper exited early: {proc.stderr.read()}"  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
    th.join(timeout=2)
    assert proc.returncode == -signal.SIGKILL
    assert reported >= 80, f"helper reported only {lines}"

    rec = read_recording(d)
    assert not rec.complete
    assert rec.meta["meta"] == {"helper": "record_forever"}
    # All segments closed before the last report are readable, in order.
    got = [(t, f) for t, f in rec.frames()]
    ticks = [t for t, _ in got]
    assert len(ticks) >= reported >= 80
    assert ticks == list(range(len(ticks)))
    assert rec.frame_count == len(ticks)
    for t in (0, reported - 1):
        expected = np.repeat(np.repeat(synthetic_frame(t), 4, 0), 4, 1)
        assert np.abs(got[t][1].astype(np.int16) - expected).mean() < 4.0
    # The log holds every line up to the kill: an action per tick at least
    # up to the last frame written, in order, events every 10 ticks.
    action_ticks = [a["tick"] for a in rec.actions]
    assert action_ticks == list(range(len(action_ticks)))
    assert len(action_ticks) >= len(ticks)
    event_ticks = [e["tick"] for e in rec.events]
    assert event_ticks == [10 * i for i in range(len(event_ticks))]
    assert len(event_ticks) >= (len(ticks) + 9) // 10
