"""Join codes: one random code per seat and role, so nobody joins who was not asked.

Each trainee seat and each game-master seat gets a code of its own (128 random bits,
URL-safe); all observers share one. A seat holds one connection at a time: a new
connection with the seat's code takes the seat over (the server closes the old one, which
may be a dead link it has not noticed yet), so a client whose network dropped rejoins at
once. Once the seat has been empty for :data:`REJOIN_S` seconds its code is used up. Codes
are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from ..runtime.protocol import Role

#: Seconds a dropped seat's code keeps working for a rejoin.
REJOIN_S = 60.0
#: Random bytes per code (128 bits).
CODE_BYTES = 16


@dataclass
class Seat:
    """Who a code admits: a ``name`` (the scenario's role name, or ``"observers"``) in a
    protocol :class:`Role`. ``shared`` seats (observers) admit any number of connections."""

    name: str
    role: Role
    code: str = field(repr=False)
    shared: bool = False
    #: A trainee seat's index in the session (seat 0 first); None for other roles.
    index: int | None = None
    holders: int = 0
    #: Counts the connections that took the seat; a release by an older one is ignored.
    generation: int = 0
    dropped_at: float | None = None
    used_up: bool = False


class CodeBook:
    """The codes of one session. ``seats`` are ``(name, role)`` pairs for the trainee and
    game-master seats (the trainee seats in the session's seat order: the k-th trainee pair
    is seat k); one shared observer code is added. Thread-safe."""

    def __init__(self, seats: list[tuple[str, Role]], *, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.seats = []
        trainees = 0
        for name, role in seats:
            index = None
            if Role(role) is Role.TRAINEE:
                index, trainees = trainees, trainees + 1
            self.seats.append(Seat(name, Role(role), secrets.token_urlsafe(CODE_BYTES), index=index))
        self.seats.append(Seat("observers", Role.OBSERVER, secrets.token_urlsafe(CODE_BYTES), shared=True))

    def codes(self) -> dict[str, str]:
        """``{seat name: code}``, for the person hosting the session to hand out."""
        return {s.name: s.code for s in self.seats}

    def claim(self, code: str) -> tuple[Seat | None, str]:
        """The seat ``code`` opens, taken over by the caller (its :attr:`Seat.generation`
        then names the caller's hold), or ``(None, reason)``: no such code, or a code used
        up."""
        code = code if isinstance(code, str) else ""
        with self._lock:
            seat = None
            for s in self.seats:  # every seat is compared, so the time taken says nothing
                if hmac.compare_digest(s.code.encode(), code.encode()):
                    seat = s
            if seat is None:
                return None, "wrong join code"
            if seat.shared:
                seat.holders += 1
                return seat, ""
            if seat.used_up or (seat.dropped_at is not None and self._clock() - seat.dropped_at > REJOIN_S):
                seat.used_up = True
                return None, f"the code for {seat.name} is used up (it rejoins within {REJOIN_S:.0f} s of a drop)"
            seat.holders, seat.dropped_at = 1, None
            seat.generation += 1
            return seat, ""

    def release(self, seat: Seat, generation: int | None = None) -> None:
        """The connection that took ``seat`` as ``generation`` has gone (None: a shared
        seat's): unless a newer connection holds the seat, its code may rejoin for
        :data:`REJOIN_S` seconds."""
        with self._lock:
            if seat.shared:
                seat.holders = max(0, seat.holders - 1)
            elif generation == seat.generation:
                seat.holders, seat.dropped_at = 0, self._clock()
