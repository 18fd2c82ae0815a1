"""Block-causal transformer over latent frames, trained with diffusion forcing and flow matching.

Shape of the idea (DESIGN.md §2):

* Each latent frame ``(C, 8, 8)`` is cut into 2×2 patches: 16 tokens per frame.
* Attention is *block-causal*: all tokens of a frame see each other and every earlier frame
  (Oasis, Genie 2, Dreamer 4).
* *Diffusion forcing* (Chen et al. 2024): every frame of a training clip carries its own
  noise level ``t``; the model denoises all of them at once, so at inference the past can be
  kept lightly noised against drift (GameNGen, Oasis, DIAMOND) while the new frame starts
  from pure noise.
* *Flow matching / rectified flow* (Lipman et al. 2023; Liu et al. 2023): ``x_t = (1 - t) x_0
  + t ε`` and the network predicts the velocity ``v = ε - x_0``; sampling integrates from
  ``t = 1`` to ``0`` in 1–4 Euler steps.
* Conditioning per frame (noise level, action, world state) enters every block through
  adaptive layer norm with zero-initialised gates (DiT's adaLN-Zero; DIAMOND, Oasis).
* Frame order is encoded with rotary position embeddings over the frame index (RoFormer),
  so a key-value cache stays valid as the window slides.
* Sequence position 0 is the *anchor*: the scenario's opening frame, always kept in context
  so the room stays recognisable once the opening leaves the sliding window. With a text
  prompt and no image the anchor itself is generated (it is trained noised, like any frame).
* Optional conditioning (config switches, off in older models): the *dead-reckoned camera
  pose* of every frame relative to the anchor (:mod:`engine.model.pose`), and a sentence
  embedding of the *world prompt* (all-MiniLM-L6-v2, 384-d) shared by all frames of a clip.
  Actions (with the pose) and the prompt are dropped independently during training, so
  both can be sampled with classifier-free guidance (Ho & Salimans 2022; Genie 2).
* *Entities in view* (config switch ``entities``): the avatar, the other participants and the
  blood pool, projected into each frame's camera (:mod:`engine.world.entities`). Every slot
  has a learned embedding plus an MLP of its projected centre, extent, inverse depth and
  facing; it is added to the tokens of the image cells its projected box covers, weighted by
  the coverage, so the network is told where each person stands in the view and which seat
  they are (layout conditioning in the manner of GLIGEN's grounding boxes, Li et al. 2023).
* *Scene layout* (config switch ``layout``, needs ``entities``): a class map and an inverse-depth
  map of the view, rendered from the room preset's scene graph at the frame's camera pose
  (:mod:`engine.world.layout`), pooled to the latent grid and patchified like the latent, are
  embedded and added to every frame's tokens, so the model is told where the floor, the walls,
  each piece of furniture and each person are and only has to draw them (GEN3C's per-frame
  render of a 3D cache, Ren et al. 2025; SPADE's semantic layout, Park et al. 2019).
* *Pose-indexed frame memory* (WorldMem, Xiao et al. 2025; RTFM): ``memory`` earlier frames,
  retrieved by pose, sit between the anchor and the window at one shared position. Each
  memory frame attends to the anchor and itself only, so its keys and values are computed
  once, when it enters the memory bank, and stay valid wherever it is retrieved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .pose import pose_features


#: Smallest noise level a residual model divides by: below it a frame is clean context, whose
#: output nothing reads (its clean-latent estimate ``x_t - t·v`` is then ``x_t`` itself).
T_FLOOR = 1e-3


@dataclass(frozen=True)
class DynamicsConfig:
    latent_channels: int = 8
    latent_size: int = 8
    patch: int = 2
    width: int = 256
    depth: int = 6
    heads: int = 8
    mlp_ratio: float = 3.0
    cond_dim: int = 128
    #: Frames in the sliding window, the one being generated included (the anchor is extra).
    context: int = 6
    action_dim: int = 4
    state_dim: int = 4
    #: Pose features per frame (0: no pose conditioning; see engine.model.pose.POSE_DIM).
    pose_dim: int = 0
    #: Prompt embedding size (0: not text-conditioned; 384 for all-MiniLM-L6-v2).
    text_dim: int = 0
    #: Retrieved memory frames in context (0: no frame memory).
    memory: int = 0
    #: Each frame also sees its predecessor's latent warped by the camera motion
    #: (engine.model.warp), beside its own tokens.
    warp: bool = False
    #: Each frame also sees its predecessor's latent as it is (stacked on its tokens, as
    #: DIAMOND and GameNGen stack past frames on the denoiser's input), so carrying a frame
    #: forward is a direct path and attention learns what changes.
    stack_previous: bool = False
    #: Each frame also sees its predecessor's *decoded frame* moved by the camera motion in
    #: pixel space and encoded again (engine.model.warp.warp_frames): the carried-forward
    #: frame keeps its edges, where a warp of the 16×16 latent itself averages cells.
    pixel_warp: bool = False
    #: The network's output is a *correction* of the predecessor input (``warped``, zeros
    #: where a frame has none): the clean-latent estimate is ``warped + output`` and the
    #: velocity returned is the one that estimate implies, ``(x_t - x0_hat) / t``. At
    #: initialisation the model carries the (warped) predecessor forward unchanged and learns
    #: only what changes (the skip of EDM's c_skip, Karras et al. 2022; residual video
    #: prediction, Yang et al. 2022). Needs ``sees_predecessor``.
    residual: bool = False
    #: Entity slots projected into each frame (0: none; engine.world.entities.N_SLOTS).
    entities: int = 0
    #: Features per entity slot (engine.world.entities.FEATURE_DIM).
    entity_features: int = 9
    #: Channels of the scene layout of each frame (0: none; engine.world.layout.LAYOUT_DIM).
    #: The layout travels as the third and fourth members of the ``entities`` input.
    layout: int = 0

    def __post_init__(self):
        if self.residual and not self.sees_predecessor:
            raise ValueError("dynamics.residual corrects the predecessor input: set one of dynamics.pixel_warp, "
                             "dynamics.warp or dynamics.stack_previous as well")
        if self.layout and not self.entities:
            raise ValueError("dynamics.layout travels with the entities in view: set dynamics.entities as well")

    @property
    def tokens_per_frame(self) -> int:
        return (self.latent_size // self.patch) ** 2

    @property
    def sees_predecessor(self) -> bool:
        """Whether each frame's tokens carry its predecessor's latent (warped or as it is)."""
        return bool(self.warp or self.stack_previous or self.pixel_warp)

    @property
    def grid(self) -> int:
        """Tokens per side of a frame's token grid."""
        return self.latent_size // self.patch

    @property
    def token_dim(self) -> int:
        return self.latent_channels * self.patch**2

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_features(t: torch.Tensor, dim: int = 64) -> torch.Tensor:
    """Sinusoidal features of noise levels ``t`` in [0, 1]: ``(...,)`` → ``(..., dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    ang = (t[..., None] * 1000.0) * freqs
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


_ROPE_TABLES: dict = {}


def _rope_table(d: int, device: torch.device, base: float, size: int = 256):
    key = (d, str(device), base)
    if key not in _ROPE_TABLES:
        freqs = base ** (-torch.arange(d, dtype=torch.float32, device=device) / d)
        ang = torch.arange(size, dtype=torch.float32, device=device)[:, None] * freqs[None, :]
        _ROPE_TABLES[key] = (ang.cos(), ang.sin())
    return _ROPE_TABLES[key]


def rope(x: torch.Tensor, pos: torch.Tensor, base: float = 100.0) -> torch.Tensor:
    """Rotate ``x`` ``(B, H, N, D)`` by integer frame positions ``pos`` ``(N,)``, 0..255 (RoFormer)."""
    d = x.shape[-1] // 2
    cos_t, sin_t = _rope_table(d, x.device, base)
    cos, sin = cos_t[pos], sin_t[pos]
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-Zero conditioning."""

    def __init__(self, cfg: DynamicsConfig):
        super().__init__()
        d = cfg.width
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.mod = nn.Linear(cfg.cond_dim, 6 * d)
        nn.init.zeros_(self.mod.weight)
        nn.init.zeros_(self.mod.bias)

    def forward(self, x, cond, q_pos, mask=None, past=None, past_pos=None, past_rotated=False):
        """``x`` ``(B, N, d)`` with N = F frames × P tokens; ``cond`` ``(B, F, cond_dim)``, one
        row per frame; ``q_pos`` ``(N,)`` frame indices.

        ``past`` = ``(k, v)`` each ``(B, H, M, d/H)`` of earlier frames (un-rotated) with
        positions ``past_pos`` ``(M,)``; ``past_rotated`` says ``past``'s keys are already
        rotated to those positions (saves work when one cache serves several calls). Returns ``(x, (k, v))`` with this call's un-rotated
        keys and values, for a KV cache.
        """
        b, n, d = x.shape
        mod = self.mod(F.silu(cond))  # per frame: (B, F, 6d)
        if mod.shape[1] > 1:
            mod = mod.repeat_interleave(n // mod.shape[1], dim=1)  # to tokens
        sh1, sc1, g1, sh2, sc2, g2 = mod.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + sc1) + sh1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        k_all, v_all, k_pos = k, v, q_pos
        if past is not None:
            k_all = torch.cat([past[0], k], dim=2)
            v_all = torch.cat([past[1], v], dim=2)
            k_pos = torch.cat([past_pos, q_pos])
        if past is not None and past_rotated:
            k_rot = torch.cat([past[0], rope(k, q_pos)], dim=2)
        else:
            k_rot = rope(k_all, k_pos)
        attn = F.scaled_dot_product_attention(rope(q, q_pos), k_rot, v_all, attn_mask=mask)
        x = x + g1 * self.proj(attn.transpose(1, 2).reshape(b, n, d))
        x = x + g2 * self.mlp(self.norm2(x) * (1 + sc2) + sh2)
        return x, (k, v)


