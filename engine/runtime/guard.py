"""The safety net against a diverging rollout (issue 25): whatever the model, a session never
shows a dissolved world.

After every generated tick the session asks the model for its *divergence score* per view
(:meth:`~engine.model.interface.WorldModel.divergence`; for the learned model the latent's
RMS over the range seen in training, :mod:`engine.model.divergence`). The guard remembers
each view's last *healthy* frame (score at or below
:data:`~engine.model.divergence.HEALTHY_SCORE`). When a view's score passes 1 — the frame
has left the trained range — the session re-anchors the model's context on the current views
(:meth:`~engine.model.interface.WorldModel.reanchor`): the diverged view starts again from
its last healthy frame, the others from their own current frame. Because the score rises
over several ticks before a frame visibly breaks up, the last healthy frame is only a few
ticks old and the switch is not a visible jump. Each recovery is counted, logged and sent to
the game master's console as a :class:`~engine.runtime.protocol.Recovery`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..model.divergence import HEALTHY_SCORE

_log = logging.getLogger(__name__)


@dataclass
class DivergenceGuard:
    """Per-view bookkeeping for re-anchoring: the last healthy frame of each view and the
    number of recoveries so far (``recoveries``). ``threshold``: the divergence score above
    which a view is re-anchored (1 = the edge of the trained range)."""

    threshold: float = 1.0
    healthy: float = HEALTHY_SCORE
    recoveries: int = 0
    _good: dict[int, np.ndarray] = field(default_factory=dict)

    def opened(self, frames: list[np.ndarray]) -> None:
        """The views were (re)opened on ``frames``: each is the new last healthy frame."""
        self._good = {i: f for i, f in enumerate(frames)}

    def check(self, scores: list[float] | None, frames: list[np.ndarray]) -> list[int]:
        """Record this tick's ``frames`` (uint8 ``(H, W, 3)`` per view) and the model's
        ``scores`` (None: a model that cannot tell, never re-anchored). Returns the views
        that diverged (score above :attr:`threshold`, or not finite): re-anchor them."""
        if scores is None:
            return []
        diverged = []
        for i, (score, frame) in enumerate(zip(scores, frames)):
            if not np.isfinite(score) or score > self.threshold:
                diverged.append(i)
            elif score <= self.healthy:
                self._good[i] = frame
        return diverged

    def anchors(self, diverged: list[int], frames: list[np.ndarray]) -> list[np.ndarray]:
        """The frames to re-anchor every view on: a diverged view's last healthy frame (its
        current one if it never had one), the others' current frames. Counts the recovery."""
        self.recoveries += 1
        return [self._good.get(i, f) if i in diverged else f for i, f in enumerate(frames)]
