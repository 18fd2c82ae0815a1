"""``ved serve`` and the scripted ``ved join --headless``: sessions across processes.

:func:`serve` runs a scenario's session headless, recorded and paced at its tick rate, and
offers it on the network until stopped; its first stdout line is one JSON object with the
URL, the certificate fingerprint and the join codes. :func:`join_headless` joins one with a
code as a scripted client and returns the figures ``ved join --headless`` prints as its
last line.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ..runtime.protocol import Role
from ..runtime.runner import SessionRunner
from ..runtime.wiring import open_live_session
from .client import RemoteClient
from .server import SessionServer
from .tls import load_or_make_certificate


def seats_of(scenario) -> list[tuple[str, Role]]:
    """The trainee and game-master seats of ``scenario`` (its ``[[roles]]`` of those kinds;
    a scenario without them gets one of each). The trainee seats come in the session's seat
    order, so the k-th is trainee seat k."""
    trainees = [r.name for r in scenario.roles if r.kind == "trainee"] or ["trainee"]
    masters = [r.name for r in scenario.roles if r.kind == "game_master"] or ["game_master"]
    return [(n, Role.TRAINEE) for n in trainees] + [(n, Role.GAME_MASTER) for n in masters]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(scenario, *, host: str = "127.0.0.1", port: int = 0, model=None, record_dir=None, seed: int = 0,
          seconds: float | None = None, cert_dir: Path | None = None, out=sys.stdout, log=print,
          seats: list[tuple[str, Role]] | None = None, quality: str | None = "auto",
          device: str | None = None, path: str = "torch-fp32") -> dict:
    """Serve ``scenario`` until SIGINT/SIGTERM or ``seconds``; returns ``ticks``,
    ``missed_ticks``, ``seconds`` (the session clock's wall time), ``refusals`` and
    ``recording``.

    Prints (to ``out``, flushed) first one JSON line ``{"url", "fingerprint", "codes"}``.
    ``seats`` replaces the scenario's seats (:func:`seats_of`). Binding to anything but a
    loopback address is said loudly (``log``): everyone who can reach the port can try codes.
    """
    from ..cache import cache_dir

    live = open_live_session(scenario, model, seed=seed, record_dir=record_dir, meta={"app": "ved serve"},
                             quality=quality, device=device, path=path)
    cert = load_or_make_certificate(cert_dir or cache_dir() / "tls")
    server = SessionServer(live.session, cert, host=host, port=port, seats=seats or seats_of(scenario)).start()
    print(json.dumps({"url": server.url, "fingerprint": cert.fingerprint, "codes": server.codes()}), file=out, flush=True)
    if not _is_loopback(host):
        log(f"WARNING: serving on {host}:{server.port}, reachable from other computers: hand the codes only to "
            "the people who should join, and stop the server when the session is over")
    max_ticks = None if seconds is None else int(round(seconds * live.session.tick_hz))
    runner = SessionRunner(live.session, paced=True, max_ticks=max_ticks)
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    for s in previous:
        signal.signal(s, lambda *_: stop.set())
    runner.start()
    t_start = time.perf_counter()
    try:
        while runner.is_alive() and not stop.wait(0.2):
            pass
    finally:
        runner.stop()
        runner.join(10)
        wall = time.perf_counter() - t_start
        server.close()
        summary = live.close("stopped" if stop.is_set() else "finished")
        for s, handler in previous.items():
            signal.signal(s, handler)
    return {"ticks": live.session.tick, "frames": len(runner.frame_times), "missed_ticks": runner.missed_ticks,
            "seconds": round(wall, 3),
            "refusals": server.refusals,
            "recording": str(summary.directory) if summary else None}


def join_headless(url: str, code: str, *, frames: int, actions_file=None, record_dir=None,
                  timeout_s: float = 60.0, until_end: bool = False) -> dict:
    """Join as a scripted client and take ``frames`` frames; returns ``frames``, ``fps`` (frames
    received per second), ``p95_ms`` (between frames), ``latency_p95_ms`` and
    ``latency_median_ms`` (from an input sent to the first frame generated from it; trainee
    seats only), ``bytes_per_s`` (received, frames and messages), ``role``, ``seat`` and
    ``recording``, and ``ended`` (the session ended first, the reason; else None). With
    ``until_end`` the client takes frames until ``frames`` came or the session ends, whichever
    is first (a bench on a machine too slow for a frame a tick). A trainee replays ``actions_file``
    (one action per received frame, then rest) or walks and turns slowly. Raises
    :class:`~engine.net.client.JoinError` when it cannot join, ``TimeoutError`` when the
    frames do not come, ``ConnectionError`` when the session ends first (unless ``until_end``)."""
    from ..actions import read_actions

    client = RemoteClient(url, code, name="ved join --headless")
    t_joined = time.perf_counter()
    recorder = None
    if record_dir is not None:
        from ..recording import Recorder, video_scale

        recorder = Recorder(Path(record_dir), tick_hz=client.tick_hz, scale=video_scale(client.resolution),
                            meta={"app": "ved join", "seat": client.seat, "role": client.role.value})
    actions = read_actions(actions_file) if actions_file else None
    sent: dict[int, float] = {}
    latencies, arrivals = [], []
    last_tick = -1
    ended = None
    deadline = time.monotonic() + timeout_s
    try:
        while len(arrivals) < frames:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(arrivals)} of {frames} frames arrived within {timeout_s:.0f} s")
            if not client.connected:
                if until_end and arrivals:
                    ended = client.ended_reason
                    break
                raise ConnectionError(f"the session ended before {frames} frames: {client.ended_reason}")
            frame = client.latest_frame
            for msg in client.poll():
                if recorder is None:
                    continue
                from ..runtime.protocol import Sound, to_record

                if isinstance(msg, Sound):  # what this client heard: the recording's sound track
                    if msg.seat == (client.seat_index or 0):
                        recorder.write_audio(msg.tick, msg.samples, msg.sample_rate)
                else:
                    recorder.log(to_record(msg))
            if frame is None or frame.tick == last_tick:
                time.sleep(0.002)
                continue
            now = time.perf_counter()
            last_tick = frame.tick
            arrivals.append(now)
            if recorder is not None:
                recorder.write_frame(frame.tick, np.asarray(frame.frame))
            for seq in [s for s in sent if s <= frame.input_seq]:
                latencies.append(now - sent.pop(seq))
            if client.role is Role.TRAINEE:
                i = len(arrivals) - 1
                a = (actions[i] if i < len(actions) else np.zeros(4, np.float32)) if actions is not None \
                    else np.array([0.05, 0.0, 0.03 if (i // 40) % 2 else -0.03, 0.0], np.float32)
                client.set_action(a)
                sent[client.input_seq] = time.perf_counter()
    finally:
        client.close()
        summary = recorder.close() if recorder is not None else None
    gaps = np.diff(arrivals) * 1000 if len(arrivals) > 1 else np.zeros(1)
    lat = np.asarray(latencies) * 1000
    return {
        "frames": len(arrivals),
        "fps": round((len(arrivals) - 1) / max(1e-9, arrivals[-1] - arrivals[0]), 1) if len(arrivals) > 1 else 0.0,
        "median_ms": round(float(np.median(gaps)), 2),
        "p95_ms": round(float(np.percentile(gaps, 95)), 2),
        "latency_median_ms": round(float(np.median(lat)), 2) if len(lat) else None,
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 2) if len(lat) else None,
        "bytes_per_s": round(client.bytes_received / max(1e-9, arrivals[-1] - t_joined)) if arrivals else 0,
        "role": client.role.value,
        "seat": client.seat,
        "recording": str(summary.directory) if summary else None,
        "ended": ended,
    }
