"""Train the layout-modulated decoder (:mod:`engine.model.layout_decoder`) after the dynamics.

The decoder starts as the trained plain decoder (after its fine-tune on generated latents),
wrapped so that the scene layout modulates every normalisation; the modulation starts at
zero, so step 0 decodes as before. It then learns, with the encoder and the dynamics model
frozen (the latent space does not move), to turn

* the dynamics model's own latents from open-loop rollouts of training episodes under their
  true actions, up to ``horizon`` ticks out, where a plain decoder draws a field of the
  room's colours, and
* a quarter of each batch of real frames' latents (an opening image stays as good as before)

into the frame the reference world drew at that tick, given the layout of that view
rendered at half the output size from the episode's room preset (and, for a decoder that
reads it, the view's albedo map at full size). Losses as the decoder fine-tune
(:mod:`engine.train.decoder_finetune`): pixel and gradient terms weighted by ``1/√h`` by
default (``h ** -horizon_power``), the adversarial (PatchGAN hinge, VQGAN's adaptive weight)
and feature-matching terms at every horizon, the discriminator continued from the
autoencoder's. A tenth of the samples get the empty layout, so a prompt without a room
preset still decodes.

SPADE (Park et al. 2019) trains a layout-to-image generator this way; here the layout
sharpens a latent decoder instead of replacing it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..model.autoencoder import Autoencoder, frames_to_tensor
from ..model.layout_decoder import LayoutDecoder, decoder_layout, empty_decoder_layout
from ..world.layout import ALBEDO_DIM, LAYOUT_DIM
from .common import lr_at
from .discriminator import DecoderAdversary


def layout_autoencoder(ae: Autoencoder, *, albedo: bool = False) -> Autoencoder:
    """A copy of the plain autoencoder ``ae`` whose decoder is wrapped by a
    :class:`LayoutDecoder` (decoding as ``ae`` does until trained), reading the albedo map
    too with ``albedo``. Raises ``ValueError`` if ``ae`` already has one."""
    if ae.config.layout:
        raise ValueError("this autoencoder already has a layout decoder")
    out = Autoencoder(replace(ae.config, layout=LAYOUT_DIM + (ALBEDO_DIM if albedo else 0)))
    out.encoder.load_state_dict(ae.encoder.state_dict())
    out.decoder.load_plain(ae.decoder.state_dict())
    return out


class _Layouts:
    """Renders full-resolution decoder layouts of dataset ticks: ``(classes uint8 (H, W),
    inv_depth float16 (H/2, W/2))``, and with ``albedo`` the albedo map uint8 ``(H, W, 3)``,
    at the episode's true pose and world state."""

    def __init__(self, resolution: int, albedo: bool = False):
        from ..world.layout import LayoutRenderer

        self.renderer = LayoutRenderer(resolution // 2)
        self.albedo = albedo
        self._key = None

    def __call__(self, ep, t: int):
        from ..world.scene import make_scene

        key = (ep.meta["room_type"], int(ep.meta["scene_seed"]))
        if key != self._key:
            self.renderer.set_scene(make_scene(*key))
            self._key = key
        return self.renderer(ep.poses[t], ep.world_state(t), albedo=self.albedo)

    def release(self):
        self.renderer.release()


@torch.no_grad()
def layout_pairs(model, ds, latents: torch.Tensor, *, rollouts: int, horizon: int, real: int, seed: int,
                 albedo: bool = False, progress: bool = True) -> dict:
    """Training samples: ``{"latents" float32 (N, C, h, w)`` un-normalised, ``"frames" uint8
    (N, H, W, 3)``, ``"classes" uint8 (N, H, W)``, ``"inv_depth" float16 (N, H/2, W/2)``,
    ``"horizons" int64 (N,)`` (0 for a real frame's own latent)}``: every tick of ``rollouts``
    open-loop rollouts of ``horizon`` ticks of ``model`` on random episodes of ``ds`` under
    their true actions, world states and poses, then ``real`` random frames with their
    latents from ``latents`` ``(E·T, C, h, w)`` (the dataset's frames in order). With
    ``albedo`` it holds ``"albedo"`` uint8 ``(N, H, W, 3)`` as well."""
    from tqdm import tqdm

    from ..eval.fidelity import episode_prompt

    rng = np.random.default_rng(seed)
    render = _Layouts(model.resolution, albedo)
    lats, frames, classes, inv, hs, albedos = [], [], [], [], [], []

    def add(ep, t, z, h):
        c, d, *a = render(ep, t)
        albedos.extend(a)
        lats.append(z)
        frames.append(ep.frames[t].copy())  # a copy: a view would keep the whole episode alive
        classes.append(c)
        inv.append(d)
        hs.append(h)

    try:
        for _ in tqdm(range(rollouts), desc="rollouts for the layout decoder", unit="rollout", disable=not progress):
            ep = ds[int(rng.integers(len(ds)))]
            start = int(rng.integers(0, len(ep) - horizon - 1))
            model.reset(episode_prompt(ep, start), ep.world_state(start), viewer_pose=ep.poses[start])
            for k in range(1, horizon + 1):
                t = start + k
                model.step(ep.actions[t], ep.world_state(t), viewer_pose=ep.poses[t])
                add(ep, t, (model.last_latent * model.std + model.mean)[0].cpu().clone(), k)
        T = len(ds[0])
        picks = np.sort(rng.choice(len(latents), size=min(real, len(latents)), replace=False))
        for e in np.unique(picks // T):  # episode by episode: each is loaded once
            ep = ds[int(e)]
            for i in picks[picks // T == e]:
                add(ep, int(i) % T, latents[int(i)].clone(), 0)
    finally:
        render.release()
    out = {"latents": torch.stack(lats), "frames": np.stack(frames), "classes": torch.from_numpy(np.stack(classes)),
           "inv_depth": torch.from_numpy(np.stack(inv)), "horizons": torch.tensor(hs)}
    if albedo:
        out["albedo"] = torch.from_numpy(np.stack(albedos))
    return out


def train_layout_decoder(ae: Autoencoder, pairs: dict, *, steps: int, batch: int = 16, lr: float = 3e-4,
                         seed: int = 0, checkpoint: Path | None = None, disc_state: dict | None = None,
                         checkpoint_every: int = 50, gan_weight: float = 0.5, fm_weight: float = 1.0,
                         layout_drop: float = 0.1, horizon_power: float = 0.5, progress: bool = True, log=print,
                         device: str | torch.device = "cpu") -> Autoencoder:
    """Train the layout decoder of ``ae`` (from :func:`layout_autoencoder`) for ``steps``
    steps on ``pairs`` (:func:`layout_pairs`), a sample ``h`` ticks into its rollout weighted
    ``h ** -horizon_power`` in the pixel and gradient terms (0: every horizon alike). The new
    parts (layout trunks, modulations, extra blocks) learn at ``lr``, the wrapped plain
    decoder at a quarter of it. Resumes from ``checkpoint``; returns the autoencoder on the
    CPU, in eval mode."""
    from tqdm import tqdm

    device = torch.device(device)
    ae = ae.to(device)
    for p in ae.encoder.parameters():
        p.requires_grad_(False)
    dec = ae.decoder
    if not isinstance(dec, LayoutDecoder):
        raise ValueError("train_layout_decoder needs an autoencoder with a layout decoder (layout_autoencoder)")
    reads_albedo = dec.channels > LAYOUT_DIM
    if reads_albedo and "albedo" not in pairs:
        raise ValueError("this decoder reads the albedo map, but the training pairs have none "
                         "(make them with layout_pairs(..., albedo=True))")
    new = {id(p) for n, p in dec.named_parameters()
           if n.startswith("trunks.") or ".gamma." in n or ".beta." in n}
    new |= {id(p) for i, layer in enumerate(dec.layers) if i not in dec._plain_index.values()
            for p in layer.parameters()}
    groups = [{"params": [p for p in dec.parameters() if id(p) in new], "scale": 1.0},
              {"params": [p for p in dec.parameters() if id(p) not in new], "scale": 0.25}]
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)
    adv = DecoderAdversary(dec, opt, lr=lr, seed=seed + 23, disc_state=disc_state, device=device)
    g = adv.g
    start = adv.resume(checkpoint, log, "layout decoder")
    lat, frames, hs = pairs["latents"], pairs["frames"], pairs["horizons"]
    classes, inv = pairs["classes"], pairs["inv_depth"]
    gen_idx = torch.nonzero(hs > 0).flatten()
    real_idx = torch.nonzero(hs == 0).flatten()
    n_real = batch // 4 if len(real_idx) else 0
    last = dec.layers[-1].weight
    dec.train()

    def save(step):
        adv.save(checkpoint, step)

    bar = tqdm(range(start, steps), desc="layout decoder", unit="step", disable=not progress, initial=start,
               total=steps)
    for step in bar:
        peak = lr_at(step, steps, lr, warmup=min(50, steps // 5 + 1))
        for group in opt.param_groups:
            group["lr"] = peak * group["scale"]
        for group in adv.opt_d.param_groups:  # two time-scale updates: the discriminator keeps up
            group["lr"] = 2 * lr
        pick = [gen_idx[torch.randint(0, len(gen_idx), (batch - n_real,), generator=g)]]
        if n_real:
            pick.append(real_idx[torch.randint(0, len(real_idx), (n_real,), generator=g)])
        idx = torch.cat(pick)
        z = lat[idx].to(device)
        x = frames_to_tensor(frames[idx.numpy()]).to(device)
        layout = decoder_layout(classes[idx], inv[idx], pairs["albedo"][idx] if reads_albedo else None).to(device)
        drop = torch.rand(len(idx), generator=g) < layout_drop
        if drop.any():
            layout[drop] = empty_decoder_layout(int(drop.sum()), layout.shape[-1], device, dec.channels)
        w = hs[idx].clamp_min(1).float().pow(-horizon_power).to(device)[:, None, None, None]
        rec_loss, d_loss, adv_w = adv.update(ae.decode(z, layout), x, w, last, gan_weight, fm_weight)
        if step % 10 == 0:
            bar.set_postfix(rec=f"{rec_loss.item():.4f}", d=f"{d_loss.item():.3f}", w=f"{adv_w.item():.2f}")
        if step % 50 == 0 and not progress:
            log(f"layout decoder step {step}: rec {rec_loss.item():.4f}, d {d_loss.item():.3f}")
        if (step + 1) % checkpoint_every == 0:
            save(step + 1)
    if start < steps:
        save(steps)
    for p in ae.encoder.parameters():
        p.requires_grad_(True)
    return ae.cpu().eval()

