"""Procedural scene graph of the reference world.

A :class:`Scene` is a room (size, wall/floor colours, lighting) plus furniture built from
boxes and discs, generated from ``(room_type, seed)``. It is pure data (numpy, no GL): the
renderer turns it into triangles, the exploration policy uses its footprints for collision,
and :meth:`Scene.caption` describes it in words.

Coordinates: metres, y up, floor at ``y = 0``, the room centred on the origin with
``x`` in ``[-width/2, width/2]`` and ``z`` in ``[-depth/2, depth/2]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ROOM_TYPES: tuple[str, ...] = ("operating_room", "therapy_room", "classroom")

# Surface kinds, passed to the shader per vertex.
SURFACE = 0.0  # lit diffuse surface
EMISSIVE = 1.0  # screens, lamps: not affected by the room light
BEACON = 2.0  # the alarm beacon: dark when off, glowing red when the alarm is on
FLOOR = 3.0  # lit, with a tile pattern (gives the eye and the model a motion cue)


@dataclass(frozen=True)
class Part:
    """One primitive: ``shape`` is ``"box"`` or ``"disc"`` (a cylinder).

    ``center`` and ``size`` are metres (``size`` is the full extent along x, y, z; for a
    disc x and z are the diameter), ``yaw`` radians about the y axis, ``color`` linear RGB
    in 0..1, ``kind`` one of the surface kinds above.
    """

    shape: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[float, float, float]
    yaw: float = 0.0
    kind: float = SURFACE


@dataclass
class SceneObject:
    """A named piece of furniture made of parts, with a floor footprint for collision."""

    kind: str
    parts: list[Part]
    #: Axis-aligned floor footprint ``(xmin, zmin, xmax, zmax)`` in metres, or None if
    #: the participant can walk through/under it (rugs, ceiling lamps, wall boards).
    footprint: tuple[float, float, float, float] | None


@dataclass
class Scene:
    """A generated room. See the module docstring for coordinates."""

    room_type: str
    seed: int
    width: float
    depth: float
    height: float
    wall_color: tuple[float, float, float]
    floor_color: tuple[float, float, float]
    wall_color_name: str
    floor_color_name: str
    light_dir: tuple[float, float, float]
    light_color: tuple[float, float, float]
    ambient: float
    objects: list[SceneObject] = field(default_factory=list)
    #: Where a blood pool spreads: (x, y, z) metres, and the largest radius.
    bleed_site: tuple[float, float, float] = (0.0, 0.01, 0.0)
    bleed_radius: float = 0.5
    avatar_colors: tuple[tuple[float, float, float], ...] = ()
    start_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)

    # ------------------------------------------------------------------ queries
    def footprints(self) -> list[tuple[float, float, float, float]]:
        return [o.footprint for o in self.objects if o.footprint is not None]

    def is_free(self, x: float, z: float, margin: float = 0.3) -> bool:
        """True if a participant (radius ``margin`` metres) can stand at ``(x, z)``."""
        if abs(x) > self.width / 2 - margin or abs(z) > self.depth / 2 - margin:
            return False
        for x0, z0, x1, z1 in self.footprints():
            if x0 - margin < x < x1 + margin and z0 - margin < z < z1 + margin:
                return False
        return True

    def caption(self) -> str:
        """One sentence describing the room, from the scene graph."""
        counts: dict[str, int] = {}
        for o in self.objects:
            if o.kind in _HIDDEN_KINDS:
                continue
            counts[o.kind] = counts.get(o.kind, 0) + 1
        words = [_count_words(n, _NOUNS.get(k, k.replace("_", " "))) for k, n in counts.items()]
        listed = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
        light = "warm" if self.light_color[0] > self.light_color[2] + 0.05 else (
            "cool" if self.light_color[2] > self.light_color[0] + 0.05 else "neutral")
        bright = "bright" if self.ambient > 0.42 else "soft"
        return (
            f"{_ARTICLE[self.room_type]} {self.room_type.replace('_', ' ')} with "
            f"{self.wall_color_name} walls and a {self.floor_color_name} floor, {listed}; "
            f"{bright} {light} light."
        )

    def params(self) -> dict:
        """Scene parameters for the dataset (JSON-serialisable)."""
        return {
            "room_type": self.room_type,
            "seed": self.seed,
            "size_m": [self.width, self.depth, self.height],
            "wall_color": list(self.wall_color),
            "floor_color": list(self.floor_color),
            "wall_color_name": self.wall_color_name,
            "floor_color_name": self.floor_color_name,
            "light_dir": list(self.light_dir),
            "light_color": list(self.light_color),
            "ambient": self.ambient,
            "objects": [o.kind for o in self.objects],
            "bleed_site": list(self.bleed_site),
            "bleed_radius": self.bleed_radius,
            "avatar_colors": [list(c) for c in self.avatar_colors],
        }


_ARTICLE = {"operating_room": "an", "therapy_room": "a", "classroom": "a"}
_HIDDEN_KINDS = {"door", "alarm_beacon", "baseboard"}
_NOUNS = {
    "or_table": "operating table with a patient",
    "surgical_lamp": "surgical lamp",
    "monitor": "monitor",
    "trolley": "instrument trolley",
    "cabinet": "cabinet",
    "sofa": "sofa",
    "armchair": "armchair",
    "coffee_table": "coffee table",
    "plant": "plant",
    "rug": "rug",
    "bookshelf": "bookshelf",
    "desk": "desk",
    "chair": "chair",
    "whiteboard": "whiteboard",
    "teacher_desk": "teacher's desk",
    "floor_lamp": "floor lamp",
}
_NUMBER_WORDS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def _count_words(n: int, noun: str) -> str:
    if n == 1:
        return ("an " if noun[0] in "aeiou" else "a ") + noun
    head, _, tail = noun.partition(" with ")
    plural = head + ("es" if head.endswith(("sh", "ch")) else "s")
    return f"{_NUMBER_WORDS.get(n, str(n))} {plural}" + (f" with {tail}" if tail else "")


# ---------------------------------------------------------------- palettes
_WALLS = {
    "operating_room": [("pale green", (0.55, 0.72, 0.62)), ("light blue", (0.58, 0.70, 0.80)),
                       ("white", (0.82, 0.84, 0.84)), ("teal", (0.35, 0.60, 0.60))],
    "therapy_room": [("beige", (0.80, 0.72, 0.58)), ("sage", (0.62, 0.70, 0.55)),
                     ("lavender", (0.68, 0.62, 0.78)), ("terracotta", (0.78, 0.50, 0.38)),
                     ("cream", (0.88, 0.84, 0.72))],
    "classroom": [("yellow", (0.86, 0.80, 0.48)), ("light grey", (0.72, 0.72, 0.70)),
                  ("pale blue", (0.62, 0.74, 0.86)), ("peach", (0.90, 0.70, 0.56)),
                  ("mint", (0.62, 0.82, 0.68))],
}
_FLOORS = {
    "operating_room": [("grey", (0.45, 0.47, 0.48)), ("blue-grey", (0.38, 0.44, 0.52)),
                       ("green-grey", (0.40, 0.50, 0.45))],
    "therapy_room": [("wooden", (0.52, 0.36, 0.22)), ("light wooden", (0.70, 0.55, 0.38)),
                     ("dark wooden", (0.34, 0.23, 0.15)), ("grey carpet", (0.42, 0.42, 0.44))],
    "classroom": [("linoleum", (0.56, 0.52, 0.44)), ("blue", (0.30, 0.38, 0.55)),
                  ("wooden", (0.55, 0.40, 0.26)), ("grey", (0.48, 0.48, 0.48))],
}
_FABRICS = [(0.55, 0.22, 0.20), (0.22, 0.35, 0.55), (0.30, 0.48, 0.32), (0.60, 0.52, 0.30),
            (0.40, 0.30, 0.45), (0.30, 0.30, 0.32)]
_WOODS = [(0.50, 0.34, 0.20), (0.62, 0.48, 0.32), (0.36, 0.25, 0.16), (0.72, 0.62, 0.46)]
_SKINS = [(0.95, 0.78, 0.64), (0.80, 0.60, 0.45), (0.55, 0.38, 0.26), (0.36, 0.25, 0.18)]
_CLOTHES = [(0.20, 0.30, 0.60), (0.60, 0.20, 0.25), (0.25, 0.50, 0.35), (0.85, 0.85, 0.85),
            (0.15, 0.15, 0.18), (0.70, 0.55, 0.20)]
_SCRUBS = (0.25, 0.55, 0.55)
#: The other participants' clothes by seat (shirt, trousers) and skin: distinct hues, so a
#: trainee can tell who is who and the model can learn each seat's look.
SEAT_COLORS: tuple[tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((0.95, 0.50, 0.08), (0.20, 0.20, 0.24), (0.93, 0.76, 0.62)),  # seat 0: orange
    ((0.12, 0.32, 0.92), (0.18, 0.18, 0.20), (0.62, 0.44, 0.32)),  # seat 1: blue
    ((0.72, 0.16, 0.78), (0.24, 0.20, 0.18), (0.80, 0.62, 0.48)),  # seat 2: magenta
)
_METAL = (0.70, 0.72, 0.74)


def _jitter(rng: np.random.Generator, c: tuple[float, float, float], amount: float = 0.05):
    return tuple(float(np.clip(v + rng.uniform(-amount, amount), 0.0, 1.0)) for v in c)


# ---------------------------------------------------------------- furniture builders
def _box(c, s, col, yaw=0.0, kind=SURFACE) -> Part:
    return Part("box", tuple(map(float, c)), tuple(map(float, s)), tuple(map(float, col)), float(yaw), kind)


def _disc(c, s, col, kind=SURFACE) -> Part:
    return Part("disc", tuple(map(float, c)), tuple(map(float, s)), tuple(map(float, col)), 0.0, kind)


def _rotate(dx: float, dz: float, yaw: float) -> tuple[float, float]:
    c, s = np.cos(yaw), np.sin(yaw)
    return dx * c + dz * s, -dx * s + dz * c


def _local(x, z, yaw, parts_local):
    """Place parts given in object-local coordinates (dx, y, dz) at (x, z) turned by yaw."""
    out = []
    for p in parts_local:
        dx, y, dz = p.center
        rx, rz = _rotate(dx, dz, yaw)
        out.append(Part(p.shape, (x + rx, y, z + rz), p.size, p.color, p.yaw + yaw, p.kind))
    return out


def _footprint(x, z, yaw, w, d):
    """Axis-aligned bounds of a w×d rectangle at (x, z) turned by yaw."""
    c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
    hw, hd = (w * c + d * s) / 2, (w * s + d * c) / 2
    return (x - hw, z - hd, x + hw, z + hd)


def humanoid_parts(skin, shirt, trousers, *, lying: bool = False) -> list[Part]:
    """A simple humanoid of boxes (1.7 m tall), local coordinates, facing +z when standing.

    ``lying=True`` lays it on its back along the x axis with its back at ``y = 0``.
    """
    standing = [
        _box((-0.1, 0.42, 0), (0.13, 0.84, 0.16), trousers),
        _box((0.1, 0.42, 0), (0.13, 0.84, 0.16), trousers),
        _box((0, 1.13, 0), (0.42, 0.6, 0.24), shirt),
        _box((-0.28, 1.12, 0), (0.1, 0.6, 0.12), shirt),
        _box((0.28, 1.12, 0), (0.1, 0.6, 0.12), shirt),
        _box((0, 1.55, 0), (0.2, 0.24, 0.22), skin),
        _box((0, 1.69, -0.01), (0.21, 0.06, 0.23), (0.2, 0.14, 0.1)),  # hair
    ]
    if not lying:
        return standing
    # Rotate about z so height runs along x; back lies at y = 0.
    out = []
    for p in standing:
        dx, y, dz = p.center
        sx, sy, sz = p.size
        out.append(Part(p.shape, (y - 0.85, dz + 0.12, dx), (sy, sz, sx), p.color, 0.0, p.kind))
    return out


def seat_parts(seat: int) -> list[Part]:
    """The humanoid of another participant on ``seat`` (local coordinates, facing +z), in
    that seat's colours (:data:`SEAT_COLORS`)."""
    shirt, trousers, skin = SEAT_COLORS[seat]
    return humanoid_parts(skin, shirt, trousers)


