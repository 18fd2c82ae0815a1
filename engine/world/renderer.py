"""First-person rasteriser of reference-world scenes, on moderngl (headless EGL).

Mesa's llvmpipe renders a 128×128 frame in about a millisecond, so the reference world is
cheap enough to generate training data and to serve as ground truth for evaluation.

Besides the colour image, :meth:`Renderer.render_labels` draws an *instance-label* pass: the
id of the thing seen at every pixel (:data:`BACKGROUND_ID` for the floor, :data:`WALL_ID`
and :data:`CEILING_ID` for the room's shell, ``1 + i`` for ``scene.objects[i]``,
:data:`AVATAR_ID`, :data:`SEAT_ID0` + seat for the other participants, :data:`BLOOD_ID`).
The evaluation reads which objects and people are really in view from it, occlusion
included; :meth:`Renderer.render_layout` adds the depth of every pixel (the scene layout a
layout-conditioned world model sees, :mod:`engine.world.layout`).
"""

from __future__ import annotations

import numpy as np

from .scene import BEACON, EMISSIVE, FLOOR, SURFACE, Part, Scene, humanoid_parts, seat_parts
from .state import MAX_OTHERS, WorldState

#: Instance ids of the label pass (see the module docstring).
BACKGROUND_ID = 0
AVATAR_ID = 1000
SEAT_ID0 = 1001
BLOOD_ID = 1100
WALL_ID = 1101
CEILING_ID = 1102
#: Near and far clipping planes of the camera (metres).
NEAR, FAR = 0.05, 30.0

_VERTEX_SHADER = """
#version 330
uniform mat4 view_proj;
uniform mat4 model;
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_color;
in float in_kind;
out vec3 v_world;
out vec3 v_normal;
out vec3 v_color;
out float v_kind;
void main() {
    vec4 world = model * vec4(in_pos, 1.0);
    v_world = world.xyz;
    v_normal = mat3(model) * in_normal;
    v_color = in_color;
    v_kind = in_kind;
    gl_Position = view_proj * world;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform vec3 light_dir;
uniform vec3 light_color;
uniform float ambient;
uniform float light_level;
uniform float alarm;
uniform vec3 cam_pos;
uniform float unlit;  // 1: the albedo pass (surface colour, floor tiles, no light or alarm)
in vec3 v_world;
in vec3 v_normal;
in vec3 v_color;
in float v_kind;
out vec4 f_color;
void main() {
    vec3 n = normalize(v_normal);
    vec3 base = v_color;
    if (v_kind > 2.5) {  // floor: 0.5 m tiles with grout lines
        vec2 t = v_world.xz / 0.5;
        float checker = mod(floor(t.x) + floor(t.y), 2.0);
        vec2 f = abs(fract(t) - 0.5);
        float grout = step(0.46, max(f.x, f.y));
        base *= (0.92 + 0.08 * checker) * (1.0 - 0.25 * grout);
    }
    if (unlit > 0.5) {
        f_color = vec4(clamp(base, 0.0, 1.0), 1.0);
        return;
    }
    float diff = max(dot(n, light_dir), 0.0);
    float fill = 0.2 * max(dot(n, normalize(vec3(-light_dir.x, 0.6, -light_dir.z))), 0.0);
    vec3 lit = base * (ambient + (1.0 - ambient) * 0.8 * diff + fill) * light_color * light_level;
    if (v_kind > 0.5 && v_kind < 1.5) {  // emissive: screens, lamps
        lit = base * mix(light_level, 1.0, 0.7);
    } else if (v_kind > 1.5 && v_kind < 2.5) {  // alarm beacon
        lit = alarm > 0.5 ? vec3(1.0, 0.12, 0.08) : base * 0.3 * light_level;
    }
    float dist = length(v_world - cam_pos);
    lit *= 1.0 - 0.025 * dist;
    if (alarm > 0.5 && !(v_kind > 1.5 && v_kind < 2.5)) {
        lit = lit * vec3(1.0, 0.35, 0.35) + vec3(0.25, 0.0, 0.0);
    }
    f_color = vec4(clamp(lit, 0.0, 1.0), 1.0);
}
"""

