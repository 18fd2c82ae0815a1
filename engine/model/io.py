"""Saving and loading a world model: safetensors weights plus a JSON model card.

A model folder holds ``autoencoder.safetensors``, ``dynamics.safetensors`` (with the latent
normalisation as ``latent_mean``/``latent_std``) and ``model_card.json``: format, the two
architectures, data, training, seed, metrics and the sha256 of each weights file. It may
also hold ``baseline_regressor.safetensors``: the deterministic one-step regressor trained
beside the model on the same data and budget, which ``ved eval`` runs as a baseline, and
``text_scene.safetensors``: the network that infers a room's scene graph from a prompt of
words alone (:mod:`engine.model.text_scene`).

Format ``ved-model/2`` stores weights as float16 (half the size on disk; they are computed
in float32 after loading); ``ved-model/1`` (float32) still loads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .autoencoder import Autoencoder, AutoencoderConfig
from .dynamics import DynamicsConfig, DynamicsModel

FORMAT = "ved-model/2"
READABLE_FORMATS = ("ved-model/1", FORMAT)
from .paths import DEFAULT_MODEL_DIR  # noqa: E402 - re-exported: engine.model.io.DEFAULT_MODEL_DIR
FILES = ("autoencoder.safetensors", "dynamics.safetensors")
REGRESSOR_FILE = "baseline_regressor.safetensors"
TEXT_SCENE_FILE = "text_scene.safetensors"
#: Embeddings of the shipped scenarios' prompts and the event phrases (engine.model.text.write_seed).
TEXT_SEED_FILE = "text_embeddings.npz"


def _half(sd: dict) -> dict:
    return {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous().cpu() for k, v in sd.items()}


class ModelError(ValueError):
    """A model folder that cannot be loaded: missing, corrupt or of another format."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(directory: str | Path, ae: Autoencoder, dyn: DynamicsModel, latent_mean: torch.Tensor,
               latent_std: torch.Tensor, card: dict, regressor: DynamicsModel | None = None,
               text_scene=None) -> Path:
    """Write weights and the model card (``card`` gives data/training/metrics; the
    architecture, parameter counts and file hashes are filled in here). ``regressor`` is the
    optional baseline (same architecture as ``dyn``); ``text_scene`` the optional
    :class:`~engine.model.text_scene.TextToScene`."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(_half(ae.state_dict()), directory / FILES[0], metadata={"format": FORMAT})
    tensors = _half(dyn.state_dict())
    tensors["latent_mean"], tensors["latent_std"] = latent_mean.float().cpu(), latent_std.float().cpu()
    save_file(tensors, directory / FILES[1], metadata={"format": FORMAT})
    names = list(FILES)
    if regressor is not None:
        save_file(_half(regressor.state_dict()), directory / REGRESSOR_FILE, metadata={"format": FORMAT})
        names.append(REGRESSOR_FILE)
    if text_scene is not None:
        save_file(_half(text_scene.state_dict()), directory / TEXT_SCENE_FILE, metadata={"format": FORMAT})
        names.append(TEXT_SCENE_FILE)
    full = {
        "format": FORMAT,
        **card,
        "architecture": {
            "autoencoder": ae.config.to_dict(),
            "dynamics": dyn.cfg.to_dict(),
            **({"text_scene": {"text_dim": text_scene.text_dim, "hidden": text_scene.hidden}}
               if text_scene is not None else {}),
            "parameters": {"autoencoder": sum(p.numel() for p in ae.parameters()),
                           "dynamics": sum(p.numel() for p in dyn.parameters())},
        },
        "files": {name: {"sha256": sha256(directory / name), "bytes": (directory / name).stat().st_size}
                  for name in names},
    }
    (directory / "model_card.json").write_text(json.dumps(full, indent=2) + "\n")
    return directory


def read_card(directory: str | Path) -> dict:
    """The model card of ``directory``. Raises :class:`ModelError` if missing or invalid."""
    directory = Path(directory)
    path = directory / "model_card.json"
    if not path.is_file():
        raise ModelError(f"{directory} is not a model folder (no model_card.json); train one with "
                         f"'ved train --out DIR' or omit --model to use the shipped default")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc.msg}); restore it from the repository or retrain") from None
    if card.get("format") not in READABLE_FORMATS:
        raise ModelError(f"{path}: model format {card.get('format')!r} is not supported "
                         f"(supported: {', '.join(READABLE_FORMATS)})")
    return card


def _read_weights(directory: Path, name: str, card: dict, verify: bool) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = directory / name
    if not path.is_file():
        raise ModelError(f"{path} is missing; the model folder is incomplete — copy it again or retrain")
    if verify and sha256(path) != card.get("files", {}).get(name, {}).get("sha256"):
        raise ModelError(f"{path} does not match the sha256 in model_card.json: the file is corrupt or "
                         f"was replaced; restore it (git checkout -- {path}) or retrain")
    try:
        return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(path).items()}
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{path} is not a readable safetensors file ({exc}); restore it or retrain") from None


def load_networks(directory: str | Path, *, verify: bool = True):
    """Load ``(autoencoder, dynamics, latent_mean, latent_std, card)`` from ``directory``.

    Raises :class:`ModelError` naming the file and the fix when a file is missing, its
    sha256 differs from the model card (corrupt or replaced), or the weights do not fit
    the architecture in the card.
    """
    directory = Path(directory)
    card = read_card(directory)
    ae_sd, dyn_sd = (_read_weights(directory, name, card, verify) for name in FILES)
    arch = card["architecture"]
    ae = Autoencoder(AutoencoderConfig.from_dict(arch["autoencoder"]))
    dyn = DynamicsModel(DynamicsConfig(**arch["dynamics"]))
    mean, std = dyn_sd.pop("latent_mean"), dyn_sd.pop("latent_std")
    try:
        ae.load_state_dict(ae_sd)
        dyn.load_state_dict(dyn_sd)
    except RuntimeError as exc:
        raise ModelError(f"{directory}: weights do not fit the architecture in model_card.json ({exc}); retrain") from None
    return ae, dyn, mean, std, card


def load_world_model(directory: str | Path | None = None, *, steps: int | None = None, seed: int = 0,
                     device: str = "cpu", **sampling_overrides):
    """A ready :class:`~engine.model.world_model.LatentWorldModel` from a model folder
    (default: the shipped model). ``steps`` and other :class:`Sampling` fields
    (``cfg_action=2.0``, ...) override the card's sampling settings."""
    from .world_model import LatentWorldModel, Sampling

    ae, dyn, mean, std, card = load_networks(directory or DEFAULT_MODEL_DIR)
    sampling = Sampling.from_dict({**card.get("sampling", {}), **sampling_overrides})
    if steps:
        sampling.steps = int(steps)
    model = LatentWorldModel(ae, dyn, mean, std, sampling=sampling, seed=seed, device=device)
    model.card = card
    if TEXT_SCENE_FILE in card.get("files", {}):
        model.text_scene = _load_text_scene(Path(directory or DEFAULT_MODEL_DIR), card)
    seed_file = Path(directory or DEFAULT_MODEL_DIR) / TEXT_SEED_FILE
    if dyn.cfg.text_dim and seed_file.exists():
        from .text import encoder

        encoder().preload(seed_file)
    return model