class DynamicsModel(nn.Module):
    """Predicts the flow-matching velocity of every frame of a latent sequence.

    Inputs to :meth:`forward` (``B`` clips of ``T = 1 + M + K`` frames: the anchor, ``M =
    cfg.memory`` memory frames, then ``K`` consecutive frames):

    * ``x``: noisy latents float32 ``(B, T, C, h, w)``
    * ``t``: noise levels float32 ``(B, T)`` in [0, 1] (0 = clean)
    * ``actions``: float32 ``(B, T, 4)``, already divided by the action limits
    * ``states``: float32 ``(B, T, 4)`` world-state vectors
    * ``poses``: float32 ``(B, T, 4)`` dead-reckoned poses (x, z metres; yaw, pitch radians),
      used when ``cfg.pose_dim``
    * ``text``: float32 ``(B, text_dim)`` prompt embeddings, used when ``cfg.text_dim``
    * ``drop_action`` / ``drop_text``: optional bool ``(B,)``; True replaces the action (and
      pose) / the prompt by a learned null embedding (for classifier-free guidance)
    * ``memory_valid``: optional bool ``(B, M)``; False masks an empty memory slot out
    * ``warped``: optional ``(B, T, C, h, w)``, each frame's predecessor (warped by the camera
      motion with ``cfg.warp``, or decoded, warped and re-encoded with ``cfg.pixel_warp``;
      zeros where there is none), used when ``cfg.sees_predecessor``
    * ``entities``: optional ``(coverage (B, T, S, P), features (B, T, S, F))`` from
      :func:`engine.world.entities.project_entities` (``S = cfg.entities`` slots, ``P``
      tokens per frame), used when ``cfg.entities``; a layout model takes two more members,
      the layout class map ``(B, T, 2h, 2w)`` and inverse depth ``(B, T, h, w)`` of
      :mod:`engine.world.layout` (any float or integer dtype)

    Returns the velocity ``(B, T, C, h, w)``.
    """

    def __init__(self, cfg: DynamicsConfig = DynamicsConfig()):
        super().__init__()
        self.cfg = cfg
        d, c = cfg.width, cfg.cond_dim
        self.embed = nn.Linear(cfg.token_dim * (2 if cfg.sees_predecessor else 1), d)
        self.spatial = nn.Parameter(torch.randn(cfg.tokens_per_frame, d) * 0.02)
        self.t_mlp = nn.Sequential(nn.Linear(64, c), nn.SiLU(), nn.Linear(c, c))
        self.a_mlp = nn.Sequential(nn.Linear(cfg.action_dim, c), nn.SiLU(), nn.Linear(c, c))
        self.s_mlp = nn.Sequential(nn.Linear(cfg.state_dim, c), nn.SiLU(), nn.Linear(c, c))
        self.null_cond = nn.Parameter(torch.zeros(c))
        self.anchor_cond = nn.Parameter(torch.zeros(c))
        if cfg.pose_dim:
            self.p_mlp = nn.Sequential(nn.Linear(cfg.pose_dim, c), nn.SiLU(), nn.Linear(c, c))
        if cfg.text_dim:
            self.text_mlp = nn.Sequential(nn.Linear(cfg.text_dim, c), nn.SiLU(), nn.Linear(c, c))
            self.null_text = nn.Parameter(torch.zeros(c))
        if cfg.memory:
            self.memory_cond = nn.Parameter(torch.zeros(c))
        if cfg.entities:
            self.ent_mlp = nn.Sequential(nn.Linear(cfg.entity_features, d), nn.SiLU(), nn.Linear(d, d))
            self.ent_slot = nn.Parameter(torch.randn(cfg.entities, d) * 0.02)
        if cfg.layout:
            self.layout_embed = nn.Linear(cfg.layout * cfg.patch**2, d)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.out_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.out_mod = nn.Linear(c, 2 * d)
        self.out = nn.Linear(d, cfg.token_dim)
        for layer in (self.out_mod, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    # ------------------------------------------------------------ token plumbing
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, h, w)`` → ``(B, T, P, C·p·p)`` with ``P`` tokens per frame."""
        b, t, c, h, w = x.shape
        p = self.cfg.patch
        x = x.reshape(b, t, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(b, t, (h // p) * (w // p), c * p * p)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, _ = x.shape
        p, c, s = self.cfg.patch, self.cfg.latent_channels, self.cfg.latent_size
        g = s // p
        x = x.reshape(b, t, g, g, c, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return x.reshape(b, t, c, s, s)

    def frame_cond(self, t, actions, states, *, poses=None, text=None, anchor: torch.Tensor | None = None,
                   memory: torch.Tensor | None = None, drop_action=None, drop_text=None) -> torch.Tensor:
        """Per-frame conditioning ``(B, T, cond_dim)``.

        ``t`` ``(B, T)``, ``actions``/``states``/``poses`` ``(B, T, 4)``, ``text`` ``(B,
        text_dim)`` or None (the null prompt); ``anchor``/``memory`` bool ``(T,)`` mark
        anchor and memory frames; ``drop_*`` bool ``(B,)`` as in :meth:`forward`.
        """
        act = self.a_mlp(actions)
        if self.cfg.pose_dim and poses is not None:
            act = act + self.p_mlp(pose_features(poses))
        if drop_action is not None:
            act = torch.where(drop_action[:, None, None], self.null_cond.expand_as(act), act)
        cond = self.t_mlp(timestep_features(t)) + act + self.s_mlp(states)
        if self.cfg.text_dim:
            b = cond.shape[0]
            if text is None:
                txt = self.null_text.expand(b, -1)
            else:
                txt = self.text_mlp(text.expand(b, -1))
                if drop_text is not None:
                    txt = torch.where(drop_text[:, None], self.null_text.expand_as(txt), txt)
            cond = cond + txt[:, None]
        if anchor is not None:
            cond = cond + anchor[None, :, None].float() * self.anchor_cond
        if memory is not None and self.cfg.memory:
            cond = cond + memory[None, :, None].float() * self.memory_cond
        return cond

    def frame_layout(self, T: int, device=None):
        """Frame positions ``(T,)`` and anchor/memory flags ``(T,)`` of a training clip of
        ``T`` frames: anchor at 0, memory frames all at position 1, then consecutive frames."""
        M = self.cfg.memory
        kind = torch.full((T,), 2, dtype=torch.long, device=device)
        kind[0] = 0
        kind[1:1 + M] = 1
        pos = torch.arange(T, device=device)
        if M:
            pos = torch.where(kind == 1, torch.ones_like(pos), pos - M + 1)
            pos[0] = 0
        return pos, kind == 0, kind == 1

    def attention_mask(self, T: int, memory_valid=None, device=None) -> torch.Tensor:
        """Boolean mask over the ``T·P`` tokens of a training clip (True = may attend):
        block-causal, except that memory frames see only the anchor and themselves.
        With ``memory_valid`` ``(B, M)`` the mask is ``(B, 1, T·P, T·P)``."""
        P, M = self.cfg.tokens_per_frame, self.cfg.memory
        f = torch.arange(T, device=device)
        allow = f[None, :] <= f[:, None]
        if M:
            is_mem = (f >= 1) & (f <= M)
            allow = allow & ~(is_mem[:, None] & (f[None, :] >= 1) & (f[None, :] != f[:, None]))
        allow = allow.repeat_interleave(P, 0).repeat_interleave(P, 1)
        if M and memory_valid is not None:
            key_ok = torch.ones(memory_valid.shape[0], T, dtype=torch.bool, device=device)
            key_ok[:, 1:1 + M] = memory_valid
            key_ok = key_ok.repeat_interleave(P, 1)
            allow = allow[None] & key_ok[:, None, :]
            eye = torch.eye(T * P, dtype=torch.bool, device=device)
            allow = (allow | eye)[:, None]  # an empty slot still attends to itself (no NaN rows)
        return allow

    def _tokens(self, x: torch.Tensor, warped: torch.Tensor | None = None, entities=None) -> torch.Tensor:
        """Token embeddings ``(B, F, P, d)``; ``warped`` ``(B, F, C, h, w)`` is each frame's
        warped predecessor (zeros where there is none), used when ``cfg.warp``; ``entities``
        as in :meth:`forward`, used when ``cfg.entities``."""
        tok = self.patchify(x)
        if self.cfg.sees_predecessor:
            tok = torch.cat([tok, self.patchify(torch.zeros_like(x) if warped is None else warped)], -1)
        h = self.embed(tok) + self.spatial
        if self.cfg.entities and entities is not None:
            cov, feat = entities[:2]
            e = self.ent_mlp(feat) + self.ent_slot  # (B, F, S, d)
            h = h + torch.einsum("bfsp,bfsd->bfpd", cov, e)
            if self.cfg.layout and len(entities) > 2:
                from ..world.layout import layout_features

                h = h + self.layout_embed(self.patchify(layout_features(*entities[2:4])))
        return h

    def _head(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        mod = self.out_mod(F.silu(cond))
        if mod.shape[1] > 1:
            mod = mod.repeat_interleave(h.shape[1] // mod.shape[1], dim=1)
        shift, scale = mod.chunk(2, dim=-1)
        return self.out(self.out_norm(h) * (1 + scale) + shift)

    # ------------------------------------------------------------ training forward
    def forward(self, x, t, actions, states, poses=None, text=None, drop_action=None, drop_text=None,
                memory_valid=None, warped=None, entities=None):
        b, T = x.shape[:2]
        P = self.cfg.tokens_per_frame
        pos, anchor, memory = self.frame_layout(T, x.device)
        cond = self.frame_cond(t, actions, states, poses=poses, text=text, anchor=anchor, memory=memory,
                               drop_action=drop_action, drop_text=drop_text)  # (B, T, c)
        h = self._tokens(x, warped, entities).reshape(b, T * P, -1)
        mask = self.attention_mask(T, memory_valid, x.device)
        frame_pos = pos.repeat_interleave(P)
        for blk in self.blocks:
            h, _ = blk(h, cond, frame_pos, mask=mask)
        out = self._head(h, cond).reshape(b, T, P, -1)
        return self._velocity(self.unpatchify(out), x, t, warped)

    def _velocity(self, out: torch.Tensor, x: torch.Tensor, t: torch.Tensor | list[float] | None,
                  warped: torch.Tensor | None) -> torch.Tensor:
        """The velocity ``(B, F, C, h, w)`` from the head's output ``out``: the output itself,
        or with ``cfg.residual`` the velocity of the estimate ``warped + out`` from ``x`` at
        noise levels ``t`` ``(B, F)`` or ``(F,)`` (floored at ``T_FLOOR``, where a frame is
        clean and its output unused)."""
        if not self.cfg.residual:
            return out
        if t is None:
            raise ValueError("a residual dynamics model needs the noise levels t of the frames it denoises")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[:2]).clamp_min(T_FLOOR)[:, :, None, None, None]
        x0_hat = out if warped is None else warped + out
        return (x - x0_hat) / t

    # ------------------------------------------------------------ cached inference
    def forward_cached(self, x, cond, pos: torch.Tensor, cache: list | None, cache_pos: torch.Tensor | None,
                       rotated: bool = False, mask: torch.Tensor | None = None, warped: torch.Tensor | None = None,
                       entities=None, t: torch.Tensor | list[float] | None = None):
        """New frames' tokens against a KV cache of earlier frames.

        ``x`` ``(B, F, C, h, w)`` (F new frames, block-causal among themselves);
        ``cond`` ``(B, F, cond_dim)``; ``pos`` ``(F,)`` their frame indices; ``cache`` a
        per-block list of ``(k, v)`` or None, with positions ``cache_pos`` ``(M,)``;
        ``rotated`` True if the cached keys are already rotated (:meth:`rotate_cache`);
        ``mask`` an explicit boolean ``(F·P, M + F·P)`` attention mask instead; ``entities``
        ``(coverage (B, F, S, P), features (B, F, S, E))`` of the new frames; ``t`` their noise
        levels ``(B, F)`` or ``(F,)`` (a tensor or a list of floats, turned into a tensor only by a
        ``cfg.residual`` model, which needs them: ValueError without).
        Returns ``(velocity (B, F, C, h, w), [(k, v) per block] of the new tokens)``.
        """
        b, n_new = x.shape[:2]
        P = self.cfg.tokens_per_frame
        h = self._tokens(x, warped, entities).reshape(b, n_new * P, -1)
        q_pos = pos.repeat_interleave(P)
        if mask is None and n_new > 1:
            local = torch.arange(n_new, device=x.device).repeat_interleave(P)
            mask = local[None, :] <= local[:, None]
            if cache is not None:
                mask = torch.cat([mask.new_ones(len(q_pos), cache[0][0].shape[2]), mask], dim=1)
        new_kv = []
        for i, blk in enumerate(self.blocks):
            past = None if cache is None else cache[i]
            h, kv = blk(h, cond, q_pos, mask=mask, past=past, past_pos=cache_pos, past_rotated=rotated)
            new_kv.append(kv)
        out = self._head(h, cond).reshape(b, n_new, P, -1)
        return self._velocity(self.unpatchify(out), x, t, warped), new_kv

    @staticmethod
    def rotate_cache(cache: list, pos: torch.Tensor) -> list:
        """Rotate the keys of a per-block ``(k, v)`` cache to frame positions ``pos`` once."""
        return [(rope(k, pos), v) for k, v in cache]
