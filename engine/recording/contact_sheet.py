"""The contact sheet: a grid of evenly spaced frames, each labelled with its tick and time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Contact sheet layout (pixels).
SHEET_MAX_TILES = 16
SHEET_TILE_MAX = 256  # longest side of a tile
SHEET_PAD = 6
SHEET_LABEL_H = 22



# --------------------------------------------------------------------------
# Contact sheet
# --------------------------------------------------------------------------


def contact_sheet_layout(n: int, shape: tuple[int, int], scale: int) -> dict:
    """Geometry of a contact sheet of ``n`` tiles of native ``shape`` (H, W).

    Tiles are the native frame upscaled (nearest neighbour) by the integer
    factor ``max(1, min(scale, SHEET_TILE_MAX // longest_side))``; a frame whose
    longer side exceeds ``SHEET_TILE_MAX`` is shrunk to fit instead.  Tiles are
    laid out ``cols = ceil(sqrt(n))`` wide, each with a ``SHEET_LABEL_H`` pixel
    label strip under it and ``SHEET_PAD`` pixels around.  Returns a dict with ``cols``,
    ``rows``, ``tile_w``, ``tile_h``, ``width``, ``height`` (pixels).
    """
    h, w = shape
    longest = max(h, w)
    factor = max(1, min(scale, SHEET_TILE_MAX // longest)) if longest <= SHEET_TILE_MAX else None
    if factor is not None:
        tile_w, tile_h = w * factor, h * factor
    else:
        r = SHEET_TILE_MAX / longest
        tile_w, tile_h = max(1, round(w * r)), max(1, round(h * r))
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    width = SHEET_PAD + cols * (tile_w + SHEET_PAD)
    height = SHEET_PAD + rows * (tile_h + SHEET_LABEL_H + SHEET_PAD)
    return {"cols": cols, "rows": rows, "tile_w": tile_w, "tile_h": tile_h, "width": width, "height": height}


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow without FreeType
        return ImageFont.load_default()


def render_contact_sheet(
    frames: list[tuple[int, np.ndarray]], shape: tuple[int, int], scale: int, tick_hz: int
) -> Image.Image:
    """Draw ``(tick, frame uint8 HxWx3)`` pairs as a grid on a dark background,
    each tile labelled ``"tick T  S.SS s"`` underneath.  Returns an RGB image
    of the size given by :func:`contact_sheet_layout`."""
    lay = contact_sheet_layout(len(frames), shape, scale)
    sheet = Image.new("RGB", (lay["width"], lay["height"]), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = _font(14)
    for k, (tick, frame) in enumerate(frames):
        r, c = divmod(k, lay["cols"])
        x = SHEET_PAD + c * (lay["tile_w"] + SHEET_PAD)
        y = SHEET_PAD + r * (lay["tile_h"] + SHEET_LABEL_H + SHEET_PAD)
        tile = Image.fromarray(frame, "RGB").resize((lay["tile_w"], lay["tile_h"]), Image.Resampling.NEAREST)
        sheet.paste(tile, (x, y))
        draw.text((x + 2, y + lay["tile_h"] + 3), f"tick {tick}  {tick / tick_hz:.2f} s", fill=(230, 230, 230), font=font)
    return sheet