def load_text_scene(directory: str | Path | None = None):
    """The text-to-scene network (:class:`~engine.model.text_scene.TextToScene`) of a model
    folder (default: the shipped model), without loading the rest. Raises
    :class:`ModelError` when the folder has none (a model trained without
    ``text_scene_steps``) or its file is corrupt."""
    directory = Path(directory or DEFAULT_MODEL_DIR)
    card = read_card(directory)
    if TEXT_SCENE_FILE not in card.get("files", {}):
        raise ModelError(f"the world model in {directory} cannot choose a room from a description (it has no "
                         f"{TEXT_SCENE_FILE}); pick the room yourself, or train one with --set text_scene_steps=1500")
    return _load_text_scene(directory, card)


def _load_text_scene(directory: Path, card: dict):
    from .text_scene import TextToScene

    net = TextToScene(**card["architecture"].get("text_scene", {}))
    try:
        net.load_state_dict(_read_weights(directory, TEXT_SCENE_FILE, card, True))
    except RuntimeError as exc:
        raise ModelError(f"{directory / TEXT_SCENE_FILE}: weights do not fit the architecture ({exc}); "
                         "retrain") from None
    return net.eval()


def load_regressor(directory: str | Path | None = None, *, seed: int = 0, device: str = "cpu"):
    """The deterministic one-step regressor baseline stored beside a model, as a world model
    sharing its autoencoder. Raises :class:`ModelError` if the folder has none."""
    from .world_model import LatentWorldModel, Sampling

    directory = Path(directory or DEFAULT_MODEL_DIR)
    ae, dyn, mean, std, card = load_networks(directory)
    if REGRESSOR_FILE not in card.get("files", {}):
        raise ModelError(f"{directory} has no {REGRESSOR_FILE}; train the model with 'ved train' to get the "
                         "regressor baseline beside it")
    reg = DynamicsModel(dyn.cfg)
    try:
        reg.load_state_dict(_read_weights(directory, REGRESSOR_FILE, card, True))
    except RuntimeError as exc:
        raise ModelError(f"{directory / REGRESSOR_FILE}: weights do not fit the architecture ({exc}); retrain") from None
    model = LatentWorldModel(ae, reg, mean, std, sampling=Sampling(steps=1, ctx_noise=0.0, deterministic=True),
                             seed=seed, device=device)
    model.name = "regressor"
    model.card = card
    return model