def _furniture(kind: str, x: float, z: float, yaw: float, rng: np.random.Generator) -> SceneObject:
    wood = _jitter(rng, _WOODS[rng.integers(len(_WOODS))])
    fabric = _jitter(rng, _FABRICS[rng.integers(len(_FABRICS))])
    if kind == "or_table":
        parts = [_box((0, 0.45, 0), (0.4, 0.9, 0.4), _METAL), _box((0, 0.92, 0), (2.0, 0.08, 0.65), (0.2, 0.25, 0.3))]
        parts += [Part(p.shape, (p.center[0], p.center[1] + 0.96, p.center[2]), p.size, p.color)
                  for p in humanoid_parts(_SKINS[rng.integers(4)], (0.55, 0.7, 0.75), (0.55, 0.7, 0.75), lying=True)]
        parts.append(_box((0.15, 1.05, 0), (1.0, 0.06, 0.6), (0.35, 0.60, 0.70)))  # drape
        w, d = 2.0, 0.65
    elif kind == "surgical_lamp":
        parts = [_box((0, 2.5, 0), (0.06, 0.5, 0.06), _METAL), _disc((0, 2.2, 0), (0.7, 0.12, 0.7), _METAL),
                 _disc((0, 2.13, 0), (0.55, 0.03, 0.55), (1.0, 1.0, 0.92), EMISSIVE)]
        return SceneObject(kind, _local(x, z, yaw, parts), None)
    elif kind == "monitor":
        screen = (0.1, 0.5 + 0.3 * rng.random(), 0.3)
        parts = [_box((0, 0.6, 0), (0.08, 1.2, 0.08), _METAL), _box((0, 0.03, 0), (0.5, 0.06, 0.5), _METAL),
                 _box((0, 1.45, 0), (0.6, 0.42, 0.08), (0.1, 0.1, 0.12)),
                 _box((0, 1.45, 0.045), (0.52, 0.34, 0.01), screen, kind=EMISSIVE)]
        w, d = 0.5, 0.5
    elif kind == "trolley":
        parts = [_box((0, 0.45, 0), (0.8, 0.05, 0.5), _METAL), _box((0, 0.9, 0), (0.8, 0.05, 0.5), _METAL),
                 _box((0, 0.45, -0.22), (0.78, 0.9, 0.03), _METAL),
                 _box((0.1, 0.95, 0.05), (0.4, 0.04, 0.25), (0.3, 0.55, 0.75))]
        w, d = 0.8, 0.5
    elif kind == "cabinet":
        col = _jitter(rng, (0.85, 0.86, 0.86) if rng.random() < 0.5 else wood)
        parts = [_box((0, 0.95, 0), (0.9, 1.9, 0.5), col), _box((0, 0.95, 0.255), (0.02, 1.7, 0.01), (0.2, 0.2, 0.2))]
        w, d = 0.9, 0.5
    elif kind == "sofa":
        parts = [_box((0, 0.22, 0), (1.9, 0.44, 0.85), fabric), _box((0, 0.6, -0.33), (1.9, 0.6, 0.2), fabric),
                 _box((-0.88, 0.35, 0), (0.16, 0.7, 0.85), fabric), _box((0.88, 0.35, 0), (0.16, 0.7, 0.85), fabric)]
        w, d = 1.9, 0.85
    elif kind == "armchair":
        parts = [_box((0, 0.22, 0), (0.85, 0.44, 0.8), fabric), _box((0, 0.62, -0.3), (0.85, 0.6, 0.2), fabric),
                 _box((-0.36, 0.35, 0), (0.14, 0.6, 0.8), fabric), _box((0.36, 0.35, 0), (0.14, 0.6, 0.8), fabric)]
        w, d = 0.85, 0.8
    elif kind == "coffee_table":
        parts = [_box((0, 0.4, 0), (1.0, 0.05, 0.55), wood)] + [
            _box((sx * 0.45, 0.19, sz * 0.23), (0.05, 0.38, 0.05), wood) for sx in (-1, 1) for sz in (-1, 1)]
        w, d = 1.0, 0.55
    elif kind == "plant":
        green = _jitter(rng, (0.20, 0.50, 0.22), 0.08)
        parts = [_disc((0, 0.2, 0), (0.35, 0.4, 0.35), (0.62, 0.36, 0.22)),
                 _box((0, 0.75, 0), (0.55, 0.7, 0.55), green, yaw=0.4), _box((0, 1.05, 0), (0.4, 0.4, 0.4), green, yaw=1.1)]
        w, d = 0.45, 0.45
    elif kind == "floor_lamp":
        parts = [_disc((0, 0.02, 0), (0.35, 0.04, 0.35), (0.2, 0.2, 0.2)), _box((0, 0.8, 0), (0.04, 1.6, 0.04), (0.2, 0.2, 0.2)),
                 _disc((0, 1.6, 0), (0.4, 0.3, 0.4), (1.0, 0.92, 0.7), EMISSIVE)]
        w, d = 0.35, 0.35
    elif kind == "rug":
        col = _jitter(rng, _FABRICS[rng.integers(len(_FABRICS))], 0.08)
        parts = [_box((0, 0.005, 0), (2.2, 0.01, 1.6), col)]
        return SceneObject(kind, _local(x, z, yaw, parts), None)
    elif kind == "bookshelf":
        parts = [_box((0, 0.9, 0), (1.0, 1.8, 0.35), wood)] + [
            _box((0, 0.35 + 0.45 * i, 0.1), (0.9, 0.3, 0.2), _jitter(rng, _FABRICS[rng.integers(6)], 0.1)) for i in range(4)]
        w, d = 1.0, 0.35
    elif kind in ("desk", "teacher_desk"):
        big = kind == "teacher_desk"
        tw, td = (1.5, 0.75) if big else (1.0, 0.55)
        parts = [_box((0, 0.74, 0), (tw, 0.04, td), wood)] + [
            _box((sx * (tw / 2 - 0.04), 0.36, sz * (td / 2 - 0.04)), (0.04, 0.72, 0.04), (0.25, 0.25, 0.27))
            for sx in (-1, 1) for sz in (-1, 1)]
        if big:
            parts.append(_box((0, 0.4, -td / 2 + 0.03), (tw, 0.6, 0.03), wood))
        w, d = tw, td
    elif kind == "chair":
        col = _jitter(rng, _FABRICS[rng.integers(len(_FABRICS))])
        parts = [_box((0, 0.45, 0), (0.42, 0.04, 0.42), col), _box((0, 0.72, -0.19), (0.42, 0.5, 0.04), col)] + [
            _box((sx * 0.18, 0.22, sz * 0.18), (0.03, 0.45, 0.03), (0.2, 0.2, 0.2)) for sx in (-1, 1) for sz in (-1, 1)]
        w, d = 0.42, 0.42
    elif kind == "whiteboard":
        parts = [_box((0, 1.45, 0), (2.4, 1.1, 0.04), (0.95, 0.95, 0.95), kind=EMISSIVE),
                 _box((0, 0.88, 0.04), (2.4, 0.04, 0.08), (0.6, 0.6, 0.62))]
        return SceneObject(kind, _local(x, z, yaw, parts), None)
    else:  # pragma: no cover - a programming error in a preset
        raise ValueError(f"unknown furniture kind {kind!r}")
    return SceneObject(kind, _local(x, z, yaw, parts), _footprint(x, z, yaw, w, d))


