"""Which microphone and which speakers: the devices PortAudio offers, and the user's choice.

The choice is kept in the app's settings (``QSettings("ved", "audio")``, keys ``input`` and
``output``: a device's name, or empty for the system's default) and read whenever a stream
is opened, so a change applies at the next session (or the next reopening after an unplug).
A chosen device that is no longer there falls back to the default, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("input", "output")


@dataclass(frozen=True)
class AudioDevice:
    """A PortAudio device: its ``index``, ``name``, host API and channel counts."""

    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int


def list_devices(kind: str) -> tuple[list[AudioDevice], str]:
    """The devices that can record (``kind="input"``) or play (``"output"``), and a note
    (empty, or why there are none: PortAudio missing, no sound card). Never raises."""
    if kind not in KINDS:
        raise ValueError(f"kind is 'input' or 'output', not {kind!r}")
    try:
        import sounddevice as sd

        apis = [a["name"] for a in sd.query_hostapis()]
        found = [AudioDevice(i, d["name"], apis[d["hostapi"]], d["max_input_channels"], d["max_output_channels"])
                 for i, d in enumerate(sd.query_devices())]
    except OSError as exc:
        return [], f"PortAudio is not installed ({exc}); install libportaudio2"
    except Exception as exc:  # noqa: BLE001 - PortAudioError when the host has no audio system
        return [], f"no sound devices ({exc})"
    usable = [d for d in found if (d.inputs if kind == "input" else d.outputs) > 0]
    return usable, "" if usable else f"no {kind} device found: plug one in"


def _settings():
    from PySide6.QtCore import QSettings

    return QSettings("ved", "audio")


def chosen_device(kind: str) -> str | None:
    """The device name chosen for ``kind`` in the app's settings, None for the default (or
    when that device is not there now)."""
    try:
        name = str(_settings().value(kind, "") or "")
    except ImportError:
        return None
    if not name:
        return None
    devices, _ = list_devices(kind)
    return name if any(d.name == name for d in devices) else None


def choose_device(kind: str, name: str | None) -> None:
    """Keep ``name`` (None: the system's default) as the ``kind`` device in the settings."""
    if kind not in KINDS:
        raise ValueError(f"kind is 'input' or 'output', not {kind!r}")
    _settings().setValue(kind, name or "")