_LABEL_VERTEX_SHADER = """
#version 330
uniform mat4 view_proj;
uniform mat4 model;
in vec3 in_pos;
in float in_oid;
flat out float v_oid;
void main() {
    v_oid = in_oid;
    gl_Position = view_proj * model * vec4(in_pos, 1.0);
}
"""

_LABEL_FRAGMENT_SHADER = """
#version 330
flat in float v_oid;
out vec4 f_color;
void main() {
    float id = floor(v_oid + 0.5);
    f_color = vec4(mod(id, 256.0) / 255.0, floor(id / 256.0) / 255.0, 0.0, 1.0);
}
"""

_BLOOD = (0.45, 0.02, 0.03)
_CEILING = (0.86, 0.86, 0.84)


# ---------------------------------------------------------------- meshes
def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    """Triangles of a unit cube centred on the origin: positions and normals, (36, 3)."""
    pos, nrm = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = [a for a in range(3) if a != axis]
            corners = []
            for cu, cv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                c = np.zeros(3)
                c[axis], c[u], c[v] = sign * 0.5, cu * 0.5, cv * 0.5
                corners.append(c)
            for i in (0, 1, 2, 0, 2, 3):
                pos.append(corners[i])
                nrm.append(n)
    return np.array(pos, np.float32), np.array(nrm, np.float32)


def _unit_disc(segments: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of a cylinder of diameter 1 and height 1 centred on the origin."""
    a = np.linspace(0, 2 * np.pi, segments + 1)
    pos, nrm = [], []
    for i in range(segments):
        p0 = np.array([0.5 * np.cos(a[i]), 0, 0.5 * np.sin(a[i])])
        p1 = np.array([0.5 * np.cos(a[i + 1]), 0, 0.5 * np.sin(a[i + 1])])
        for y, ny in ((0.5, 1.0), (-0.5, -1.0)):
            c = np.array([0, y, 0])
            pos += [c, p1 + c, p0 + c]
            nrm += [np.array([0, ny, 0])] * 3
        side = [p0 + [0, -0.5, 0], p1 + [0, -0.5, 0], p1 + [0, 0.5, 0], p0 + [0, 0.5, 0]]
        mid = (p0 + p1) / 2
        n = mid / np.linalg.norm(mid)
        for j in (0, 2, 1, 0, 3, 2):
            pos.append(side[j])
            nrm.append(n)
    return np.array(pos, np.float32), np.array(nrm, np.float32)


_BOX = _unit_box()
_DISC = _unit_disc()


def parts_to_vertices(parts: list[Part]) -> np.ndarray:
    """Interleaved vertex data for ``parts``: float32 array (N, 10) = pos3, normal3, color3, kind."""
    chunks = []
    for p in parts:
        pos, nrm = _BOX if p.shape == "box" else _DISC
        c, s = np.cos(p.yaw), np.sin(p.yaw)
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
        world = (pos * np.asarray(p.size, np.float32)) @ rot.T + np.asarray(p.center, np.float32)
        normals = nrm @ rot.T
        n = len(pos)
        chunks.append(np.hstack([world, normals, np.tile(np.asarray(p.color, np.float32), (n, 1)),
                                 np.full((n, 1), p.kind, np.float32)]))
    return np.vstack(chunks).astype(np.float32) if chunks else np.zeros((0, 10), np.float32)


def room_parts(scene: Scene) -> list[Part]:
    """Floor, ceiling and the four walls of ``scene`` as boxes (10 cm thick)."""
    w, d, h, t = scene.width, scene.depth, scene.height, 0.1
    wall = scene.wall_color
    return [
        Part("box", (0, -t / 2, 0), (w, t, d), scene.floor_color, 0.0, FLOOR),
        Part("box", (0, h + t / 2, 0), (w, t, d), _CEILING, 0.0, SURFACE),
        Part("box", (0, h / 2, -d / 2 - t / 2), (w, h, t), wall),
        Part("box", (0, h / 2, d / 2 + t / 2), (w, h, t), wall),
        Part("box", (-w / 2 - t / 2, h / 2, 0), (t, h, d), tuple(c * 0.96 for c in wall)),
        Part("box", (w / 2 + t / 2, h / 2, 0), (t, h, d), tuple(c * 0.96 for c in wall)),
    ]


# ---------------------------------------------------------------- matrices
def perspective(fovy: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL projection matrix (4, 4) float32; ``fovy`` in radians."""
    f = 1.0 / np.tan(fovy / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]], np.float32)


