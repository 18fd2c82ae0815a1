"""What a person sees: sharpness, Fréchet distance and detection scores measure what they claim."""

import numpy as np
import pytest

from engine.eval.perception import detection_scores, frechet_distance, sharpness, sharpness_ratio


def _frames(seed=0, n=4, size=64):
    """Flat-shaded boxes on a plain background, like the reference world's; small ones, as
    far objects are (across one isolated step edge a blur keeps the mean gradient magnitude,
    since it keeps the total variation: detail is what a blur takes away)."""
    rng = np.random.default_rng(seed)
    out = np.full((n, size, size, 3), 90, np.uint8)
    for f in out:
        for _ in range(20):
            x0, y0 = rng.integers(0, size - 12, 2)
            w, h = rng.integers(2, 8, 2)
            f[y0:y0 + h, x0:x0 + w] = rng.integers(0, 255, 3)
    return out


def _blur(frames, k=5):
    f = frames.astype(np.float32)
    pad = np.pad(f, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)), mode="edge")
    s = frames.shape[1]
    return (sum(pad[:, i:i + s, j:j + s] for i in range(k) for j in range(k)) / k ** 2).round().astype(np.uint8)


def test_blur_loses_sharpness_and_noise_is_not_mistaken_for_detail():
    real = _frames()
    assert sharpness_ratio(real, real) == {"gradient": 1.0, "laplacian": 1.0}
    blurred = sharpness_ratio(_blur(real), real)
    assert blurred["gradient"] < 0.8 and blurred["laplacian"] < 0.2
    flat = np.full_like(real, 90)
    assert sharpness(flat) == {"gradient": 0.0, "laplacian": 0.0}
    noisy = np.clip(real + np.random.default_rng(1).normal(0, 25, real.shape), 0, 255).astype(np.uint8)
    assert sharpness_ratio(noisy, real)["laplacian"] > 2  # noise is "sharp": the judge's FD must catch it
    with pytest.raises(ValueError):
        sharpness(real.astype(np.float32))


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    b = rng.normal(size=(400, 8))
    floor = frechet_distance(a, b)  # two samples of one distribution: small, not zero
    assert 0 < floor < 0.5
    assert frechet_distance(a, a + 1.0) == pytest.approx(8.0, rel=1e-6)  # same spread, |Δμ|² = 8
    assert frechet_distance(a, b + 1.0) > 10 * floor
    assert frechet_distance(a, 3 * b) > 10 * floor  # a wider spread
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)


def test_detection_scores_count_objects_and_people_in_place():
    labels = {"objects": np.array([[1, 0, 1], [0, 0, 1]], np.float32),
              "person": np.array([1, 0], np.float32),
              "persons": np.array([[0, 0, 1, 0], [0, 0, 0, 0]], np.float32)}
    pred = {"objects": np.array([[0.9, 0.8, 0.1], [0.0, 0.0, 0.7]]),
            "person": np.array([0.9, 0.1]), "persons": np.array([[0, 0, 0, 0.9], [0, 0, 0, 0]])}
    s = detection_scores(pred, labels)
    assert s["object_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["object_precision"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["person_recall"] == 1.0  # found one band away: counts
    far = dict(pred, persons=np.array([[0.9, 0, 0, 0], [0, 0, 0, 0]]))
    assert detection_scores(far, labels)["person_recall"] == 0.0  # somewhere else in the image: does not
    none = detection_scores({**pred, "person": np.zeros(2)}, {**labels, "person": np.zeros(2)})
    assert none["person_recall"] is None and none["person_precision"] is None
