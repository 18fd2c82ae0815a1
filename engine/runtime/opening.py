"""The scenario's opening: its prompt (text + opening frame) and the floor plan, if known."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.interface import Prompt
from ..world.scene import Scene, make_scene


class OpeningImageError(ValueError):
    """The scenario's opening image cannot be read."""


def load_image(path, resolution: int, *, formats: tuple[str, ...] | None = None, name: str | None = None) -> np.ndarray:
    """An image file (a path, or a binary file object such as an image received over the
    network) as uint8 ``(resolution, resolution, 3)``: centre-cropped square, resized.
    ``formats`` limits the file formats Pillow tries (e.g. ``("PNG", "WEBP")``); ``name``
    names a file object in errors.

    Raises :class:`OpeningImageError` naming the file for a missing or unreadable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path, formats=formats) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
            return np.asarray(im, dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        what = name or path
        kinds = " or ".join(formats) if formats else "PNG or JPEG"
        raise OpeningImageError(f"{what}: cannot read the opening image ({exc}); use a {kinds} file") from None


def open_scenario(scenario, resolution: int = 128, renderer=None) -> tuple[Prompt, Scene | None]:
    """The :class:`Prompt` that opens ``scenario``, and the room's :class:`Scene` when the
    opening frame comes from a reference-world preset (None for an image)."""
    w = scenario.world
    if w.room is not None:
        from ..world.renderer import Renderer

        scene = make_scene(w.room, w.seed)
        r = renderer or Renderer(resolution, resolution)
        r.set_scene(scene)
        image = r.render((*scene.start_pose, 0.0), w.initial_state())
        if renderer is None:
            r.release()
        return Prompt(w.prompt, image, room=w.room, seed=w.seed), scene
    return Prompt(w.prompt, load_image(scenario.image_path(), resolution)), None


def open_seats(scenario, prompt: Prompt, scene: Scene | None, resolution: int = 128, renderer=None) -> list[Prompt] | None:
    """Each trainee seat's opening for a scenario with several (None with one): on a room
    preset, the view from each seat's start pose (:func:`engine.world.seats.seat_start_poses`)
    with the other trainees standing beside it; on an image, the image for every seat."""
    from dataclasses import replace

    from ..world.seats import others_seen_by, seat_start_poses

    n = len(scenario.seats)
    if n == 1:
        return None
    if scene is None or prompt.room is None:
        return [prompt] * n
    from ..world.renderer import Renderer

    poses = seat_start_poses(scene, n)
    r = renderer or Renderer(resolution, resolution)
    try:
        r.set_scene(scene)
        state = scenario.world.initial_state()
        return [replace(prompt, image=r.render(pose, state.with_others(others_seen_by(poses, k))))
                for k, pose in enumerate(poses)]
    finally:
        if renderer is None:
            r.release()


def opening_notice(prompt: Prompt, model) -> str | None:
    """What the designer should know about this opening, or None: when the opening frame is
    an image, what the model was trained on (its card's ``trained_on``), since images unlike
    the training data are accepted but the model pulls them towards what it has seen."""
    trained_on = (model.card or {}).get("trained_on")
    if prompt.room is not None or prompt.image is None or not trained_on:
        return None
    return f"The opening frame is your image. This model was trained on {trained_on}"


def open_floor(width: float = 6.0, depth: float = 6.0) -> Scene:
    """An empty room used to track the participant's pose when the floor plan is unknown."""
    return Scene(room_type="unknown", seed=0, width=width, depth=depth, height=3.0, wall_color=(0.5, 0.5, 0.5),
                 floor_color=(0.5, 0.5, 0.5), wall_color_name="", floor_color_name="", light_dir=(0, 1, 0),
                 light_color=(1, 1, 1), ambient=0.4, start_pose=(0.0, depth / 2 - 1.0, 0.0))
