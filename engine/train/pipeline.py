"""``ved train``: reference-world data → autoencoder → latent cache → dynamics → eval → model.

Output folder layout (``--out DIR``)::

    DIR/data/          training episodes (ved-dataset/1), generated from the seed
    DIR/eval_data/     held-out episodes (scene seeds never used for training)
    DIR/checkpoints/   resumable checkpoints (autoencoder.pt, dynamics.pt, latents.pt)
    DIR/model/         the trained model: safetensors weights + model_card.json

Every stage is skipped when its output exists, so ``--resume`` after an interruption picks
up where the run stopped (within a stage, from the last periodic checkpoint).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..actions import ACTION_LIMITS
from ..data.format import Dataset
from ..data.generate import HELD_OUT_SEED_BASE, generate_dataset
from ..model.autoencoder import AutoencoderConfig
from ..model.dynamics import DynamicsConfig
from ..model.io import DEFAULT_MODEL_DIR, save_model
from .autoencoder import encode_frames, train_autoencoder
from .common import load_checkpoint, save_checkpoint, seed_everything
from .dynamics import train_dynamics


@dataclass
class TrainConfig:
    """Budget and architecture of one training run. The defaults make the shipped model
    (sized to finish within 60 minutes on 2 CPU cores)."""

    episodes: int = 400
    episode_length: int = 120
    resolution: int = 64
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    ae_steps: int = 1200
    ae_batch: int = 48
    dynamics: DynamicsConfig = field(default_factory=lambda: DynamicsConfig(depth=4))
    dyn_steps: int = 2200
    dyn_batch: int = 32
    eval_episodes: int = 12
    eval_length: int = 80
    eval_horizons: tuple[int, ...] = (1, 4, 16, 64)
    sampling_steps: int = 2
    ctx_noise: float = 0.1

    @classmethod
    def tiny(cls) -> "TrainConfig":
        """Seconds-long configuration for tests (not a useful model)."""
        return cls(episodes=3, episode_length=12, ae_steps=4, ae_batch=8,
                   autoencoder=AutoencoderConfig(latent_channels=4, widths=(8, 16, 16, 16)),
                   dynamics=DynamicsConfig(latent_channels=4, width=32, depth=1, heads=2, cond_dim=16, context=4),
                   dyn_steps=4, dyn_batch=4, eval_episodes=2, eval_length=10, eval_horizons=(1, 4))


def _stack(ds: Dataset, latents: torch.Tensor):
    eps = [ds[i] for i in range(len(ds))]
    T = min(len(e) for e in eps)
    lat = latents.view(len(eps), -1, *latents.shape[1:])[:, :T]
    acts = torch.from_numpy(np.stack([e.actions[:T] for e in eps])) / torch.from_numpy(ACTION_LIMITS)
    states = torch.from_numpy(np.stack([e.states[:T] for e in eps]))
    return lat, acts.float(), states.float()


def run_training(out: str | Path, config: TrainConfig, *, seed: int = 0, resume: bool = False,
                 progress: bool = True, overwrite_default: bool = False, log=print) -> Path:
    """Run the whole pipeline into ``out``; returns the model folder ``out/model``.

    Raises ``FileExistsError`` if ``out`` holds a previous run and ``resume`` is False, and
    ``PermissionError`` if ``out`` is the shipped default model folder and
    ``overwrite_default`` is False.
    """
    out = Path(out).resolve()
    if DEFAULT_MODEL_DIR.resolve() in (out, out / "model") and not overwrite_default:
        raise PermissionError(f"{out} would overwrite the shipped default model; pass --overwrite-default "
                              "if you mean it, or choose another --out")
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(f"{out} already holds a training run; pass --resume to continue it or choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps({"seed": seed, **_jsonable(asdict(config))}, indent=1))
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    seed_everything(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    # 1. data ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    data_dir, eval_dir = out / "data", out / "eval_data"
    for d, n, length, held in ((data_dir, config.episodes, config.episode_length, False),
                               (eval_dir, config.eval_episodes, config.eval_length, True)):
        if not (d / "manifest.json").is_file():
            shutil.rmtree(d, ignore_errors=True)
            stats = generate_dataset(d, episodes=n, seed=seed + (7919 if held else 0), length=length,
                                     resolution=config.resolution, progress=progress, held_out=held)
            log(f"data: {stats['frames']} frames in {stats['seconds']} s ({stats['frames_per_s']} frames/s) -> {d}")
    ds = Dataset(data_dir)
    frames = np.concatenate([ds[i].frames for i in range(len(ds))])
    revisit_share = float(np.mean([ds.meta(i)["revisits"] > 0 for i in range(len(ds))]))
    timings["data_s"] = time.perf_counter() - t0

    # 2. autoencoder --------------------------------------------------------------------
    t0 = time.perf_counter()
    ckpt = out / "checkpoints"
    ae = train_autoencoder(frames, steps=config.ae_steps, batch=config.ae_batch, seed=seed,
                           config=replace(config.autoencoder, resolution=config.resolution),
                           checkpoint=ckpt / "autoencoder.pt", progress=progress, log=log)
    timings["autoencoder_s"] = time.perf_counter() - t0

    # 3. latent cache: every frame encoded once -----------------------------------------
    t0 = time.perf_counter()
    cached = load_checkpoint(ckpt / "latents.pt")
    if cached is None or cached["ae_step"] != config.ae_steps or cached["n"] != len(frames):
        latents = encode_frames(ae, frames)
        save_checkpoint(ckpt / "latents.pt", latents=latents, ae_step=config.ae_steps, n=len(frames))
    else:
        latents = cached["latents"]
    mean = latents.mean(dim=(0, 2, 3))
    std = latents.std(dim=(0, 2, 3)).clamp_min(1e-4)
    norm = (latents - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    lat, acts, states = _stack(ds, norm)
    timings["encode_s"] = time.perf_counter() - t0

    # 4. dynamics -----------------------------------------------------------------------
    t0 = time.perf_counter()
    dyn_cfg = replace(config.dynamics, latent_channels=ae.config.latent_channels, latent_size=ae.config.latent_size)
    dyn = train_dynamics(lat, acts, states, steps=config.dyn_steps, config=dyn_cfg, batch=config.dyn_batch,
                         seed=seed, checkpoint=ckpt / "dynamics.pt", progress=progress, log=log)
    timings["dynamics_s"] = time.perf_counter() - t0

    # 5. evaluation on held-out scenes ---------------------------------------------------
    t0 = time.perf_counter()
    from ..eval.rollout import evaluate, psnr
    from ..model.world_model import LatentWorldModel

    model = LatentWorldModel(ae, dyn, mean, std, steps=config.sampling_steps, ctx_noise=config.ctx_noise, seed=seed)
    eval_ds = Dataset(eval_dir)
    eval_eps = [eval_ds[i] for i in range(len(eval_ds))]
    horizons = tuple(h for h in config.eval_horizons if h < config.eval_length)
    metrics = evaluate(model, eval_eps, horizons=horizons, seed=seed)
    recon = [psnr(model.decode(model.encode(e.frames[:8]))[k], e.frames[k]) for e in eval_eps for k in range(8)]
    metrics["autoencoder_psnr"] = round(float(np.mean(recon)), 2)
    timings["eval_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    log("eval (held-out scenes): " + json.dumps(metrics))

    card = {
        "name": "ved-default" if overwrite_default else f"ved-{out.name}",
        "description": "Action- and event-conditioned latent world model of the VED reference world "
                       "(64x64 first-person rooms at a 20 Hz tick). Not text-conditioned.",
        "seed": seed,
        "sampling": {"steps": config.sampling_steps, "ctx_noise": config.ctx_noise},
        "objective": "rectified flow (velocity prediction) with diffusion forcing; adaLN-Zero conditioning",
        "data": {"source": "reference world v0 (engine/world)", "episodes": config.episodes,
                 "episode_length": config.episode_length, "frames": int(len(frames)),
                 "scene_seeds": f"drawn from [0, {HELD_OUT_SEED_BASE})",
                 "eval_scene_seeds": f"drawn from [{HELD_OUT_SEED_BASE}, {2 * HELD_OUT_SEED_BASE})",
                 "revisit_share": round(revisit_share, 3)},
        "training": {"ae_steps": config.ae_steps, "ae_batch": config.ae_batch, "dyn_steps": config.dyn_steps,
                     "dyn_batch": config.dyn_batch, "final_dyn_loss": getattr(dyn, "final_loss", None),
                     "timings_s": {k: round(v, 1) for k, v in timings.items()},
                     "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"},
        "metrics": {"eval_episodes": config.eval_episodes, **metrics},
    }
    return save_model(out / "model", ae, dyn, mean, std, card)


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    return d
