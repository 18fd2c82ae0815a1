"""``ved train``: reference-world data → autoencoder → latent cache → dynamics → eval → model.

Output folder layout (``--out DIR``)::

    DIR/data/          training episodes (ved-dataset/1), generated from the seed
    DIR/eval_data/     held-out episodes (scene seeds never used for training)
    DIR/checkpoints/   resumable checkpoints (autoencoder.pt, latents.pt, text.pt, dynamics.pt,
                       regressor.pt)
    DIR/model/         the trained model: safetensors weights + model_card.json, and the
                       deterministic one-step regressor baseline trained on the same budget

Every stage is skipped when its output exists, so ``--resume`` after an interruption picks
up where the run stopped (within a stage, from the last periodic checkpoint).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..actions import ACTION_LIMITS
from ..data.format import Dataset
from ..data.generate import HELD_OUT_SEED_BASE, generate_dataset, mode_share
from ..model.autoencoder import AutoencoderConfig
from ..model.divergence import latent_rms, rms_bound
from ..model.dynamics import DynamicsConfig
from ..model.io import DEFAULT_MODEL_DIR, save_model
from ..model.pose import POSE_DIM, dead_reckon
from ..model.text import ENCODER_NAME, TEXT_DIM
from ..model.world_model import Sampling
from ..world.entities import FEATURE_DIM, N_SLOTS
from .autoencoder import encode_frames, train_autoencoder
from .common import load_checkpoint, save_checkpoint, seed_everything
from .dynamics import TrainData, train_dynamics
from .ledger import StageLedger


#: The shipped example scenarios (their prompts are embedded beside a trained model).
SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def _dynamics_config(**kw) -> DynamicsConfig:
    """The shipped dynamics architecture: 16 tokens per frame (a 16×16×4 latent in 4×4
    patches), each also carrying its predecessor's patch, conditioned on pose, text, frame
    memory and the entities in view."""
    return DynamicsConfig(**{"latent_channels": 4, "latent_size": 16, "patch": 4, "depth": 4,
                             "pose_dim": POSE_DIM, "text_dim": TEXT_DIM, "memory": 2, "entities": N_SLOTS,
                             "entity_features": FEATURE_DIM, "stack_previous": True, **kw})


#: Training budgets (``ved train --budget NAME``): the shipped recipe, run in the background
#: over several sittings with ``--resume``, and a recipe for a new user that finishes within
#: an hour on 2 CPU cores. Each is a set of :class:`TrainConfig` fields.
BUDGETS: dict[str, dict] = {
    "full": {},
    "quick": {"episodes": 300, "ae_steps": 1800, "dyn_steps": 1600, "rollout_steps": 100, "decoder_steps": 120,
              "decoder_rollouts": 150, "regressor_steps": 1600},
}


@dataclass
class TrainConfig:
    """Budget and architecture of one training run. The defaults make the shipped model
    (the ``full`` budget, :data:`BUDGETS`)."""

    budget: str = "full"
    episodes: int = 800
    episode_length: int = 120
    resolution: int = 128
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    ae_steps: int = 12000
    ae_batch: int = 64
    #: Adversarial decoder training (engine.train.autoencoder): share of the steps before the
    #: discriminator joins (1.0 = none), its weight, and the latent noise the decoder learns to absorb.
    ae_gan_start: float = 0.5
    ae_gan_weight: float = 0.5
    ae_latent_noise: float = 0.3
    #: Crop size (pixels) the autoencoder trains on (0: whole frames).
    ae_crop: int = 64
    dynamics: DynamicsConfig = field(default_factory=_dynamics_config)
    dyn_steps: int = 16000
    dyn_batch: int = 32
    #: Single frames per step learned as openings from their caption (engine.train.dynamics).
    anchor_batch: int = 32
    #: For ``pixel_warp`` models: the predecessor frames warped in training are the true
    #: frames' latents decoded after noise up to this level (normalised units), as live
    #: generation warps its own decoded output; None warps the true frames themselves.
    warp_latent_noise: float | None = 0.4
    #: Share of clips trained without entities (and as many without the blood pool's).
    entity_drop: float = 0.1
    #: Steps of the final phase on the model's own rollouts (engine.train.rollout_finetune; 0 = none).
    rollout_steps: int = 200
    #: Decoder fine-tuning on the trained model's own latents (engine.train.decoder_finetune):
    #: steps (0 = none), open-loop rollouts generated for it, and their length in ticks.
    decoder_steps: int = 600
    decoder_rollouts: int = 600
    decoder_horizon: int = 8
    #: The layout-modulated decoder (engine.train.layout_decoder; needs dynamics.layout):
    #: steps (0 = a plain decoder), its batch, the open-loop rollouts generated for it and
    #: their length in ticks, and the real frames mixed in.
    layout_decoder_steps: int = 0
    layout_decoder_batch: int = 16
    layout_decoder_rollouts: int = 150
    layout_decoder_horizon: int = 32
    layout_decoder_real: int = 3000
    #: The layout decoder reads the view's albedo map too (engine.world.renderer.Renderer.render_albedo).
    layout_decoder_albedo: bool = False
    #: A layout-decoder sample h ticks into its rollout weighs h ** -power in the pixel terms.
    layout_decoder_horizon_power: float = 0.5
    #: The layout decoder's adversarial weight (None: ae_gan_weight, as every decoder stage).
    layout_decoder_gan_weight: float | None = None
    #: Steps of the text-to-scene network (engine.model.text_scene; 0 = none): a layout model
    #: with text draws a prompt of words alone on the scene graph they describe. Trained on
    #: captions of text_scene_rooms generated rooms.
    text_scene_steps: int = 0
    text_scene_rooms: int = 2000
    #: Steps of the regressor baseline (same batch as the dynamics; 0 = no baseline). Fewer
    #: than the dynamics model's in the full budget, to stay within 8 CPU-hours: the card and
    #: docs/benchmarks.md say so beside every comparison.
    regressor_steps: int = 4000
    #: Share of the exploration policy's mode changes that play a real participant's
    #: behaviour instead (standing still, slow looks, head jitter, ...; see
    #: engine.world.policy.PARTICIPANT_BEHAVIOURS). 0 = the explorer alone (models up to R12).
    participant_share: float = 0.4
    #: Fine-tune from this model folder instead of training from scratch: its autoencoder
    #: (decoders included), latent normalisation, dynamics weights and architecture, text-to-scene
    #: network and regressor baseline are the start; each stage with steps > 0 trains on from there.
    init_model: str | None = None
    #: Peak learning rate of the dynamics stage (lower it when fine-tuning with init_model).
    dyn_lr: float = 3e-4
    #: Training-time switches for ablations (see engine.train.dynamics).
    cond_drop: float = 0.1
    anchor_gen: float = 0.15
    #: Caption paraphrases embedded per episode (the canonical caption is one of them).
    text_variants: int = 4
    eval_episodes: int = 12
    eval_length: int = 80
    eval_horizons: tuple[int, ...] = (1, 4, 16, 64)
    #: The shipped sampling: action guidance 2.0 on the first of two steps only (the ablation
    #: in docs/benchmarks.md: ΔPSNR@16 0.4 → 1.5 dB for 2 dB at h=64), and prompt guidance
    #: 3.0 for an opening frame drawn from text (prompt fidelity 0.13 → 0.45 of the judge's).
    sampling: Sampling = field(default_factory=lambda: Sampling(cfg_action=2.0, cfg_above=0.5, cfg_opening=3.0))

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The configuration saved as ``train_config.json`` (keys this version does not know,
        such as ``seed``, are ignored; keys it lacks take their defaults, except those whose
        default changed since: ``rollout_steps`` or ``decoder_steps`` missing means none)."""
        nested = {"autoencoder": AutoencoderConfig, "dynamics": DynamicsConfig, "sampling": Sampling}
        # A key missing from an older file means what that version did, not today's default.
        d = {"rollout_steps": 0, "decoder_steps": 0, "warp_latent_noise": None, "participant_share": 0.0, **d}
        kw = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in d:
                continue
            value = d[name]
            if name in nested:
                sub = nested[name]
                value = sub(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in value.items() if k in sub.__dataclass_fields__})
            elif isinstance(value, list):
                value = tuple(value)
            kw[name] = value
        return cls(**kw)

    @classmethod
    def for_budget(cls, name: str) -> "TrainConfig":
        """The configuration of budget ``name`` (:data:`BUDGETS`). Raises ``ValueError`` naming
        the known budgets."""
        if name not in BUDGETS:
            raise ValueError(f"unknown training budget {name!r}; known: {', '.join(BUDGETS)}")
        return cls(budget=name, **BUDGETS[name])

    @classmethod
    def tiny(cls) -> "TrainConfig":
        """Seconds-long configuration for tests (not a useful model)."""
        return cls(budget="tiny", episodes=3, episode_length=12, resolution=32, ae_steps=4, ae_batch=8, ae_crop=16,
                   autoencoder=AutoencoderConfig(latent_channels=4, widths=(8, 16, 16, 16), res_from_width=16,
                                                 mid_blocks=1),
                   dynamics=_dynamics_config(latent_size=4, patch=2, width=32, depth=1, heads=2, cond_dim=16, context=4),
                   dyn_steps=4, dyn_batch=4, anchor_batch=4, rollout_steps=2, decoder_steps=2, decoder_rollouts=2,
                   decoder_horizon=3, regressor_steps=4, eval_episodes=2,
                   eval_length=10, eval_horizons=(1, 4))


