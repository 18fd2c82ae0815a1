"""Play a scenario from the designer: trainee window beside the game-master console.

:class:`Preview` is what the designer's Preview button starts and what ``ved run`` uses:
the world model loads on the session thread (the trainee window says so) and the two
windows come up at once; the session is recorded like any other.
"""

from __future__ import annotations

from pathlib import Path

from ..session_worker import Hook


def model_factory(model=None, *, seed: int = 0, device: str = "auto", path: str = "auto"):
    """A zero-argument callable loading ``model`` (None: the shipped model; ``"reference"``;
    a model folder) on whatever thread calls it, on ``device`` with inference path ``path``
    (as :func:`engine.runtime.wiring.load_model` takes them); a model object is returned as is."""
    if model is not None and not isinstance(model, (str, Path)):
        return model  # a world model (used as is) or a callable returning one

    def load():
        from engine.runtime.wiring import load_model

        return load_model(None if model is None else str(model), seed=seed, device=device, path=path)

    return load


class Preview:
    """A live, recorded session of ``scenario`` in two top-level windows.

    Args:
        scenario: a validated :class:`engine.scenario.Scenario`.
        model: None (the shipped model), ``"reference"``, a model folder, a world model, or a
            zero-argument callable returning one.
        record_dir: recording folder (default ``recordings/<time>-<title>``).
        seed: sampling seed.
        device, path: where the world model runs and on which inference path (the designer's
            Preview menu; ``auto`` both by default).

    After :meth:`start`: :attr:`trainee`, :attr:`console` and :attr:`worker` exist. The
    ``closed`` hook is called once when the preview ends (either window closed, or
    :meth:`close`), with the worker's recording summary (None if nothing was recorded).
    """

    def __init__(self, scenario, *, model=None, record_dir: str | Path | None = None, seed: int = 0,
                 paced: bool = True, xr: bool = False, device: str = "auto", path: str = "auto"):
        self.scenario, self.model, self.record_dir, self.seed, self.paced = scenario, model, record_dir, seed, paced
        self.device, self.path = device, path
        self.xr = xr
        self.trainee = self.console = self.worker = None
        self.closed = Hook()
        self._ended = False

    def start(self) -> "Preview":
        from ..main import build_app

        self.trainee, self.console, self.worker = build_app(
            self.scenario, model_factory(self.model, seed=self.seed, device=self.device, path=self.path), self.record_dir, seed=self.seed,
            paced=self.paced, on_close=self._on_close, xr=self.xr)
        return self

    @property
    def running(self) -> bool:
        return self.worker is not None and not self._ended

    def close(self) -> None:
        """End the preview: close both windows, stop the session, close the recording."""
        if self.trainee is not None:
            self.trainee.close()  # build_app's shut-down closes the rest

    def _on_close(self, summary) -> None:
        if not self._ended:
            self._ended = True
            self.closed(summary)
