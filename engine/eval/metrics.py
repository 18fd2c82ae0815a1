"""Frame-similarity metrics for evaluating generated frames against reference frames.

All metrics compare uint8 RGB frames on the 0..255 scale. ``ssim`` and ``ssim_batch`` use the
``pytorch_msssim`` package (imported lazily, so importing this module stays cheap); they run on
the CPU under ``torch.inference_mode`` and never touch autograd state.
"""

from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 60.0
"""Upper bound for :func:`psnr` in dB (identical frames would otherwise be infinite)."""

_SSIM_CHUNK = 256  # pairs per torch call in ssim_batch: bounds peak memory for long rollouts


def _check_pair(a: np.ndarray, b: np.ndarray, ndim: int, what: str) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``a`` and ``b`` are same-shape uint8 RGB arrays."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise TypeError(f"{what} expects uint8 frames, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"{what} expects frames of the same shape, got {a.shape} and {b.shape}")
    if a.ndim != ndim or a.shape[-1] != 3:
        want = "(H, W, 3)" if ndim == 3 else "(N, H, W, 3)"
        raise ValueError(f"{what} expects arrays of shape {want}, got {a.shape}")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio between two frames, in dB, capped at :data:`PSNR_CAP_DB`.

    Args:
        a, b: uint8 arrays of the same (any) shape, e.g. ``(H, W, 3)`` RGB frames, values 0..255.

    Returns:
        ``10 * log10(255**2 / mse)`` where ``mse`` is the mean squared difference over every
        element on the 0..255 scale; identical frames (mse 0) give exactly 60.0. Higher is better.

    Raises:
        TypeError: if either array is not uint8.
        ValueError: if the shapes differ.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise TypeError(f"psnr expects uint8 frames, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"psnr expects frames of the same shape, got {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(min(PSNR_CAP_DB, 10 * np.log10(255.0**2 / max(mse, 1e-10))))


def _ssim_torch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pair SSIM for uint8 ``(N, H, W, 3)`` arrays (already validated); float64 ``(N,)``."""
    import torch
    from pytorch_msssim import ssim as _ssim

    out = np.empty(len(a), dtype=np.float64)
    with torch.inference_mode():
        for i in range(0, len(a), _SSIM_CHUNK):
            x = torch.from_numpy(np.ascontiguousarray(a[i:i + _SSIM_CHUNK])).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(np.ascontiguousarray(b[i:i + _SSIM_CHUNK])).permute(0, 3, 1, 2).float()
            # size_average=False gives one value per image (mean over channels and pixels).
            out[i:i + len(x)] = _ssim(x, y, data_range=255, size_average=False).double().numpy()
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (SSIM) between two RGB frames, unitless, 1.0 = identical.

    Uses ``pytorch_msssim.ssim(..., data_range=255, size_average=True)`` with its default
    11-pixel Gaussian window (sigma 1.5), averaged over the three channels and all pixels.
    Frames smaller than 11 px on a side still work, but ``pytorch_msssim`` then skips the
    smoothing on that axis (and warns).

    Args:
        a, b: uint8 arrays of shape ``(H, W, 3)``, values 0..255.

    Returns:
        SSIM as a Python float, at most 1.0 (can be slightly negative for anti-correlated frames).

    Raises:
        TypeError: if either array is not uint8.
        ValueError: if the shapes differ or are not ``(H, W, 3)``.
        ImportError: if ``pytorch_msssim`` (or ``torch``) is not installed.
    """
    _check_pair(a, b, 3, "ssim")
    return float(_ssim_torch(np.asarray(a)[None], np.asarray(b)[None])[0])


def ssim_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of each pair ``(a[i], b[i])``, computed in vectorised chunks.

    Same definition as :func:`ssim`; ``ssim_batch(a, b)[i] == ssim(a[i], b[i])`` up to float
    rounding.

    Args:
        a, b: uint8 arrays of shape ``(N, H, W, 3)``, values 0..255. ``N`` may be 0.

    Returns:
        float64 array of shape ``(N,)``, unitless, 1.0 = identical.

    Raises:
        TypeError: if either array is not uint8.
        ValueError: if the shapes differ or are not ``(N, H, W, 3)``.
        ImportError: if ``pytorch_msssim`` (or ``torch``) is not installed.
    """
    _check_pair(a, b, 4, "ssim_batch")
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    return _ssim_torch(a, b)
