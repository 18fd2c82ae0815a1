"""Runtimes for the world model's two per-tick networks: the decoder and the dynamics model's
cached step (issue 26).

A tick runs the dynamics model's :meth:`~engine.model.dynamics.DynamicsModel.forward_cached`
once per denoising step and the decoder once. :class:`TorchRuntime` runs them as they are
(float32, the reference every other runtime is checked against). :class:`OpenVinoRuntime`
traces them once into OpenVINO's intermediate representation (OpenVINO's PyTorch front end,
dynamic shapes: any number of views, frames and cached frames), keeps that IR in a folder
(:func:`engine.model.inference` caches it per model, library versions and processor) and
compiles it for the CPU in float32 or bfloat16. The bf16 variant is only worth running on a
processor with native bf16 arithmetic (:func:`engine.machine.native_bf16`): OpenVINO keeps
its accumulations in float32, so its frames stay close to float32's over a whole rollout,
where torch's own bf16 autocast drifts (issue 26's probe: 29.7 dB by tick 12).

Every runtime has the same two calls (:class:`NetworkRuntime`); the world model holds one per
network (:meth:`engine.model.world_model.LatentWorldModel.set_runtimes`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Protocol

import torch

from ..machine import RUNTIME_NAMES  # noqa: F401 - every runtime's name, reference first
from .io import sha256 as file_sha256


class RuntimeUnavailable(RuntimeError):
    """A runtime cannot run here (its library is missing, or its export failed)."""


class NetworkRuntime(Protocol):
    name: str

    def decode(self, z: torch.Tensor, layout: torch.Tensor | None) -> torch.Tensor:
        """De-normalised latents float32 ``(B, C, h, w)`` (and the decoder's layout ``(B, L,
        H, W)`` or None) → frames float32 ``(B, 3, H, W)``, about [0, 1] (unclamped)."""

    def dynamics(self, x: torch.Tensor, cond: torch.Tensor, pos: torch.Tensor, cache: list, mask: torch.Tensor | None,
                 warped: torch.Tensor | None, entities: tuple | None, t: list[float]) -> tuple[torch.Tensor, list]:
        """:meth:`~engine.model.dynamics.DynamicsModel.forward_cached` with the cache's keys
        already rotated: ``x`` ``(B, F, C, h, w)``, ``cond`` ``(B, F, cond_dim)``, ``pos``
        ``(F,)`` int64, ``cache`` one ``(k, v)`` ``(B, heads, M, d)`` per block, ``mask`` bool
        ``(F·P, M + F·P)`` or None, ``t`` the F noise levels. Returns the velocity ``(B, F, C,
        h, w)`` and the new tokens' ``(k, v)`` per block."""


class TorchRuntime:
    """The networks in torch, float32: the reference."""

    name = "torch-fp32"

    def __init__(self, ae, dyn):
        self.ae, self.dyn = ae, dyn

    def decode(self, z, layout):
        z = z.contiguous(memory_format=torch.channels_last)
        if layout is not None:
            layout = layout.contiguous(memory_format=torch.channels_last)
        return self.ae.decode(z, layout)

    def dynamics(self, x, cond, pos, cache, mask, warped, entities, t):
        cache_pos = torch.zeros(cache[0][0].shape[2], dtype=torch.long, device=x.device)  # unused: keys rotated
        return self.dyn.forward_cached(x, cond, pos, cache, cache_pos, rotated=True, mask=mask, warped=warped,
                                       entities=entities, t=t)


class _DecoderGraph(torch.nn.Module):
    """The decoder with flat tensor inputs, for tracing: ``(z)`` or ``(z, layout)``."""

    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, z, layout=None):
        return self.ae.decode(z, layout)


class _DynamicsGraph(torch.nn.Module):
    """The cached dynamics step with flat tensor inputs, for tracing: the per-block cache
    stacked as ``(depth, B, heads, M, d)``; outputs the velocity and the new keys and values
    stacked the same way. ``entity_parts`` (0, 2 or 4) entity tensors follow ``t``."""

    def __init__(self, dyn, entity_parts: int):
        super().__init__()
        self.dyn, self.entity_parts = dyn, entity_parts

    def forward(self, x, cond, pos, cache_k, cache_v, mask, warped, t, *entities):
        cache = [(cache_k[i], cache_v[i]) for i in range(cache_k.shape[0])]
        cache_pos = torch.zeros(cache_k.shape[3], dtype=pos.dtype)
        v, kv = self.dyn.forward_cached(x, cond, pos, cache, cache_pos, rotated=True, mask=mask, warped=warped,
                                        entities=tuple(entities) if entities else None, t=t)
        return v, torch.stack([k for k, _ in kv]), torch.stack([vv for _, vv in kv])


