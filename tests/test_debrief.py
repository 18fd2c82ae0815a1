"""Tests for the debrief: engine/recording/debrief.py (headless) and app/debrief/window.py (Qt)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from engine.progress import Cancelled, Progress
from engine.recording.debrief import (FrameIndex, describe, export_events_csv, export_video, format_time, parse_time,
                                    session_summary, timeline)
from engine.recording import Recorder, read_recording

HZ = 20
#: Ticks with a frame: 0..29, a pause from tick 30 to 40 (no frames), then 40..69.
FRAME_TICKS = [*range(0, 30), *range(40, 70)]


def frame_for(tick: int) -> np.ndarray:
    """uint8 (64, 64, 3): grey level 20 + 3 * tick with a white 16x16 square at a place set
    by the tick (column tick % 4, row tick // 4 % 4), so neighbouring ticks differ clearly."""
    frame = np.full((64, 64, 3), 20 + 3 * tick, np.uint8)
    y, x = (tick // 4) % 4 * 16, tick % 4 * 16
    frame[y:y + 16, x:x + 16] = 255
    return frame


def mad(frame: np.ndarray, tick: int) -> float:
    """Mean absolute difference (grey levels) between ``frame`` (64x64, or 256x256 as
    recorded) and the synthetic frame of ``tick``; about 1 for the lossy copy of the same
    tick, over 15 for a neighbouring tick."""
    want = frame_for(tick)
    if frame.shape[0] != want.shape[0]:
        s = frame.shape[0] // want.shape[0]
        want = np.repeat(np.repeat(want, s, axis=0), s, axis=1)
    return float(np.abs(frame.astype(np.int16) - want.astype(np.int16)).mean())


def same_frame(frame: np.ndarray, tick: int) -> bool:
    """``frame`` is the (lossy) frame of ``tick``, not that of a neighbouring tick."""
    return mad(frame, tick) < 3.0 and all(mad(frame, t) > 10.0 for t in (tick - 1, tick + 1) if t >= 0)


#: Log records besides one "action" per frame; (tick, record without type/tick).
RECORDS: list[tuple[int, str, dict]] = [
    (0, "start", {"title": "Appendectomy", "prompt": "an operating room", "model": "reference", "state": {}}),
    (0, "cues", {"cues": [{"index": 0, "event": "bleeding_start", "note": "arterial bleed", "due_tick": 12,
                           "fired_tick": None}]}),
    (0, "state", {"light": 1.0, "alarm": 0.0, "avatar": 0.0, "bleeding": 0.0}),
    (12, "event", {"event": "bleeding_start", "source": "cue", "label": "arterial bleed", "cue": 0}),
    (15, "marker", {"id": 0, "note": "Missed the bleeder"}),
    (20, "bookmark", {"id": 1, "label": "before clamp"}),
    (25, "event", {"event": "alarm_on", "source": "game_master", "label": None}),
    (30, "pause", {}),
    (40, "resume", {}),
    (45, "prompt", {"text": "a darker room", "image": None, "applied": False, "note": "not conditioned on text"}),
    (50, "rewind", {"bookmark": 1, "label": "before clamp", "to_tick": 20}),
    (55, "event", {"event": "door_open", "source": "game_master", "label": "the nurse", "cue": 1}),
    (56, "notice", {"text": "a message for the game master"}),
    (57, "mystery", {"foo": 1}),
    (69, "end", {"reason": "finished"}),
]
EXPECTED_KINDS = [(12, "cue"), (15, "marker"), (20, "bookmark"), (25, "event"), (30, "pause"), (40, "resume"),
                  (45, "prompt"), (50, "rewind"), (55, "cue")]


def make_recording(directory: Path) -> Path:
    """A closed recording of FRAME_TICKS with RECORDS logged at their ticks."""
    by_tick: dict[int, list] = {}
    for tick, kind, data in RECORDS:
        by_tick.setdefault(tick, []).append({"type": kind, "tick": tick, **data})
    with Recorder(directory, tick_hz=HZ, segment_ticks=20, meta={"scenario": "unit"}) as rec:
        for tick in range(70):
            for record in by_tick.get(tick, []):
                rec.log(record)
            if tick in FRAME_TICKS:
                rec.log({"type": "action", "tick": tick, "action": [0.1, 0.0, 0.0, 0.0]})
                rec.write_frame(tick, frame_for(tick))
    return directory


@pytest.fixture(scope="module")
def rec_dir(tmp_path_factory) -> Path:
    return make_recording(tmp_path_factory.mktemp("debrief") / "rec")


def make_incomplete(src: Path, dst: Path) -> Path:
    """A copy of ``src`` as a killed process leaves it: no summary, session.mp4 or contact
    sheet, and the last segment cut short (unreadable)."""
    shutil.copytree(src, dst)
    for name in ("summary.json", "session.mp4", "contact_sheet.png"):
        (dst / name).unlink()
    last = sorted((dst / "video").iterdir())[-1]
    last.write_bytes(last.read_bytes()[:300])
    return dst


def decode(path: Path) -> list[tuple[float, np.ndarray]]:
    """(time in seconds, frame uint8 RGB) of every frame of a video file."""
    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


# ------------------------------------------------------------------ headless


def test_time_formats() -> None:
    assert format_time(0) == "00:00"
    assert format_time(75.9) == "01:15"
    assert format_time(3725) == "1:02:05"
    assert parse_time("") is None
    assert parse_time("75") == 75
    assert parse_time("1:15") == 75
    assert parse_time("01:15.50") == 75.5
    assert parse_time("1:01:15") == 3675
    with pytest.raises(ValueError, match="cannot read 'soon'"):
        parse_time("soon")


def test_timeline_kinds_order_and_labels(rec_dir: Path) -> None:
    items = timeline(read_recording(rec_dir))
    assert [(it.tick, it.kind) for it in items] == EXPECTED_KINDS
    labels = {it.tick: it.label for it in items}
    assert labels[12] == "Bleeding starts (cue) — arterial bleed"
    assert labels[15] == "Marker: Missed the bleeder"
    assert labels[25] == "Alarm on (game master)"
    assert labels[45].startswith("World prompt changed (recorded, not applied)")
    assert labels[50] == "Rewind to bookmark “before clamp” (taken at 00:01)"
    assert labels[55] == "Door open (cue, fired by the game master) — the nurse"
    assert items[0].time_s == pytest.approx(0.6)
    assert items[0].detail["cue"] == 0


def test_describe_never_raises_on_odd_records() -> None:
    assert describe({"type": "mystery", "tick": 1, "foo": [1]}) == 'mystery: {"foo": [1]}'
    assert describe({}) == "?"
    # not a valid event record (no event name, a list for a source): shown as it is
    assert describe({"type": "event", "tick": 3, "source": ["odd"]}) == 'event: {"source": ["odd"]}'
    # a record of the first recordings, with the event under "name", still reads
    assert describe({"type": "event", "tick": 3, "name": "alarm_on", "source": "cue"}) == "Alarm on (cue)"


def test_summary_figures(rec_dir: Path) -> None:
    s = session_summary(read_recording(rec_dir))
    assert json.loads(json.dumps(s)) == s  # JSON-ready
    assert (s["title"], s["complete"], s["end_reason"]) == ("Appendectomy", True, "finished")
    assert (s["frames"], s["first_tick"], s["last_tick"]) == (60, 0, 69)
    assert s["duration_s"] == pytest.approx(3.5)
    assert s["missing_ticks"] == 10
    assert s["events_fired"] == 3
    assert [(e["tick"], e["event"], e["source"]) for e in s["events"]] == [
        (12, "bleeding_start", "cue"), (25, "alarm_on", "game_master"), (55, "door_open", "game_master")]
    assert s["events"][0]["time"] == "00:00" and s["events"][0]["time_s"] == pytest.approx(0.6)
    assert [(m["tick"], m["note"]) for m in s["markers"]] == [(15, "Missed the bleeder")]
    assert [(p["tick"], p["resume_tick"]) for p in s["pauses"]] == [(30, 40)]
    assert [(r["tick"], r["to_tick"]) for r in s["rewinds"]] == [(50, 20)]
    assert len(s["bookmarks"]) == 1 and s["prompt_changes"][0]["applied"] is False
    assert s["contact_sheet"] == str(rec_dir / "contact_sheet.png")


def test_events_csv_round_trip(rec_dir: Path, tmp_path: Path) -> None:
    out = export_events_csv(read_recording(rec_dir), tmp_path / "events.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    types = [r["type"] for r in rows]
    assert "action" not in types and "state" not in types and "cues" not in types
    assert types == [k for _, k, _ in RECORDS if k not in ("cues", "state")]
    bleed = rows[types.index("event")]
    assert (bleed["tick"], bleed["time"], bleed["time_s"]) == ("12", "00:00", "0.60")
    assert (bleed["event"], bleed["source"], bleed["label"]) == ("bleeding_start", "cue", "arterial bleed")
    assert json.loads(bleed["detail"]) == {"cue": 0}
    marker = rows[types.index("marker")]
    assert marker["note"] == "Missed the bleeder" and marker["what"] == "Marker: Missed the bleeder"
    assert json.loads(rows[types.index("mystery")]["detail"]) == {"foo": 1}


def test_export_video_range_matches_frames(rec_dir: Path, tmp_path: Path) -> None:
    progress = Progress()
    out = export_video(read_recording(rec_dir), tmp_path / "clip.mp4", start_tick=25, end_tick=45, progress=progress)
    frames = decode(out)
    expected = [t for t in FRAME_TICKS if 25 <= t <= 45]  # 25..29 and 40..45: 11 frames
    assert len(frames) == len(expected) == 11
    assert progress.fraction == 1.0
    for (time_s, frame), tick in zip(frames, expected):
        assert time_s == pytest.approx((tick - 25) / HZ)  # the pause shows as a long frame
        assert frame.shape == (256, 256, 3)
        assert same_frame(frame, tick), (tick, mad(frame, tick))
    whole = decode(export_video(read_recording(rec_dir), tmp_path / "all.mp4"))
    assert len(whole) == 60


def test_export_video_errors_and_cancel(rec_dir: Path, tmp_path: Path) -> None:
    rec = read_recording(rec_dir)
    with pytest.raises(ValueError, match="no frames between tick 31 and tick 39"):
        export_video(rec, tmp_path / "none.mp4", start_tick=31, end_tick=39)
    with pytest.raises(ValueError, match="after its end"):
        export_video(rec, tmp_path / "none.mp4", start_tick=40, end_tick=10)

    progress = Progress()
    partial_seen = []

    def cancel_midway(fraction=None, text=None):
        if fraction is not None and fraction >= 0.5 and not progress.cancelled:
            partial_seen.append((tmp_path / "cancelled.mp4.part").stat().st_size > 0)
            progress.cancel()
        progress(fraction, text)

    with pytest.raises(Cancelled):
        export_video(rec, tmp_path / "cancelled.mp4", progress=cancel_midway)
    assert partial_seen == [True]  # half-way, a partial file existed ...
    assert list(tmp_path.iterdir()) == []  # ... and the cancel removed it


def test_frame_index_seeks_to_frame_on_screen(rec_dir: Path) -> None:
    index = FrameIndex.load(read_recording(rec_dir))
    assert index.ticks.tolist() == FRAME_TICKS
    assert index.nbytes == 0  # nothing decoded until shown
    assert index.frame(0).shape == (64, 64, 3) and index.frame(0).dtype == np.uint8
    assert index.frame_at(12)[0] == 12
    assert same_frame(index.frame_at(12)[1], 12)
    assert index.frame_at(35)[0] == 29  # during the pause the last frame stays on screen
    assert index.frame_at(-5)[0] == 0 and index.frame_at(999)[0] == 69


def test_frame_index_memory_is_bounded_by_a_few_segments(rec_dir: Path) -> None:
    """Showing every frame in turn (a session played through) keeps at most the cached
    segments in memory, and every frame shown is the one recorded at its tick."""
    rec = read_recording(rec_dir)
    index = FrameIndex.load(rec, cached_segments=2)
    per_segment = rec.segment_ticks()
    assert len(per_segment) > 2
    decoded = list(rec.frames(native=True))  # everything, in order, as the old index held it
    for i, (tick, frame) in enumerate(decoded):
        assert index.ticks[i] == tick and np.array_equal(index.frame(i), frame)
        assert index.cached_segments <= 2
    assert index.nbytes <= 2 * max(len(s) for s in per_segment) * 64 * 64 * 3
    assert same_frame(index.frame_at(0)[1], 0)  # back to the start: decoded again


def test_incomplete_recording(rec_dir: Path, tmp_path: Path) -> None:
    d = make_incomplete(rec_dir, tmp_path / "killed")
    rec = read_recording(d)
    assert not rec.complete
    assert [(it.tick, it.kind) for it in timeline(rec)] == EXPECTED_KINDS
    s = session_summary(rec, sheet_path=tmp_path / "sheet.png")
    assert s["complete"] is False
    assert (s["frames"], s["last_tick"]) == (40, 49)  # the cut segment (ticks 50..69) is lost
    assert s["contact_sheet"] == str(tmp_path / "sheet.png") and (tmp_path / "sheet.png").stat().st_size > 0
    s2 = session_summary(rec, frames=FrameIndex.load(rec))
    assert s2["contact_sheet"] == str(d / "contact_sheet.png") and (d / "contact_sheet.png").is_file()
    clip = decode(export_video(rec, tmp_path / "clip.mp4", start_tick=40))
    assert len(clip) == 10


def test_comparison_strip_puts_one_recording_above_the_other(rec_dir: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from app.cli import main
    from engine.recording.debrief import comparison_strip

    out = comparison_strip(read_recording(rec_dir), read_recording(rec_dir), tmp_path / "cmp.png", columns=4,
                           labels=("model", "reference"))
    img = np.asarray(Image.open(out).convert("RGB"))
    h, w = frame_for(FRAME_TICKS[0]).shape[:2]
    assert img.shape[0] > 2 * h and img.shape[1] > 4 * w  # two rows of four frames at native size
    assert main(["export", str(rec_dir), "--strip", str(tmp_path / "cli.png"), "--compare", str(rec_dir)]) == 0
    assert (tmp_path / "cli.png").is_file() and "comparison written" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--compare"):
        main(["export", str(rec_dir), "--strip", str(tmp_path / "x.png")])


def test_recording_without_frames(tmp_path: Path) -> None:
    with Recorder(tmp_path / "empty") as rec:
        rec.log({"type": "start", "tick": 0, "title": "Empty"})
        rec.log({"type": "marker", "tick": 3, "id": 0, "note": ""})
    rec = read_recording(tmp_path / "empty")
    s = session_summary(rec)
    assert (s["frames"], s["duration_s"], s["contact_sheet"]) == (0, 0.0, None)
    assert [it.label for it in timeline(rec)] == ["Marker"]
    index = FrameIndex.load(rec)
    assert len(index) == 0
    with pytest.raises(IndexError):
        index.frame_at(0)
    with pytest.raises(ValueError, match="no frames to export"):
        export_video(rec, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


# ------------------------------------------------------------------ window

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402

from app.debrief.window import DebriefWindow  # noqa: E402


def open_window(qtbot, directory: Path) -> DebriefWindow:
    window = DebriefWindow(directory)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitUntil(lambda: window.load_job.state != "running", timeout=10_000)
    return window


def shown_frame(window: DebriefWindow) -> np.ndarray:
    """The frame the window's frame view paints, uint8 (H, W, 3)."""
    img = window.frame_view.image
    assert img is not None
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_window_plays_and_jumps(qtbot, rec_dir: Path) -> None:
    window = open_window(qtbot, rec_dir)
    assert window.error is None and window.data is not None
    assert window.frame_tick == 0
    texts = [window.item_list.item(i).text() for i in range(window.item_list.count())]
    assert texts[0] == "00:00  Bleeding starts (cue) — arterial bleed"
    assert "Missed the bleeder" in window.summary_label.text()
    assert window.sheet_label.pixmap() is not None and not window.sheet_label.pixmap().isNull()

    # list: the marker row jumps to tick 15
    window.item_list.setCurrentRow(1)
    assert window.player_tick == 15 and window.frame_tick == 15
    assert same_frame(shown_frame(window), 15)

    # timeline: a click at the rewind's x (tick 50) jumps there, a click near it snaps to it
    tl = window.timeline_widget
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(tl.x_for_tick(50), tl.height() // 2))
    assert window.player_tick == 50 and same_frame(shown_frame(window), 50)
    near = tl.x_for_tick(12) + tl.SNAP_PX - 1
    assert tl.tick_for_x(near) != 12  # without snapping the click would land elsewhere
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(near, tl.height() // 2))
    assert window.player_tick == 12
    far = tl.x_for_tick(62)  # no item there: the click seeks to the tick under the pointer
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(far, tl.height() // 2))
    assert window.player_tick == 62

    # during the pause gap the last frame before it stays on screen
    window.seek(35)
    assert window.frame_tick == 29 and "tick 35" in window.time_label.text()

    window.seek(60)
    qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)
    assert window.playing
    qtbot.waitUntil(lambda: not window.playing, timeout=3_000)  # plays 60..69 at 20 Hz and stops
    assert window.player_tick == 69 and window.frame_tick == 69


def test_window_exports(qtbot, rec_dir: Path, tmp_path: Path) -> None:
    window = open_window(qtbot, rec_dir)
    job = window.export_csv(tmp_path / "events.csv")
    qtbot.waitUntil(lambda: job.state == "done", timeout=5_000)
    assert "Event log saved" in window.status_label.text()
    assert (tmp_path / "events.csv").read_text(encoding="utf-8-sig").startswith("tick,time,time_s,type")

    window.from_edit.setText("0:02")  # tick 40
    window.to_edit.setText("0:02.25")  # tick 45
    window.save_path_provider = lambda caption, default, file_filter: str(tmp_path / "clip")
    qtbot.mouseClick(window.export_video_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.export_job.state == "done", timeout=10_000)
    assert len(decode(tmp_path / "clip.mp4")) == 6

    window.from_edit.setText("later")
    qtbot.mouseClick(window.export_video_button, Qt.MouseButton.LeftButton)
    assert "cannot read 'later'" in window.status_label.text()


def test_window_cancelled_export_leaves_no_file(qtbot, rec_dir: Path, tmp_path: Path) -> None:
    window = open_window(qtbot, rec_dir)
    job = window.export_video(tmp_path / "x.mp4")
    job.cancel()  # before its first progress report: cancelled at once
    qtbot.waitUntil(lambda: job.state != "running", timeout=5_000)
    assert job.state == "cancelled"
    assert "cancelled" in window.status_label.text()
    assert list(tmp_path.iterdir()) == []


def test_window_opens_incomplete_recording(qtbot, rec_dir: Path, tmp_path: Path) -> None:
    window = open_window(qtbot, make_incomplete(rec_dir, tmp_path / "killed"))
    assert window.error is None
    assert len(window.data.frames) == 40
    assert "did not close cleanly" in window.summary_label.text()
    window.seek(69)
    assert window.frame_tick == 49


def test_window_reports_a_folder_that_is_not_a_recording(qtbot, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    window = open_window(qtbot, tmp_path)
    assert window.load_job.state == "failed"
    assert "meta.json is missing" in window.error
    assert "Cannot open" in window.status_label.text()
    assert not window.export_video_button.isEnabled()
    window.seek(10)  # ignored, no crash
    assert window.player_tick == 0