# ---------------------------------------------------------------- room presets
def _place(scene: Scene, kind: str, rng: np.random.Generator, *, against_wall: bool, yaw: float | None = None,
           size: tuple[float, float] = (1.0, 1.0), tries: int = 40) -> bool:
    """Place ``kind`` at a random free spot (optionally backed onto a wall, facing in)."""
    hw, hd = scene.width / 2, scene.depth / 2
    for _ in range(tries):
        if against_wall:
            wall = rng.integers(4)
            off = max(size) / 2 + 0.05
            if wall == 0:
                x, z, a = rng.uniform(-hw + 1, hw - 1), -hd + size[1] / 2 + 0.05, 0.0
            elif wall == 1:
                x, z, a = rng.uniform(-hw + 1, hw - 1), hd - size[1] / 2 - 0.05, np.pi
            elif wall == 2:
                x, z, a = -hw + size[1] / 2 + 0.05, rng.uniform(-hd + 1, hd - 1), -np.pi / 2
            else:
                x, z, a = hw - size[1] / 2 - 0.05, rng.uniform(-hd + 1, hd - 1), np.pi / 2
            del off
        else:
            x, z = rng.uniform(-hw + 1.0, hw - 1.0), rng.uniform(-hd + 1.0, hd - 1.0)
            a = rng.uniform(-np.pi, np.pi) if yaw is None else yaw
        obj = _furniture(kind, float(x), float(z), float(a if yaw is None or against_wall else yaw), rng)
        fp = obj.footprint
        if fp is not None:
            clash = any(not (fp[2] + 0.35 < o[0] or o[2] + 0.35 < fp[0] or fp[3] + 0.35 < o[1] or o[3] + 0.35 < fp[1])
                        for o in scene.footprints())
            if clash or abs(fp[0]) > hw + 0.01 and abs(fp[2]) > hw + 0.01:
                continue
        scene.objects.append(obj)
        return True
    return False