def _layouts(eps: list, T: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layout class maps uint8 ``(E, T, 2·size, 2·size)`` and inverse depth float16 ``(E, T,
    size, size)`` of the first ``T`` frames of episodes ``eps``, from each one's room preset
    (``meta["room_type"]``, ``meta["scene_seed"]``) at its true poses."""
    from ..world.layout import LayoutRenderer
    from ..world.scene import make_scene

    lr = LayoutRenderer(size)
    classes = np.zeros((len(eps), T, 2 * size, 2 * size), np.uint8)
    inv = np.zeros((len(eps), T, size, size), np.float16)
    try:
        for i, e in enumerate(eps):
            lr.set_scene(make_scene(e.meta["room_type"], int(e.meta["scene_seed"])))
            for t in range(T):
                classes[i, t], inv[i, t] = lr(e.poses[t], e.world_state(t))
    finally:
        lr.release()
    return torch.from_numpy(classes), torch.from_numpy(inv)


def _stack(ds: Dataset, latents: torch.Tensor, text: torch.Tensor | None, grid: int = 0,
           colours: bool = True, layout: int = 0) -> TrainData:
    """Training tensors of a dataset; with ``grid`` > 0 the entities of every frame are
    projected into its true camera on a ``grid × grid`` token grid (with their colours), and
    with ``layout`` > 0 (the latent's size) every frame's scene layout is rendered from its
    episode's room preset at its true pose (:mod:`engine.world.layout`)."""
    from ..world.entities import project_entities

    eps = [ds[i] for i in range(len(ds))]
    T = min(len(e) for e in eps)
    lat = latents.view(len(eps), -1, *latents.shape[1:])[:, :T]
    raw = np.stack([e.actions[:T] for e in eps])
    acts = torch.from_numpy(raw) / torch.from_numpy(ACTION_LIMITS)
    states = torch.from_numpy(np.stack([e.states[:T] for e in eps]))
    poses = torch.from_numpy(dead_reckon(raw))
    entities = None
    if grid:
        proj = [project_entities(e.entity_tables()[:T], e.poses[:T], grid=grid, colours=colours) for e in eps]
        entities = (torch.from_numpy(np.stack([c for c, _ in proj])).half(),
                    torch.from_numpy(np.stack([f for _, f in proj])).half())
        if layout:
            entities = entities + _layouts(eps, T, layout)
    return TrainData(lat, acts.float(), states.float(), poses, text, entities)


def _warped_predecessors(ae, ds: Dataset, frames: np.ndarray, data: TrainData, mean, std, ckpt: Path,
                         config: TrainConfig, device, stage) -> torch.Tensor:
    """``TrainData.warped`` for a ``pixel_warp`` model (cached in ``warped.pt``)."""
    from .dynamics import encode_warped_predecessors

    E, T = data.latents.shape[:2]
    cached = load_checkpoint(ckpt / "warped.pt")
    if (cached is not None and cached["ae_step"] == config.ae_steps and tuple(cached["warped"].shape[:2]) == (E, T)
            and cached.get("latent_noise") == config.warp_latent_noise):
        return cached["warped"]
    with stage("encode_warped"):
        per_ep = frames.reshape(len(ds), -1, *frames.shape[1:])[:, :T]
        latents = data.latents if config.warp_latent_noise is not None else None
        warped = encode_warped_predecessors(ae, per_ep, data.actions, data.poses, mean, std, latents=latents,
                                            latent_noise=config.warp_latent_noise or 0.0, device=device)
        save_checkpoint(ckpt / "warped.pt", warped=warped, ae_step=config.ae_steps,
                        latent_noise=config.warp_latent_noise)
    return warped


def _caption_embeddings(ds: Dataset, variants: int, seed: int, ckpt: Path) -> torch.Tensor:
    """``(E, variants, 384)`` embeddings of each episode's caption and its paraphrases (cached)."""
    from ..data.captions import caption_variants
    from ..model.text import encoder

    cached = load_checkpoint(ckpt)
    if cached is not None and cached["n"] == len(ds) and cached["variants"] == variants:
        return cached["text"]
    rng = np.random.default_rng(seed + 31)
    texts = []
    for i in range(len(ds)):
        meta = ds.meta(i)
        texts += [meta["caption"]] + caption_variants(meta["scene"], rng, variants - 1)
    emb = torch.from_numpy(encoder().encode(texts)).view(len(ds), variants, -1)
    save_checkpoint(ckpt, text=emb, n=len(ds), variants=variants)
    return emb


def run_training(out: str | Path, config: TrainConfig, *, seed: int = 0, resume: bool = False,
                 progress: bool = True, overwrite_default: bool = False, log=print) -> Path:
    """Run the whole pipeline into ``out``; returns the model folder ``out/model``.

    Raises ``FileExistsError`` if ``out`` holds a previous run and ``resume`` is False, and
    ``PermissionError`` if ``out`` is the shipped default model folder and
    ``overwrite_default`` is False.

    Under ``torchrun`` the dynamics stages train data-parallel on every rank; rank 0 alone
    prepares the data and autoencoder, evaluates and saves (:mod:`engine.train.distributed`).
    """
    from .distributed import setup

    if config.layout_decoder_steps and not config.dynamics.layout:
        raise ValueError("layout_decoder_steps needs a layout model: set dynamics.layout=true as well")
    if config.text_scene_steps and not (config.dynamics.layout and config.dynamics.text_dim):
        raise ValueError("text_scene_steps needs a layout model with text: set dynamics.layout=true (and keep "
                         "dynamics.text_dim) as well")
    job = setup()
    out = Path(out).resolve()
    if DEFAULT_MODEL_DIR.resolve() in (out, out / "model") and not overwrite_default:
        raise PermissionError(f"{out} would overwrite the shipped default model; pass --overwrite-default "
                              "if you mean it, or choose another --out")
    if not job.main:
        # Wait for rank 0 to write the data, autoencoder, latent cache and caption embeddings;
        # the stages below then find them and load instead of recomputing.
        log, progress = (lambda *a: None), False
        job.barrier()
        return _train_stages(out, config, seed=seed, progress=progress, log=log, job=job, t_start=time.perf_counter(),
                             from_scratch=False)
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(f"{out} already holds a training run; pass --resume to continue it or choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    # A run is "from scratch" (its timings are the whole cost) only if no stage's output
    # was there before it started: not resumed, not seeded with --reuse.
    from_scratch = not any(p.exists() for p in (out / "data", out / "checkpoints"))
    (out / "train_config.json").write_text(json.dumps({"seed": seed, **_jsonable(asdict(config))}, indent=1))
    return _train_stages(out, config, seed=seed, progress=progress, log=log, job=job, t_start=time.perf_counter(),
                         from_scratch=from_scratch, name="ved-default" if overwrite_default else f"ved-{out.name}")


def _train_stages(out: Path, config: TrainConfig, *, seed: int, progress: bool, log, job, t_start: float,
                  from_scratch: bool, name: str = "") -> Path:
    timings: dict[str, float] = {}
    machine = (f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
               + (f", {torch.cuda.get_device_name(0)}" if job.device.startswith("cuda") else ""))
    ledger = StageLedger(out / "checkpoints", command=" ".join(["ved", *sys.argv[1:]]) if sys.argv else "ved train",
                         machine=machine) if job.main else None

    def stage(name: str):
        return ledger.stage(name) if ledger else nullcontext()

    seed_everything(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    # CUDA when present (same code, same seeds; the results differ in the last bits), else CPU.
    device = job.device
    if device.startswith("cuda"):
        log(f"training on {torch.cuda.get_device_name(0)}" + (f", {job.world} processes" if job.world > 1 else ""))
    elif job.world > 1:
        log(f"training on the CPU in {job.world} processes (Gloo)")

    # 1. data ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    data_dir, eval_dir = out / "data", out / "eval_data"
    for d, n, length, held in ((data_dir, config.episodes, config.episode_length, False),
                               (eval_dir, config.eval_episodes, config.eval_length, True)):
        if not (d / "manifest.json").is_file():
            shutil.rmtree(d, ignore_errors=True)
            with stage("data"):
                stats = generate_dataset(d, episodes=n, seed=seed + (7919 if held else 0), length=length,
                                         resolution=config.resolution, progress=progress, held_out=held,
                                         participant_share=0.0 if held else config.participant_share)
                if ledger:
                    ledger.record()
            log(f"data: {stats['frames']} frames in {stats['seconds']} s ({stats['frames_per_s']} frames/s) -> {d}")
    ds = Dataset(data_dir)
    frames = np.concatenate([ds[i].frames for i in range(len(ds))])
    revisit_share = float(np.mean([ds.meta(i)["revisits"] > 0 for i in range(len(ds))]))
    modes: dict[str, int] = {}
    for i in range(len(ds)):
        for mode, n in ds.meta(i).get("modes", {}).items():
            modes[mode] = modes.get(mode, 0) + n
    timings["data_s"] = time.perf_counter() - t0

    # 2. autoencoder --------------------------------------------------------------------
    t0 = time.perf_counter()
    ckpt = out / "checkpoints"
    init = None
    if config.init_model:  # fine-tuning: the autoencoder, normalisation and dynamics start as they were
        from ..model.io import load_networks

        init_ae, init_dyn, init_mean, init_std, init_card = load_networks(config.init_model)
        init = {"dyn": init_dyn, "card": init_card}
        ae = init_ae
        log(f"fine-tuning from {config.init_model} ({init_card.get('name')})")
    else:
        ae = None
    with stage("autoencoder") if ae is None else nullcontext():
        ae = ae or train_autoencoder(frames, steps=config.ae_steps, batch=config.ae_batch, seed=seed,
                               config=replace(config.autoencoder, resolution=config.resolution),
                               checkpoint=ckpt / "autoencoder.pt", progress=progress, log=log, device=device,
                               gan_start=config.ae_gan_start, gan_weight=config.ae_gan_weight,
                               latent_noise=config.ae_latent_noise, crop=config.ae_crop or None)
    timings["autoencoder_s"] = time.perf_counter() - t0

    # 3. latent cache: every frame encoded once -----------------------------------------
    t0 = time.perf_counter()
    cached = load_checkpoint(ckpt / "latents.pt")
    if cached is None or cached["ae_step"] != config.ae_steps or cached["n"] != len(frames):
        with stage("encode"):
            latents = encode_frames(ae, frames, device=device)
            save_checkpoint(ckpt / "latents.pt", latents=latents, ae_step=config.ae_steps, n=len(frames))
    else:
        latents = cached["latents"]
    mean = latents.mean(dim=(0, 2, 3))
    std = latents.std(dim=(0, 2, 3)).clamp_min(1e-4)
    if init is not None:  # the dynamics was trained on its model's normalisation
        mean, std = init_mean, init_std
    norm = (latents - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    timings["encode_s"] = time.perf_counter() - t0

    # 4. dynamics (and the regressor baseline on the same data and budget) --------------
    t0 = time.perf_counter()
    dyn_cfg = replace(config.dynamics, latent_channels=ae.config.latent_channels, latent_size=ae.config.latent_size)
    if init is not None:
        dyn_cfg = init["dyn"].cfg
    elif dyn_cfg.layout:  # `--set dynamics.layout=true` asks for the layout's channels
        from ..world.layout import LAYOUT_DIM

        dyn_cfg = replace(dyn_cfg, layout=LAYOUT_DIM)
    with stage("text"):
        text = _caption_embeddings(ds, config.text_variants, seed, ckpt / "text.pt") if dyn_cfg.text_dim else None
    from ..world.entities import GEOMETRY_DIM

    data = _stack(ds, norm, text, grid=dyn_cfg.grid if dyn_cfg.entities else 0,
                  colours=dyn_cfg.entity_features > GEOMETRY_DIM, layout=dyn_cfg.latent_size if dyn_cfg.layout else 0)
    if dyn_cfg.pixel_warp:
        data.warped = _warped_predecessors(ae, ds, frames, data, mean, std, ckpt, config, device, stage)
    timings["text_s"] = time.perf_counter() - t0
    if job.main:
        job.barrier()  # the other ranks start the dynamics stages from here (see run_training)
    t0 = time.perf_counter()
    with stage("dynamics"):
        dyn = train_dynamics(data, steps=config.dyn_steps, config=dyn_cfg, batch=config.dyn_batch, seed=seed,
                             cond_drop=config.cond_drop, anchor_gen=config.anchor_gen,
                             anchor_batch=config.anchor_batch, entity_drop=config.entity_drop, lr=config.dyn_lr,
                             init=init["dyn"] if init else None,
                             checkpoint=ckpt / "dynamics.pt", progress=progress, log=log, device=device)
    timings["dynamics_s"] = time.perf_counter() - t0
    if config.rollout_steps:
        from .rollout_finetune import finetune_on_rollouts

        t0 = time.perf_counter()
        with stage("rollout_finetune"):
            dyn = finetune_on_rollouts(dyn, data, steps=config.rollout_steps, batch=config.dyn_batch, seed=seed,
                                       ctx_noise=config.sampling.ctx_noise, checkpoint=ckpt / "rollout.pt",
                                       progress=progress, log=log, device=device)
        timings["rollout_finetune_s"] = time.perf_counter() - t0
    if config.decoder_steps and job.main:
        t0 = time.perf_counter()
        with stage("decoder_finetune"):
            ae = _finetune_decoder(ae, dyn, mean, std, ds, frames, latents, config, seed=seed, ckpt=ckpt,
                                   progress=progress, log=log, device=device)
        timings["decoder_finetune_s"] = time.perf_counter() - t0
    if config.layout_decoder_steps and job.main:
        t0 = time.perf_counter()
        with stage("layout_decoder"):
            ae = _train_layout_decoder(ae, dyn, mean, std, ds, latents, config, seed=seed, ckpt=ckpt,
                                       progress=progress, log=log, device=device)
        timings["layout_decoder_s"] = time.perf_counter() - t0
    text_scene = None
    if init is not None and not config.text_scene_steps:
        from ..model.io import TEXT_SCENE_FILE, _load_text_scene

        if TEXT_SCENE_FILE in init["card"].get("files", {}):
            text_scene = _load_text_scene(Path(config.init_model), init["card"])
            text_scene_acc = init["card"].get("training", {}).get("text_scene_accuracy")
    if config.text_scene_steps and job.main:
        t0 = time.perf_counter()
        with stage("text_scene"):
            text_scene, text_scene_acc = _train_text_scene(config, seed=seed, ckpt=ckpt, log=log)
        timings["text_scene_s"] = time.perf_counter() - t0
    regressor = None
    if config.regressor_steps:
        t0 = time.perf_counter()
        with stage("regressor_baseline"):
            regressor = train_dynamics(data, steps=config.regressor_steps, config=dyn_cfg, batch=config.dyn_batch,
                                       seed=seed, objective="regressor", checkpoint=ckpt / "regressor.pt",
                                       progress=progress, log=log, desc="regressor (baseline)", device=device)
        timings["regressor_baseline_s"] = time.perf_counter() - t0
    elif init is not None:
        from ..model.io import REGRESSOR_FILE, load_regressor

        if REGRESSOR_FILE in init["card"].get("files", {}):  # the baseline as it was (not retrained)
            regressor = load_regressor(config.init_model).dyn
    if not job.main:
        job.barrier()  # rank 0 evaluates and saves the model
        return out / "model"

    # 5. quick evaluation on held-out scenes (the full one is `ved eval`) -----------------
    t0 = time.perf_counter()
    from ..eval.baselines import CopyLastFrame
    from ..eval.fidelity import evaluate_fidelity
    from ..eval.metrics import psnr
    from ..model.world_model import LatentWorldModel

    model = LatentWorldModel(ae, dyn, mean, std, sampling=config.sampling, seed=seed)
    model.text_scene = text_scene
    eval_ds = Dataset(eval_dir)
    eval_eps = [eval_ds[i] for i in range(len(eval_ds))]
    horizons = tuple(h for h in config.eval_horizons if h < config.eval_length)
    fid, _ = evaluate_fidelity({"model": model, "copy_last": CopyLastFrame(config.resolution)}, eval_eps,
                               horizons=horizons, per_episode=1, seed=seed, keep_example=False)
    metrics = {"psnr": fid["psnr"]["model"], "copy_last": fid["psnr"]["copy_last"],
               "delta_psnr": fid["delta_psnr"]["model"], "samples": fid["samples"],
               "note": "quick check at the end of training; the full figures are `ved eval`"}
    recon = [psnr(model.decode(model.encode(e.frames[:8]))[k], e.frames[k]) for e in eval_eps for k in range(8)]
    metrics["autoencoder_psnr"] = round(float(np.mean(recon)), 2)
    timings["eval_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    timings["training_s"] = timings["total_s"] - timings["eval_s"] - timings.get("regressor_baseline_s", 0.0)
    log("quick eval (held-out scenes): " + json.dumps(metrics))

    stages_s = ledger.totals() if ledger else {}
    card = {
        "name": name,
        "description": f"Latent world model of the VED reference world ({config.resolution}x{config.resolution} "
                       "first-person rooms at a 20 Hz tick), conditioned on actions, the dead-reckoned camera pose, "
                       "game-master world state"
                       + (", the people and blood pool in view" if dyn_cfg.entities else "")
                       + (", the scene layout of each view (rendered from the room's scene graph)"
                          if dyn_cfg.layout else "")
                       + (" and a text prompt" if dyn_cfg.text_dim else "")
                       + (", with a pose-indexed frame memory" if dyn_cfg.memory else "")
                       + ("; adversarially trained decoder" if config.ae_gan_start < 1 else "")
                       + ("; the decoder modulated by the scene layout at full resolution"
                          if ae.config.layout else "")
                       + (" and told each surface's colour (its albedo map)"
                          if ae.config.layout and config.layout_decoder_albedo else "") + ".",
        "seed": seed,
        "sampling": asdict(config.sampling),
        "objective": "rectified flow (velocity prediction, clean-latent loss) with diffusion forcing; "
                     "adaLN-Zero conditioning",
        "text_encoder": ENCODER_NAME if dyn_cfg.text_dim else None,
        "trained_on": "reference-world rooms only: " + ", ".join(sorted({ds.meta(i)["room_type"] for i in range(len(ds))}))
                      + f"; {config.resolution}x{config.resolution} frames. Images unlike these are accepted as opening "
                        "frames but the model has "
                        "never seen anything like them.",
        "data": {"source": "reference world v0 (engine/world)", "episodes": config.episodes,
                 "episode_length": config.episode_length, "frames": int(len(frames)),
                 "scene_seeds": f"drawn from [0, {HELD_OUT_SEED_BASE})",
                 "eval_scene_seeds": f"drawn from [{HELD_OUT_SEED_BASE}, {2 * HELD_OUT_SEED_BASE})",
                 "revisit_share": round(revisit_share, 3), "participant_share": config.participant_share,
                 "mode_share": mode_share(modes)},
        "training": {"budget": config.budget, "ae_steps": config.ae_steps, "ae_batch": config.ae_batch,
                     "ae_gan_start": config.ae_gan_start, "ae_gan_weight": config.ae_gan_weight,
                     "ae_latent_noise": config.ae_latent_noise, "ae_crop": config.ae_crop,
                     "dyn_steps": config.dyn_steps,
                     "anchor_batch": config.anchor_batch, "entity_drop": config.entity_drop,
                     "dyn_batch": config.dyn_batch, "processes": job.world,
                     "global_batch": config.dyn_batch * job.world, "final_dyn_loss": getattr(dyn, "final_loss", None),
                     "regressor_steps": config.regressor_steps, "rollout_steps": config.rollout_steps,
                     "decoder_steps": config.decoder_steps, "decoder_rollouts": config.decoder_rollouts,
                     "layout_decoder_steps": config.layout_decoder_steps,
                     "layout_decoder_rollouts": config.layout_decoder_rollouts,
                     "layout_decoder_horizon": config.layout_decoder_horizon,
                     "layout_decoder_albedo": config.layout_decoder_albedo,
                     "layout_decoder_horizon_power": config.layout_decoder_horizon_power,
                     "layout_decoder_gan_weight": config.layout_decoder_gan_weight,
                     "text_scene_steps": config.text_scene_steps,
                     "text_scene_rooms": config.text_scene_rooms,
                     **({"text_scene_accuracy": text_scene_acc} if text_scene is not None else {}),
                     **({"init_model": {"name": init["card"].get("name"), "path": str(config.init_model),
                                        "sha256": init["card"].get("files", {}).get("dynamics.safetensors", {}).get("sha256"),
                                        "command": init["card"].get("training", {}).get("command")}}
                        if init else {}),
                     "dyn_lr": config.dyn_lr,
                     "cond_drop": config.cond_drop,
                     "anchor_gen": config.anchor_gen, "text_variants": config.text_variants,
                     "command": train_command(config, seed),
                     "from_scratch": from_scratch,
                     "timings_s": {k: round(v, 1) for k, v in timings.items()},
                     "machine": machine,
                     # every stage's cost over all the invocations (--resume) that worked on it
                     "stages_s": stages_s,
                     "model_training_s": round(sum(v for k, v in stages_s.items() if k != "regressor_baseline"), 1),
                     "stage_invocations": ledger.entries if ledger else {}},
        "metrics": {"eval_episodes": config.eval_episodes, **metrics},
        # the range of the training latents: the session's safety net (engine.runtime.guard)
        "divergence": {"latent_rms_bound": rms_bound(norm), "latent_rms_max": round(float(latent_rms(norm).max()), 3)},
    }
    model_dir = save_model(out / "model", ae, dyn, mean, std, card, regressor=regressor, text_scene=text_scene)
    if dyn.cfg.text_dim:
        write_text_seed(model_dir)
    job.barrier()  # the other ranks return once the model is on disk
    return model_dir


def _finetune_decoder(ae, dyn, mean, std, ds: Dataset, frames: np.ndarray, latents: torch.Tensor, config: TrainConfig,
                      *, seed: int, ckpt: Path, progress: bool, log, device):
    """The decoder fine-tuned on the trained world model's own latents
    (:mod:`engine.train.decoder_finetune`); the generated pairs are cached in ``ckpt``."""
    from ..model.world_model import LatentWorldModel
    from .decoder_finetune import finetune_decoder, generated_pairs

    cached = load_checkpoint(ckpt / "generated_pairs.pt")
    if cached is None or cached["rollouts"] != config.decoder_rollouts:
        model = LatentWorldModel(ae, dyn, mean, std, sampling=config.sampling, seed=seed)
        pairs = generated_pairs(model, ds, rollouts=config.decoder_rollouts, horizon=config.decoder_horizon,
                                seed=seed + 17, progress=progress)
        save_checkpoint(ckpt / "generated_pairs.pt", pairs=pairs, rollouts=config.decoder_rollouts)
    else:
        pairs = cached["pairs"]
    rng = np.random.default_rng(seed + 19)
    real = np.sort(rng.choice(len(frames), size=min(len(frames), 4000), replace=False))
    ae_state = load_checkpoint(ckpt / "autoencoder.pt") or {}
    log(f"decoder fine-tune on {len(pairs[0])} generated latents (+{len(real)} real frames' latents)")
    return finetune_decoder(ae, pairs, latents[real], frames[real], steps=config.decoder_steps, batch=config.ae_batch,
                            seed=seed, checkpoint=ckpt / "decoder.pt", disc_state=ae_state.get("disc"),
                            gan_weight=config.ae_gan_weight, progress=progress, log=log, device=device)


def _train_layout_decoder(ae, dyn, mean, std, ds: Dataset, latents: torch.Tensor, config: TrainConfig, *, seed: int,
                          ckpt: Path, progress: bool, log, device):
    """The decoder wrapped and trained to read the scene layout (:mod:`engine.train.layout_decoder`);
    its training samples are cached in ``ckpt``."""
    from ..model.world_model import LatentWorldModel
    from .layout_decoder import layout_autoencoder, layout_pairs, train_layout_decoder

    albedo = config.layout_decoder_albedo
    key = (config.layout_decoder_rollouts, config.layout_decoder_horizon, config.layout_decoder_real) + (
        ("albedo",) if albedo else ())
    cached = load_checkpoint(ckpt / "layout_pairs.pt")
    if cached is None or tuple(cached["key"]) != key:
        model = LatentWorldModel(ae, dyn, mean, std, sampling=config.sampling, seed=seed)
        pairs = layout_pairs(model, ds, latents, rollouts=key[0], horizon=key[1], real=key[2], seed=seed + 29,
                             albedo=albedo, progress=progress)
        save_checkpoint(ckpt / "layout_pairs.pt", pairs=pairs, key=list(key))
    else:
        pairs = cached["pairs"]
    ae_state = load_checkpoint(ckpt / "autoencoder.pt") or {}
    log(f"layout decoder on {int((pairs['horizons'] > 0).sum())} generated latents "
        f"(+{int((pairs['horizons'] == 0).sum())} real frames' latents)")
    return train_layout_decoder(layout_autoencoder(ae, albedo=albedo), pairs, steps=config.layout_decoder_steps,
                                batch=config.layout_decoder_batch, seed=seed, checkpoint=ckpt / "layout_decoder.pt",
                                disc_state=ae_state.get("disc"),
                                gan_weight=(config.ae_gan_weight if config.layout_decoder_gan_weight is None
                                            else config.layout_decoder_gan_weight),
                                horizon_power=config.layout_decoder_horizon_power, progress=progress,
                                log=log, device=device)


def _train_text_scene(config: TrainConfig, *, seed: int, ckpt: Path, log):
    """The text-to-scene network (:mod:`engine.train.text_scene`) and its held-out accuracy,
    kept in ``ckpt / "text_scene.pt"`` once trained (a minute; not resumed mid-way)."""
    from ..model.text_scene import TextToScene
    from .text_scene import train_text_scene

    key = [config.text_scene_steps, config.text_scene_rooms]
    cached = load_checkpoint(ckpt / "text_scene.pt")
    if cached is not None and cached.get("key") == key:
        net = TextToScene(**cached["arch"])
        net.load_state_dict(cached["model"])
        return net.eval(), cached["accuracy"]
    net, acc = train_text_scene(config.text_scene_rooms, steps=config.text_scene_steps, seed=seed + 31,
                                eval_rooms=max(3, min(300, config.text_scene_rooms // 4)), log=log)
    save_checkpoint(ckpt / "text_scene.pt", model=net.state_dict(), accuracy=acc, key=key,
                    arch={"text_dim": net.text_dim, "hidden": net.hidden})
    return net, acc


def write_text_seed(model_dir: Path) -> Path:
    """Ship the embeddings of the scenarios in ``scenarios/`` (their world prompts) and of the
    event phrases beside the model, so opening a shipped scenario never imports the encoder."""
    from ..model.io import TEXT_SEED_FILE
    from ..model.text import event_texts, write_seed
    from ..scenario.loader import load_scenario

    prompts = []
    for path in sorted(SCENARIOS_DIR.glob("*.toml")):
        try:
            prompts.append(load_scenario(path).world.prompt)
        except Exception as exc:  # a broken example must not cost the trained model
            print(f"note: {path.name} not embedded ({exc})")
    return write_seed(Path(model_dir) / TEXT_SEED_FILE, prompts + event_texts())


def apply_overrides(config: TrainConfig, items: list[str]) -> TrainConfig:
    """``["dyn_steps=600", "dynamics.memory=0", "sampling.cfg_action=2"]`` applied to
    ``config``. Values are JSON (numbers, true/false, lists) or plain strings. Raises
    ``ValueError`` naming an unknown key and the known ones."""
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        head, _, sub = key.strip().partition(".")
        fields = {f for f in TrainConfig.__dataclass_fields__}
        if head not in fields:
            raise ValueError(f"--set: unknown setting {head!r}; known: {', '.join(sorted(fields))}")
        if sub:
            inner = getattr(config, head)
            if sub not in getattr(inner, "__dataclass_fields__", {}):
                known = ", ".join(sorted(getattr(inner, "__dataclass_fields__", {})))
                raise ValueError(f"--set: unknown setting {key!r}; known under {head}: {known}")
            config = replace(config, **{head: replace(inner, **{sub: value})})
        else:
            config = replace(config, **{head: tuple(value) if isinstance(value, list) else value})
    return config


def config_overrides(config: TrainConfig) -> list[str]:
    """The ``--set KEY=VALUE`` items that turn budget ``config.budget``'s configuration into
    ``config`` (the inverse of :func:`apply_overrides`): what a model card's command needs
    to reproduce the run."""
    base = TrainConfig.for_budget(config.budget) if config.budget in BUDGETS else TrainConfig()
    mine, ref = _jsonable(asdict(config)), _jsonable(asdict(base))
    out = []
    for key, value in mine.items():
        if key == "budget":
            continue
        if isinstance(value, dict):
            out += [f"{key}.{sub}={json.dumps(v, separators=(',', ':'))}" for sub, v in value.items()
                    if v != ref[key].get(sub)]
        elif value != ref.get(key):
            out.append(f"{key}={json.dumps(value, separators=(',', ':'))}")
    return out


def train_command(config: TrainConfig, seed: int) -> str:
    """The ``ved train`` command line that reproduces a run of ``config`` from ``seed``."""
    import shlex

    sets = "".join(f" --set {shlex.quote(item)}" for item in config_overrides(config))
    return f"ved train --budget {config.budget} --out DIR --seed {seed}{sets}"


def reuse_run(source: str | Path, out: str | Path) -> None:
    """Seed run folder ``out`` with ``source``'s data (linked), autoencoder and latent cache
    (copied; also the pixel-warped predecessors when there), so the next stages train on
    exactly the same inputs. Raises
    ``FileNotFoundError`` if ``source`` lacks them."""
    source, out = Path(source).resolve(), Path(out)
    need = [source / "data" / "manifest.json", source / "eval_data" / "manifest.json",
            source / "checkpoints" / "autoencoder.pt", source / "checkpoints" / "latents.pt"]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"--reuse {source}: missing {', '.join(missing)}; point it at a finished 'ved train' run")
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in ("data", "eval_data"):
        if not (out / name).exists():
            (out / name).symlink_to(source / name, target_is_directory=True)
    for name in ("autoencoder.pt", "latents.pt", "text.pt", "warped.pt"):
        if (source / "checkpoints" / name).is_file() and not (out / "checkpoints" / name).exists():
            shutil.copy2(source / "checkpoints" / name, out / "checkpoints" / name)


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    return d
