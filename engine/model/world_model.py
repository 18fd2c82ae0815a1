"""The learned world model: autoencoder + dynamics model, stepped live with a KV cache."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..actions import ACTION_LIMITS
from ..world.state import WorldState
from .autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from .dynamics import DynamicsModel
from .interface import Prompt
from .pose import compose, memory_score, step_pose
from .runtimes import TorchRuntime



@dataclass
class Sampling:
    """How frames are sampled (the model card's ``sampling`` block).

    ``steps``: Euler steps per frame (1–4); ``ctx_noise``: noise level kept on context frames
    against drift; ``cfg_action`` / ``cfg_text``: classifier-free guidance scales on the
    action and on the prompt (1.0 = off; each other value costs a second row per pass);
    ``cfg_above``: guidance only on denoising steps that start above this noise level (0 =
    every step; 0.5 with 2 steps = the first step only, which lays out the frame, so the
    second costs one row), after limited-interval guidance (Kynkäänniemi et al. 2024);
    ``opening_steps``: steps for an opening frame drawn from text alone, with prompt guidance
    ``cfg_opening`` (None: ``cfg_text``); ``memory_every``:
    one frame in this many ticks enters the frame memory; ``deterministic``: the one-step
    regressor baseline (no noise, context clean); ``ctx_noise_still``: the context noise of
    a frame generated while the camera (nearly) held still — its warp moved no point by
    ``still_cells`` of a latent cell or more — None: ``ctx_noise``. Any motion
    resamples the warped predecessor bilinearly, a low-pass the residual network was trained
    on; a still camera's warp is an exact copy, and without noise on it a small per-tick
    correction compounds until the frame dissolves (issue 25, docs/benchmarks.md).

    ``hold_still``: *conditional replenishment* (Mounts 1969, the skip blocks of video
    coding) on a still camera — a latent cell whose view did not change since the last tick
    (the decoder's layout and albedo passes equal there, the camera moved no point by
    ``still_cells``, no event for ``hold_settle`` ticks, no prompt change for
    ``hold_settle_prompt`` ticks) keeps its last latent exactly;
    only the cells the scene changed in (a person walking, the blood pool growing), widened
    by one cell, take the generated latent. A still trainee then sees the room as it was
    drawn, not a rollout that softens over the minutes. Needs a layout decoder and a room
    preset; otherwise every cell is generated.
    """

    steps: int = 2
    ctx_noise: float = 0.1
    cfg_action: float = 1.0
    cfg_text: float = 1.0
    cfg_above: float = 0.0
    opening_steps: int = 8
    cfg_opening: float | None = None
    memory_every: int = 2
    deterministic: bool = False
    ctx_noise_still: float | None = None
    still_cells: float = 0.05
    hold_still: bool = False
    hold_settle: int = 10
    hold_settle_prompt: int = 60

    @classmethod
    def from_dict(cls, d: dict) -> "Sampling":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


#: The quality ladder of a latent world model, best first: what each rung changes in the
#: card's sampling (docs/benchmarks.md gives each rung's speed and ``ved eval`` figures).
#: ``medium`` draws a frame in one denoising step instead of two; ``low`` also drops the
#: guidance rows (one transformer row a view).
QUALITY_RUNGS: dict[str, dict] = {"high": {}, "medium": {"steps": 1}, "low": {"steps": 1, "cfg_action": 1.0,
                                                                             "cfg_text": 1.0}}


@dataclass
class _View:
    """One participant's rollout: the anchor (opening frame), the frame memory, the sliding
    window of cached frames and the pending frame, the world pose of the opening camera, the
    dead-reckoned pose since then, and the last frame (and its latent)."""

    anchor: list | None = None
    window: list = field(default_factory=list)
    pending: tuple | None = None  # (latent, cond, memory cond or None, pose, warped, entities) not yet cached
    memory: list = field(default_factory=list)  # (tick, pose, kv per block)
    origin: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    pose: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    frame: np.ndarray | None = None  # the last frame, uint8 (H, W, 3) (pixel_warp: the opening image as given)
    shown: np.ndarray | None = None  # the last frame decoded and shown, uint8 (H, W, 3)
    last_latent: torch.Tensor | None = None
    # conditional replenishment (Sampling.hold_still): the last decoder layout (1, ch, H, W),
    # the last world-state vector, and the ticks left before cells may be held again
    hold_layout: torch.Tensor | None = None
    hold_state: np.ndarray | None = None
    settle: int = 0

    def copy(self) -> "_View":
        return replace(self, window=list(self.window), memory=list(self.memory), origin=self.origin.copy(),
                       pose=self.pose.copy())


class LatentWorldModel:
    """Generates one frame per tick from the participant's action and the world state.

    Context: the *anchor* (opening frame, always kept), up to ``cfg.memory`` frames
    retrieved from the pose-indexed frame memory, and a sliding window of the last frames,
    each stored as per-block keys/values (a KV cache). A finished frame is first *pending*:
    lightly noised (``ctx_noise``, against drift) and passed through the network together
    with the next frame's first denoising step, which fills its cache entry — and, every
    ``memory_every`` ticks, its memory entry — at no extra pass. So a tick costs ``steps``
    transformer passes (×2 with guidance) and one decoder pass.

    With entity conditioning (``cfg.entities``) the avatar, the other participants and the
    blood pool are projected into the camera of every generated frame
    (:mod:`engine.world.entities`): from the ``viewer_pose`` the session passes to
    :meth:`reset` and :meth:`step` (its floor-plan-tracked pose of the trainee), else from the
    pose dead-reckoned from the actions since the opening. The blood pool's site comes from
    the scenario's room preset (``prompt.room``/``prompt.seed``); without one it is unknown
    and the model draws the bleeding from the world state alone. A layout model
    (``cfg.layout``) also renders the scene layout of every view from that preset at the same
    pose (:mod:`engine.world.layout`; a small EGL renderer it owns), or gets the empty layout
    when the prompt has no preset.

    Several trainees in one world (:meth:`reset_views`, :meth:`step_views`): each gets a
    rollout of its own (anchor, memory, window, pose); a tick steps them all in one batched
    pass per denoising step, their KV caches and guidance rows stacked on the batch
    dimension (every view holds as many cached frames, so the positions are shared), and
    decodes them in one decoder call. With deterministic sampling each view's frames equal
    those of the view rolled out alone.

    ``latent_mean``/``latent_std``: float32 ``(C,)`` per-channel latent normalisation.
    ``seed`` fixes the sampling noise: the same seed, state and actions give the same frames.
    """

    name = "latent-world-model"
    #: The model card (set by :func:`engine.model.io.load_world_model`), None for a model
    #: built in memory.
    card: dict | None = None
    #: The model tracks no camera of its own: the session's floor-plan pose places events.
    viewer_pose = None

    def __init__(self, autoencoder: Autoencoder, dynamics: DynamicsModel, latent_mean: torch.Tensor,
                 latent_std: torch.Tensor, *, sampling: Sampling | None = None, seed: int = 0,
                 device: str | torch.device = "cpu"):
        self.sampling = replace(sampling) if sampling else Sampling()
        self._top_sampling = self.sampling  # the card's: the "high" rung
        if self.sampling.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.sampling.steps}")
        # Channels-last convolutions decode about twice as fast on the CPU.
        self.ae = autoencoder.eval().to(device).to(memory_format=torch.channels_last)
        self.dyn = dynamics.eval().to(device)
        self.device = torch.device(device)
        self.mean = latent_mean.to(device).view(1, -1, 1, 1)
        self.std = latent_std.to(device).view(1, -1, 1, 1)
        self.resolution = autoencoder.config.resolution
        self.seed = seed
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(seed)
        self._limits = torch.as_tensor(ACTION_LIMITS, device=self.device)
        self._views: list[_View] = [_View()]  # one rollout per participant (several trainees)
        self._started = False
        self._text: torch.Tensor | None = None
        self._scene = None  # the room preset's scene graph, for the bleed site (entity models)
        #: Infers a scene graph from a prompt of words alone (engine.model.text_scene), or None.
        self.text_scene = None
        self._layout_renderer = None  # draws the scene layout of a view (layout models)
        self._layout_scene = None
        self._decoder_renderer = None  # the same at half the output size (a layout decoder)
        self.tick = 0
        #: What runs the decoder and the dynamics model's cached step each tick
        #: (:mod:`engine.model.runtimes`; torch float32 unless :meth:`set_runtimes` chose others).
        self.decoder_runtime = self.dynamics_runtime = TorchRuntime(self.ae, self.dyn)

    def set_runtimes(self, decoder=None, dynamics=None) -> None:
        """Run the decoder and/or the dynamics step on these runtimes
        (:class:`engine.model.runtimes.NetworkRuntime`; None keeps the current one)."""
        if decoder is not None:
            self.decoder_runtime = decoder
        if dynamics is not None:
            self.dynamics_runtime = dynamics

    @property
    def inference_path(self) -> dict:
        """Which runtime runs each network: ``{"decoder": name, "dynamics": name}``."""
        return {"decoder": self.decoder_runtime.name, "dynamics": self.dynamics_runtime.name}

    # The first participant's rollout, as a one-trainee session knows it.
    @property
    def pose(self) -> np.ndarray:
        """The first view's camera pose dead-reckoned from its actions since the opening,
        float32 ``(x, z, yaw, pitch)`` relative to the opening camera."""
        return self._views[0].pose

    @property
    def last_latent(self) -> torch.Tensor | None:
        """The first view's last generated latent, normalised ``(1, C, h, w)``."""
        return self._views[0].last_latent

    @property
    def scene(self):
        """The scene graph the model draws on since the last reset: the room preset's, the one
        inferred from a prompt of words alone (:attr:`text_scene`), or None."""
        return self._scene

    @property
    def _memory(self) -> list:
        return self._views[0].memory

    @property
    def views(self) -> int:
        """How many participants' views the model is rolling out (1 after :meth:`reset`)."""
        return len(self._views)

    @property
    def steps(self) -> int:
        return self.sampling.steps

    @property
    def ctx_noise(self) -> float:
        return 0.0 if self.sampling.deterministic else self.sampling.ctx_noise

    def _camera_still(self, action) -> bool:
        """Whether ``action`` (float32 ``(4,)``) moved the camera by less than ``still_cells``
        of a latent cell: the warp then copies its predecessor instead of resampling it (the
        still camera of ``ctx_noise_still`` and ``hold_still``, see :class:`Sampling`)."""
        from .warp import warp_shift_cells

        return warp_shift_cells(action, self.dyn.cfg.latent_size) < self.sampling.still_cells

    def _ctx_noise_after(self, action: np.ndarray) -> float:
        """The context noise of a frame generated under ``action`` (float32 ``(4,)``): ``ctx_noise``,
        or ``ctx_noise_still`` after a still camera (:meth:`_camera_still`)."""
        still = self.sampling.ctx_noise_still
        if self.sampling.deterministic or still is None:
            return self.ctx_noise
        return float(still) if self._camera_still(action) else self.ctx_noise

    # ------------------------------------------------------------ helpers
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(N, H, W, 3)`` → normalised latents ``(N, C, h, w)``."""
        with torch.inference_mode():
            return ((self.ae.encode(frames_to_tensor(frames).to(self.device)) - self.mean) / self.std).contiguous()

    def decode(self, z: torch.Tensor, layout: torch.Tensor | None = None) -> np.ndarray:
        """Normalised latents ``(N, C, h, w)`` → uint8 ``(N, H, W, 3)``. ``layout`` float32
        ``(N, LAYOUT_DIM, H, W)`` is the views' scene layout, read by a layout decoder only
        (:mod:`engine.model.layout_decoder`; None: the empty layout)."""
        with torch.inference_mode():
            return tensor_to_frames(self.decoder_runtime.decode(z * self.std + self.mean, layout))

    def _viewer(self, viewer_pose, rel_pose, origin: np.ndarray) -> np.ndarray:
        """The world pose ``(x, z, yaw, pitch)`` of a view: ``viewer_pose`` when known, else
        the opening pose ``origin`` composed with the dead-reckoned ``rel_pose``."""
        if viewer_pose is None:
            return compose(origin, rel_pose)
        return np.asarray(viewer_pose, np.float32)

    def _decoder_layouts(self, viewers: list, states: list[WorldState]) -> torch.Tensor | None:
        """The full-resolution layouts ``(B, channels, H, W)`` a layout decoder reads (with
        the albedo map when it reads one), of the views from world poses ``viewers``; None for
        a plain decoder or without a scene graph (the decoder then gets the empty layout)."""
        if not self.ae.config.layout or self._scene is None:
            return None
        from ..world.layout import LAYOUT_DIM, LayoutRenderer
        from .layout_decoder import decoder_layout

        if self._decoder_renderer is None:
            self._decoder_renderer = LayoutRenderer(self.resolution // 2)
            self._decoder_scene = None
        if self._decoder_scene is not self._scene:
            self._decoder_renderer.set_scene(self._scene)
            self._decoder_scene = self._scene
        albedo = self.ae.config.layout > LAYOUT_DIM
        maps = [self._decoder_renderer(v, st, albedo=albedo) for v, st in zip(viewers, states)]
        classes = torch.from_numpy(np.stack([m[0] for m in maps]))
        inv = torch.from_numpy(np.stack([m[1] for m in maps]))
        colours = torch.from_numpy(np.stack([m[2] for m in maps])) if albedo else None
        return decoder_layout(classes, inv, colours).to(self.device)

    def _entities(self, state: WorldState, viewer_pose, rel_pose, origin: np.ndarray) -> tuple | None:
        """Entity inputs ``(coverage (1, 1, S, P), features (1, 1, S, F))`` of the view from
        ``viewer_pose`` (world ``(x, z, yaw, pitch)``; None: the opening pose ``origin``
        composed with the dead-reckoned pose ``rel_pose``), or None for a model without
        entity conditioning."""
        if not self.dyn.cfg.entities:
            return None
        from ..world.entities import GEOMETRY_DIM, entity_table, project_entities

        viewer = self._viewer(viewer_pose, rel_pose, origin)
        cov, feat = project_entities(entity_table(state, self._scene), viewer, grid=self.dyn.cfg.grid,
                                     colours=self.dyn.cfg.entity_features > GEOMETRY_DIM)
        parts = [cov, feat]
        if self.dyn.cfg.layout:
            parts += self._layout(viewer, state)
        return tuple(torch.as_tensor(np.asarray(p, np.float32), device=self.device).view(1, 1, *p.shape)
                     for p in parts)

    def _layout(self, viewer: np.ndarray, state: WorldState) -> list[np.ndarray]:
        """The scene layout of the view from ``viewer`` (:mod:`engine.world.layout`): rendered
        from the room preset's scene graph, or the empty layout when there is none."""
        from ..world.layout import LayoutRenderer, empty_layout

        if self._scene is None:
            return list(empty_layout(self.dyn.cfg.latent_size))
        if self._layout_renderer is None:
            self._layout_renderer = LayoutRenderer(self.dyn.cfg.latent_size)
        if self._layout_scene is not self._scene:
            self._layout_renderer.set_scene(self._scene)
            self._layout_scene = self._scene
        return list(self._layout_renderer(viewer, state))

    @staticmethod
    def _cat_entities(parts: list, rows: int = 1) -> tuple | None:
        """Entity inputs of several frames side by side (dim 1), repeated over ``rows``
        guidance rows; None when the model has none."""
        if not parts or parts[0] is None:
            return None
        return tuple(torch.cat([p[i] for p in parts], 1).expand(rows, *[-1] * (parts[0][i].dim() - 1))
                     for i in range(len(parts[0])))

    def _cond(self, t: float, action, state: WorldState, pose, *, anchor=False, memory=False,
              drop_action=False, drop_text=False) -> torch.Tensor:
        a = torch.as_tensor(np.asarray(action, np.float32), device=self.device).view(1, 1, -1) / self._limits
        s = torch.as_tensor(state.vector(), device=self.device).view(1, 1, -1)
        p = torch.as_tensor(np.asarray(pose, np.float32), device=self.device).view(1, 1, -1)
        tt = torch.full((1, 1), float(t), device=self.device)
        one = lambda flag: torch.tensor([flag], device=self.device)  # noqa: E731
        return self.dyn.frame_cond(tt, a, s, poses=p, text=self._text, anchor=one(anchor), memory=one(memory),
                                   drop_action=one(drop_action), drop_text=one(drop_text))

    def _guided(self, t: float, action, state: WorldState, pose) -> torch.Tensor:
        """Conditioning rows ``(R, 1, c)``: the conditional one, then one per guidance term."""
        rows = [self._cond(t, action, state, pose)]
        if t <= self.sampling.cfg_above:
            return rows[0]
        if self.sampling.cfg_action != 1.0:
            rows.append(self._cond(t, action, state, pose, drop_action=True))
        if self.sampling.cfg_text != 1.0 and self.dyn.cfg.text_dim:
            rows.append(self._cond(t, action, state, pose, drop_text=True))
        return torch.cat(rows, 0)

    def _combine(self, v: torch.Tensor) -> torch.Tensor:
        """Classifier-free guidance: ``v_c + Σ (w - 1)(v_c - v_uncond)`` over the rows (none
        when ``v`` has the conditional row only)."""
        if v.shape[0] == 1:
            return v
        out, r = v[:1], 1
        for w, on in ((self.sampling.cfg_action, self.sampling.cfg_action != 1.0),
                      (self.sampling.cfg_text, self.sampling.cfg_text != 1.0 and self.dyn.cfg.text_dim)):
            if on:
                out = out + (w - 1.0) * (v[:1] - v[r:r + 1])
                r += 1
        return out

    def _first_window_pos(self) -> int:
        return 2 if self.dyn.cfg.memory else 1

    def _retrieve(self, view: _View, pose: np.ndarray) -> list:
        """Up to ``cfg.memory`` of ``view``'s memory entries nearest to ``pose``, older than the
        window. How many depends on the tick only, so every view gets as many."""
        M = self.dyn.cfg.memory
        if not M or not view.memory:
            return []
        # The frame being generated is tick + 1; the window holds the context - 1 before it.
        oldest_in_window = self.tick + 1 - (self.dyn.cfg.context - 1)
        cands = [m for m in view.memory if m[0] < oldest_in_window]
        if not cands:
            return []
        score = memory_score(torch.as_tensor(pose), torch.as_tensor(np.stack([m[1] for m in cands])))
        order = torch.argsort(score)[:M].tolist()
        return [cands[i][2] for i in order]

    def _cache(self, views: list[_View], memories: list[list]):
        """Per-block ``(k, v)`` of anchor + memory + window of every view, stacked on the batch
        dimension ``(B, heads, n, d)``, keys rotated, and their positions ``(n,)`` (the same
        for every view: they all hold as many frames)."""
        P = self.dyn.cfg.tokens_per_frame
        first = self._first_window_pos()
        per_view = []
        for view, memory in zip(views, memories):
            entries = [view.anchor] + memory + view.window
            per_view.append([(torch.cat([e[i][0] for e in entries], 2), torch.cat([e[i][1] for e in entries], 2))
                             for i in range(len(self.dyn.blocks))])
        pos = [0] + [1] * len(memories[0]) + list(range(first, first + len(views[0].window)))
        pos = torch.tensor(pos, device=self.device).repeat_interleave(P)
        if len(per_view) == 1:
            cache = per_view[0]
        else:
            cache = [(torch.cat([c[i][0] for c in per_view], 0), torch.cat([c[i][1] for c in per_view], 0))
                     for i in range(len(self.dyn.blocks))]
        return self.dyn.rotate_cache(cache, pos), pos

    @staticmethod
    def _rows(t: torch.Tensor, rows: int) -> torch.Tensor:
        """``t`` ``(B, ...)`` with each view's row repeated ``rows`` times (guidance rows)."""
        if rows == 1:
            return t
        if t.shape[0] == 1:
            return t.expand(rows, *t.shape[1:])
        return t.repeat_interleave(rows, 0)

    def _set_pending(self, view: _View, z: torch.Tensor, action, state: WorldState, pose: np.ndarray,
                     warped: torch.Tensor | None = None, entities=None) -> None:
        """Queue ``view``'s frame latent ``z`` ``(1, C, h, w)`` for the cache, lightly noised,
        with the warped predecessor it was generated from (``(1, 1, C, h, w)``, None for the
        anchor) and the entities it was generated with."""
        c = self._ctx_noise_after(np.asarray(action, np.float32))
        noise = torch.randn(z.shape, generator=self.gen, device=self.device)
        zero = np.zeros(4, np.float32)
        warped = torch.zeros_like(z).unsqueeze(1) if warped is None else warped
        mcond = self._cond(c, zero, state, pose, memory=True) if self.dyn.cfg.memory else None
        view.pending = (((1 - c) * z + c * noise).unsqueeze(1), self._cond(c, action, state, pose), mcond,
                        pose.copy(), warped, entities)

    def _set_text(self, prompt: Prompt) -> None:
        self._text = None
        if self.dyn.cfg.text_dim:
            emb = prompt.text_embedding
            if emb is None and prompt.text.strip():
                from .text import embed

                emb = embed(prompt.text)
            if emb is not None:
                self._text = torch.as_tensor(np.asarray(emb, np.float32), device=self.device).view(1, -1)

    # ------------------------------------------------------------ interface
    def prepare_prompt(self, prompt: Prompt) -> Prompt:
        """``prompt`` with its text embedding float32 ``(384,)`` filled in when this model is
        conditioned on text (the slow part of a live prompt change; call it off the session
        thread). Thread-safe; the model itself is not touched."""
        if not self.dyn.cfg.text_dim or prompt.text_embedding is not None or not prompt.text.strip():
            return prompt
        from .text import embed

        return replace(prompt, text_embedding=np.asarray(embed(prompt.text), np.float32))

    def update_prompt(self, prompt: Prompt) -> bool:
        """Condition the frames from the next :meth:`step` on ``prompt``'s text, keeping the
        context (a live prompt change). Returns False, changing nothing, when the model is
        not conditioned on text."""
        if not self.dyn.cfg.text_dim:
            return False
        self._set_text(prompt)
        for view in self._views:  # let the new words redraw the whole view for a while
            view.settle = max(view.settle, self.sampling.hold_settle_prompt)
        return True

    def reset(self, prompt: Prompt, state: WorldState, viewer_pose=None) -> np.ndarray:
        """Start from the prompt: its opening image if it has one, else an opening frame drawn
        from the text alone (text-conditioned models only; a layout model with a
        :attr:`text_scene` network draws it on the scene graph the text describes, when the
        prompt names no room preset). ``viewer_pose`` is the trainee's
        world pose ``(x, z, yaw, pitch)`` (metres, radians) at the opening, if known (default:
        the room preset's start pose). Returns the opening frame uint8 ``(H, W, 3)``. Raises
        ``ValueError`` if the image is not ``(resolution, resolution, 3)``, or if there is no
        image and the model cannot draw one from text."""
        return self.reset_views([prompt], [state], [viewer_pose])[0]

    @torch.inference_mode()
    def reset_views(self, prompts: list[Prompt], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Open one rollout per participant (several trainees in one world): participant ``i``
        from ``prompts[i]`` (the same text for all; each its own opening image, the view from
        its seat, or none), ``states[i]`` (the world state as it sees it: the others are the
        other participants) and ``viewer_poses[i]`` (as for :meth:`reset`). Returns the
        opening frames, uint8 ``(H, W, 3)`` each. Raises ``ValueError`` as :meth:`reset`
        does, or when the lists differ in length or are empty."""
        n = len(prompts)
        if n == 0 or len(states) != n or len(viewer_poses) != n:
            raise ValueError(f"reset_views needs as many prompts, states and poses (at least one); got "
                             f"{len(prompts)}, {len(states)}, {len(viewer_poses)}")
        prompt = prompts[0]
        self.gen.manual_seed(self.seed)
        self._set_text(prompt)
        self.tick = 0
        self._scene = None
        if self.dyn.cfg.entities and prompt.room is not None:
            from ..world.scene import make_scene

            self._scene = make_scene(prompt.room, prompt.seed)
        elif (self.dyn.cfg.layout and self.text_scene is not None and self._text is not None
              and all(p.image is None for p in prompts)):
            # words alone: draw the room on the scene graph they describe, not the empty layout
            self._scene = self.text_scene.infer(self._text[0].cpu().numpy(), seed=prompt.seed)
        views, frames = [], []
        for prompt_i, state, viewer_pose in zip(prompts, states, viewer_poses):
            view = _View()
            if viewer_pose is not None:
                view.origin = np.asarray(viewer_pose, np.float32).copy()
            elif self._scene is not None:
                view.origin = np.array([*self._scene.start_pose, 0.0], np.float32)
            frames.append(self._open_view(view, prompt_i, state))
            views.append(view)
        self._views = views
        self._started = True
        return frames

    def _open_view(self, view: _View, prompt: Prompt, state: WorldState) -> np.ndarray:
        """Fill ``view``'s anchor and pending frame from ``prompt`` (its opening image, or one
        drawn from the text); returns the opening frame."""
        ent = self._entities(state, view.origin, None, view.origin)
        zero = np.zeros(4, np.float32)
        pos0 = torch.zeros(1, dtype=torch.long, device=self.device)
        if prompt.image is None:
            if self._text is None:
                raise ValueError("this prompt has no opening image and the model is not text-conditioned (or the "
                                 "text is empty); give the scenario an image or a room preset")
            cfg = self.dyn.cfg
            x = torch.randn((1, 1, cfg.latent_channels, cfg.latent_size, cfg.latent_size), generator=self.gen,
                            device=self.device)
            ts = torch.linspace(1.0, 0.0, self.sampling.opening_steps + 1).tolist()
            w = self.sampling.cfg_text if self.sampling.cfg_opening is None else self.sampling.cfg_opening
            for t, t_next in zip(ts[:-1], ts[1:]):
                rows = [self._cond(t, zero, state, zero, anchor=True)]
                if w != 1.0:
                    rows.append(self._cond(t, zero, state, zero, anchor=True, drop_text=True))
                v, _ = self.dyn.forward_cached(x.expand(len(rows), -1, -1, -1, -1), torch.cat(rows, 0), pos0, None, None,
                                               entities=self._cat_entities([ent], len(rows)), t=[t])
                if len(rows) > 1:
                    v = v[:1] + (w - 1.0) * (v[:1] - v[1:])
                x = x - (t - t_next) * v[:1]
            z = x[:, 0]
        else:
            img = np.asarray(prompt.image)
            if img.shape != (self.resolution, self.resolution, 3):
                raise ValueError(f"opening image has shape {img.shape}; the model needs "
                                 f"({self.resolution}, {self.resolution}, 3)")
            z = self.encode(img[None])
        _, view.anchor = self.dyn.forward_cached(z.unsqueeze(1), self._cond(0.0, zero, state, zero, anchor=True),
                                                 pos0, None, None, entities=ent, t=[0.0])
        self._set_pending(view, z, zero, state, zero, entities=ent)
        view.last_latent = z
        layout = self._decoder_layouts([view.origin], [state])
        view.hold_layout, view.hold_state, view.settle = layout, state.vector(), 0
        shown = self.decode(z, layout)[0]
        # what a pixel_warp model warps into the next view: the opening image itself if given
        view.frame = shown if prompt.image is None else np.asarray(prompt.image)
        view.shown = shown
        return shown

    def step(self, action: np.ndarray, state: WorldState, viewer_pose=None) -> np.ndarray:
        """Generate the next frame, uint8 ``(H, W, 3)``, for ``action`` (float32 ``(4,)``,
        see :mod:`engine.actions`) under ``state``; ``viewer_pose`` is the trainee's world pose
        ``(x, z, yaw, pitch)`` after the action, if known (for where the entities stand in the
        view). Raises ``RuntimeError`` before reset, or after :meth:`reset_views` opened
        several views (use :meth:`step_views` then)."""
        if len(self._views) != 1:
            raise RuntimeError(f"this model rolls out {len(self._views)} views; step them with step_views")
        return self.step_views([action], [state], [viewer_pose])[0]

    @torch.inference_mode()
    def step_views(self, actions: list, states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """The next frame of every participant's view, in one batched forward pass per
        denoising step: participant ``i`` after ``actions[i]`` (float32 ``(4,)``) under
        ``states[i]`` (the world state as it sees it), with ``viewer_poses[i]`` as for
        :meth:`step`. Returns uint8 ``(H, W, 3)`` frames, one per view. Raises
        ``RuntimeError`` before a reset, ``ValueError`` when the lists do not hold one entry
        per view."""
        if not self._started:
            raise RuntimeError("LatentWorldModel.step called before reset")
        views = self._views
        B = len(views)
        if len(actions) != B or len(states) != B or len(viewer_poses) != B:
            raise ValueError(f"step_views needs one action, state and pose per view ({B}); got "
                             f"{len(actions)}, {len(states)}, {len(viewer_poses)}")
        cfg, P = self.dyn.cfg, self.dyn.cfg.tokens_per_frame
        actions = [np.asarray(a, np.float32) for a in actions]
        poses = [step_pose(v.pose, a) for v, a in zip(views, actions)]
        ents = [self._entities(st, vp, pose, v.origin) for st, vp, pose, v in zip(states, viewer_poses, poses, views)]
        memories = [self._retrieve(v, pose) for v, pose in zip(views, poses)]  # both passes see the same memory
        cache, _ = self._cache(views, memories)
        n_cache = cache[0][0].shape[2]
        shape = (1, 1, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
        if self.sampling.deterministic:
            ts = [1.0, 0.0]
        else:
            ts = torch.linspace(1.0, 0.0, self.steps + 1).tolist()
        new_pos = self._first_window_pos() + len(views[0].window)
        # First pass: the pending frame (fills its cache entry), the new frame's first step,
        # and every memory_every ticks the pending frame again as a memory entry (it sees the
        # anchor and itself only). Guidance rows share the conditional row's context.
        store = bool(cfg.memory) and self.tick > 0 and self.tick % self.sampling.memory_every == 0
        xs, warps, xin, cond, win, ent_rows = [], [], [], [], [], []
        R = 1
        for view, action, state, pose, ent in zip(views, actions, states, poses, ents):
            pz, pcond, mcond, ppose, pwarp, pent = view.pending
            warped = self._warped_input(view, pz, action, pose)
            x = torch.zeros(shape, device=self.device) if self.sampling.deterministic else \
                torch.randn(shape, generator=self.gen, device=self.device)
            guided = self._guided(ts[0], action, state, pose)
            R = guided.shape[0]
            frames = [pz, x] + ([pz] if store else [])
            xin.append(torch.cat(frames, 1).expand(R, -1, -1, -1, -1))
            cond.append(torch.cat([pcond.expand(R, -1, -1), guided] + ([mcond.expand(R, -1, -1)] if store else []), 1))
            win.append(torch.cat([pwarp, warped] + ([torch.zeros_like(pz)] if store else []), 1).expand(R, -1, -1, -1, -1))
            ent_rows.append(self._cat_entities([pent, ent] + ([pent] if store else []), R))
            xs.append(x)
            warps.append(warped)
        F = 3 if store else 2
        pos = torch.tensor([new_pos, new_pos + 1] + ([1] if store else []), device=self.device)
        tok = torch.zeros(F * P, n_cache + F * P, dtype=torch.bool, device=self.device)
        tok[:P, :n_cache + P] = True  # pending: context and itself
        tok[P:2 * P, :n_cache + 2 * P] = True  # new: context, pending, itself
        if store:  # memory entry: the anchor (the first P cache keys) and itself
            tok[2 * P:, :P] = True
            tok[2 * P:, n_cache + 2 * P:] = True
        cache_r = [(self._rows(k, R), self._rows(v, R)) for k, v in cache]
        v, kv = self.dynamics_runtime.dynamics(torch.cat(xin, 0), torch.cat(cond, 0), pos, cache_r, tok,
                                               torch.cat(win, 0), self._cat_views(ent_rows),
                                               [self.ctx_noise, ts[0], self.ctx_noise][:F])
        for b, view in enumerate(views):
            r = b * R  # the view's conditional row
            xs[b] = xs[b] - (ts[0] - ts[1]) * self._combine(v[r:r + R, 1:2])
            view.window.append([(k[r:r + 1, :, :P], vv[r:r + 1, :, :P]) for k, vv in kv])
            if store:
                view.memory.append((self.tick, view.pending[3],
                                    [(k[r:r + 1, :, 2 * P:], vv[r:r + 1, :, 2 * P:]) for k, vv in kv]))
        if self.steps > 1 and not self.sampling.deterministic:
            cache, _ = self._cache(views, memories)  # now with the pending frames' window entries
            pos = torch.tensor([new_pos + 1], device=self.device)
            for t, t_next in zip(ts[1:-1], ts[2:]):
                guided = [self._guided(t, a, st, pose) for a, st, pose in zip(actions, states, poses)]
                R = guided[0].shape[0]
                cache_r = [(self._rows(k, R), self._rows(vv, R)) for k, vv in cache]
                v, _ = self.dynamics_runtime.dynamics(
                    torch.cat([x.expand(R, -1, -1, -1, -1) for x in xs], 0), torch.cat(guided, 0), pos, cache_r, None,
                    torch.cat([w.expand(R, -1, -1, -1, -1) for w in warps], 0),
                    self._cat_views([self._cat_entities([e], R) for e in ents]), [t])
                xs = [x - (t - t_next) * self._combine(v[b * R:(b + 1) * R]) for b, x in enumerate(xs)]
        self.tick += 1
        z_all = torch.cat([x[:, 0] for x in xs], 0)
        layouts = None
        if self.ae.config.layout and self._scene is not None:
            viewers = [self._viewer(vp, pose, v.origin) for vp, pose, v in zip(viewer_poses, poses, views)]
            layouts = self._decoder_layouts(viewers, states)
        held = [False] * B
        if self.sampling.hold_still and not self.sampling.deterministic:
            z_all, held = self._replenish(views, actions, states, z_all, layouts)
        if all(held):  # nothing in any view changed: the decoder would draw the same frames
            shown = np.stack([v.shown for v in views])
        else:
            shown = self.decode(z_all, layouts)
        out = []
        for b, view in enumerate(views):
            # Slide: at most context-2 cached frames, so pending + new fill the window exactly.
            while len(view.window) > cfg.context - 2:
                view.window.pop(0)
            z = z_all[b:b + 1]
            view.pose = poses[b]
            self._set_pending(view, z, actions[b], states[b], poses[b], warps[b], ents[b])
            view.last_latent = z  # normalised (1, C, h, w): what the decoder was given
            view.frame = view.shown = shown[b]
            out.append(shown[b])
        return out

    def _replenish(self, views: list[_View], actions: list, states: list[WorldState], z_all: torch.Tensor,
                   layouts: torch.Tensor | None) -> tuple[torch.Tensor, list[bool]]:
        """Conditional replenishment (:attr:`Sampling.hold_still`): ``z_all`` ``(B, C, h, w)``
        with every still view's unchanged cells set back to its last latent, and per view
        whether every cell was held. A cell changed where the decoder's layout or albedo
        differs from the last tick's in any of its pixels (widened by one cell); a view
        regenerates whole while it moves, for ``hold_settle`` ticks after a change of its
        world state, and without a layout."""
        out, held = [], []
        size = z_all.shape[-1]
        for b, (view, action, state) in enumerate(zip(views, actions, states)):
            z = z_all[b:b + 1]
            sv = state.vector()
            layout = None if layouts is None else layouts[b:b + 1]
            prev_layout, prev_state = view.hold_layout, view.hold_state
            view.hold_layout, view.hold_state = layout, sv
            if prev_state is None or not np.array_equal(sv, prev_state):
                view.settle = max(view.settle, self.sampling.hold_settle)
            if (view.settle > 0 or not self._camera_still(action) or layout is None or prev_layout is None
                    or prev_layout.shape != layout.shape or view.last_latent is None):
                view.settle = max(view.settle - 1, 0)
                out.append(z)
                held.append(False)
                continue
            changed = ((layout - prev_layout).abs().amax(1, keepdim=True) > 1e-3).float()  # (1, 1, H, W)
            cells = F.max_pool2d(F.adaptive_max_pool2d(changed, size), 3, 1, 1) > 0  # (1, 1, h, w)
            out.append(torch.where(cells, z, view.last_latent))
            held.append(not bool(cells.any()))
        return torch.cat(out, 0), held

    def _warped_input(self, view: _View, pz: torch.Tensor, action: np.ndarray, pose: np.ndarray) -> torch.Tensor:
        """What the new frame of ``view`` is stacked with ``(1, 1, C, h, w)``: its predecessor
        warped by the camera motion (``cfg.warp``, or in pixels with ``cfg.pixel_warp``), as
        it is (``cfg.stack_previous``), or zeros."""
        cfg = self.dyn.cfg
        if cfg.pixel_warp or cfg.warp:
            motion = torch.tensor([[action[0], action[1], action[2], pose[3] - view.pose[3]]], device=self.device)
        if cfg.pixel_warp:
            from .autoencoder import frames_to_tensor
            from .warp import warp_frames

            img = warp_frames(frames_to_tensor(view.frame[None]).to(self.device), motion)
            return ((self.ae.encode(img) - self.mean) / self.std).unsqueeze(1)
        if cfg.warp:
            from .warp import ego_warp

            return ego_warp(pz[:, 0], motion).unsqueeze(1)
        if cfg.stack_previous:
            return pz  # the predecessor as it is, lightly noised like the cached context
        return torch.zeros_like(pz)

    @staticmethod
    def _cat_views(parts: list) -> tuple | None:
        """Entity inputs of several views stacked on the batch dimension; None without."""
        if not parts or parts[0] is None:
            return None
        return tuple(torch.cat([p[i] for p in parts], 0) for i in range(len(parts[0])))

    quality_levels: tuple[str, ...] = tuple(QUALITY_RUNGS)

    def set_quality(self, level: str) -> None:
        """Draw from the next tick at rung ``level`` of :data:`QUALITY_RUNGS` (``high``: the
        card's sampling). Raises ``ValueError`` for another name."""
        if level not in QUALITY_RUNGS:
            raise ValueError(f"no quality level {level!r}; this model has {', '.join(QUALITY_RUNGS)}")
        self.sampling = replace(self._top_sampling, **QUALITY_RUNGS[level])

    def divergence(self) -> list[float]:
        """Per view, how far its last frame's latent lies outside the range the model was
        trained on (:mod:`engine.model.divergence`): the latent's RMS over the card's
        ``divergence.latent_rms_bound`` (default :data:`~engine.model.divergence.LATENT_RMS_BOUND`).
        Above 1: the rollout is diverging. Empty before :meth:`reset`."""
        from .divergence import LATENT_RMS_BOUND, latent_rms

        bound = float(((self.card or {}).get("divergence") or {}).get("latent_rms_bound", LATENT_RMS_BOUND))
        return [float(latent_rms(v.last_latent)[0]) / bound for v in self._views if v.last_latent is not None]

    @torch.inference_mode()
    def reanchor(self, frames: list[np.ndarray], states: list[WorldState], viewer_poses: list) -> list[np.ndarray]:
        """Restart every view's context on ``frames[i]`` (uint8 ``(H, W, 3)``, what view ``i``
        should show now, e.g. its last healthy frame) seen from ``viewer_poses[i]`` under
        ``states[i]``: each frame becomes its view's anchor, the window and the frame memory are
        emptied. The prompt's text, the scene graph, the tick and the sampling noise's state
        are kept, so the session goes on as before. Returns the frames now shown (the
        autoencoder's reconstruction of ``frames``). Raises ``RuntimeError`` before a reset and
        ``ValueError`` when the lists do not hold one entry per view or a frame has the
        wrong shape."""
        if not self._started:
            raise RuntimeError("LatentWorldModel.reanchor called before reset")
        if not (len(frames) == len(states) == len(viewer_poses) == len(self._views)):
            raise ValueError(f"reanchor needs one frame, state and pose per view ({len(self._views)}); got "
                             f"{len(frames)}, {len(states)}, {len(viewer_poses)}")
        views, shown = [], []
        for frame, state, viewer_pose, old in zip(frames, states, viewer_poses, self._views):
            view = _View()
            view.origin = (np.asarray(viewer_pose, np.float32).copy() if viewer_pose is not None
                           else compose(old.origin, old.pose))
            shown.append(self._open_view(view, Prompt("", np.asarray(frame, np.uint8)), state))
            views.append(view)
        self._views = views
        return shown

    def snapshot(self) -> dict:
        """Everything needed to resume generation exactly from here (bookmarks, rewind)."""
        return {"views": [v.copy() for v in self._views], "text": self._text, "tick": self.tick,
                "rng": self.gen.get_state().clone(), "scene": self._scene, "started": self._started}

    def restore(self, snap: dict) -> None:
        self._views = [v.copy() for v in snap["views"]]
        self._text = snap.get("text")
        self.tick = snap["tick"]
        self.gen.set_state(snap["rng"])
        self._scene = snap.get("scene")
        self._started = snap.get("started", True)