def _wall_items(scene: Scene, rng: np.random.Generator) -> None:
    """Door, alarm beacon and baseboards: present in every room."""
    hw, hd = scene.width / 2, scene.depth / 2
    door_x = float(rng.uniform(-hw + 0.8, hw - 0.8))
    door_col = _jitter(rng, _WOODS[rng.integers(len(_WOODS))])
    scene.objects.append(SceneObject("door", [_box((door_x, 1.05, hd - 0.02), (0.95, 2.1, 0.04), door_col)], None))
    scene.objects.append(SceneObject("alarm_beacon", [
        _box((float(rng.uniform(-hw + 0.5, hw - 0.5)), scene.height - 0.35, -hd + 0.06), (0.3, 0.22, 0.1), (1.0, 0.1, 0.05),
             kind=BEACON)], None))
    base = (0.25, 0.25, 0.27)
    scene.objects.append(SceneObject("baseboard", [
        _box((0, 0.05, -hd + 0.01), (scene.width, 0.1, 0.02), base), _box((0, 0.05, hd - 0.01), (scene.width, 0.1, 0.02), base),
        _box((-hw + 0.01, 0.05, 0), (0.02, 0.1, scene.depth), base), _box((hw - 0.01, 0.05, 0), (0.02, 0.1, scene.depth), base),
    ], None))


