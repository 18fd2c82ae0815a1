"""The device layer through PortAudio itself, on a virtual device: ALSA's ``null`` plugin,
declared in a throw-away ``.asoundrc`` (this machine has no sound card). The null device is
not clocked (its callbacks run as fast as the CPU allows), so these tests check that the
streams open, call back, play what was queued and close, not timing; the latency figures
(``ved bench --voice``) drive the same callbacks from clocked stand-ins instead. Each runs
in a subprocess: PortAudio reads the ALSA configuration once, when it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASOUNDRC = """pcm.ved_null {
    type null
    hint { show on description "ved virtual null device" }
}
"""


def _run(tmp_path: Path, code: str) -> dict:
    pytest.importorskip("sounddevice")
    (tmp_path / ".asoundrc").write_text(ASOUNDRC)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    if out.returncode == 3:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_output_plays_the_world_and_the_voice_on_a_portaudio_device(tmp_path):
    r = _run(tmp_path, """
        import json, sys, time
        import numpy as np
        from app.audio.devices import list_devices
        names = [d.name for d in list_devices("output")[0]]
        if "ved_null" not in names:
            print("PortAudio offers no ALSA null device here:", names); sys.exit(3)
        from app.audio.output import open_output
        out, note = open_output("ved_null")
        pulled = []
        real = out.voice.pull
        out.voice.pull = lambda n: (pulled.append(n), real(n))[1]
        out.push(np.full((2400, 2), 0.1, np.float32))
        out.push(np.full((2400, 2), 0.1, np.float32))
        out.push_voice(np.full((1920, 2), 0.2, np.float32))
        time.sleep(0.3)
        r = {"note": note, "healthy": out.healthy, "world_left": out.buffer.queued, "voice_left": out.voice.queued,
             "voice_pulled": sum(pulled)}
        out.close()
        print(json.dumps(r))
    """)
    assert r["note"] == "" and r["healthy"]
    assert r["world_left"] == 0 and r["voice_left"] == 0 and r["voice_pulled"] >= 1920  # all played


def test_the_microphone_delivers_blocks_and_push_to_talk_sends_them(tmp_path):
    r = _run(tmp_path, """
        import json, sys, time
        from app.audio.devices import list_devices
        if "ved_null" not in [d.name for d in list_devices("input")[0]]:
            print("PortAudio offers no ALSA null device here"); sys.exit(3)
        from app.audio.microphone import PushToTalk, open_microphone
        sent = []
        ptt = PushToTalk(sent.append, lambda on_block: open_microphone(on_block, "ved_null"))
        time.sleep(0.05)
        before = len(sent)
        ptt.press("own")
        time.sleep(0.05)
        ptt.release()
        time.sleep(0.3)
        ptt.close()
        kinds = [type(s).__name__ for s in sent]
        print(json.dumps({"note": ptt.note, "before": before, "sent": len(sent), "kinds": sorted(set(kinds)),
                          "final": bool(sent) and sent[-1].final, "block": len(sent[0].samples()) if sent else 0}))
    """)
    assert r["note"] == "" and r["before"] == 0  # nothing is sent until the key is held
    assert r["sent"] >= 1 and r["kinds"] == ["Speak"] and r["final"] and r["block"] >= 960


def test_without_a_device_the_layer_says_so_in_one_line(tmp_path):
    r = _run(tmp_path, """
        import json
        from app.audio.devices import list_devices
        from app.audio.microphone import open_microphone
        from app.audio.output import open_output
        out, note = open_output("no such device")
        mic, mic_note = open_microphone(lambda *a: None, "no such device")
        print(json.dumps({"out": out is None, "note": note, "mic": mic is None, "mic_note": mic_note}))
    """)
    assert r["out"] and r["mic"]
    assert "goes on silently" in r["note"] and "\\n" not in r["note"]
    assert "plug one in" in r["mic_note"]
