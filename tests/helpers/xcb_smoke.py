"""The app on a real X server (run by tests/test_real_display.py under Xvfb, Qt's "xcb"
platform): open the designer as ``ved`` does, press *Preview* (its toolbar button, a real
mouse click through the X server), wait for the trainee window and the game-master console
to be shown and the session's ticks to advance, take a screenshot of the whole screen, close
everything and quit. Prints one JSON line; exits 0 only when every step happened.

Usage: python tests/helpers/xcb_smoke.py SCREENSHOT.png RECORDINGS_DIR [MODEL]
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    shot, records = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else None
    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest

    from app.designer.scenario_files import DEFAULT_SCENARIO
    from app.designer.window import DesignerWindow
    from app.qtapp import ensure_app

    app = ensure_app()
    report = {"platform": app.platformName(), "steps": []}
    t0 = time.monotonic()
    window = DesignerWindow(DEFAULT_SCENARIO, model=model, record_root=records, recover_on_start=False)
    window.show()
    deadline = time.monotonic() + 120

    def wait(cond, what: str, timeout: float = 60.0) -> bool:
        end = min(deadline, time.monotonic() + timeout)
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                report["steps"].append(f"{what} ({time.monotonic() - t0:.1f} s)")
                return True
            time.sleep(0.02)
        report["failed"] = what
        return False

    ok = wait(lambda: window.isVisible() and window.windowHandle() is not None and window.windowHandle().isExposed(),
              "designer shown")
    if ok:
        button = window.preview_button
        QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(button.width() // 2, button.height() // 2))
        ok = wait(lambda: window.preview is not None and window.preview.trainee is not None
                  and window.preview.trainee.isVisible() and window.preview.console.isVisible(),
                  "trainee window and console shown")
    ticks = []
    if ok:
        console = window.preview.console
        ok = wait(lambda: console.tick > 0, "the session ticks", timeout=90)
        if ok:
            first = console.tick
            ok = wait(lambda: console.tick >= first + 20, "20 more ticks")
            ticks = [first, console.tick]
    if ok:
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        image = app.primaryScreen().grabWindow(0)
        report["screenshot"] = [image.width(), image.height()]
        ok = image.save(shot)
        report["steps"].append("screenshot taken" if ok else "screenshot not saved")
    if window.preview is not None:
        window.preview.close()
    window.close()
    QTimer.singleShot(0, app.quit)
    app.exec()
    window.wait_for_preview()
    report.update(ok=bool(ok), ticks=ticks, seconds=round(time.monotonic() - t0, 1))
    print(json.dumps(report), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
