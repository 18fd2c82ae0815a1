"""Fine-tune the decoder on the dynamics model's own latents, against the true frames.

The autoencoder learns to decode latents of real frames. Live, the decoder is given what the
dynamics model samples instead: close to a real frame's latent, but softened where the model
is unsure, and more so the further a rollout runs from the frame it opened on. Here the
trained world model plays short open-loop rollouts on training episodes under their true
actions (as ``ved eval`` does on held-out ones), and the decoder learns to turn each
generated latent into the frame the reference world drew at that tick: pixel and gradient
losses weighted by ``1/√h`` at horizon ``h`` (the further out, the less the truth is the
only right answer), and the adversarial and feature-matching losses of the autoencoder's
training at every horizon, so that an unsure latent still decodes to a sharp frame. A
quarter of each batch is real frames' own latents, so reconstructing a real frame (an
opening image) stays as good as before. The encoder is frozen: the latent space the
dynamics model was trained in does not move.

In the spirit of DIAMOND's upsampler and of decoder fine-tuning on generated latents in
latent video models (e.g. Blattmann et al. 2023), on a CPU budget.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..model.autoencoder import Autoencoder, frames_to_tensor
from .common import lr_at
from .discriminator import DecoderAdversary


@torch.no_grad()
def generated_pairs(model, episodes, *, rollouts: int, horizon: int, seed: int, progress: bool = True):
    """Generated latents paired with true frames: ``(latents float32 (N, C, h, w)`` (as the
    decoder receives them, un-normalised), ``frames uint8 (N, H, W, 3)``, ``horizons int64
    (N,))``, from ``rollouts`` open-loop rollouts of ``horizon`` ticks of ``model``
    (:class:`~engine.model.world_model.LatentWorldModel`) on random training ``episodes``
    under their true actions, world states and camera poses."""
    from tqdm import tqdm

    from ..eval.fidelity import episode_prompt

    rng = np.random.default_rng(seed)
    lats, frames, hs = [], [], []
    for _ in tqdm(range(rollouts), desc="generated latents", unit="rollout", disable=not progress):
        ep = episodes[int(rng.integers(len(episodes)))]
        start = int(rng.integers(0, len(ep) - horizon - 1))
        model.reset(episode_prompt(ep, start), ep.world_state(start), viewer_pose=ep.poses[start])
        for k in range(1, horizon + 1):
            model.step(ep.actions[start + k], ep.world_state(start + k), viewer_pose=ep.poses[start + k])
            lats.append((model.last_latent * model.std + model.mean).cpu())
        frames.append(ep.frames[start + 1:start + 1 + horizon])
        hs.append(np.arange(1, horizon + 1))
    return torch.cat(lats), np.concatenate(frames), torch.from_numpy(np.concatenate(hs))


def finetune_decoder(ae: Autoencoder, pairs, real_latents: torch.Tensor, real_frames: np.ndarray, *, steps: int,
                     batch: int = 32, lr: float = 2e-4, seed: int = 0, checkpoint: Path | None = None,
                     disc_state: dict | None = None, checkpoint_every: int = 100, gan_weight: float = 0.5,
                     fm_weight: float = 1.0, progress: bool = True, log=print,
                     device: str | torch.device = "cpu") -> Autoencoder:
    """Fine-tune ``ae``'s decoder for ``steps`` steps on ``pairs`` (:func:`generated_pairs`)
    mixed with real frames' latents ``real_latents`` ``(M, C, h, w)`` (un-normalised) and their
    frames ``real_frames`` uint8 ``(M, H, W, 3)``. ``disc_state`` continues the autoencoder's
    discriminator. Resumes from ``checkpoint``; returns the autoencoder on the CPU."""
    from tqdm import tqdm

    device = torch.device(device)
    ae = ae.to(device)
    for p in ae.encoder.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(ae.decoder.parameters(), lr=lr, weight_decay=1e-4)
    adv = DecoderAdversary(ae.decoder, opt, lr=lr, seed=seed + 11, disc_state=disc_state, device=device)
    g = adv.g
    start = adv.resume(checkpoint, log, "decoder fine-tune")
    gen_lat, gen_frames, gen_h = pairs
    n_real = batch // 4
    last = ae.decoder[-1].weight
    ae.decoder.train()

    def save(step):
        adv.save(checkpoint, step)

    bar = tqdm(range(start, steps), desc="decoder fine-tune", unit="step", disable=not progress, initial=start,
               total=steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=min(50, steps // 5 + 1))
        for group in adv.opt_d.param_groups:  # two time-scale updates: the discriminator keeps up
            group["lr"] = 2 * lr
        gi = torch.randint(0, len(gen_lat), (batch - n_real,), generator=g)
        ri = torch.randint(0, len(real_latents), (n_real,), generator=g)
        z = torch.cat([gen_lat[gi], real_latents[ri]]).to(device)
        x = frames_to_tensor(np.concatenate([gen_frames[gi.numpy()], real_frames[ri.numpy()]])).to(device)
        w = torch.cat([gen_h[gi].float().rsqrt(), torch.ones(n_real)]).to(device)[:, None, None, None]
        rec_loss, d_loss, _ = adv.update(ae.decode(z), x, w, last, gan_weight, fm_weight)
        if step % 20 == 0:
            bar.set_postfix(rec=f"{rec_loss.item():.4f}", d=f"{d_loss.item():.3f}")
        if (step + 1) % checkpoint_every == 0:
            save(step + 1)
    if start < steps:  # a finished checkpoint is left as it was
        save(steps)
    for p in ae.encoder.parameters():
        p.requires_grad_(True)
    return ae.cpu().eval()
