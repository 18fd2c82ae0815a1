"""The game master's voice, live: the streaming transform, push-to-talk, the session's
routing to the trainees, the recording (raw microphone and what was heard) and the wire.
Buffer level: the microphone and speakers are stood in for (no sound card here)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from engine.audio import SAMPLE_RATE
from engine.audio.voice import VOICE_PRESETS, VoiceTransform, f0_median
from tests.test_audio import _band_energy, _vowel

ROOT = Path(__file__).resolve().parents[1]


def _stream(x: np.ndarray, vt: VoiceTransform, block: int = 480) -> np.ndarray:
    return np.concatenate([vt.process(x[i:i + block]) for i in range(0, len(x), block)])


@pytest.mark.parametrize("name", ["deeper", "much_higher"])
def test_the_live_transform_shifts_the_pitch_block_by_block_with_a_short_delay(name):
    voice, x = VOICE_PRESETS[name], _vowel(seconds=2.0)
    vt = VoiceTransform(voice)
    y = _stream(x, vt)
    assert len(x) - len(y) < 0.06 * SAMPLE_RATE  # what is held back: under 60 ms
    ratio = f0_median(y[SAMPLE_RATE // 4:], SAMPLE_RATE) / f0_median(x, SAMPLE_RATE)
    assert ratio == pytest.approx(voice.pitch, rel=0.05)


def test_own_voice_passes_as_it_is_and_avatar_mode_never_lets_it_through():
    from engine.audio.gm_voice import GameMasterVoice

    x = _vowel(f0=130.0, seconds=1.0)
    gm = GameMasterVoice("deeper")
    own = np.concatenate([s for m, s in gm.speak(x, "own") if m == "own"])
    np.testing.assert_array_equal(own, x)
    out = []
    for i in range(0, len(x), 960):
        out += gm.speak(x[i:i + 960], "avatar", final=i + 960 >= len(x))
    assert {m for m, _ in out} == {"avatar"}
    y = np.concatenate([s for _, s in out])
    assert f0_median(y[SAMPLE_RATE // 4:], SAMPLE_RATE) == pytest.approx(130.0 * 0.75, rel=0.05)
    # switching to own voice mid-utterance: the avatar's tail comes out transformed, first
    gm.speak(x[:4800], "avatar")
    switched = gm.speak(x[:960], "own")
    assert [m for m, _ in switched] == ["avatar", "own"]
    with pytest.raises(ValueError, match="own"):
        gm.speak(x, "whisper")


def _session(tmp_path, extra: str = "", seats: int = 1):
    from engine.model.interface import ReferenceWorldModel
    from engine.runtime.wiring import open_live_session
    from engine.scenario import loads_scenario

    name = "operating_room_team.toml" if seats > 1 else "avatar_therapy.toml"
    scenario = loads_scenario((ROOT / "scenarios" / name).read_text() + extra)
    return open_live_session(scenario, ReferenceWorldModel(64), record_dir=tmp_path / "rec")


def test_the_session_sends_the_avatar_voice_to_the_trainee_from_the_avatar_and_records_both(tmp_path):
    """The game master speaks as the avatar, which stands to the trainee's left: the trainee
    receives the voice at once (not at the next tick), an octave-ish lower (the scenario's
    preset), louder on the left; the recording keeps the raw microphone as a WAV and the
    transformed voice in the track of what the trainee heard."""
    import soundfile

    from engine.recording import read_recording
    from engine.runtime.protocol import Role, Speak, Voice

    live = _session(tmp_path, "\n[sounds]\nmonitor = false\nroom_tone = false\nalarm = \"off\"\n")
    s = live.session
    preset = VOICE_PRESETS[s._avatar_voice()]
    trainee = s.connect(Role.TRAINEE)
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    from dataclasses import replace as dc_replace

    from engine.audio.spatial import azimuth

    x, z, yaw = s.participants[0].pose[:3]
    # the avatar 2 m to the trainee's left (yaw 0 looks along -z, positive yaw turns left)
    left = (x - 2.0 * np.cos(yaw), z + 2.0 * np.sin(yaw))
    assert azimuth(left, (x, z, yaw)) == pytest.approx(np.pi / 2, abs=1e-6)
    s.world_state = dc_replace(s.world_state, avatar=True, avatar_pose=(*left, 0.0))
    voice = _vowel(f0=140.0, seconds=1.5)
    trainee.poll()
    heard = []
    for i in range(0, len(voice), 960):
        gm.send(Speak.from_samples(voice[i:i + 960], mode="avatar", final=i + 960 >= len(voice)))
        heard += [m.samples for m in trainee.poll() if isinstance(m, Voice)]
        if i % 2400 == 0:
            s.step()
    got = np.concatenate(heard)
    assert len(got) > 0.9 * len(voice)
    assert f0_median(got.mean(1)[SAMPLE_RATE // 4:], SAMPLE_RATE) == pytest.approx(140.0 * preset.pitch, rel=0.05)
    assert np.abs(got[:, 0]).sum() > 2 * np.abs(got[:, 1]).sum()  # from the left
    for _ in range(10):
        s.step()
    live.close()
    rec = read_recording(tmp_path / "rec")
    raw, rate = soundfile.read(tmp_path / "rec" / "gm_microphone.wav", dtype="float32")
    assert rate == SAMPLE_RATE and np.abs(raw - voice).max() < 1e-3  # the raw microphone, untransformed
    samples, _, _ = rec.audio()
    f0_track = f0_median(samples.mean(1), SAMPLE_RATE)
    assert f0_track == pytest.approx(140.0 * preset.pitch, rel=0.05)  # the track: what the trainee heard
    assert _band_energy(samples.mean(1), 140.0, 10) < 0.1 * _band_energy(samples.mean(1), 140.0 * preset.pitch, 10)


def test_the_voice_goes_only_to_the_trainee_it_is_addressed_to(tmp_path):
    from engine.runtime.protocol import Role, Speak, Voice

    live = _session(tmp_path, seats=3)
    s = live.session
    t0, t1 = s.connect(Role.TRAINEE, seat=0), s.connect(Role.TRAINEE, seat=1)
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    gm.send(Speak.from_samples(_vowel(seconds=0.2), mode="own", seat=1, final=True))
    assert not [m for m in t0.poll() if isinstance(m, Voice)]
    got = [m for m in t1.poll() if isinstance(m, Voice)]
    assert got and all(m.seat == 1 for m in got)
    live.close()


def test_a_malformed_speak_is_refused_and_the_session_goes_on(tmp_path):
    from pydantic import ValidationError

    from engine.runtime.protocol import Role, Speak

    live = _session(tmp_path)
    s = live.session
    gm = s.connect(Role.GAME_MASTER)
    s.start()
    with pytest.raises(ValueError, match="base64"):
        gm.send(Speak(pcm="not base64!"))
    with pytest.raises(ValueError, match="half a sample"):
        gm.send(Speak(pcm="AAAA"))  # three bytes
    with pytest.raises(ValidationError):
        Speak(pcm="", mode="shout")
    with pytest.raises(ValueError, match="no trainee seat"):
        gm.send(Speak.from_samples(np.zeros(480, np.float32), seat=1))  # a one-trainee session
    with pytest.raises(PermissionError):
        s.connect(Role.TRAINEE).send(Speak.from_samples(np.zeros(480, np.float32)))
    s.step()
    assert s.tick == 1
    live.close()


class FakeMicrophone:
    """Stands in for the PortAudio input stream: the test delivers the blocks."""

    opened: list["FakeMicrophone"] = []

    def __init__(self, on_block):
        self.on_block, self.healthy = on_block, True
        FakeMicrophone.opened.append(self)

    def feed(self, samples: np.ndarray) -> None:
        for i in range(0, len(samples), 480):
            self.on_block(samples[i:i + 480].astype(np.float32), time.perf_counter())

    def close(self):
        self.healthy = False


def test_push_to_talk_in_the_console_sends_the_voice_while_the_key_is_held(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from app.console.window import GameMasterConsole
    from engine.runtime.protocol import Role, Voice

    live = _session(tmp_path)
    s = live.session
    trainee = s.connect(Role.TRAINEE)
    s.start()
    console = GameMasterConsole(s.scenario)
    qtbot.addWidget(console)
    FakeMicrophone.opened.clear()
    console.open_microphone = lambda on_block: (FakeMicrophone(on_block), "")
    console.attach(s.connect(Role.GAME_MASTER))
    mic = FakeMicrophone.opened[0]
    voice = _vowel(seconds=0.5)
    mic.feed(voice)  # not held: nothing is sent
    time.sleep(0.2)
    assert not [m for m in trainee.poll() if isinstance(m, Voice)]
    console.voice_box.avatar.setChecked(True)
    qtbot.keyPress(console, Qt.Key.Key_F2)
    assert console.voice_box.talking
    mic.feed(voice)
    qtbot.keyRelease(console, Qt.Key.Key_F2)
    got = []
    qtbot.waitUntil(lambda: got.extend(m.samples for m in trainee.poll() if isinstance(m, Voice)) or
                    sum(len(g) for g in got) > 0.9 * len(voice), timeout=5000)
    assert not console.voice_box.talking
    console.close()
    live.close()


def test_no_microphone_is_a_clear_note_and_a_plugged_in_one_is_picked_up(monkeypatch):
    import app.audio.microphone as mic_mod
    from app.audio.microphone import PushToTalk

    answers = [(None, "no microphone (no device); plug one in"), None, None]
    FakeMicrophone.opened.clear()

    def open_mic(on_block):
        a = answers.pop(0)
        return a if a is not None else (FakeMicrophone(on_block), "")

    monkeypatch.setattr(mic_mod, "REOPEN_S", 0.0)
    sent = []
    ptt = PushToTalk(sent.append, open_mic)
    assert not ptt.available and "plug one in" in ptt.note
    ptt._retry_at = time.monotonic()
    assert ptt.check() == "" and ptt.available  # plugged in
    first = ptt.mic
    first.healthy = False  # unplugged: dropped, and (REOPEN_S = 0) reopened at once
    assert ptt.check() == "" and ptt.mic is FakeMicrophone.opened[1] and ptt.mic is not first
    ptt.close()


def test_a_remote_trainee_hears_the_game_masters_voice_over_the_network(tmp_path):
    pytest.importorskip("websockets")
    from engine.net.client import RemoteClient
    from engine.net.server import SessionServer
    from engine.net.tls import load_or_make_certificate
    from engine.runtime.protocol import Speak, Voice
    from engine.runtime.runner import SessionRunner

    live = _session(tmp_path)
    server = SessionServer(live.session, load_or_make_certificate(tmp_path / "tls")).start()
    runner = SessionRunner(live.session, paced=True)
    runner.start()
    try:
        trainee = RemoteClient(server.url, server.codes()["trainee"])
        gm = RemoteClient(server.url, server.codes()["game_master"])
        voice = _vowel(f0=150.0, seconds=1.0)
        for i in range(0, len(voice), 960):
            gm.send(Speak.from_samples(voice[i:i + 960], mode="own", final=i + 960 >= len(voice)))
            time.sleep(0.02)
        got, end = [], time.monotonic() + 3.0
        while time.monotonic() < end and sum(len(g) for g in got) < 0.9 * len(voice):
            got += [m.samples for m in trainee.poll() if isinstance(m, Voice)]
            time.sleep(0.02)
        heard = np.concatenate(got)
        assert len(heard) > 0.9 * len(voice)
        assert f0_median(heard.mean(1), SAMPLE_RATE) == pytest.approx(150.0, rel=0.03)
        trainee.close()
        gm.close()
    finally:
        runner.stop()
        runner.join(5)
        server.close()
        live.close()


def test_the_device_dialog_offers_the_default_and_keeps_the_choice(qtbot, monkeypatch):
    pytest.importorskip("pytestqt")
    import app.audio.devices as devices
    from app.console.voice import DevicesDialog

    store = {}

    class Settings:
        def value(self, key, default=""):
            return store.get(key, default)

        def setValue(self, key, value):  # noqa: N802 - Qt's name
            store[key] = value

    monkeypatch.setattr(devices, "_settings", Settings)
    monkeypatch.setattr(devices, "list_devices", lambda kind: (
        [devices.AudioDevice(3, "USB headset", "ALSA", 1, 2)], ""))
    dialog = DevicesDialog()
    qtbot.addWidget(dialog)
    assert [dialog.boxes["output"].itemText(i) for i in range(2)] == ["System default", "USB headset (ALSA)"]
    dialog.boxes["input"].setCurrentIndex(1)
    dialog.accept()
    assert store == {"input": "USB headset", "output": ""}
    assert devices.chosen_device("input") == "USB headset" and devices.chosen_device("output") is None
    monkeypatch.setattr(devices, "list_devices", lambda kind: ([], "no input device found: plug one in"))
    assert devices.chosen_device("input") is None  # unplugged: the default again


def _recording_with_sound(folder: Path) -> np.ndarray:
    """A 40-tick recording whose sound is a 440 Hz tone on ticks 10–19 and silence
    elsewhere; returns the samples written."""
    from engine.recording import Recorder

    r = Recorder(folder, tick_hz=20, scale=2)
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2400) / SAMPLE_RATE)).astype(np.float32)
    written = []
    for t in range(40):
        r.write_frame(t, np.full((32, 32, 3), 6 * t, np.uint8))
        block = np.stack([tone, tone], 1) if 10 <= t < 20 else np.zeros((2400, 2), np.float32)
        r.write_audio(t, block, SAMPLE_RATE)
        written.append(block)
    r.close()
    return np.concatenate(written)


def test_an_exported_clip_keeps_the_sound_of_its_ticks(tmp_path):
    import av

    from engine.recording import read_recording
    from engine.recording.debrief import export_video

    _recording_with_sound(tmp_path / "rec")
    clip = export_video(read_recording(tmp_path / "rec"), tmp_path / "clip.mp4", start_tick=15, end_tick=24)
    with av.open(str(clip)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        audio = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])  # planar: the left channel
    rate = SAMPLE_RATE
    # ticks 15–19 carry the tone, 20–24 are silent: the first half of the clip is loud
    first, second = audio[: int(0.2 * rate)], audio[int(0.3 * rate): int(0.45 * rate)]
    assert np.sqrt((first ** 2).mean()) > 0.2 and np.sqrt((second ** 2).mean()) < 0.01


def test_the_debrief_plays_the_sound_with_the_frames(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from app.debrief.window import DebriefWindow

    written = _recording_with_sound(tmp_path / "rec")

    class FakeOutput:
        def __init__(self):
            self.blocks = []

        def push(self, samples):
            self.blocks.append(np.array(samples))

        def clear(self):
            self.blocks.append(None)

        def close(self):
            pass

    w = DebriefWindow(tmp_path / "rec")
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.data is not None, timeout=10_000)
    w.sound_output = FakeOutput()
    w.seek(10)
    w.toggle_play()
    qtbot.waitUntil(lambda: not w.playing, timeout=5_000)  # ticks 10..39 at 20 Hz
    blocks = w.sound_output.blocks
    assert blocks[0] is None  # cleared when play started
    played = np.concatenate([b for b in blocks[1:] if b is not None])
    np.testing.assert_allclose(played, written[10 * 2400: 10 * 2400 + len(played)], atol=1e-4)
    assert len(played) >= 29 * 2400  # the sound up to the end
