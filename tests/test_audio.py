"""The world's sounds: synthesis, spatial panning, the mix a trainee hears, and the sound
track of the recording (buffer-level: no sound device is needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.audio import SAMPLE_RATE
from engine.audio.sources import Alarm, MonitorBeep, heart_rate_bpm
from engine.audio.spatial import azimuth, pan_gains, place
from engine.audio.world import SoundSettings, WorldAudio
from engine.world.scene import make_scene
from engine.world.state import WorldState

ROOT = Path(__file__).resolve().parents[1]


def _band_energy(x: np.ndarray, freq: float, width: float = 25.0) -> float:
    """Energy of mono ``x`` within ``freq ± width`` Hz."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(spec[(f > freq - width) & (f < freq + width)].sum())


def _onsets(x: np.ndarray, threshold: float) -> int:
    above = np.abs(x) > threshold
    starts = np.flatnonzero(above[1:] & ~above[:-1])
    # one beep rings ~40 ms: merge crossings closer than 100 ms
    return int(np.sum(np.diff(np.concatenate([[-10 ** 9], starts])) > 0.1 * SAMPLE_RATE))


def test_a_source_on_the_left_is_louder_on_the_left_and_fades_with_distance():
    head = (0.0, 0.0, 0.0)  # at the origin, looking along −z
    assert azimuth((-1.0, 0.0), head) == pytest.approx(math.pi / 2)  # −x is on the left
    left, right = pan_gains((-2.0, 0.0), head)
    assert left > 3 * right
    l2, r2 = pan_gains((2.0, 0.0), head)
    assert r2 > 3 * l2 and l2 == pytest.approx(right)
    ahead = pan_gains((0.0, -1.0), head)
    assert ahead[0] == pytest.approx(ahead[1]) and ahead[0] ** 2 + ahead[1] ** 2 == pytest.approx(1.0)  # constant power
    far = pan_gains((0.0, -4.0), head)
    assert far[0] == pytest.approx(ahead[0] / 4)  # 1/distance beyond a metre
    behind = pan_gains((0.0, 1.0), head)
    assert behind[0] < ahead[0]
    turned = pan_gains((-2.0, 0.0), (0.0, 0.0, math.pi / 2))  # turning left to face it centres it
    assert turned[0] == pytest.approx(turned[1])
    stereo = place(np.ones(10, np.float32), (-2.0, 0.0), head)
    assert stereo.shape == (10, 2) and stereo[:, 0].mean() > stereo[:, 1].mean()


def test_the_monitor_beeps_faster_as_the_patient_bleeds():
    assert heart_rate_bpm(0.0) == 72 and heart_rate_bpm(1.0) == 140
    counts = []
    for bleeding in (0.0, 1.0):
        beep = MonitorBeep()
        x = np.concatenate([beep.render(2400, bleeding) for _ in range(200)])  # 10 s in session ticks
        counts.append(_onsets(x, 0.05))
    assert counts[0] == pytest.approx(12, abs=1) and counts[1] == pytest.approx(23, abs=1)


def test_the_alarm_plays_its_pattern_only_while_on_and_restarts_with_it():
    alarm = Alarm()
    assert not alarm.render(2400, False).any()
    on = np.concatenate([alarm.render(2400, True) for _ in range(100)])  # 5 s: one full pattern
    assert _onsets(on, 0.05) == 10  # IEC 60601-1-8 high priority: ten pulses
    assert _band_energy(on, 523.25) > 100 * _band_energy(on, 700.0)
    alarm.render(2400, False)
    again = alarm.render(2400, True)
    np.testing.assert_array_equal(again, on[:2400])  # a new alarm begins at its first pulse


