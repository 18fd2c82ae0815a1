"""Train the dynamics model with diffusion forcing and a flow-matching objective.

Each training sample is the anchor (an episode's first frame), ``cfg.memory`` memory frames
retrieved by pose from before the clip (as the live frame memory retrieves them), and a clip
of ``context`` consecutive frames. Noise levels per clip frame follow one of two schedules,
half the batch each:

* *diffusion forcing* (Chen et al. 2024): every frame gets an independent ``t ~ U(0, 1)``;
* *live-like*: the earlier frames are lightly noised (``t ~ U(0, 0.2)``, as the KV cache
  holds them at inference) and the last frame gets ``t ~ U(0, 1)``.

Memory frames are lightly noised context. The anchor is clean, except in ``anchor_gen`` of
the clips, where it is noised and learned too: that is how the model learns to draw an
opening frame from a text prompt alone. ``anchor_batch`` more single frames per step, drawn
from anywhere in the episodes (any view of a room is a fair opening of it), are learned as
anchors from their caption alone, so that drawing a room from words gets as much practice
as continuing one.

With entity conditioning (``cfg.entities``), each frame carries the avatar, the other
participants and the blood pool projected into its camera. All of it is dropped for
``entity_drop`` of the clips and the blood pool alone for as many more, so the model still
draws what the world state says where a session cannot tell it where things are (a
scenario opened on an image has no known bleed site). A scene layout (``cfg.layout``) travels
with the entities and is dropped with them (as the empty layout).

The network predicts the rectified-flow velocity ``ε - x_0``; the loss is the MSE of the
clean latent that velocity implies (see :func:`flow_loss`). Actions (with the pose) and the
prompt are dropped independently for ``cond_drop`` of the clips (learned null embeddings),
so the model can later be sampled with classifier-free guidance.

``objective="regressor"`` trains the same network as the *deterministic one-step regressor*
baseline instead: clean context (teacher forcing), the last frame's input all zeros, its
clean latent regressed directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..model.dynamics import DynamicsConfig, DynamicsModel
from ..model.pose import memory_score
from .common import run_steps
from .distributed import wrap

@dataclass
class TrainData:
    """Stacked training episodes (all tensors float32 on the CPU).

    ``latents`` ``(E, T, C, h, w)`` normalised; ``actions`` ``(E, T, 4)`` divided by the
    action limits; ``states`` ``(E, T, 4)``; ``poses`` ``(E, T, 4)`` dead-reckoned;
    ``text`` ``(E, V, D)`` V prompt embeddings (caption paraphrases) per episode, or None;
    ``entities`` ``(coverage (E, T, S, P), features (E, T, S, F))`` projected into each
    frame's true camera (:func:`engine.world.entities.project_entities`), or None;
    ``warped`` ``(E, T, C, h, w)`` normalised latents of each frame's predecessor moved into
    its view in pixel space (:func:`engine.model.warp.warp_frames`; frame 0: zeros), for
    models with ``pixel_warp``, or None.
    """

    latents: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor
    poses: torch.Tensor
    text: torch.Tensor | None = None
    entities: tuple[torch.Tensor, torch.Tensor] | None = None
    warped: torch.Tensor | None = None


def sample_batch(data: TrainData, *, batch: int, context: int, memory: int, g: torch.Generator):
    """Clips ``(anchor, memory..., clip...)`` → dict of ``x0 (B, T, C, h, w)``, ``a``, ``s``,
    ``p`` ``(B, T, 4)``, ``text`` ``(B, D)`` or None, ``memory_valid`` ``(B, M)``, ``ent``
    ``(coverage (B, T, S, P), features (B, T, S, F))`` or None, ``warped`` ``(B, T, C, h, w)``
    (each clip frame's pixel-warped predecessor, zeros for the anchor and memory) or None."""
    E, T = data.latents.shape[:2]
    e = torch.randint(0, E, (batch,), generator=g)
    s0 = torch.randint(1, T - context + 1, (batch,), generator=g)
    idx = s0[:, None] + torch.arange(context)[None, :]  # (B, K)
    zeros = torch.zeros(batch, 1, dtype=torch.long)
    parts = [zeros]
    valid = torch.zeros(batch, memory, dtype=torch.bool)
    if memory:
        cand = data.poses[e]  # (B, T, 4)
        score = memory_score(data.poses[e, idx[:, -1]], cand)
        t_idx = torch.arange(T)[None, :]
        usable = (t_idx >= 1) & (t_idx < s0[:, None])
        score = torch.where(usable, score, torch.full_like(score, math.inf))
        best = score.topk(memory, dim=1, largest=False)
        mem_idx = torch.where(best.values.isfinite(), best.indices, torch.zeros_like(best.indices))
        valid = best.values.isfinite()
        parts.append(mem_idx)
    frames = torch.cat(parts + [idx], 1)  # (B, 1 + M + K)
    x0 = data.latents[e[:, None], frames]
    a = data.actions[e[:, None], frames].clone()
    a[:, :1 + memory] = 0.0  # the anchor and memory frames carry no action, only their pose
    s = data.states[e[:, None], frames]
    p = data.poses[e[:, None], frames]
    text = None
    if data.text is not None:
        v = torch.randint(0, data.text.shape[1], (batch,), generator=g)
        text = data.text[e, v]
    ent = None
    if data.entities is not None:
        ent = tuple(part[e[:, None], frames].float() for part in data.entities)
    warped = None
    if data.warped is not None:
        warped = data.warped[e[:, None], frames].float()
        warped[:, :1 + memory] = 0.0
    return {"x0": x0, "a": a, "s": s, "p": p, "text": text, "memory_valid": valid, "ent": ent, "warped": warped}


def sample_anchors(data: TrainData, *, batch: int, g: torch.Generator) -> dict:
    """``batch`` single frames from anywhere in the episodes, as openings drawn from their
    caption: the same dict as :func:`sample_batch` with ``T = 1`` (zero action and pose)."""
    E, T = data.latents.shape[:2]
    e = torch.randint(0, E, (batch,), generator=g)
    t = torch.randint(0, T, (batch,), generator=g)
    x0 = data.latents[e, t][:, None]
    zeros = torch.zeros(batch, 1, data.actions.shape[-1])
    text = None
    if data.text is not None:
        text = data.text[e, torch.randint(0, data.text.shape[1], (batch,), generator=g)]
    ent = None
    if data.entities is not None:
        ent = tuple(part[e, t][:, None].float() for part in data.entities)
    return {"x0": x0, "a": zeros, "s": data.states[e, t][:, None], "p": torch.zeros(batch, 1, 4), "text": text,
            "memory_valid": torch.zeros(batch, 0, dtype=torch.bool), "ent": ent}


def to_device(batch: dict, device: torch.device) -> dict:
    """A :func:`sample_batch` dict with its tensors on ``device``."""
    def move(v):
        if torch.is_tensor(v):
            return v.to(device)
        if isinstance(v, tuple):
            return tuple(move(x) for x in v)
        return v
    return {k: move(v) for k, v in batch.items()}


def drop_entities(ent, share: float, g: torch.Generator):
    """``ent`` with all slots zeroed for ``share`` of the clips and the blood pool's slot (the
    last) for as many more; None stays None."""
    if ent is None or share <= 0:
        return ent
    cov, feat = ent[:2]
    B = cov.shape[0]
    r = torch.rand(B, generator=g).to(cov.device)
    keep = torch.ones(B, 1, cov.shape[2], 1, device=cov.device)
    keep[r < share] = 0.0
    keep[(r >= share) & (r < 2 * share), :, -1] = 0.0
    # A layout (members 3 and 4) is dropped with all the slots: class "none", no depth.
    layout = tuple(part * (r >= share).view(B, *[1] * (part.dim() - 1)).to(part.dtype) for part in ent[2:])
    return (cov * keep, feat * keep, *layout)


def noise_levels(batch: int, frames: int, g: torch.Generator) -> torch.Tensor:
    """``(B, frames)`` noise levels for the clip frames (see the module docstring)."""
    t = torch.rand(batch, frames, generator=g)
    live = torch.rand(batch, generator=g) < 0.5
    light = 0.2 * torch.rand(batch, frames, generator=g)
    light[:, -1] = t[:, -1]
    return torch.where(live[:, None], light, t)


def frame_motion(actions_scaled: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
    """Camera motion into each frame ``(..., 4)`` (forward, strafe, Δyaw, Δpitch) from scaled
    actions and dead-reckoned poses ``(..., T, 4)``; Δpitch comes from the poses (pitch is
    clamped). The first frame's motion is its action."""
    from ..actions import ACTION_LIMITS

    raw = actions_scaled * torch.as_tensor(ACTION_LIMITS, device=actions_scaled.device)
    dpitch = torch.zeros_like(raw[..., 3])
    dpitch[..., 1:] = poses[..., 1:, 3] - poses[..., :-1, 3]
    return torch.stack([raw[..., 0], raw[..., 1], raw[..., 2], dpitch], -1)


def encode_warped_predecessors(ae, frames: np.ndarray, actions: torch.Tensor, poses: torch.Tensor,
                               mean: torch.Tensor, std: torch.Tensor, *, latents: torch.Tensor | None = None,
                               latent_noise: float = 0.0, seed: int = 0, batch: int = 256,
                               device: str | torch.device = "cpu") -> torch.Tensor:
    """For ``pixel_warp`` models: every frame's predecessor moved into its view in pixel space
    and encoded (:func:`engine.model.warp.warp_frames`), as live generation does with its
    previous decoded frame. ``frames`` uint8 ``(E, T, H, W, 3)``; ``actions`` scaled and
    ``poses`` dead-reckoned ``(E, T, 4)``; ``mean``/``std`` ``(C,)`` the latent
    normalisation. With ``latents`` (normalised, ``(E, T, C, h, w)``) the predecessor is not
    the true frame but its latent decoded, after Gaussian noise at a level drawn per frame
    from U(0, ``latent_noise``): what live generation warps is its own decoded output, softer
    than the truth, and a model trained only on true frames' warps trusts such a hint too much
    (on the quick data its rollouts saturated into colour fields by tick 16). Returns
    normalised latents float16 ``(E, T, C, h, w)`` (frame 0: zeros)."""
    from ..model.autoencoder import frames_to_tensor
    from ..model.warp import warp_frames

    E, T = frames.shape[:2]
    motion = frame_motion(actions, poses)[:, 1:].reshape(-1, 4)  # into frames 1..T-1
    prev = frames[:, :-1].reshape(-1, *frames.shape[2:])
    prev_z = None if latents is None else latents[:, :-1].reshape(-1, *latents.shape[2:])
    g = torch.Generator().manual_seed(seed + 41)
    m, s = mean.view(1, -1, 1, 1).to(device), std.view(1, -1, 1, 1).to(device)
    net = ae.to(device)
    out = []
    with torch.inference_mode():
        for i in range(0, len(prev), batch):
            if prev_z is None:
                img = frames_to_tensor(prev[i:i + batch]).to(device)
            else:
                z = prev_z[i:i + batch].float()
                level = latent_noise * torch.rand(len(z), 1, 1, 1, generator=g)
                z = (z + level * torch.randn(z.shape, generator=g)).to(device)
                img = net.decode(z * s + m).clamp(0.0, 1.0)
            img = warp_frames(img, motion[i:i + batch].to(device))
            out.append(((net.encode(img) - m) / s).cpu().half())
    ae.cpu()
    lat = torch.cat(out).view(E, T - 1, *out[0].shape[1:])
    return torch.cat([torch.zeros_like(lat[:, :1]), lat], 1)


def clip_warps(xt: torch.Tensor, batch: dict, M: int, warp: bool = True) -> torch.Tensor:
    """Predecessors ``(B, T, C, h, w)`` for a training clip: clip frame k sees clip frame k-1
    as given in ``xt`` (in training lightly noised, :func:`_lightly_noised`; in the rollout
    phase as the network sees it), moved by the motion into k when ``warp``; the anchor,
    memory frames and the first clip frame get zeros."""
    B, T = xt.shape[:2]
    j0 = 1 + M
    out = torch.zeros_like(xt)
    if T - j0 > 1:
        prev = xt[:, j0:-1]
        if not warp:
            out[:, j0 + 1:] = prev
            return out
        from ..model.warp import ego_warp

        motion = frame_motion(batch["a"][:, j0:], batch["p"][:, j0:])[:, 1:]  # into frames j0+1..
        out[:, j0 + 1:] = ego_warp(prev.reshape(-1, *prev.shape[2:]), motion.reshape(-1, 4)).view_as(prev)
    return out


def _lightly_noised(x0: torch.Tensor, g: torch.Generator, top: float = 0.2) -> torch.Tensor:
    """``x0`` ``(B, T, C, h, w)`` with noise at a level drawn per frame from U(0, ``top``):
    what each clip frame is shown of its predecessor. Live generation stacks the finished
    previous frame, re-noised at ``Sampling.ctx_noise``, on the frame it generates; showing
    the predecessor at its own diffusion-forcing level instead (often near pure noise) would
    teach the network to ignore the one input that lets it carry a frame forward. This is
    the noise augmentation of the conditioning frames in GameNGen (Valevski et al. 2024)."""
    B, T = x0.shape[:2]
    level = (top * torch.rand(B, T, generator=g)).to(x0.device)[:, :, None, None, None]
    return (1 - level) * x0 + level * torch.randn(x0.shape, generator=g).to(x0.device)


def predecessors(model: DynamicsModel, xt: torch.Tensor, batch: dict, g: torch.Generator | None = None
                 ) -> torch.Tensor | None:
    """What each clip frame sees of its predecessor (:func:`clip_warps`), or None when the
    model does not look at it. With ``cfg.pixel_warp`` it is ``batch["warped"]`` (the true
    predecessor's frame warped in pixel space and encoded), lightly noised when ``g`` is
    given, in place of ``xt``."""
    if not model.cfg.sees_predecessor:
        return None
    if model.cfg.pixel_warp:
        w = batch.get("warped")
        if w is None:
            raise ValueError("this model sees its pixel-warped predecessor (pixel_warp) but the batch has no "
                             "'warped' latents; build TrainData with warped=encode_warped_predecessors(...)")
        j0 = 1 + model.cfg.memory
        out = torch.zeros_like(w)
        out[:, j0:] = w[:, j0:] if g is None else _lightly_noised(w[:, j0:], g)
        return out
    return clip_warps(xt, batch, model.cfg.memory, warp=model.cfg.warp)


class MultiForward(torch.nn.Module):
    """The dynamics model run on several input sets in one call (the clips and the single
    anchor frames of a step), so that DistributedDataParallel sees one forward per step."""

    def __init__(self, model: DynamicsModel):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return [self.model(*args, **kwargs) for args, kwargs in inputs]


def flow_loss(model: DynamicsModel, batch: dict, g: torch.Generator, *, cond_drop: float = 0.1,
              anchor_gen: float = 0.15, objective: str = "flow", net: torch.nn.Module | None = None,
              entity_drop: float = 0.0, anchors: dict | None = None):
    """Training loss of one batch from :func:`sample_batch` (see the module docstring), plus
    the loss of ``anchors`` (:func:`sample_anchors`) when given. ``net`` runs the forward
    pass when given (a :class:`MultiForward` of ``model``, wrapped for data parallelism)."""
    x0 = batch["x0"]
    dev = x0.device
    B, T = x0.shape[:2]
    M = model.cfg.memory
    K = T - 1 - M
    if objective == "regressor":
        t = torch.zeros(B, T, device=dev)
        t[:, -1] = 1.0
        xt = x0.clone()
        xt[:, -1] = 0.0
        gen_anchor = torch.zeros(B, dtype=torch.bool)
    else:
        gen_anchor = torch.rand(B, generator=g) < anchor_gen
        t_anchor = torch.where(gen_anchor, torch.rand(B, generator=g), torch.zeros(B))
        parts = [t_anchor[:, None]]
        if M:
            parts.append(0.2 * torch.rand(B, M, generator=g))
        t = torch.cat(parts + [noise_levels(B, K, g)], 1).to(dev)
        eps = torch.randn(x0.shape, generator=g).to(dev)
        tt = t[:, :, None, None, None]
        xt = (1 - tt) * x0 + tt * eps
    drop_a = (torch.rand(B, generator=g) < cond_drop).to(dev)
    drop_t = (torch.rand(B, generator=g) < cond_drop).to(dev)
    if objective == "regressor":
        warped = predecessors(model, xt, batch)
    else:
        warped = predecessors(model, _lightly_noised(x0, g), batch, g=g)
    ent = drop_entities(batch.get("ent"), entity_drop, g)
    inputs = [((xt, t, batch["a"], batch["s"]),
               dict(poses=batch["p"], text=batch["text"], drop_action=drop_a, drop_text=drop_t,
                    memory_valid=batch["memory_valid"] if M else None, warped=warped, entities=ent))]
    if anchors is not None:
        a_in, a_target = _anchor_inputs(anchors, g, cond_drop)
        inputs.append(a_in)
    outs = net(*inputs) if net is not None else [model(*args, **kw) for args, kw in inputs]
    v = outs[0]
    # The network predicts the velocity, but the loss is taken on the clean latent it implies
    # (x0_hat = x_t - t·v). The plain velocity loss weights the error on x0 by 1/t², so it
    # spends the model on polishing nearly clean context frames; the x0 loss weights every
    # noise level alike, including the pure-noise frame that live generation starts from.
    x0_hat = xt - t[:, :, None, None, None] * v
    err = (x0_hat - x0).pow(2).mean(dim=(2, 3, 4))  # (B, T)
    if objective == "regressor":
        return err[:, -1].mean()
    weight = torch.zeros(B, T, device=dev)
    weight[:, 1 + M:] = 1.0
    weight[:, 0] = gen_anchor.float().to(dev)
    loss = (err * weight).sum() / weight.sum()
    if anchors is not None:
        xt_a, t_a, x0_a = a_target
        loss = loss + (xt_a - t_a[:, :, None, None, None] * outs[1] - x0_a).pow(2).mean()
    return loss


def _anchor_inputs(batch: dict, g: torch.Generator, cond_drop: float):
    """Model inputs for single frames (:func:`sample_anchors`) drawn as openings from their
    caption alone (noise level ``t ~ U(0, 1)``; the prompt dropped for ``cond_drop`` of them,
    for guidance), and ``(x_t, t, x_0)`` for their loss. A single frame is laid out as the
    anchor (position 0) by :meth:`DynamicsModel.frame_layout`."""
    x0 = batch["x0"]
    dev = x0.device
    B = x0.shape[0]
    t = torch.rand(B, 1, generator=g).to(dev)
    eps = torch.randn(x0.shape, generator=g).to(dev)
    xt = (1 - t[:, :, None, None, None]) * x0 + t[:, :, None, None, None] * eps
    drop_t = (torch.rand(B, generator=g) < cond_drop).to(dev)
    return ((xt, t, batch["a"], batch["s"]), dict(poses=batch["p"], text=batch["text"], drop_text=drop_t,
                                                  memory_valid=None, entities=batch.get("ent"))), (xt, t, x0)


def train_dynamics(data: TrainData, *, steps: int, config: DynamicsConfig, batch: int = 32, lr: float = 3e-4,
                   seed: int = 0, objective: str = "flow", cond_drop: float = 0.1, anchor_gen: float = 0.15,
                   anchor_batch: int = 0, entity_drop: float = 0.0, checkpoint: Path | None = None,
                   checkpoint_every: int = 200, progress: bool = True, log=print, desc: str = "dynamics",
                   device: str | torch.device = "cpu", init: DynamicsModel | None = None) -> DynamicsModel:
    """Train for ``steps`` steps on ``data`` (:class:`TrainData`); resumes from
    ``checkpoint`` if it exists. ``objective`` is ``"flow"`` (the world model) or
    ``"regressor"`` (the deterministic baseline). ``anchor_batch`` extra single frames per step
    learn openings from text (the world model only). Trains on ``device``; returns the model
    on the CPU. ``init``: start from these weights (fine-tuning; its architecture must be
    ``config``), else from a fresh initialisation."""
    if objective not in ("flow", "regressor"):
        raise ValueError(f"objective must be 'flow' or 'regressor', got {objective!r}")
    device = torch.device(device)
    model = DynamicsModel(config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(seed + (1 if objective == "flow" else 2))
    model.train()
    net = wrap(MultiForward(model))  # DistributedDataParallel under torchrun
    with_anchors = bool(anchor_batch) and objective == "flow" and bool(config.text_dim)

    def loss_fn():
        b = to_device(sample_batch(data, batch=batch, context=config.context, memory=config.memory, g=g), device)
        a = to_device(sample_anchors(data, batch=anchor_batch, g=g), device) if with_anchors else None
        return flow_loss(model, b, g, objective=objective, cond_drop=cond_drop, anchor_gen=anchor_gen, net=net,
                         entity_drop=entity_drop, anchors=a)

    ema = run_steps(model, opt, g, loss_fn, steps=steps, lr=lr, desc=desc, checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every, progress=progress, log=log)
    model = model.cpu()
    model.final_loss = ema
    return model.eval()