def make_scene(room_type: str, seed: int) -> Scene:
    """Generate the room ``room_type`` (one of :data:`ROOM_TYPES`) from ``seed``.

    The same ``(room_type, seed)`` always gives the same scene. Raises ``ValueError`` for
    an unknown room type (the message lists the known ones).
    """
    if room_type not in ROOM_TYPES:
        raise ValueError(f"unknown room type {room_type!r}; known: {', '.join(ROOM_TYPES)}")
    rng = np.random.default_rng([ROOM_TYPES.index(room_type), int(seed)])
    wall_name, wall = _WALLS[room_type][rng.integers(len(_WALLS[room_type]))]
    floor_name, floor = _FLOORS[room_type][rng.integers(len(_FLOORS[room_type]))]
    warmth = rng.uniform(-1, 1) if room_type != "operating_room" else rng.uniform(-1, 0.2)
    light_color = (1.0 + 0.12 * warmth, 1.0, 1.0 - 0.12 * warmth)
    az, el = rng.uniform(-np.pi, np.pi), rng.uniform(0.5, 1.2)
    light_dir = (float(np.cos(el) * np.sin(az)), float(np.sin(el)), float(np.cos(el) * np.cos(az)))
    scene = Scene(
        room_type=room_type, seed=int(seed),
        width=float(rng.uniform(5.0, 8.0)), depth=float(rng.uniform(5.0, 8.0)), height=float(rng.uniform(2.7, 3.3)),
        wall_color=_jitter(rng, wall), floor_color=_jitter(rng, floor, 0.04),
        wall_color_name=wall_name, floor_color_name=floor_name,
        light_dir=light_dir, light_color=tuple(float(c) for c in light_color),
        ambient=float(rng.uniform(0.3, 0.55)),
        avatar_colors=(_SKINS[rng.integers(4)], _CLOTHES[rng.integers(len(_CLOTHES))], _CLOTHES[rng.integers(len(_CLOTHES))]),
    )
    _wall_items(scene, rng)
    if room_type == "operating_room":
        yaw = float(rng.choice([0.0, np.pi / 2])) + rng.uniform(-0.2, 0.2)
        x, z = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
        scene.objects.append(_furniture("or_table", x, z, yaw, rng))
        scene.objects.append(_furniture("surgical_lamp", x, z, yaw, rng))
        bx, bz = _rotate(0.28, 0.0, yaw)  # over the patient's chest
        scene.bleed_site, scene.bleed_radius = (float(x + bx), 1.215, float(z + bz)), 0.4
        for kind, n in (("monitor", rng.integers(1, 3)), ("trolley", rng.integers(1, 3)), ("cabinet", rng.integers(1, 3))):
            for _ in range(n):
                _place(scene, kind, rng, against_wall=kind == "cabinet" or rng.random() < 0.5, size=(0.9, 0.5))
    elif room_type == "therapy_room":
        cx, cz = rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8)
        if rng.random() < 0.8:
            scene.objects.append(_furniture("rug", cx, cz, float(rng.uniform(-0.3, 0.3)), rng))
        scene.objects.append(_furniture("coffee_table", cx, cz, 0.0, rng))
        _place(scene, "sofa", rng, against_wall=True, size=(1.9, 0.85))
        for _ in range(rng.integers(1, 3)):
            _place(scene, "armchair", rng, against_wall=False, size=(0.85, 0.8))
        for kind, n in (("plant", rng.integers(1, 3)), ("bookshelf", rng.integers(0, 2)), ("floor_lamp", rng.integers(0, 2))):
            for _ in range(n):
                _place(scene, kind, rng, against_wall=True, size=(0.6, 0.5))
        scene.bleed_site, scene.bleed_radius = (float(cx + 0.9), 0.015, float(cz + 0.6)), 0.5
    else:  # classroom
        scene.objects.append(SceneObject("whiteboard", _local(float(rng.uniform(-0.8, 0.8)), -scene.depth / 2 + 0.03, 0.0, [
            _box((0, 1.45, 0), (2.4, 1.1, 0.04), (0.95, 0.95, 0.95), kind=EMISSIVE),
            _box((0, 0.88, 0.04), (2.4, 0.04, 0.08), (0.6, 0.6, 0.62))]), None))
        scene.objects.append(_furniture("teacher_desk", float(rng.uniform(-1.5, 1.5)), -scene.depth / 2 + 1.3, np.pi, rng))
        rows, cols = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        for r in range(rows):
            for c in range(cols):
                x = (c - (cols - 1) / 2) * 1.6
                z = -scene.depth / 2 + 2.7 + r * 1.4
                if abs(x) < scene.width / 2 - 0.8 and z < scene.depth / 2 - 1.0:
                    scene.objects.append(_furniture("desk", x, z, 0.0, rng))
                    chair = _furniture("chair", x, z + 0.5, np.pi, rng)
                    chair.footprint = None  # chairs tuck under desks; the desk footprint blocks
                    scene.objects.append(chair)
        for kind, n in (("bookshelf", rng.integers(0, 2)), ("plant", rng.integers(0, 2)), ("cabinet", rng.integers(0, 2))):
            for _ in range(n):
                _place(scene, kind, rng, against_wall=True, size=(1.0, 0.4))
        scene.bleed_site, scene.bleed_radius = (float(rng.uniform(-1, 1)), 0.015, float(scene.depth / 2 - 1.2)), 0.5
    scene.start_pose = _free_start(scene, rng)
    return scene


def _free_start(scene: Scene, rng: np.random.Generator) -> tuple[float, float, float]:
    """A free standing spot ``(x, z, yaw)`` for the participant, facing into the room."""
    for _ in range(200):
        x = rng.uniform(-scene.width / 2 + 0.6, scene.width / 2 - 0.6)
        z = rng.uniform(-scene.depth / 2 + 0.6, scene.depth / 2 - 0.6)
        if scene.is_free(x, z, margin=0.5):
            yaw = float(np.arctan2(x, z))  # face the centre of the room
            return float(x), float(z), yaw
    return 0.0, scene.depth / 2 - 0.6, 0.0
