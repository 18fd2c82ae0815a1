"""The participant's action: one float32 vector per tick (DESIGN.md §4).

``action = (forward, strafe, yaw, pitch)``:

=========  ==============  ====================================================
component  unit            meaning
=========  ==============  ====================================================
forward    metres / tick   positive walks forward, negative backward
strafe     metres / tick   positive steps right
yaw        radians / tick  positive turns left (counter-clockwise seen from above)
pitch      radians / tick  positive looks up
=========  ==============  ====================================================

At the 20 Hz tick, ``forward = 0.1`` is 2 m/s and ``yaw = 0.1`` is 115 °/s. Keyboard,
mouse, gamepad and head pose are input devices that the app maps onto this vector.

An actions file (``--actions FILE.jsonl``) has one JSON object per line,
``{"tick": 12, "action": [0.05, 0.0, 0.02, 0.0]}``, the same schema as the ``"action"``
records in a session recording's ``log.jsonl`` (lines of other types are skipped), so any
recording can be replayed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

ACTION_NAMES: tuple[str, ...] = ("forward", "strafe", "yaw", "pitch")
ACTION_DIM = len(ACTION_NAMES)
#: Largest magnitude accepted per component (m/tick, m/tick, rad/tick, rad/tick).
ACTION_LIMITS = np.array([0.15, 0.15, 0.2, 0.2], dtype=np.float32)
#: Tick rate of the world, Hz.
TICK_HZ = 20

log = logging.getLogger(__name__)


class ActionError(ValueError):
    """A malformed action or actions file."""


def sanitize_action(action, *, where: str = "action") -> np.ndarray:
    """Return ``action`` as float32 ``(4,)`` clamped to :data:`ACTION_LIMITS`.

    Out-of-range values are clamped with a logged warning. Raises :class:`ActionError`
    for a wrong length or a non-finite value (NaN or infinity is never passed to a model).
    """
    try:
        a = np.asarray(action, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"{where}: not a list of {ACTION_DIM} numbers ({exc})") from None
    if a.shape != (ACTION_DIM,):
        raise ActionError(f"{where}: expected {ACTION_DIM} numbers {ACTION_NAMES}, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ActionError(f"{where}: non-finite value in {a.tolist()}; use finite numbers")
    clamped = np.clip(a, -ACTION_LIMITS, ACTION_LIMITS)
    if not np.array_equal(clamped, a):
        log.warning("%s: %s clamped to the limits %s", where, a.tolist(), ACTION_LIMITS.tolist())
    return clamped


def read_actions(path: str | Path, seat: int = 0) -> np.ndarray:
    """Read an actions JSONL file into float32 ``(T, 4)``, in tick order. A recording's log of
    a session with several trainees holds every seat's actions (``"seat"``, 0 when absent):
    only trainee seat ``seat``'s are read.

    Raises :class:`ActionError` naming the file and line for malformed content, and
    ``FileNotFoundError`` for a missing file.
    """
    path = Path(path)
    rows: list[tuple[int, np.ndarray]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ActionError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or rec.get("type", "action") != "action" or rec.get("seat", 0) != seat:
                continue
            if "action" not in rec:
                raise ActionError(f'{where}: missing "action"; expected {{"tick": N, "action": [f, s, yaw, pitch]}}')
            tick = rec.get("tick", len(rows))
            if not isinstance(tick, int) or tick < 0:
                raise ActionError(f'{where}: "tick" must be a non-negative integer, got {tick!r}')
            rows.append((tick, sanitize_action(rec["action"], where=where)))
    if not rows:
        raise ActionError(f"{path}: no actions found; expected lines like {{\"tick\": 0, \"action\": [0.05, 0, 0, 0]}}")
    rows.sort(key=lambda r: r[0])
    return np.stack([a for _, a in rows])


def write_actions(path: str | Path, actions: np.ndarray) -> None:
    """Write float32 ``(T, 4)`` actions as a JSONL actions file (tick = row index)."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for t, a in enumerate(np.asarray(actions, dtype=np.float32)):
            fh.write(json.dumps({"tick": t, "action": [round(float(v), 6) for v in a]}) + "\n")
