"""Train the text-to-scene network (:mod:`engine.model.text_scene`) on captions of generated rooms.

Rooms come from the reference world's generator with training seeds (below
``HELD_OUT_SEED_BASE``, so ``ved eval``'s held-out scenes stay unseen), cycling through the
room types; each is described ``variants`` ways (:func:`engine.data.captions.caption_variants`:
room synonyms, some of the furniture named, in any order). Labels are the room's own: its
type, colour names and every kind it holds, named in the caption or not, so a paraphrase that
leaves furniture out is completed with what such rooms usually hold. Takes about a minute on
two CPU cores, most of it embedding the captions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..data.captions import caption_variants
from ..data.generate import HELD_OUT_SEED_BASE
from ..model.text_scene import TextToScene, scene_labels
from ..world.scene import ROOM_TYPES, make_scene


def text_scene_data(n_scenes: int, variants: int, seed: int, *, held_out: bool = False) -> tuple[list[str], dict]:
    """``(captions, labels)``: ``n_scenes · variants`` captions and the stacked
    :func:`~engine.model.text_scene.scene_labels` of their rooms (``room``, ``wall``,
    ``floor`` int64 ``(N,)``, ``objects`` float32 ``(N, K)``). ``held_out`` draws the rooms
    from the held-out seeds instead."""
    rng = np.random.default_rng(seed)
    lo = HELD_OUT_SEED_BASE if held_out else 0
    texts, rows = [], []
    for i in range(n_scenes):
        scene = make_scene(ROOM_TYPES[i % len(ROOM_TYPES)], int(rng.integers(lo, lo + HELD_OUT_SEED_BASE)))
        lab = scene_labels(scene)
        for text in caption_variants(scene.params(), rng, variants):
            texts.append(text)
            rows.append(lab)
    labels = {k: np.stack([r[k] for r in rows]) for k in ("room", "wall", "floor", "objects")}
    return texts, labels


def train_text_scene(n_scenes: int = 2000, variants: int = 4, steps: int = 1500, batch: int = 128,
                     lr: float = 2e-3, seed: int = 0, eval_rooms: int = 300, log=print) -> tuple[TextToScene, dict]:
    """Train a :class:`TextToScene`; returns it (eval mode) and its accuracy on two captions
    each of ``eval_rooms`` held-out rooms: ``room``, ``wall``, ``floor`` (top-1) and
    ``objects`` (per kind). Raises ``RuntimeError`` if the text encoder is not installed."""
    from ..model.text import encoder

    texts, labels = text_scene_data(n_scenes, variants, seed)
    emb = torch.from_numpy(encoder().encode(texts))
    y = {k: torch.from_numpy(v) for k, v in labels.items()}
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = TextToScene(emb.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    for step in range(steps):
        idx = torch.randint(0, len(emb), (batch,), generator=g)
        x = emb[idx] + 0.01 * torch.randn(batch, emb.shape[1], generator=g)  # a little robustness to wording
        out = net(x)
        loss = (F.cross_entropy(out["room"], y["room"][idx]) + F.cross_entropy(out["wall"], y["wall"][idx])
                + F.cross_entropy(out["floor"], y["floor"][idx])
                + F.binary_cross_entropy_with_logits(out["objects"], y["objects"][idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * (step + 1) / steps))
    net.eval()
    texts, labels = text_scene_data(eval_rooms, 2, seed + 1, held_out=True)
    with torch.no_grad():
        out = net(torch.from_numpy(encoder().encode(texts)))
    acc = {k: round(float((out[k].argmax(-1).numpy() == labels[k]).mean()), 3) for k in ("room", "wall", "floor")}
    acc["objects"] = round(float(((out["objects"] > 0).numpy() == (labels["objects"] > 0)).mean()), 3)
    log(f"text-to-scene on held-out captions: {acc}")
    return net, acc
