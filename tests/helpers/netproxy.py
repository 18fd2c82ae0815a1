"""A TCP proxy for tests that makes a bad network: delay with jitter, a bandwidth cap, and
connections cut at random (what a lost link does to a TCP stream; TCP itself hides loss and
reordering of packets as delay, which the jitter stands for)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import deque


class BadNetworkProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream`` ``(host, port)``. Every chunk is delivered
    ``delay_s`` ± ``jitter_s`` after it arrived (never before the previous chunk of the same
    direction: a stream stays in order); ``cut_after_s`` cuts each connection after that many
    seconds (None: never); ``rate`` caps each direction at that many bytes per second (None:
    no cap), with at most ``max_queue`` bytes in flight, so a full link pushes back on the
    sender as a real one does."""

    def __init__(self, upstream: tuple[str, int], *, delay_s: float = 0.1, jitter_s: float = 0.05,
                 cut_after_s: float | None = None, rate: float | None = None, max_queue: int = 64 * 1024,
                 seed: int = 0):
        self.upstream, self.delay_s, self.jitter_s, self.cut_after_s = upstream, delay_s, jitter_s, cut_after_s
        self.rate, self.max_queue = rate, max_queue
        self.rng = random.Random(seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            pair = [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()
            if self.cut_after_s is not None:
                threading.Timer(self.cut_after_s, self._cut, args=(pair,)).start()

    def _cut(self, pair) -> None:
        self.cuts += 1
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        queue: deque = deque()
        ready = threading.Condition()
        done = []
        queued = [0]

        def deliver() -> None:
            while True:
                with ready:
                    while not queue and not done:
                        ready.wait()
                    if not queue:
                        return
                    due, data = queue.popleft()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    dst.sendall(data)
                except OSError:
                    return
                if self.rate:
                    time.sleep(len(data) / self.rate)
                with ready:
                    queued[0] -= len(data)
                    ready.notify_all()

        threading.Thread(target=deliver, daemon=True).start()
        last_due = 0.0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                due = max(last_due, time.monotonic() + self.delay_s + self.rng.uniform(-self.jitter_s, self.jitter_s))
                last_due = due
                with ready:
                    while queued[0] > self.max_queue and not done:
                        ready.wait(0.1)  # the link is full: stop reading, the sender's buffers fill up
                    queue.append((due, data))
                    queued[0] += len(data)
                    ready.notify_all()
        except OSError:
            pass
        with ready:
            done.append(True)
            ready.notify()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
