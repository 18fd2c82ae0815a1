"""Procedural scene graph of the reference world (work in progress)."""
ROOM_TYPES: tuple[str, ...] = ("operating_room", "therapy_room", "classroom")