def test_the_mix_places_the_monitor_and_footsteps_and_follows_the_settings():
    scene = make_scene("operating_room", 7)
    audio = WorldAudio(scene, SoundSettings(room_tone=False))  # the room tone sits in the middle
    assert audio.has_monitor
    mx, mz = audio.monitor_xz
    facing = math.atan2(-(mx - 0.0), -(mz - 0.0))
    left_of_it = (0.0, 0.0, facing - math.pi / 2)  # turned so the monitor is on the left
    x = np.concatenate([audio.render(WorldState(alarm=True), left_of_it) for _ in range(40)])
    assert np.abs(x[:, 0]).mean() > 2 * np.abs(x[:, 1]).mean()
    quiet = WorldAudio(scene, SoundSettings(alarm="off", monitor=False, room_tone=False, footsteps=True))
    assert not np.concatenate([quiet.render(WorldState(alarm=True), left_of_it) for _ in range(10)]).any()
    quiet.render(WorldState(), left_of_it)
    steps = np.concatenate([quiet.render(WorldState(avatar=True, avatar_pose=(1.0, 0.0, 0.0)), left_of_it)
                            for _ in range(60)])
    assert _onsets(steps.mean(1), 0.02) == 6  # six footsteps as the person walks in


def test_the_recording_carries_the_alarm_from_its_tick(tmp_path):
    """A session whose alarm goes on at tick 40: the recording's sound track has the alarm's
    tone from that tick on and not before (compared with the same session without it), and
    session.mp4 carries the track as AAC."""
    import av

    from engine.model.interface import ReferenceWorldModel
    from engine.recording import read_recording
    from engine.runtime.protocol import Role
    from engine.runtime.wiring import open_live_session
    from engine.scenario import loads_scenario

    base = (ROOT / "scenarios" / "operating_room_bleeding.toml").read_text().split("[[palette]]")[0]
    energies = {}
    for alarm in (True, False):
        scenario = loads_scenario(base + ('[[cues]]\nat = 2.0\nevent = "alarm_on"\n' if alarm else "")
                                  + "\n[sounds]\nmonitor = false\nroom_tone = false\n")
        rec = tmp_path / f"rec-{alarm}"
        live = open_live_session(scenario, ReferenceWorldModel(64), record_dir=rec)
        live.session.connect(Role.TRAINEE)
        live.session.start()
        for _ in range(80):
            live.session.step()
        live.close()
        samples, rate, first = read_recording(rec).audio()
        assert rate == SAMPLE_RATE and first == 0 and len(samples) == 81 * SAMPLE_RATE // 20
        cut = 40 * SAMPLE_RATE // 20
        energies[alarm] = (_band_energy(samples[:cut].mean(1), 523.25), _band_energy(samples[cut:].mean(1), 523.25))
        with av.open(str(rec / "session.mp4")) as c:
            assert [s.type for s in c.streams] == ["video", "audio"]
    before, after = energies[True]
    assert after > 1000 * max(before, 1e-9) and after > 1000 * energies[False][1]


def test_a_killed_session_keeps_what_was_heard(tmp_path):
    import json

    from engine.recording import Recorder, read_recording

    r = Recorder(tmp_path / "rec", tick_hz=20, scale=2)
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2400) / SAMPLE_RATE)).astype(np.float32)
    for t in range(10):
        r.write_frame(t, np.zeros((64, 64, 3), np.uint8))
        if t != 5:  # a tick without sound becomes silence, so the track stays on the clock
            r.write_audio(t, np.stack([tone, tone], 1), SAMPLE_RATE)
    # no close(): as after SIGKILL
    samples, rate, first = read_recording(tmp_path / "rec").audio()
    assert len(samples) == 10 * 2400 and not samples[5 * 2400:6 * 2400].any()
    assert np.abs(samples[:2400, 0] - tone).max() < 1e-3
    assert json.loads((tmp_path / "rec" / "audio.json").read_text())["format"] == "s16le"


# ------------------------------------------------------------------ the avatar's voice


def _vowel(f0: float = 130.0, seconds: float = 2.0) -> np.ndarray:
    """A synthetic /a/: a glottal pulse train (with 2 % vibrato) through three formant
    resonators at 700, 1220 and 2600 Hz."""
    from scipy.signal import lfilter

    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / SAMPLE_RATE
    x = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    for fc, bw in ((700, 110), (1220, 120), (2600, 160)):
        r, th = np.exp(-np.pi * bw / SAMPLE_RATE), 2 * np.pi * fc / SAMPLE_RATE
        x = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], x)
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


