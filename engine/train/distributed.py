"""Data-parallel training across processes (``torchrun``), one process per GPU.

``torchrun --standalone --nproc_per_node 4 -m app.cli train --out DIR`` runs the same
pipeline in four processes. Rank 0 generates the data, trains the autoencoder and encodes the
latent cache while the others wait; then every rank trains the dynamics model (and the
rollout phase and the regressor baseline) on its own batches, with gradients averaged by
PyTorch's ``DistributedDataParallel`` (Li et al. 2020), so the global batch is ``world ×
dyn_batch``; rank 0 alone writes checkpoints, evaluates and saves the model. Without
``torchrun`` (``WORLD_SIZE`` unset) everything here is a no-op and training runs in one
process on CUDA when present, else the CPU. Backend: NCCL on GPUs, Gloo on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: ``rank`` of ``world`` processes, on ``device``."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def current() -> Dist:
    """The job this process belongs to (a single process unless set up under torchrun)."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
        return Dist(rank, world, device)
    return Dist(device="cuda" if torch.cuda.is_available() else "cpu")


def setup() -> Dist:
    """Join the process group torchrun describes (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``
    in the environment); a single process otherwise. Idempotent. The group waits up to three
    hours at a barrier (the autoencoder stage runs on rank 0 alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=timedelta(hours=3))
    return current()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` for the training forward pass: wrapped in ``DistributedDataParallel`` in a
    multi-process job (which broadcasts rank 0's weights now and averages gradients in
    ``backward``), the model itself otherwise."""
    d = current()
    if d.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    # Some parameters sit out some batches (learned placeholders used only when a condition is
    # dropped or a memory slot is empty), so the reducer must look for unused ones.
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def decorrelate(g: torch.Generator) -> None:
    """Give each rank its own batches: re-seed ``g`` from its current state plus the rank
    (the same on every rank before, different after; deterministic given the checkpoint)."""
    d = current()
    if d.world > 1:
        base = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        g.manual_seed(base + 7919 * d.rank)
