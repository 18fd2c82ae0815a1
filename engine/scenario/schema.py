"""The scenario file format (version 1): pydantic models of a TOML scenario.

A scenario describes the opening world (a reference-world room preset or an image), the
game master's palette of event buttons and the timed cues of one training session::

    format = 1
    title = "Operating room: unexpected bleeding"
    briefing = "..."
    duration = 600.0              # optional planned session length, seconds

    [world]
    prompt = "An operating room ..."
    room = "operating_room"       # or image = "images/or.png" (relative to the file)
    seed = 7
    lights = 1.0

    [[palette]]
    label = "Bleeding starts"
    event = "bleeding_start"
    key = "B"

    [[cues]]
    at = 12.5
    event = "alarm_on"

    [[roles]]
    name = "Scrub nurse"
    kind = "avatar"               # trainee, game_master, avatar or observer
    brief = "..."

    [headset]                     # optional
    vignette = true               # darken the view's edges while walking
    when_removed = "pause"        # or "continue"

Unknown keys are errors. Validation errors raised here are :class:`pydantic_core.PydanticCustomError`
instances whose message says what is allowed; a ``loc`` entry in their context points at the
offending key when the check spans several fields (see :mod:`engine.scenario.loader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo
from pydantic import field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine.world.scene import ROOM_TYPES
from engine.world.state import EVENT_NAMES, MAX_SEATS, WorldState

SUPPORTED_FORMATS: tuple[int, ...] = (1,)
#: Keyboard keys a palette button may be bound to.
PALETTE_KEYS: tuple[str, ...] = (
    tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + tuple(f"F{i}" for i in range(1, 13))
)


def _non_empty(text: str) -> str:
    text = text.strip()
    if not text:
        raise PydanticCustomError("empty", "must not be empty")
    return text


def _known_event(name: str) -> str:
    if name not in EVENT_NAMES:
        raise PydanticCustomError(
            "unknown_event", f"{name!r} is not a known event; allowed: {', '.join(EVENT_NAMES)}"
        )
    return name


Text = Annotated[str, AfterValidator(_non_empty)]
EventName = Annotated[str, AfterValidator(_known_event)]


class _Model(BaseModel):
    # strict: a TOML string is never silently taken for a number, nor a float for an int.
    model_config = ConfigDict(extra="forbid", strict=True)


class World(_Model):
    """The opening world: a description, and a room preset or an image for the first frame."""

    #: What the world is. The v0 model is not text-conditioned: this is a description only.
    prompt: Text
    #: Reference-world room preset for the opening frame (one of ``ROOM_TYPES``).
    room: str | None = None
    #: Image file for the opening frame, relative to the scenario file.
    image: str | None = None
    #: Scene seed of the room preset.
    seed: int = Field(0, ge=0)
    #: Initial light level, 0 (dark) .. 1 (normal).
    lights: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("room")
    @classmethod
    def _known_room(cls, room: str | None) -> str | None:
        if room is not None and room not in ROOM_TYPES:
            raise PydanticCustomError(
                "unknown_room", f"{room!r} is not a known room; allowed: {', '.join(ROOM_TYPES)}"
            )
        return room

    @field_validator("image")
    @classmethod
    def _image_exists(cls, image: str | None, info: ValidationInfo) -> str | None:
        """With a ``base_dir`` in the validation context, the image file must exist there."""
        if image is None:
            return None
        image = _non_empty(image)
        base_dir = (info.context or {}).get("base_dir")
        if base_dir is not None and not (where := Path(base_dir) / image).is_file():
            raise PydanticCustomError(
                "image_not_found",
                f"image file {image!r} not found (looked for {str(where)!r}); "
                "allowed: an existing image file, path relative to the scenario file",
            )
        return image

    @model_validator(mode="after")
    def _room_or_image(self) -> World:
        if (self.room is None) == (self.image is None):
            both = self.room is not None
            raise PydanticCustomError(
                "room_or_image",
                f"give exactly one of 'room' (one of: {', '.join(ROOM_TYPES)}) or 'image' (an "
                f"image file relative to the scenario file), {'not both' if both else 'not neither'}",
                {"loc": ("world", "image") if both else ("world",)},
            )
        return self

    def initial_state(self) -> WorldState:
        """The world state at tick 0 (lights level from the scenario, nothing else active)."""
        return WorldState(light=self.lights)


class PaletteButton(_Model):
    """A button on the game master's console that fires one event."""

    label: Text
    event: EventName
    #: Keyboard shortcut: one of ``PALETTE_KEYS`` (letters are normalised to upper case).
    key: str | None = None
    note: str | None = None

    @field_validator("key")
    @classmethod
    def _valid_key(cls, key: str | None) -> str | None:
        if key is not None and key.strip().upper() not in PALETTE_KEYS:
            raise PydanticCustomError("bad_key", f"{key!r} is not a usable key; allowed: A-Z, 0-9, F1-F12")
        return None if key is None else key.strip().upper()


class Cue(_Model):
    """An event fired automatically ``at`` seconds after the session starts."""

    at: float = Field(ge=0.0, allow_inf_nan=False)
    event: EventName
    note: str | None = None


#: Who a role is: the participant, the supervisor, a person in the scene the game master
#: plays (an avatar), or someone who only watches.
ROLE_KINDS: tuple[str, ...] = ("trainee", "game_master", "avatar", "observer")


