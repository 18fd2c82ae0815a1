"""What the game master can do to a running session besides firing events.

The :class:`~engine.runtime.session.Session` holds these; clients ask through their
game-master :class:`~engine.runtime.session.Client` and the session carries the request out
at the next tick boundary, on its own thread, so the world model is never touched from two
threads. Each request becomes a message to the game master and observers (so it is in the
recording's log with its tick) and never reaches the trainee.

- :class:`CueState`: one timed cue, when it is due and when it fired.
- :class:`Bookmark`: everything needed to put the world back where it was at a tick — the
  world model's snapshot (KV cache, frame memory, sampler state; see
  :meth:`LatentWorldModel.snapshot`), the world state, every trainee's pose, the cue
  schedule and the frames shown then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..world.state import WorldState


@dataclass
class CueState:
    """A timed cue of the scenario: ``index`` in the file, its ``event`` and ``note``, the
    tick it is due at (20 Hz session ticks; moves later after a rewind) and the tick it fired
    at (None while pending)."""

    index: int
    event: str
    note: str | None
    due_tick: int
    fired_tick: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def cue_states(scenario, tick_hz: int) -> list[CueState]:
    """The scenario's cues as :class:`CueState` rows, sorted by due tick (``round(at * tick_hz)``)."""
    rows = [CueState(i, c.event, c.note, round(c.at * tick_hz)) for i, c in enumerate(scenario.cues)]
    return sorted(rows, key=lambda c: (c.due_tick, c.index))


def reschedule(cues: list[CueState], bookmark_tick: int, shift: int) -> list[CueState]:
    """The cue schedule after a rewind to a bookmark taken at ``bookmark_tick``, now that the
    world is ``shift`` ticks later than it was then: cues that had fired by the bookmark stay
    fired; every other cue is pending again, due ``shift`` ticks later than it was."""
    out = []
    for c in cues:
        if c.fired_tick is not None and c.fired_tick <= bookmark_tick:
            out.append(replace(c))
        else:
            out.append(replace(c, due_tick=c.due_tick + shift, fired_tick=None))
    return sorted(out, key=lambda c: (c.due_tick, c.index))


@dataclass
class Bookmark:
    """The world at ``tick``: ``snapshot`` from the model's ``snapshot()`` (every view), the
    :class:`WorldState`, each trainee seat's pose ``(x, z, yaw, pitch)`` (metres, radians),
    the cue schedule, and the frame (uint8 ``(H, W, 3)``) each seat saw at that tick."""

    id: int
    label: str
    tick: int
    snapshot: Any
    world_state: WorldState
    poses: tuple
    cues: list[CueState]
    frames: tuple = field(default=(), repr=False)
