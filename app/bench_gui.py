"""``ved bench --gui``: how quickly the app is usable and how responsive it stays.

Two figures (issue 4's quality bar; DESIGN.md §3):

- **Start-up to a usable window**: a fresh Python process imports the app, opens the
  designer on the default scenario, and reports once the window is shown and the event
  loop has run (painted). Measured from just before the process is spawned, so it includes
  the interpreter's own start. Repeated ``runs`` times; median and worst reported, with the
  heavy modules (torch, av, moderngl, sentence-transformers) found loaded at that point.
- **Event-loop stalls while a session plays**: a live preview (trainee window + game-master
  console, paced at 20 Hz, recorded) of the default scenario on the given model, with the
  trainee walking and turning and the game master firing an event, bookmarking, marking and
  rewinding, then the preview closed (the recording finished on a background job). A 5 ms
  ``QTimer`` on the GUI thread timestamps every call; a *stall* is the gap between two calls.
  Reported: max gap, p99, and how many gaps exceed 50 and 100 ms, beside the session's own
  figures (ticks, missed ticks, p95 generation time) and the time to finish the recording.

Offscreen Qt (``QT_QPA_PLATFORM=offscreen``) where there is no display: painting happens but
nothing reaches a screen, so a real display adds its compositor's costs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY_MODULES = ("torch", "av", "moderngl", "sentence_transformers", "transformers")
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"


def _env() -> dict:
    env = dict(os.environ)
    from .cli import has_display

    if not has_display():
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def measure_startup(runs: int = 5) -> dict:
    """Start-up to a usable designer window, seconds, over ``runs`` fresh processes."""
    times, heavy = [], set()
    for _ in range(runs):
        t0 = time.time()
        from . import ved_command

        out = subprocess.run([*ved_command("app.bench_gui"), "--startup-child", str(DEFAULT_SCENARIO)],
                             cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"the start-up probe failed:\n{out.stderr[-2000:]}")
        report = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(report["usable_at"] - t0)
        heavy.update(report["heavy_loaded"])
    return {"runs": runs, "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            "all_s": [round(t, 3) for t in times], "heavy_modules_loaded": sorted(heavy)}


def _startup_child(scenario: str) -> int:
    from PySide6.QtCore import QTimer

    from .designer import DesignerWindow
    from .qtapp import ensure_app

    app = ensure_app()
    window = DesignerWindow(scenario)
    window.show()

    def usable() -> None:
        heavy = [m for m in HEAVY_MODULES if m in sys.modules]
        print(json.dumps({"usable_at": time.time(), "heavy_loaded": heavy}), flush=True)
        app.quit()

    QTimer.singleShot(0, usable)
    app.exec()
    return 0


def measure_stalls(seconds: float = 20.0, *, model=None, scenario: str | Path = DEFAULT_SCENARIO) -> dict:
    """Event-loop gaps (ms) on the GUI thread while a live preview plays for ``seconds``."""
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    from engine.scenario import load_scenario

    from .qtapp import ensure_app
    from .designer.preview import Preview

    app = ensure_app()
    record = Path(tempfile.mkdtemp(prefix="ved-bench-gui-")) / "rec"

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    t_open = time.perf_counter()
    preview = Preview(load_scenario(scenario), model=model, record_dir=record).start()
    worker = preview.worker
    while worker.state == "loading" or preview.trainee.frame_message is None:
        if worker.state == "failed" or time.perf_counter() - t_open > 120:
            raise RuntimeError(f"the preview did not start: {worker.error}")
        wait(10)
    first_frame_s = time.perf_counter() - t_open

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(beat)
    timer.start()
    mapper, gm = preview.trainee.mapper, worker.gm_client
    start_tick = worker.session.tick
    steps = max(1, int(seconds * 4))
    for i in range(steps):  # the trainee walks and turns; the game master works the console
        mapper.clear()
        mapper.press(Qt.Key.Key_W)
        mapper.press(Qt.Key.Key_Left if (i // 8) % 2 else Qt.Key.Key_Right)
        if i == steps // 5:
            gm.bookmark("bench")
        if i == 2 * steps // 5:
            preview.console.fire(preview.scenario.palette[0].event, preview.scenario.palette[0].label)
        if i == 3 * steps // 5:
            gm.mark("bench marker")
        if i == 4 * steps // 5 and worker.session.bookmarks:
            gm.rewind(next(iter(worker.session.bookmarks)))
        wait(250)
    mapper.clear()
    runner = worker.runner
    ticks = worker.session.tick - start_tick
    frame_ms = np.asarray(runner.frame_times[-max(ticks, 1):]) * 1e3
    finished: list = []
    preview.closed.connect(finished.append)
    t_close = time.perf_counter()
    preview.close()  # the recording is finished on a background job; the timer keeps measuring
    while not finished and time.perf_counter() - t_close < 60:
        wait(10)
    close_ms = (time.perf_counter() - t_close) * 1e3
    timer.stop()
    g = np.asarray(gaps[1:])
    return {
        "model": getattr(worker.model, "name", "?"), "seconds": seconds, "first_frame_s": round(first_frame_s, 2),
        "ticks": int(ticks), "ticks_per_s": round(ticks / seconds, 1), "missed_ticks": int(runner.missed_ticks),
        "frames_per_s": round(len(runner.frame_times[-max(ticks, 1):]) / seconds, 1),
        "frame_p95_ms": round(float(np.percentile(frame_ms, 95)), 1),
        "gap_max_ms": round(float(g.max()), 1), "gap_p99_ms": round(float(np.percentile(g, 99)), 1),
        "gap_median_ms": round(float(np.median(g)), 1),
        "gaps_over_50ms": int((g > 50).sum()), "gaps_over_100ms": int((g > 100).sum()),
        "close_ms": round(close_ms, 1), "recording": str(record),
    }


def run_gui_bench(*, seconds: float = 20.0, model=None, runs: int = 5) -> dict:
    """Both figures: start-up (``runs`` processes) and stalls over ``seconds`` of play."""
    startup = measure_startup(runs)
    stalls = measure_stalls(seconds, model=model)
    return {"platform": os.environ.get("QT_QPA_PLATFORM") or "native", "startup": startup, "session": stalls}


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--startup-child":
        sys.exit(_startup_child(sys.argv[2] if len(sys.argv) > 2 else str(DEFAULT_SCENARIO)))
    print("usage: ved bench --gui", file=sys.stderr)
    sys.exit(2)