def _centroid(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    band = (f > 300) & (f < 4000)
    return float((spec[band] * f[band]).sum() / spec[band].sum())


@pytest.mark.parametrize("name", ["deeper", "lower", "higher", "much_higher", "same_pitch_darker"])
def test_each_voice_preset_shifts_the_pitch_by_its_setting(name):
    from engine.audio.voice import VOICE_PRESETS, f0_median, transform

    voice, x = VOICE_PRESETS[name], _vowel()
    y = transform(x, SAMPLE_RATE, voice)
    assert y.shape == x.shape
    ratio = f0_median(y, SAMPLE_RATE) / f0_median(x, SAMPLE_RATE)
    assert ratio == pytest.approx(voice.pitch, rel=0.05)  # the figure: within 5 %


def test_the_formant_shift_moves_the_resonances_not_the_pitch():
    from engine.audio.voice import VOICE_PRESETS, f0_median, transform

    x = _vowel()
    darker = transform(x, SAMPLE_RATE, VOICE_PRESETS["same_pitch_darker"])  # formants × 0.85, pitch kept
    assert f0_median(darker, SAMPLE_RATE) == pytest.approx(f0_median(x, SAMPLE_RATE), rel=0.03)
    assert _centroid(darker) / _centroid(x) == pytest.approx(0.85, abs=0.07)


def test_ved_voice_writes_the_transformed_file_and_its_measured_pitch(tmp_path):
    import json
    import subprocess
    import sys

    import soundfile

    soundfile.write(tmp_path / "in.wav", _vowel(150.0), SAMPLE_RATE)
    r = subprocess.run([sys.executable, "-m", "app.cli", "voice", "--in", str(tmp_path / "in.wav"), "--voice", "deeper",
                        "--out", str(tmp_path / "out.wav")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["f0_ratio"] == pytest.approx(0.75, rel=0.05) and (tmp_path / "out.wav").is_file()
    bad = subprocess.run([sys.executable, "-m", "app.cli", "voice", "--in", str(tmp_path / "in.wav"), "--voice", "robot",
                          "--out", str(tmp_path / "x.wav")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "presets: deeper" in bad.stderr


# ------------------------------------------------------------------ to the device


def test_the_jitter_buffer_primes_counts_underruns_and_bounds_latency():
    from engine.audio.buffer import JitterBuffer

    buf = JitterBuffer(48_000, target_ms=60, max_ms=250)
    block = np.full((2400, 2), 0.5, np.float32)  # one 50 ms tick
    buf.push(block)
    assert not buf.pull(480).any() and buf.underruns == 0  # 50 ms queued: below the target, silence
    buf.push(block)
    out = np.concatenate([buf.pull(480) for _ in range(10)])  # 100 ms played of the 100 ms queued
    assert (out == 0.5).all() and buf.queued == 0
    assert not buf.pull(480).any() and buf.underruns == 1  # the device ran dry once
    assert buf.target == 80 * 48  # and the buffer waits 20 ms longer from then on
    for _ in range(5):  # more stalls: it grows to its ceiling, no further
        for _ in range(4):
            buf.push(block)
        buf.pull(2400 * 5)
    assert buf.underruns == 6 and buf.target == 140 * 48
    for _ in range(10):  # a device that stalled while the session went on: at most 250 ms kept
        buf.push(block)
    assert buf.queued <= 12_000 + 2400 and buf.dropped_frames > 0


def test_no_sound_device_is_a_clear_message_and_the_window_plays_on(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from app.audio.output import open_output
    from app.main import build_app
    from engine.model.interface import ReferenceWorldModel
    from engine.scenario import load_scenario

    output, note = open_output()
    if output is not None:
        output.close()
        pytest.skip("this machine has a sound output device: the no-device path is not reachable here")
    assert "goes on silently" in note and "\n" not in note
    trainee, console, worker = build_app(load_scenario(ROOT / "scenarios" / "operating_room_bleeding.toml"),
                                         ReferenceWorldModel(64), tmp_path / "rec")
    qtbot.addWidget(trainee)
    qtbot.addWidget(console)
    try:
        qtbot.waitUntil(lambda: trainee.received_kinds["sound"] > 5 and trainee.frame_message is not None,
                        timeout=5000)
        assert trainee.sound_note and "no sound output device" in console.notes_label.text()
    finally:
        trainee.close()
        worker.close()


def test_a_remote_trainee_hears_the_alarm_over_the_network(tmp_path):
    """Sound travels as Opus: a trainee joined over loopback decodes its seat's sound, and
    the alarm's tone is in it once the game master turns the alarm on."""
    pytest.importorskip("websockets")
    import time

    from engine.model.interface import ReferenceWorldModel
    from engine.net.client import RemoteClient
    from engine.net.server import SessionServer
    from engine.net.tls import load_or_make_certificate
    from engine.runtime.protocol import Sound
    from engine.runtime.runner import SessionRunner
    from engine.runtime.wiring import open_live_session
    from engine.scenario import loads_scenario

    base = (ROOT / "scenarios" / "operating_room_bleeding.toml").read_text().split("[[palette]]")[0]
    scenario = loads_scenario(base + "\n[sounds]\nmonitor = false\nroom_tone = false\n")
    live = open_live_session(scenario, ReferenceWorldModel(64), record_dir=tmp_path / "rec")
    server = SessionServer(live.session, load_or_make_certificate(tmp_path / "tls")).start()
    runner = SessionRunner(live.session, paced=True)
    runner.start()
    try:
        trainee = RemoteClient(server.url, server.codes()["trainee"])
        gm = RemoteClient(server.url, server.codes()["game_master"])

        def listen(seconds: float) -> np.ndarray:
            blocks, end = [], time.monotonic() + seconds
            while time.monotonic() < end:
                blocks += [m.samples for m in trainee.poll() if isinstance(m, Sound)]
                time.sleep(0.02)
            return np.concatenate(blocks)

        quiet = listen(1.0)
        gm.fire("alarm_on")
        time.sleep(0.2)
        loud = listen(1.5)
        assert len(quiet) > 0.7 * SAMPLE_RATE and len(loud) > SAMPLE_RATE  # about every tick arrived
        assert _band_energy(loud.mean(1), 523.25) > 100 * max(_band_energy(quiet.mean(1), 523.25), 1e-6)
        trainee.close()
        gm.close()
    finally:
        runner.stop()
        runner.join(5)
        server.close()
        live.close()


def test_an_unplugged_output_is_reopened_and_the_sound_goes_on(qtbot, monkeypatch):
    """The device layer stood in for by a fake (no sound card here): when the device goes,
    the window drops it, retries, and plays on the new one; frames never stop."""
    pytest.importorskip("pytestqt")
    import app.audio.output as output
    import app.trainee.window as tw
    from app.trainee.window import TraineeWindow

    class FakeOutput:
        opened = []

        def __init__(self):
            self.healthy, self.blocks = True, []
            FakeOutput.opened.append(self)

        def push(self, samples):
            self.blocks.append(samples)

        def close(self):
            self.healthy = False

    monkeypatch.setattr(output, "open_output", lambda device=None: (FakeOutput(), ""))
    monkeypatch.setattr(tw, "SOUND_RETRY_S", 0.0)
    w = TraineeWindow(play_sound=True)
    qtbot.addWidget(w)
    w.sound_output = FakeOutput()
    block = np.zeros((2400, 2), np.float32)
    w._play(block)
    first = w.sound_output
    first.healthy = False  # unplugged
    w._play(block)
    w._play(block)
    assert len(FakeOutput.opened) == 2 and w.sound_output is FakeOutput.opened[1] and w.sound_output.blocks
    assert len(first.blocks) == 1  # nothing was pushed to the dead device after it went
