"""``ved bench --net``: a served session with several clients on this machine, over loopback.

The server runs in a child process (as ``ved serve`` would, with the model and the recorder),
so its peak memory and its tick clock are its own; every client is a scripted
:func:`~engine.net.run.join_headless` in a thread of this process. The figures:

* ``ticks_per_s`` (the world's clock: 20 on any machine, :mod:`engine.runtime.runner`),
  ``frames_per_s`` (the frame rate the world model held) and ``missed_ticks`` (ticks of
  world time that got no frame of their own; ``missed_share`` of all ticks) of the server
  over the measured seconds;
* per trainee, ``latency_p95_ms``: from an input sent to the first frame generated from it;
* per client, ``fps`` and ``bytes_per_s`` received (frames and messages);
* ``peak_rss_mb`` of the server process.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
import time
from pathlib import Path

from ..actions import TICK_HZ
from ..runtime.protocol import Role


def with_trainees(scenario, trainees: int):
    """``scenario`` with ``trainees`` trainee seats (at least one): its own trainee roles,
    then ``trainee_2``, ``trainee_3``, … as needed, or its first ones. Raises ``ValueError``
    beyond :data:`~engine.world.state.MAX_SEATS`."""
    from ..scenario.schema import ScenarioRole
    from ..world.state import MAX_SEATS

    if trainees > MAX_SEATS:
        raise ValueError(f"--trainees {trainees}: a session holds at most {MAX_SEATS} trainees (one seat each)")
    n = max(1, trainees)
    own = [r for r in scenario.roles if r.kind == "trainee"]
    if n == 1 and not own:
        return scenario  # its one default seat
    others = [r for r in scenario.roles if r.kind != "trainee"]
    while len(own) < n:
        own.append(ScenarioRole(name=f"trainee_{len(own) + 1}", kind="trainee"))
    copy = scenario.model_copy(update={"roles": own[:n] + others})
    copy.source_path = scenario.source_path
    return copy


def bench_seats(scenario, game_masters: int) -> list[tuple[str, Role]]:
    """The scenario's trainee seats and ``game_masters`` game-master seats: its own
    game-master roles, then ``game_master_2``, ``game_master_3``, … as needed."""
    from .run import seats_of

    seats = seats_of(scenario)
    trainees = [s for s in seats if s[1] is Role.TRAINEE]
    masters = [s for s in seats if s[1] is Role.GAME_MASTER][:game_masters]
    k = len(masters)
    while len(masters) < game_masters:
        k += 1
        masters.append((f"game_master_{k}", Role.GAME_MASTER))
    return trainees + masters


class _PipeOut:
    """A file-like ``out`` for :func:`~engine.net.run.serve` that sends each line to the bench."""

    def __init__(self, conn):
        self.conn = conn

    def write(self, text: str) -> None:
        if text.strip():
            self.conn.send(("hello", text.strip()))

    def flush(self) -> None:
        pass


def _serve_child(scenario_path: str, trainees: int, seats, seconds: float, model, seed: int, record_dir, conn) -> None:
    from ..scenario.loader import load_scenario
    from .run import serve

    try:
        result = serve(with_trainees(load_scenario(scenario_path), trainees), model=model, seed=seed, seconds=seconds, record_dir=record_dir,
                       out=_PipeOut(conn), log=lambda m: None, seats=seats, path="auto")
        conn.send(("result", result))
    except BaseException as exc:  # noqa: BLE001 - reported to the bench, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_net_bench(scenario_path: str, *, trainees: int = 1, game_masters: int = 1, observers: int = 1,
                  seconds: float = 20.0, model: str | None = None, seed: int = 0, record_dir=None,
                  start_timeout_s: float = 180.0) -> dict:
    """Serve ``scenario_path`` in a child process and join it with ``trainees`` trainees,
    ``game_masters`` game masters and ``observers`` observers for ``seconds`` (after the
    clients have joined). Returns the figures of the module docstring.

    The session gets ``trainees`` trainee seats (the scenario's trainee roles, more added or
    the last left out as needed; one seat, unjoined, for ``trainees=0``), all stepped in one
    batched pass per tick.

    Raises ``ValueError`` when more trainees are asked for than a session holds
    (:data:`~engine.world.state.MAX_SEATS`), ``RuntimeError`` when the server fails or does
    not start within ``start_timeout_s``.
    """
    from ..scenario.loader import load_scenario
    from .run import join_headless

    scenario = with_trainees(load_scenario(scenario_path), trainees)
    seats = bench_seats(scenario, game_masters)
    if trainees == 0:
        seats = [s for s in seats if s[1] is not Role.TRAINEE]
    tick_hz = float(TICK_HZ)
    join_slack = 10.0 + 0.5 * (trainees + game_masters + observers)
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_serve_child, name="ved-bench-server", daemon=True,
                        args=(str(scenario_path), trainees, seats, seconds + join_slack, model, seed, record_dir, theirs))
    child.start()
    try:
        if not ours.poll(start_timeout_s):
            raise RuntimeError(f"the server did not start within {start_timeout_s:.0f} s")
        kind, payload = ours.recv()
        if kind == "error":
            raise RuntimeError(f"the server failed: {payload}")
        hello = json.loads(payload)
        url, codes = hello["url"], hello["codes"]
        clients: list[tuple[str, str]] = []
        clients += [(name, codes[name]) for name, role in seats if role is Role.TRAINEE][:trainees]
        clients += [(name, codes[name]) for name, role in seats if role is Role.GAME_MASTER]
        clients += [(f"observer_{i + 1}", codes["observers"]) for i in range(observers)]
        frames = int(seconds * tick_hz)
        results: dict[str, dict] = {}
        errors: dict[str, str] = {}

        def one(label: str, code: str) -> None:
            try:
                # a machine too slow for a frame a tick still gets figures: take frames until the session ends
                results[label] = join_headless(url, code, frames=frames, timeout_s=seconds * 3 + 30, until_end=True)
            except Exception as exc:  # noqa: BLE001 - reported in the figures
                errors[label] = f"{type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=one, args=c, name=f"bench-{c[0]}", daemon=True) for c in clients]
        for t in threads:
            t.start()
        peak = None
        while any(t.is_alive() for t in threads):
            peak = _peak_rss_mb(child.pid) or peak
            time.sleep(0.5)
        peak = _peak_rss_mb(child.pid) or peak
        if not ours.poll(seconds + join_slack + 60):
            raise RuntimeError("the server did not finish its session")
        kind, server = ours.recv()
        if kind == "error":
            raise RuntimeError(f"the server failed: {server}")
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    ticks = server["ticks"]
    return {
        "trainees": trainees, "game_masters": game_masters, "observers": observers,
        "seconds": seconds, "tick_hz": tick_hz,
        "ticks_per_s": round(ticks / server["seconds"], 2) if server.get("seconds") else None,
        "missed_ticks": server["missed_ticks"],
        "frames_per_s": round(server["frames"] / server["seconds"], 2) if server.get("seconds") else None,
        "missed_share": round(server["missed_ticks"] / max(1, ticks), 4),
        "latency_p95_ms": {k: r["latency_p95_ms"] for k, r in results.items() if r["role"] == "trainee"},
        "latency_median_ms": {k: r["latency_median_ms"] for k, r in results.items() if r["role"] == "trainee"},
        "fps": {k: r["fps"] for k, r in results.items()},
        "bytes_per_s": {k: r["bytes_per_s"] for k, r in results.items()},
        "peak_rss_mb": peak,
        "refusals": server.get("refusals", {}),
        "client_errors": errors,
    }
