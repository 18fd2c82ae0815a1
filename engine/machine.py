"""What this machine's processor can do, as every speed figure must say (issue 26).

Read from ``/proc/cpuinfo`` on Linux (the flags the kernel reports, never assumed from the
model name); elsewhere only the model name from :mod:`platform` and no flags.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

#: The instruction-set flags that decide which inference path pays, as ``/proc/cpuinfo``
#: spells them: AVX2 (every machine we run on), AVX-512, and native bf16 arithmetic
#: (AVX512_BF16, or AMX tiles with bf16).
FLAGS_THAT_MATTER = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """The processor's model name and its flags, from the text of ``/proc/cpuinfo`` (the
    first processor's entry; every core of a machine reports the same)."""
    name, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        if name and flags:
            break
    return name, flags


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        return platform.processor() or platform.machine(), frozenset()


def cpu_name() -> str:
    """The processor's model name, e.g. ``"AMD EPYC"`` or ``"Intel(R) Xeon(R) Platinum 8488C"``."""
    return _cpuinfo()[0] or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The processor's instruction-set flags (empty where they cannot be read)."""
    return _cpuinfo()[1]


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the processor computes in bf16 natively (AVX512_BF16 or AMX-BF16): the only
    processors where a bf16 path pays; elsewhere it is emulated and 10–40× slower."""
    flags = cpu_flags() if flags is None else flags
    return "avx512_bf16" in flags or "amx_bf16" in flags


def machine_facts() -> dict:
    """What a benchmark row names: the CPU model, which of :data:`FLAGS_THAT_MATTER` it
    has, the logical cores and torch's thread count (when torch is loaded)."""
    import sys

    flags = cpu_flags()
    facts = {"cpu": cpu_name(), "flags": [f for f in FLAGS_THAT_MATTER if f in flags], "cores": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        facts["torch_threads"] = torch.get_num_threads()
    return facts


#: The runtimes that can run the world model's networks (engine.model.runtimes), the
#: reference first; ``openvino-*`` needs the ``openvino`` package, ``-bf16`` native bf16.
RUNTIME_NAMES = ("torch-fp32", "openvino-fp32", "openvino-bf16")
#: What ``--path`` takes: ``auto`` (measured once per model and machine, then cached;
#: engine.runtime.inference_path) or one runtime for both networks.
PATH_CHOICES = ("auto",) + RUNTIME_NAMES

#: What ``--device`` takes: ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu``, ``cuda``.
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | None) -> str:
    """The torch device a world model runs on for ``--device name`` (None: ``auto``). Raises
    ``ValueError`` for another name, or for ``cuda`` where torch sees no GPU (a CPU build of
    torch, or no driver), saying what to use instead."""
    import torch

    name = name or "auto"
    if name not in DEVICE_CHOICES:
        raise ValueError(f"no device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU here (a CPU build of torch, "
                         "or no GPU driver); use --device cpu, or auto to take a GPU only where there is one")
    return name