class HeadsetSettings(_Model):
    """How the trainee is shown the world in a headset (the ``[headset]`` table).

    ``vignette``: darken the edges of the view while the trainee walks with the controller
    (a comfort vignette, against simulator sickness); ``when_removed``: what the session does
    when a trainee takes the headset off or its runtime goes away — ``"pause"`` the clock
    until it is back on, or ``"continue"``.
    """

    vignette: bool = True
    when_removed: Literal["pause", "continue"] = "pause"


class SoundSettings(_Model):
    """The world's sounds (the ``[sounds]`` table; :mod:`engine.audio`): the ``alarm``
    (``"iec_high"``: the high-priority pattern of IEC 60601-1-8, or ``"off"``), the patient
    ``monitor``'s beep, whose rate rises as the patient bleeds (unset: where the room has a
    monitor), the ``room_tone``, ``footsteps`` of a person entering or leaving, and the
    overall ``volume`` (0–1)."""

    alarm: Literal["iec_high", "off"] = "iec_high"
    monitor: bool | None = None
    room_tone: bool = True
    footsteps: bool = True
    volume: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)


class ScenarioRole(_Model):
    """A person the scenario involves, with what they should know (shown to the game master).

    ``kind`` is one of ``ROLE_KINDS``; an ``avatar`` is a person in the world voiced or
    played by the game master (AVATAR therapy's voice, a scrub nurse).
    """

    name: Text
    kind: Literal["trainee", "game_master", "avatar", "observer"]
    brief: str | None = None
    #: An avatar's voice: a preset of :data:`engine.audio.voice.VOICE_PRESETS` that the game
    #: master's voice is transformed into when speaking as this avatar.
    voice: str | None = None

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, voice: str | None) -> str | None:
        from engine.audio.voice import VOICE_PRESETS

        if voice is not None and voice not in VOICE_PRESETS:
            raise PydanticCustomError("unknown_voice",
                                      f"{voice!r} is not a voice preset; allowed: {', '.join(VOICE_PRESETS)}")
        return voice


class Scenario(_Model):
    """A training scenario. ``source_path`` (the file it came from) is not part of equality."""

    format: int
    title: Text
    briefing: Text
    #: Planned session length in seconds (None: open-ended).
    duration: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    world: World
    palette: list[PaletteButton] = []
    cues: list[Cue] = []
    roles: list[ScenarioRole] = []
    headset: HeadsetSettings = HeadsetSettings()
    sounds: SoundSettings = SoundSettings()

    _source_path: Path | None = PrivateAttr(None)

    @field_validator("format")
    @classmethod
    def _supported(cls, version: int) -> int:
        if version not in SUPPORTED_FORMATS:
            raise PydanticCustomError(
                "unsupported_format",
                f"format {version} is not supported; supported: {', '.join(map(str, SUPPORTED_FORMATS))}",
            )
        return version

    @model_validator(mode="after")
    def _unique_keys(self) -> Scenario:
        seen: dict[str, int] = {}
        for i, button in enumerate(self.palette):
            if button.key is None:
                continue
            if button.key in seen:
                raise PydanticCustomError(
                    "duplicate_key",
                    f"key {button.key!r} is already used by palette[{seen[button.key]}]; each key "
                    "may be bound to one button only (allowed: A-Z, 0-9, F1-F12 not used elsewhere)",
                    {"loc": ("palette", i, "key")},
                )
            seen[button.key] = i
        return self

    @model_validator(mode="after")
    def _seats(self) -> Scenario:
        trainees = [i for i, r in enumerate(self.roles) if r.kind == "trainee"]
        if len(trainees) > MAX_SEATS:
            raise PydanticCustomError(
                "too_many_seats",
                f"{len(trainees)} trainee roles; a session holds at most {MAX_SEATS} trainees (one seat each): "
                "make the others observers or avatars",
                {"loc": ("roles", trainees[MAX_SEATS], "kind")},
            )
        names = [self.roles[i].name for i in trainees]
        for j, i in enumerate(trainees):
            if names.index(names[j]) != j:
                raise PydanticCustomError(
                    "duplicate_seat", f"trainee role {names[j]!r} is named twice; each trainee seat needs its own name",
                    {"loc": ("roles", i, "name")},
                )
        return self

    @property
    def seats(self) -> list[str]:
        """The trainee seats, seat 0 first: the names of the ``trainee`` roles, in file order,
        or ``["Trainee"]`` when the scenario names none."""
        return [r.name for r in self.roles if r.kind == "trainee"] or ["Trainee"]

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Scenario) and self.model_dump() == other.model_dump()

    @property
    def source_path(self) -> Path | None:
        """The file this scenario was loaded from (None if it came from a string)."""
        return self._source_path

    @source_path.setter
    def source_path(self, path: str | Path | None) -> None:
        self._source_path = None if path is None else Path(path)

    def image_path(self) -> Path | None:
        """The opening image resolved against the scenario file's folder; None if a room is used."""
        if self.world.image is None:
            return None
        base = self._source_path.parent if self._source_path is not None else Path()
        return base / self.world.image

    def cue_ticks(self, tick_hz: float = 20) -> list[tuple[int, str]]:
        """The cues as ``(tick, event)`` pairs, ``tick = round(at * tick_hz)``, sorted by tick."""
        return sorted(((round(c.at * tick_hz), c.event) for c in self.cues), key=lambda t: t[0])

    def palette_events(self) -> list[str]:
        """The events the palette can fire, in palette order, each listed once."""
        return list(dict.fromkeys(b.event for b in self.palette))