def view_matrix(x: float, y: float, z: float, yaw: float, pitch: float) -> np.ndarray:
    """World-to-camera matrix (4, 4). Yaw 0 looks along -z; positive yaw turns left,
    positive pitch looks up (radians)."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    fwd = np.array([-sy * cp, sp, -cy * cp])
    right = np.array([cy, 0.0, -sy])
    up = np.cross(right, fwd)
    m = np.eye(4, dtype=np.float32)
    m[0, :3], m[1, :3], m[2, :3] = right, up, -fwd
    m[:3, 3] = -m[:3, :3] @ np.array([x, y, z])
    return m


def model_matrix(x: float, y: float, z: float, yaw: float = 0.0, scale=(1.0, 1.0, 1.0)) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    m = np.array([[c, 0, s, x], [0, 1, 0, y], [-s, 0, c, z], [0, 0, 0, 1]], np.float32)
    m[:3, :3] = m[:3, :3] * np.asarray(scale, np.float32)
    return m


def _gl(m: np.ndarray) -> bytes:
    return np.ascontiguousarray(m.T, dtype=np.float32).tobytes()


class Renderer:
    """Renders a :class:`Scene` from a camera pose under a :class:`WorldState`.

    ``width`` and ``height`` are the output size in pixels (default 64×64); ``fov`` the
    vertical field of view in radians. Needs an EGL-capable OpenGL 3.3 driver (Mesa's
    llvmpipe is enough); raises ``RuntimeError`` with install advice when none is found.
    """

    EYE_HEIGHT = 1.6  # metres

    def __init__(self, width: int = 64, height: int = 64, *, fov: float = np.radians(75), samples: int = 4):
        import moderngl  # lazy: start-up of commands that never render stays fast

        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:  # pragma: no cover - depends on the machine
            raise RuntimeError(
                "could not create a headless OpenGL (EGL) context for the reference world: "
                f"{exc}. Install Mesa's EGL driver (Debian/Ubuntu: apt-get install libegl1 "
                "libgl1-mesa-dri) and try again."
            ) from exc
        self.width, self.height = int(width), int(height)
        self.proj = perspective(fov, self.width / self.height, NEAR, FAR)
        self.prog = self.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        size = (self.width, self.height)
        try:
            self._ms_fbo = self.ctx.framebuffer(
                color_attachments=[self.ctx.renderbuffer(size, 3, samples=samples)],
                depth_attachment=self.ctx.depth_renderbuffer(size, samples=samples))
        except Exception:  # pragma: no cover - drivers without multisampling
            self._ms_fbo = None
        self.fbo = self.ctx.framebuffer(color_attachments=[self.ctx.renderbuffer(size, 3)],
                                        depth_attachment=self.ctx.depth_renderbuffer(size))
        self.label_prog = self.ctx.program(vertex_shader=_LABEL_VERTEX_SHADER, fragment_shader=_LABEL_FRAGMENT_SHADER)
        self._label_fbo = self.ctx.framebuffer(color_attachments=[self.ctx.renderbuffer(size, 4)],
                                               depth_attachment=self.ctx.depth_renderbuffer(size))
        self._static = None
        self._avatar = None
        self._static_labels = None
        self._avatar_labels = None
        disc = parts_to_vertices([Part("disc", (0, 0, 0), (1, 1, 1), _BLOOD)])
        self._disc = self._vao(disc)
        self._disc_labels = self._label_vao(disc, BLOOD_ID)
        self._seats = []
        for seat in range(MAX_OTHERS):
            v = parts_to_vertices(seat_parts(seat))
            self._seats.append((self._vao(v), self._label_vao(v, SEAT_ID0 + seat)))
        self.scene: Scene | None = None
        # A new standalone context is current on this thread; release it so that whichever
        # thread renders next (e.g. a session thread) can make it current (see render()).
        self.ctx.__exit__(None, None, None)

    def _vao(self, vertices: np.ndarray):
        vbo = self.ctx.buffer(vertices.tobytes())
        return self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 3f 1f", "in_pos", "in_normal", "in_color", "in_kind")])

    def _label_vao(self, vertices: np.ndarray, ids):
        """A vertex array for the label pass: positions of ``vertices`` (N, 10) with one id
        each (``ids`` an int, or (N,) per vertex)."""
        oid = np.broadcast_to(np.asarray(ids, np.float32), (len(vertices),)).reshape(-1, 1)
        data = np.hstack([vertices[:, :3], oid]).astype(np.float32)
        vbo = self.ctx.buffer(data.tobytes())
        return self.ctx.vertex_array(self.label_prog, [(vbo, "3f 1f", "in_pos", "in_oid")])

    def set_scene(self, scene: Scene) -> None:
        """Upload ``scene``'s geometry (once per scene)."""
        with self.ctx:  # GL contexts are per thread: make ours current on the calling one
            self._set_scene(scene)

    def _set_scene(self, scene: Scene) -> None:
        for vao in (self._static, self._avatar, self._static_labels, self._avatar_labels):
            if vao is not None:
                vao.release()
        shell = room_parts(scene)
        parts = shell + [p for o in scene.objects for p in o.parts]
        vertices = parts_to_vertices(parts)
        self._static = self._vao(vertices)
        shell_ids = (BACKGROUND_ID, CEILING_ID) + (WALL_ID,) * (len(shell) - 2)  # floor, ceiling, walls
        ids = np.concatenate([np.full(len(parts_to_vertices([p])), sid, np.float32) for p, sid in zip(shell, shell_ids)]
                             + [np.full(len(parts_to_vertices(o.parts)), 1 + i, np.float32)
                                for i, o in enumerate(scene.objects)])
        self._static_labels = self._label_vao(vertices, ids)
        skin, shirt, trousers = scene.avatar_colors or ((0.9, 0.75, 0.6), (0.3, 0.3, 0.6), (0.2, 0.2, 0.2))
        avatar = parts_to_vertices(humanoid_parts(skin, shirt, trousers))
        self._avatar = self._vao(avatar)
        self._avatar_labels = self._label_vao(avatar, AVATAR_ID)
        self.scene = scene
        p = self.prog
        p["light_dir"].value = tuple(np.asarray(scene.light_dir) / np.linalg.norm(scene.light_dir))
        p["light_color"].value = scene.light_color
        p["ambient"].value = scene.ambient

    def render(self, pose: tuple[float, float, float, float], state: WorldState) -> np.ndarray:
        """Draw the view from ``pose = (x, z, yaw, pitch)`` (metres, radians).

        Returns uint8 array (height, width, 3), RGB, row 0 at the top. May be called from
        any thread (one at a time).
        """
        with self.ctx:
            return self._render(pose, state)

    def _draw(self, prog, pose, state: WorldState, vaos) -> None:
        """Draw the static scene and whatever ``state`` puts in it with program ``prog``;
        ``vaos`` picks the colour (0) or label (1) vertex arrays."""
        x, z, yaw, pitch = pose
        prog["view_proj"].write(_gl(self.proj @ view_matrix(x, self.EYE_HEIGHT, z, yaw, pitch)))
        prog["model"].write(_gl(np.eye(4, dtype=np.float32)))
        (self._static, self._static_labels)[vaos].render()
        for model, vao in self._movables(state, vaos):
            prog["model"].write(_gl(model))
            vao.render()

    def _movables(self, state: WorldState, k: int):
        """``(model matrix, vertex array)`` of the avatar, the other participants and the
        blood pool as ``state`` places them (``k`` = 0 colour, 1 labels)."""
        if state.avatar:
            ax, az, ayaw = state.avatar_pose
            yield model_matrix(ax, 0.0, az, ayaw), (self._avatar, self._avatar_labels)[k]
        for seat, ox, oz, oyaw in state.others:
            yield model_matrix(ox, 0.0, oz, oyaw), self._seats[seat][k]
        if state.bleeding > 0:
            bx, by, bz = self.scene.bleed_site
            r = 2 * self.scene.bleed_radius * float(state.bleeding)
            yield model_matrix(bx, by, bz, 0.0, (r, 0.01, r)), (self._disc, self._disc_labels)[k]

    def _render(self, pose, state: WorldState, *, unlit: bool = False) -> np.ndarray:
        """The colour pass, or with ``unlit`` the albedo pass (without multisampling, so it
        lines up with the label pass)."""
        if self.scene is None:
            raise RuntimeError("Renderer.render called before set_scene")
        x, z, yaw, pitch = pose
        ms = None if unlit else self._ms_fbo
        fbo = ms or self.fbo
        fbo.use()
        self.ctx.enable(self.ctx.DEPTH_TEST)
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        p = self.prog
        p["cam_pos"].value = (x, self.EYE_HEIGHT, z)
        p["light_level"].value = float(state.light)
        p["alarm"].value = 1.0 if state.alarm else 0.0
        p["unlit"].value = 1.0 if unlit else 0.0
        self._draw(p, pose, state, 0)
        if ms is not None:
            self.ctx.copy_framebuffer(self.fbo, ms)
        data = self.fbo.read(components=3, alignment=1)
        return np.frombuffer(data, np.uint8).reshape(self.height, self.width, 3)[::-1].copy()

    def render_albedo(self, pose: tuple[float, float, float, float], state: WorldState) -> np.ndarray:
        """The albedo pass of the view from ``pose`` under ``state``: uint8 ``(height,
        width, 3)``, the unlit surface colour of what each pixel shows (the floor's tiles
        included; no light level, shading or alarm), row 0 at the top. No anti-aliasing,
        so it lines up with :meth:`render_layout` pixel for pixel."""
        with self.ctx:
            return self._render(pose, state, unlit=True)

    def render_labels(self, pose: tuple[float, float, float, float], state: WorldState) -> np.ndarray:
        """The instance-label pass of the view from ``pose`` under ``state``: int32
        ``(height, width)``, the id of what each pixel shows (see the module docstring), row 0
        at the top. No anti-aliasing: every pixel belongs to exactly one thing."""
        return self.render_layout(pose, state, depth=False)[0]

    def render_layout(self, pose: tuple[float, float, float, float], state: WorldState, *,
                      depth: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The label pass (as :meth:`render_labels`) and, with ``depth``, the distance along
        the view axis of every pixel: float32 ``(height, width)`` in metres (:data:`FAR` where
        nothing is drawn). Returns ``(ids, depth or None)``, row 0 at the top."""
        with self.ctx:
            if self.scene is None:
                raise RuntimeError("Renderer.render_labels called before set_scene")
            self._label_fbo.use()
            self.ctx.enable(self.ctx.DEPTH_TEST)
            self._label_fbo.clear(0.0, 0.0, 0.0, 1.0)
            self._draw(self.label_prog, pose, state, 1)
            data = np.frombuffer(self._label_fbo.read(components=4, alignment=1), np.uint8)
            rgba = data.reshape(self.height, self.width, 4)[::-1]
            ids = rgba[..., 0].astype(np.int32) + 256 * rgba[..., 1].astype(np.int32)
            if not depth:
                return ids, None
            d = np.frombuffer(self._label_fbo.read(attachment=-1, components=1, dtype="f4"), np.float32)
            ndc = 2.0 * d.reshape(self.height, self.width)[::-1] - 1.0
            metres = 2.0 * NEAR * FAR / (FAR + NEAR - ndc * (FAR - NEAR))
            return ids, metres.astype(np.float32)

    def release(self) -> None:
        self.ctx.release()
