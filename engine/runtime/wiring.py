"""Session wiring in one place: load the model, open the scenario, make the session and its
recorder, and connect the recorder. Used by the headless run, the app's session worker and
the benchmark (and the network server to come), so that every way of running a scenario
sets it up the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..model.interface import WorldModel
from .opening import open_scenario, open_seats
from ..recording import Recorder, RecordingSummary, video_scale
from .session import RecorderSink, Session

#: Where recordings go unless told otherwise (relative to the working folder).
DEFAULT_RECORDINGS = Path("recordings")


def default_record_dir(scenario_title: str) -> Path:
    """``recordings/<YYYYmmdd-HHMMSS>-<title slug>``, relative to the working folder."""
    slug = re.sub(r"[^a-z0-9]+", "-", scenario_title.lower()).strip("-")[:40] or "session"
    return DEFAULT_RECORDINGS / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{slug}"


def load_model(model: str | Path | None, *, seed: int = 0, sampling: dict | None = None, device: str | None = None,
               path: str = "torch-fp32"):
    """The world model named by ``model``: ``None`` (the shipped default) or a model folder →
    the learned model (:func:`engine.model.io.load_world_model`, which raises a
    ``ModelError`` naming the problem for a missing or corrupt folder); ``"reference"`` → the
    reference world. ``sampling`` overrides fields of the model card's ``Sampling``;
    ``device``: ``auto`` (default: CUDA where torch sees a GPU), ``cpu`` or ``cuda``
    (:func:`engine.machine.resolve_device`, which raises ``ValueError`` for a GPU that is
    not there). The reference world renders with OpenGL whatever the device. ``path``: the
    learned model's inference path (:func:`engine.runtime.inference_path.choose_path`:
    ``auto`` measures this machine once and keeps the choice; default torch float32, the
    reference); what was chosen is the model's ``path_choice``. Raises
    ``RuntimeUnavailable`` for a named path this machine cannot run."""
    if model == "reference":
        from ..model.interface import ReferenceWorldModel

        return ReferenceWorldModel()
    from ..machine import resolve_device
    from ..model.io import load_world_model

    wm = load_world_model(model, seed=seed, device=resolve_device(device), **(sampling or {}))
    if path != "torch-fp32":
        import sys

        from .inference_path import choose_path

        wm.path_choice = choose_path(wm, path, progress=lambda m: print(f"ved: {m}", file=sys.stderr, flush=True))
    return wm


def inference_path_of(model) -> str:
    """The inference path ``model`` runs on, in words (``"torch-fp32"``, ``"openvino-fp32"``,
    ``"decoder torch-fp32, dynamics openvino-fp32"``); ``"reference"`` for a model with none."""
    path = getattr(model, "inference_path", None)
    if path is None:
        return "reference"
    from .inference_path import describe

    return describe(path)


@dataclass
class LiveSession:
    """A session ready to start: the model, the :class:`Session`, and the recorder already
    connected as an observer (None when not recording)."""

    model: object
    session: Session
    recorder: Recorder | None = None
    record_dir: Path | None = None

    def close(self, reason: str = "finished") -> RecordingSummary | None:
        """End the session (if it has not ended) and finish the recording; returns the
        recording's summary, or None without one. Safe to call more than once."""
        self.session.end(reason=reason)
        if self.recorder is None:
            return None
        return self.recorder.close()


def open_live_session(scenario, model=None, *, seed: int = 0, record: bool = True,
                      record_dir: str | Path | None = None, sampling: dict | None = None,
                      meta: dict | None = None, quality: str | None = None,
                      device: str | None = None, path: str = "torch-fp32") -> LiveSession:
    """Wire a session of ``scenario`` (an :class:`engine.scenario.Scenario`).

    ``model`` is a :class:`~engine.model.interface.WorldModel`, or what :func:`load_model`
    takes (raises ``TypeError`` naming what an object that is neither lacks). With ``record``,
    a :class:`Recorder` in ``record_dir`` (default :func:`default_record_dir`) receives
    everything an observer sees; ``meta`` adds to the recording's metadata (the scenario,
    model and seed are always there). ``quality``: how the session picks the rung of the
    model's quality ladder (:class:`Session`; a live session wants ``"auto"``). Raises what
    loading the model or opening the scenario's opening image raises, and ``ValueError`` for
    an unknown quality, before anything is written to disk. ``device`` and ``path``: as
    :func:`load_model` takes them, for a model it loads.
    """
    if model is None or isinstance(model, (str, Path)):
        model = load_model(model, seed=seed, sampling=sampling, device=device, path=path)
    elif not isinstance(model, WorldModel):
        missing = [m for m in ("resolution", "name", "card", "reset", "step", "reset_views", "step_views", "snapshot",
                               "restore", "prepare_prompt", "update_prompt", "divergence", "reanchor", "viewer_pose",
                               "quality_levels", "set_quality")
                   if not hasattr(model, m)]
        raise TypeError(f"{type(model).__name__} is not a world model: it lacks {', '.join(missing)} "
                        "(see engine.model.interface.WorldModel)")
    prompt, scene = open_scenario(scenario, model.resolution)
    session = Session(scenario, model, prompt, scene=scene,
                      seat_prompts=open_seats(scenario, prompt, scene, model.resolution), quality=quality)
    if not record:
        return LiveSession(model, session)
    folder = Path(record_dir) if record_dir else default_record_dir(scenario.title)
    recorder = Recorder(folder, tick_hz=session.tick_hz, scale=video_scale(model.resolution), meta={
        "scenario": scenario.title, "scenario_file": str(scenario.source_path or ""),
        "model": model.name, "seed": seed, "quality": quality, "inference_path": inference_path_of(model),
        **(meta or {})})
    RecorderSink(session, recorder)
    return LiveSession(model, session, recorder, folder)
