"""``ved bench --voice``: the game master's microphone to the trainee's ears, measured, and
the trainee's sound checked for underruns over a long session.

No sound card exists on the build machine, so the two devices are stood in for by clocked
threads that call the real callbacks at the device's pace: a microphone delivering 10 ms
blocks to :class:`~app.audio.microphone.PushToTalk` (as PortAudio's input callback would),
and a speaker pulling 10 ms blocks from :class:`~app.audio.output.SoundOutput`'s callback
(its jitter buffers and mix). Between them runs the real path: push-to-talk's sender
thread, the client (in process, or over loopback TLS websockets with ``net``), the session
(raw microphone kept, voice transform in avatar mode, placement), the trainee's client
polled every 16 ms as the trainee window's timer does, and the output's buffers. A click
(a 4 ms burst at 1 kHz) is spoken every second with the talk key held; the latency of each
is the time from when the microphone took it to when the speaker callback plays its onset.
A real device adds its own input and output latency (a few ms each with ``latency="low"``),
not counted here.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from engine.audio import SAMPLE_RATE

BLOCK = SAMPLE_RATE // 100  # 10 ms, both devices
CLICK = (0.6 * np.sin(2 * np.pi * 1000 * np.arange(int(0.004 * SAMPLE_RATE)) / SAMPLE_RATE)).astype(np.float32)


class _Clocked(threading.Thread):
    """Calls ``fn(block_start_time)`` every 10 ms of wall clock, on schedule (catching up
    after a stall, as a device's buffer would)."""

    def __init__(self, fn, name: str):
        super().__init__(name=name, daemon=True)
        self.fn, self.stop_flag = fn, threading.Event()
        self.late = 0

    def run(self) -> None:
        t0 = time.perf_counter()
        k = 0
        while not self.stop_flag.is_set():
            due = t0 + k * BLOCK / SAMPLE_RATE
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.02:
                self.late += 1
            self.fn(due)
            k += 1


class _StandInMic:
    """The microphone: ``on_block`` gets 10 ms blocks; a click is put in when asked."""

    def __init__(self, on_block):
        self.on_block, self.healthy = on_block, True
        self.click_at: list[float] = []  # when each click's first sample was taken
        self._click_next = False

    def tick(self, t: float) -> None:
        """Deliver the block captured over the 10 ms before ``t`` (as an input callback does)."""
        block = np.zeros(BLOCK, np.float32)
        captured = t - BLOCK / SAMPLE_RATE
        if self._click_next:
            block[:len(CLICK)] = CLICK
            self.click_at.append(captured)
            self._click_next = False
        self.on_block(block, captured)

    def click(self) -> None:
        self._click_next = True

    def close(self) -> None:
        self.healthy = False


def run_voice_bench(scenario_path: str, *, mode: str = "avatar", net: bool = False, seconds: float = 20.0,
                    model=None, seed: int = 0, record_dir=None) -> dict:
    """Speak a click every second for ``seconds`` (in ``mode``), with the world model
    running, and measure each click's latency to the trainee's output; count the output's
    underruns. Returns the figures (milliseconds)."""
    from app.audio.microphone import PushToTalk
    from app.audio.output import SoundOutput
    from engine.runtime.protocol import Role, Sound, Voice
    from engine.runtime.runner import SessionRunner
    from engine.runtime.wiring import open_live_session
    from engine.scenario import load_scenario

    live = open_live_session(load_scenario(scenario_path), model, seed=seed, record_dir=record_dir)
    session = live.session
    server = None
    runner = SessionRunner(session, paced=True)
    if net:
        import tempfile
        from pathlib import Path

        from engine.net.client import RemoteClient
        from engine.net.server import SessionServer
        from engine.net.tls import load_or_make_certificate

        server = SessionServer(session, load_or_make_certificate(Path(tempfile.mkdtemp()) / "tls")).start()
    runner.start()
    try:
        if net:
            trainee = RemoteClient(server.url, server.codes()["trainee"])
            gm = RemoteClient(server.url, server.codes()["game_master"])
        else:
            trainee, gm = session.connect(Role.TRAINEE), session.connect(Role.GAME_MASTER)
        out = SoundOutput.__new__(SoundOutput)  # the real buffers and mix, without PortAudio
        from engine.audio.buffer import JitterBuffer
        from app.audio.output import VOICE_TARGET_MS

        out.buffer = JitterBuffer(SAMPLE_RATE)
        out.voice = JitterBuffer(SAMPLE_RATE, target_ms=VOICE_TARGET_MS, max_ms=200.0, grow_ms=0.0)
        onsets: list[float] = []  # when the voice the speaker played rose above the threshold
        buf = np.zeros((BLOCK, 2), np.float32)
        now = [0.0]
        voice_pull = out.voice.pull

        def observed_pull(n: int) -> np.ndarray:  # the voice buffer's share of the mix, watched
            block = voice_pull(n)
            hit = np.flatnonzero(np.abs(block).max(1) > 0.02)
            if len(hit):
                onsets.append(now[0] + hit[0] / SAMPLE_RATE)
            return block

        out.voice.pull = observed_pull

        def speaker(t: float) -> None:
            now[0] = t
            out._callback(buf, BLOCK, None, None)

        mics: list[_StandInMic] = []

        def open_mic(on_block):
            mics.append(_StandInMic(on_block))
            return mics[-1], ""

        ptt = PushToTalk(gm.send, open_mic)
        mic_clock = _Clocked(lambda t: mics[0].tick(t), "stand-in microphone")
        speaker_clock = _Clocked(speaker, "stand-in speaker")
        mic_clock.start()
        speaker_clock.start()

        stop_poll = threading.Event()
        ticks_heard = [0]

        def poll() -> None:  # the trainee window's 16 ms timer
            while not stop_poll.is_set():
                for msg in trainee.poll():
                    if isinstance(msg, Voice):
                        out.push_voice(msg.samples)
                    elif isinstance(msg, Sound):
                        out.push(msg.samples)
                        ticks_heard[0] += 1
                time.sleep(0.016)

        poller = threading.Thread(target=poll, name="trainee poll", daemon=True)
        poller.start()
        time.sleep(1.0)  # the world's sound primes its buffer
        ptt.press(mode)
        time.sleep(0.5)  # the first click not at the press itself (the transform's start-up)
        start = time.perf_counter()
        clicks_sent = 0
        while time.perf_counter() - start < seconds:
            mics[0].click()
            clicks_sent += 1
            time.sleep(1.0)
        ptt.release()
        time.sleep(0.5)
        mic_clock.stop_flag.set()
        speaker_clock.stop_flag.set()
        stop_poll.set()
        ptt.close()
        # each click: the first played block with an onset after it, within 1 s
        lat = []
        for c in mics[0].click_at:
            after = [t for t in onsets if c < t < c + 1.0]
            if after:
                lat.append(after[0] - c)
        underruns = out.buffer.underruns
        if net:
            trainee.close()
            gm.close()
    finally:
        runner.stop()
        runner.join(10)
        if server is not None:
            server.close()
        live.close()
    lat_ms = np.array(lat) * 1000
    return {
        "mode": mode, "net": net, "seconds": round(seconds, 1), "clicks": len(mics[0].click_at) if mics else 0,
        "clicks_heard": len(lat),
        "latency_median_ms": round(float(np.median(lat_ms)), 1) if len(lat_ms) else None,
        "latency_p95_ms": round(float(np.percentile(lat_ms, 95)), 1) if len(lat_ms) else None,
        "latency_max_ms": round(float(lat_ms.max()), 1) if len(lat_ms) else None,
        "world_sound_underruns": int(underruns), "ticks_heard": ticks_heard[0],
        "missed_ticks": int(runner.missed_ticks),
        "late_device_blocks": mic_clock.late + speaker_clock.late,
        "model": getattr(session.model, "name", "?"),
    }