def openvino_available() -> bool:
    """Whether the ``openvino`` package imports here."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


class OpenVinoRuntime:
    """The networks traced into OpenVINO IR and compiled for the CPU in ``precision``
    (``"fp32"`` or ``"bf16"``) with ``threads`` inference threads.

    A network is exported the first time it is called (its inputs are the tracing example;
    shapes stay dynamic) and its IR is written to ``folder`` (``decoder.xml``/``.bin``,
    ``dynamics-e<entity inputs>.xml``/``.bin``) with the sha256 of each file in
    ``graphs.json``; a later runtime on the same folder reads that IR instead, unless a file is
    missing or its sha256 differs (corrupt, or half written), in which case the network is
    exported again. :attr:`exported` names what this runtime exported. Raises
    :class:`RuntimeUnavailable` without the ``openvino`` package."""

    GRAPHS = "graphs.json"

    def __init__(self, ae, dyn, *, precision: str = "fp32", threads: int | None = None, folder: str | Path):
        if not openvino_available():
            raise RuntimeUnavailable("the openvino package is not installed (pip install openvino); using torch")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision is fp32 or bf16, not {precision!r}")
        import openvino as ov

        self.name = f"openvino-{precision}"
        self.ae, self.dyn = ae, dyn
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.exported: list[str] = []
        self._core = ov.Core()
        self._config = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                        "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
                        "CACHE_DIR": str(self.folder / "compiled")}
        self._requests: dict[str, object] = {}
        self._verified: set[str] = set()  # graphs whose files were hashed and matched

    # ------------------------------------------------------------ export / load
    def _graphs(self) -> dict:
        try:
            graphs = json.loads((self.folder / self.GRAPHS).read_text())
        except (OSError, ValueError):
            return {}
        return graphs if isinstance(graphs, dict) else {}

    def verify(self) -> bool:
        """Whether every graph this folder lists is there with its sha256 (and it lists one)."""
        graphs = self._graphs()
        return bool(graphs) and all(self._ir_ok(name, graphs) for name in graphs)

    def _ir_ok(self, name: str, graphs: dict) -> bool:
        if name in self._verified:
            return True
        want = graphs.get(name)
        if not isinstance(want, dict):
            return False
        for suffix in (".xml", ".bin"):
            p = self.folder / f"{name}{suffix}"
            if not p.exists() or file_sha256(p) != want.get(suffix):
                return False
        self._verified.add(name)
        return True

    def _request(self, name: str, module: torch.nn.Module, example: tuple):
        req = self._requests.get(name)
        if req is not None:
            return req
        import openvino as ov

        graphs = self._graphs()
        if self._ir_ok(name, graphs):
            model = self._core.read_model(str(self.folder / f"{name}.xml"))
        else:
            try:
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
                    model = ov.convert_model(module, example_input=example)
            except Exception as exc:  # any tracing failure means: not this runtime
                raise RuntimeUnavailable(f"OpenVINO could not export the {name} ({type(exc).__name__}: {exc})") from exc
            ov.save_model(model, str(self.folder / f"{name}.xml"), compress_to_fp16=False)
            self.exported.append(name)
            graphs[name] = {s: file_sha256(self.folder / f"{name}{s}") for s in (".xml", ".bin")}
            (self.folder / self.GRAPHS).write_text(json.dumps(graphs, indent=1))
        req = self._core.compile_model(model, "CPU", self._config).create_infer_request()
        self._requests[name] = req
        return req

    def _run(self, req, inputs: list) -> list[torch.Tensor]:
        req.infer([t.detach().contiguous().cpu().numpy() for t in inputs])
        return [torch.from_numpy(req.get_output_tensor(i).data.copy()) for i in range(len(req.model_outputs))]

    # ------------------------------------------------------------ the two calls
    def decode(self, z, layout):
        if self.ae.config.layout and layout is None:
            from .layout_decoder import empty_decoder_layout

            layout = empty_decoder_layout(z.shape[0], self.ae.config.resolution, z.device, self.ae.config.layout)
        inputs = [z.contiguous()] + ([layout.contiguous()] if self.ae.config.layout else [])
        req = self._request("decoder", _DecoderGraph(self.ae).eval(), tuple(inputs))
        return self._run(req, inputs)[0]

    def dynamics(self, x, cond, pos, cache, mask, warped, entities, t):
        n_new = x.shape[1]
        P = self.dyn.cfg.tokens_per_frame
        ck = torch.stack([k for k, _ in cache])
        cv = torch.stack([v for _, v in cache])
        if mask is None:
            if n_new > 1:
                local = torch.arange(n_new).repeat_interleave(P)
                mask = torch.cat([torch.ones(n_new * P, ck.shape[3], dtype=torch.bool), local[None, :] <= local[:, None]], 1)
            else:
                mask = torch.ones(P, ck.shape[3] + P, dtype=torch.bool)
        if warped is None:
            warped = torch.zeros_like(x)
        ents = list(entities) if entities is not None else []
        inputs = [x, cond, pos.long(), ck, cv, mask, warped, torch.as_tensor(t, dtype=torch.float32)] + ents
        req = self._request(f"dynamics-e{len(ents)}", _DynamicsGraph(self.dyn, len(ents)).eval(), tuple(inputs))
        v, nk, nv = self._run(req, inputs)
        return v, [(nk[i], nv[i]) for i in range(nk.shape[0])]
