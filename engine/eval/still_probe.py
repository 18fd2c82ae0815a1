"""The probes behind docs/benchmarks.md's issue-25 tables (what made a still world dissolve).

``python -m engine.eval.still_probe still MODEL [KEY=VALUE ...] [--ticks N] [--variant V]``:
a model in the default scenario's room (operating room, seed 7) from its start pose under
``N`` ticks of zero actions, each frame against the reference world's: PSNR at ticks 16, 32,
64, 128, 200 (those ≤ N), the gradient/Laplacian ratio over the ticks after 16 and the RMS
of the last frame's normalised latent. ``KEY=VALUE`` override sampling settings
(``ctx_noise=0.1``, ``ctx_noise_still=0.1``, ``cfg_action=1``, ``deterministic=1``).
Variants: ``plain`` (default); ``lowpass`` — the warp at zero motion averages two resamplings
0.23° up and down (a low-pass, no net motion); ``told`` — the network is told of
explorer-like pitch noise (0.004 rad a tick) while the camera and the warp stay exact;
``jitter`` — that pitch noise in the actions and the camera.

``python -m engine.eval.still_probe moving MODEL DATASET [KEY=VALUE ...]``: open-loop rollouts
of the held-out episodes of a ``ved-dataset`` (e.g. a training run's ``eval_data``) from tick
8 for 64 ticks under their true actions: PSNR at 1, 16, 64 and the sharpness ratios over
ticks 49–64. Prints one JSON line each.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def _model(path: str, overrides: list[str]):
    from ..model.io import load_world_model

    kw = {}
    for item in overrides:
        key, _, value = item.partition("=")
        kw[key] = json.loads(value)
    return load_world_model(path, **kw)


def still(path: str, overrides: list[str], ticks: int = 64, variant: str = "plain") -> dict:
    """The still probe (module docstring); returns its figures."""
    import torch

    from ..model import warp as warp_module
    from ..model.interface import Prompt
    from ..world.env import ReferenceWorld
    from ..world.state import WorldState
    from .metrics import psnr
    from .perception import sharpness_ratio

    model = _model(path, overrides)
    original = warp_module.ego_warp
    if variant == "lowpass":
        def lowpass(latent, motion, padding="zeros"):
            up, down = motion.clone(), motion.clone()
            up[:, 3] += 0.004
            down[:, 3] -= 0.004
            return 0.5 * (original(latent, up, padding) + original(latent, down, padding))
        warp_module.ego_warp = lowpass
    rng = np.random.default_rng(0)
    ref = ReferenceWorld(model.resolution)
    state = WorldState()
    opening = ref.reset("operating_room", 7, state)
    model.reset(Prompt("", opening, room="operating_room", seed=7), state, viewer_pose=ref.pose)
    gen, truth = [], []
    try:
        for _ in range(ticks):
            a = np.zeros(4, np.float32)
            told = a.copy()
            if variant in ("told", "jitter"):
                told[3] = 0.004 * rng.standard_normal()
            if variant == "jitter":
                a = told
            truth.append(ref.step(a, state))
            if variant == "told":
                warp_module.ego_warp = lambda latent, motion, padding="zeros": latent.clone()
            gen.append(model.step(told, state, viewer_pose=ref.pose))
    finally:
        warp_module.ego_warp = original
        ref.renderer.release()
    gen, truth = np.stack(gen), np.stack(truth)
    z = model.last_latent
    return {"model": path, "sampling": overrides, "variant": variant,
            "psnr": {k: round(psnr(gen[k - 1], truth[k - 1]), 1) for k in (16, 32, 64, 128, 200) if k <= ticks},
            "sharpness_after_16": sharpness_ratio(gen[16:], truth[16:]),
            "latent_rms_last": round(float(torch.as_tensor(z).pow(2).mean().sqrt()), 2)}


def moving(path: str, dataset: str, overrides: list[str]) -> dict:
    """The moving probe (module docstring); returns its figures."""
    from ..data.format import Dataset
    from .fidelity import rollout
    from .metrics import psnr
    from .perception import sharpness_ratio

    model = _model(path, overrides)
    ds = Dataset(dataset)
    acc = {1: [], 16: [], 64: []}
    gen_end, truth_end = [], []
    for i in range(len(ds)):
        ep = ds[i]
        gen = rollout(model, ep, 8, 64)
        truth = ep.frames[9:73]
        for h in acc:
            acc[h].append(psnr(gen[h - 1], truth[h - 1]))
        gen_end.append(gen[48:64])
        truth_end.append(truth[48:64])
    return {"model": path, "sampling": overrides, "episodes": len(ds),
            "psnr": {h: round(float(np.mean(v)), 2) for h, v in acc.items()},
            "sharpness_49_64": sharpness_ratio(np.concatenate(gen_end), np.concatenate(truth_end))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.eval.still_probe", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("still")
    s.add_argument("model")
    s.add_argument("overrides", nargs="*")
    s.add_argument("--ticks", type=int, default=64)
    s.add_argument("--variant", choices=("plain", "lowpass", "told", "jitter"), default="plain")
    m = sub.add_parser("moving")
    m.add_argument("model")
    m.add_argument("dataset")
    m.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    if args.cmd == "still":
        print(json.dumps(still(args.model, args.overrides, args.ticks, args.variant)))
    else:
        print(json.dumps(moving(args.model, args.dataset, args.overrides)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
