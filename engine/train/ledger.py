"""What each stage of a training run cost, across every invocation that worked on it.

A run of the full budget takes hours and is continued with ``--resume`` over several
sittings, so the time of the last invocation is not the run's cost. The ledger
(``checkpoints/stages.json`` in the run folder) keeps, per stage, one entry per invocation:
the seconds it spent on the stage up to its last saved checkpoint (work after that is lost
by an interruption and done again, so it is not counted), the command, the machine and when
it started. Entries are written whenever a checkpoint is saved, so a killed invocation
keeps what it had saved. The model card carries the ledger and its totals.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import common


class StageLedger:
    """The ledger of the run whose checkpoints are in ``folder``.

    Use :meth:`stage` around each stage; while it is open, every
    :func:`engine.train.common.save_checkpoint` records the stage's elapsed seconds for this
    invocation. A stage that saves nothing (its output was already complete) gets no entry.
    """

    def __init__(self, folder: Path, *, command: str, machine: str):
        self.path = Path(folder) / "stages.json"
        try:
            self.entries: dict = json.loads(self.path.read_text()) if self.path.is_file() else {}
        except (OSError, ValueError):
            self.entries = {}  # a torn or foreign file: start a new ledger rather than fail the run
        self.invocation = {"command": command, "machine": machine,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._stage: str | None = None
        self._t0 = self._base = 0.0

    def stage(self, name: str) -> "StageLedger":
        """Open stage ``name``; entering the same stage again in this invocation adds to its
        seconds (the data stage makes the training and the held-out sets)."""
        mine = self._mine(name)
        self._stage, self._t0, self._base = name, time.perf_counter(), mine["seconds"] if mine else 0.0
        return self

    def _mine(self, name: str) -> dict | None:
        runs = self.entries.get(name) or []
        last = runs[-1] if runs else None
        if last and last["started"] == self.invocation["started"] and last["command"] == self.invocation["command"]:
            return last
        return None

    def __enter__(self) -> "StageLedger":
        common.SAVE_HOOKS.append(self.record)
        return self

    def __exit__(self, *exc) -> None:
        common.SAVE_HOOKS.remove(self.record)
        self._stage = None

    def record(self, *_args) -> None:
        """Store the open stage's seconds so far for this invocation (atomically)."""
        if self._stage is None:
            return
        seconds = round(self._base + time.perf_counter() - self._t0, 1)
        mine = self._mine(self._stage)
        if mine:
            mine["seconds"] = seconds
        else:
            self.entries.setdefault(self._stage, []).append({**self.invocation, "seconds": seconds})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.entries, indent=1))
        os.replace(tmp, self.path)

    def totals(self) -> dict[str, float]:
        """Seconds per stage summed over its invocations."""
        return {k: round(sum(e["seconds"] for e in v), 1) for k, v in self.entries.items()}
