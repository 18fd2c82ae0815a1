"""``ved xr-check``: the presenter against whatever OpenXR runtime the loader finds, headless.

A session of the scenario runs paced at 20 Hz on the world model (no recording, no window);
the presenter shows it in the headset for ``seconds`` and drives it from the head, then
leaves the session cleanly. The figures are :meth:`XrPresenter.figures` plus
``layers_match_generation_pose`` (every layer was placed at the orientation its frame was
generated for).
"""

from __future__ import annotations

from pathlib import Path


def run_xr_check(scenario_path: str | Path, *, seconds: float = 5.0, model=None, seed: int = 0) -> dict:
    """Run the check; returns the figures. Raises :class:`app.xr.runtime.XrUnavailable` when
    no runtime or headset answers, or what stopped the presenter."""
    from engine.runtime.runner import SessionRunner
    from engine.runtime.session import Role
    from engine.runtime.wiring import open_live_session
    from engine.scenario import load_scenario

    from .presenter import XrPresenter

    scenario = load_scenario(scenario_path)
    live = open_live_session(scenario, model, seed=seed, record=False)
    runner = SessionRunner(live.session, paced=True)
    import time

    t0 = time.monotonic()
    runner.start()
    try:
        presenter = XrPresenter(live.session.connect(Role.TRAINEE), resolution=live.model.resolution,
                                vignette=scenario.headset.vignette, seconds=seconds)
        presenter.start()
        presenter.join(seconds + 60)
        if presenter.is_alive():
            presenter.stop()
            presenter.join(10)
            raise RuntimeError("the headset session did not end in time")
    finally:
        runner.stop()
        runner.join(5)
        runner_seconds = time.monotonic() - t0
        live.close()
    if presenter.error is not None:
        raise presenter.error
    figures = presenter.figures()
    figures["layers_match_generation_pose"] = bool(presenter.stats.layers) and all(
        abs(a - c) < 1e-6 and abs(b - d) < 1e-6 for a, b, c, d in presenter.stats.layers)
    figures["seconds"] = seconds
    figures["model"] = live.model.name
    # the session's frame rate over the run, to set beside model_frames (the frames shown)
    figures["session_frames_per_s"] = round(len(runner.frame_times) / max(1e-9, runner_seconds), 2)
    figures["session_missed_ticks"] = runner.missed_ticks
    return figures
