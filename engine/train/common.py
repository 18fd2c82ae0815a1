"""Shared training plumbing: seeding, learning-rate schedule, resumable checkpoints."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def lr_at(step: int, total: int, peak: float, warmup: int = 200, floor: float = 0.1) -> float:
    """Linear warm-up then cosine decay to ``floor × peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


#: Called with the path after every checkpoint is saved (engine.train.ledger records stage times).
SAVE_HOOKS: list = []


def save_checkpoint(path: Path, **state) -> None:
    """Atomically write a training checkpoint (a killed run never leaves a torn file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for hook in list(SAVE_HOOKS):
        hook(path)


def load_checkpoint(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def resume(checkpoint: Path | None, model: torch.nn.Module, opt: torch.optim.Optimizer, g: torch.Generator,
           name: str, log=print) -> int:
    """Restore model, optimizer and RNG from ``checkpoint`` if it exists; the step to start at."""
    state = load_checkpoint(checkpoint) if checkpoint else None
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    g.set_state(state["rng"])
    log(f"{name}: resumed from {checkpoint} at step {state['step']}")
    return int(state["step"])


def save_training_state(path: Path | None, model: torch.nn.Module, opt: torch.optim.Optimizer, g: torch.Generator,
               step: int) -> None:
    if path is not None:
        save_checkpoint(path, model=model.state_dict(), opt=opt.state_dict(), rng=g.get_state(), step=step)


def run_steps(model: torch.nn.Module, opt: torch.optim.Optimizer, g: torch.Generator, loss_fn, *, steps: int,
              lr: float, desc: str, checkpoint: Path | None, checkpoint_every: int, progress: bool = True,
              log=print, warmup: int = 200) -> float | None:
    """The training loop the dynamics trainers share: resume from ``checkpoint``, then for each
    remaining step set the learning rate (:func:`lr_at`), take ``loss_fn()``, back-propagate,
    clip the gradient norm to 1 and step; checkpoint every ``checkpoint_every`` steps and at the
    end. Returns the exponential moving average of the loss (None if nothing was left to do).

    Under torchrun (:mod:`engine.train.distributed`) every rank runs this loop on its own
    batches (``loss_fn`` forwards through the DDP wrapper, which averages the gradients);
    rank 0 alone shows progress and writes checkpoints."""
    from tqdm import tqdm

    from .distributed import current, decorrelate

    main = current().main
    start = resume(checkpoint, model, opt, g, desc, log if main else (lambda *a: None))
    decorrelate(g)
    if not main:
        checkpoint, progress = None, False
    ema = None
    bar = tqdm(range(start, steps), desc=desc, unit="step", disable=not progress, initial=start, total=steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=warmup)
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{ema:.4f}")
        if (step + 1) % checkpoint_every == 0:
            save_training_state(checkpoint, model, opt, g, step + 1)
    if start < steps:  # a finished checkpoint is left as it was
        save_training_state(checkpoint, model, opt, g, steps)
    return ema
