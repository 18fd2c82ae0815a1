"""Motion-to-photon latency of the presenter, measured end to end.

A head pose is sampled and sent to the session as a look (input ``seq``, at monotonic time
``t``); the session generates a frame at that pose (``Frame.input_seq >= seq``); the
presenter puts the frame on a layer and submits it for a predicted display time. The latency
of that input is the predicted display time (converted to the monotonic clock) minus ``t``:
everything from the head's motion to the photons, the model's tick included.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


class MotionToPhoton:
    """Collects one latency per input: :meth:`sampled` when an input goes out,
    :meth:`displayed` when a frame reflecting inputs up to ``input_seq`` is submitted."""

    def __init__(self, keep: int = 4096):
        self._sent: OrderedDict[int, float] = OrderedDict()
        self.latencies_s: list[float] = []
        self._keep = keep

    def sampled(self, seq: int, t: float) -> None:
        self._sent[int(seq)] = float(t)
        while len(self._sent) > self._keep:
            self._sent.popitem(last=False)

    def displayed(self, input_seq: int, display_t: float) -> None:
        done = [s for s in self._sent if s <= input_seq]
        for s in done:
            self.latencies_s.append(display_t - self._sent.pop(s))

    def stats_ms(self) -> dict:
        """``{"median": ms, "p95": ms, "count": n}`` (None values without samples)."""
        if not self.latencies_s:
            return {"median": None, "p95": None, "count": 0}
        ms = np.asarray(self.latencies_s) * 1000
        return {"median": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
                "count": len(ms)}
