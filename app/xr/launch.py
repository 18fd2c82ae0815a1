"""Putting a trainee in the headset from the app: ``ved run --xr``, ``ved join --xr`` and the
designer's *Preview in headset*.

:class:`HeadsetLink` starts an :class:`~app.xr.presenter.XrPresenter` for a trainee client
and, polled from the GUI timer, says once what became of it: in the headset (the desktop
trainee window stays open as a mirror, and its keys still walk a seated trainee), or no
runtime — a one-line message naming what to install, and the desktop window instead.
"""

from __future__ import annotations

import sys

from .presenter import XrPresenter


class HeadsetLink:
    """A presenter for ``client`` (TRAINEE) at ``resolution`` pixels, with the scenario's
    ``[headset]`` settings (``vignette``). :meth:`poll` returns a line for the window once
    the runtime answered, then None; :meth:`close` leaves the headset session."""

    def __init__(self, client, resolution: int, *, vignette: bool = True, runtime_factory=None):
        self.presenter = XrPresenter(client, resolution=resolution, vignette=vignette, runtime_factory=runtime_factory)
        self.presenter.start()
        self._said = False
        #: True once the runtime answered and the trainee is in the headset.
        self.in_headset = False

    def poll(self) -> str | None:
        if self._said or not self.presenter.opened.is_set():
            return None
        self._said = True
        p = self.presenter
        if p.error is not None:
            line = f"no headset: {p.error}; showing the desktop window"
            print(f"ved: {line}", file=sys.stderr)
            return line
        self.in_headset = True
        return f"in the headset ({p.system_name}, {p.runtime_name}); this window mirrors it"

    def close(self) -> None:
        self.presenter.stop()
        self.presenter.join(10)
