"""What a person sees in generated frames, measured against the reference world.

PSNR and a clean-latent loss both reward the blurred average of the possible futures over a
sharp, slightly misplaced frame, so ``ved eval`` reads them beside measures of what a trainee
would actually see:

* :func:`sharpness` — mean gradient magnitude and variance of the Laplacian of the frames'
  luma; :func:`sharpness_ratio` divides a generated set's by the reference set's under the
  same actions (1.0 = as sharp as the truth; a blur scores well below 1, noise above it);
* :func:`frechet_distance` — between two sets of judge embeddings (FID's formula, Heusel et
  al. 2017, in the domain judge's 128-d features instead of Inception's);
* :func:`detection_scores` — the judge's per-frame object and person detections on generated
  frames against what the reference world's label pass says is in view at that tick.

All take uint8 frames ``(N, H, W, 3)`` and are computed at the frames' full resolution.
"""

from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float64)


def _luma(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames.astype(np.float64) @ _LUMA  # (N, H, W), 0..255


def sharpness(frames: np.ndarray) -> dict:
    """``{"gradient": float, "laplacian": float}``: the mean over frames of the mean gradient
    magnitude (central differences of luma, 0–255 units per pixel) and of the variance of the
    4-neighbour Laplacian of luma. A blur lowers the gradient term only where detail is finer
    than the blur (across one isolated step edge it keeps the total variation); it lowers the
    Laplacian term under any blur, which is why both are read. Raises ``ValueError`` for frames that are not uint8
    ``(N, H, W, 3)`` with ``N >= 1``."""
    y = _luma(frames)
    if len(y) == 0:
        raise ValueError("sharpness needs at least one frame")
    gx = (y[:, 1:-1, 2:] - y[:, 1:-1, :-2]) / 2
    gy = (y[:, 2:, 1:-1] - y[:, :-2, 1:-1]) / 2
    grad = np.sqrt(gx ** 2 + gy ** 2).mean(axis=(1, 2))
    lap = y[:, 1:-1, 2:] + y[:, 1:-1, :-2] + y[:, 2:, 1:-1] + y[:, :-2, 1:-1] - 4 * y[:, 1:-1, 1:-1]
    return {"gradient": float(grad.mean()), "laplacian": float(lap.var(axis=(1, 2)).mean())}


def sharpness_ratio(generated: np.ndarray, reference: np.ndarray) -> dict:
    """``{"gradient": ratio, "laplacian": ratio}`` of :func:`sharpness` of ``generated`` over
    that of ``reference`` (the same ticks under the same actions)."""
    g, r = sharpness(generated), sharpness(reference)
    return {k: round(g[k] / max(r[k], 1e-9), 3) for k in g}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` ``(N, D)`` and ``b``
    ``(M, D)``: ``|μa − μb|² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½)``, computed with symmetric
    eigendecompositions (no complex square roots). Raises ``ValueError`` for fewer than two
    rows in either set or mismatched widths."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"frechet_distance needs two (N>=2, D) feature sets of one width, got {a.shape}, {b.shape}")
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def _dilate(bands: np.ndarray, k: int = 1) -> np.ndarray:
    out = bands.copy()
    for s in range(1, k + 1):
        out[:, s:] |= bands[:, :-s]
        out[:, :-s] |= bands[:, s:]
    return out


def detection_scores(pred: dict, labels: dict, threshold: float = 0.5) -> dict:
    """Judge detections (:meth:`~engine.eval.judge.Judge.predict` output for N frames)
    against the true view labels of the same ticks (``objects`` ``(N, K)``, ``person``
    ``(N,)``, ``persons`` ``(N, B)``; :mod:`engine.world.labels`).

    Returns ``object_recall`` and ``object_precision`` over all (frame, kind) pairs,
    ``person_recall`` (of the frames that show a person, the share where the judge finds one
    in the same band of the image or a neighbouring one), ``person_precision`` (of the frames
    where it finds one, the share that show a person) and the counts they rest on. A rate
    with nothing to count is None.
    """
    det = np.asarray(pred["objects"]) > threshold
    obj = np.asarray(labels["objects"]) > 0.5
    tp = int((det & obj).sum())
    out = {"object_recall": tp / obj.sum() if obj.sum() else None,
           "object_precision": tp / det.sum() if det.sum() else None,
           "objects_in_view": int(obj.sum()), "objects_detected": int(det.sum())}
    has = np.asarray(labels["person"]) > 0.5
    found = np.asarray(pred["person"]) > threshold
    near = (_dilate(np.asarray(labels["persons"]) > 0.5) & (np.asarray(pred["persons"]) > threshold)).any(1)
    out["person_recall"] = float((found & near)[has].mean()) if has.any() else None
    out["person_precision"] = float(has[found].mean()) if found.any() else None
    out["frames_with_person"] = int(has.sum())
    return {k: (round(float(v), 3) if isinstance(v, float) else v) for k, v in out.items()}
