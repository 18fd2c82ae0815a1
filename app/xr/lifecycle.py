"""The OpenXR session state machine, as the presenter follows it.

States (OpenXR 1.0 §9.3): IDLE → READY (begin the session) → SYNCHRONIZED (frames are
timed) → VISIBLE (shown) → FOCUSED (shown and receiving input); back down when the headset
is taken off or another app takes focus; STOPPING (end the session), LOSS_PENDING (the
runtime is going away: end and destroy everything), EXITING (the instance may be destroyed).
The trainee *wears* the headset while the session is VISIBLE or FOCUSED (runtimes drop a
session to SYNCHRONIZED or IDLE when the proximity sensor says the headset is off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The states in the order of the spec's enum (``XrSessionState`` 0…8).
STATES = ("UNKNOWN", "IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED", "STOPPING", "LOSS_PENDING", "EXITING")
WORN_STATES = frozenset({"VISIBLE", "FOCUSED"})


@dataclass
class Lifecycle:
    """Follows session state changes and says what to do about each: ``"begin"`` (call
    xrBeginSession), ``"end"`` (xrEndSession), ``"exit"`` (leave the frame loop and destroy
    the session), or None. :attr:`seen` lists every state in order."""

    state: str = "UNKNOWN"
    seen: list[str] = field(default_factory=list)
    running: bool = False  # between begin and end: the frame loop runs

    def on_state(self, state: str) -> str | None:
        if state not in STATES:
            raise ValueError(f"not an OpenXR session state: {state!r}")
        self.state = state
        self.seen.append(state)
        if state == "READY":
            self.running = True
            return "begin"
        if state == "STOPPING":
            self.running = False
            return "end"
        if state in ("EXITING", "LOSS_PENDING"):
            self.running = False
            return "exit"
        return None

    @property
    def worn(self) -> bool:
        """Whether the trainee sees the session now (VISIBLE or FOCUSED)."""
        return self.state in WORN_STATES

    @property
    def focused(self) -> bool:
        return self.state == "FOCUSED"
