"""A room's scene graph from its description: which room, which wall and floor colours, what
furniture.

A layout-conditioned world model draws what the scene layout of each view says is there
(:mod:`engine.world.layout`), and its decoder paints each surface in the scene graph's colour
(the albedo map). A scenario on a room preset has that scene graph; a prompt of words alone
("A surgical theatre with teal walls, two monitors and a trolley") has none, and the model
would draw it on the empty layout, where it knows little. :class:`TextToScene` gives it one:
a small network on the prompt's sentence embedding (the same all-MiniLM-L6-v2 embedding the
dynamics model reads) predicts the room type, the wall and floor colour names and, for each
kind of furniture, whether the room has it; :meth:`TextToScene.infer` then searches the
reference world's room generator (:func:`engine.world.scene.make_scene`) for the scene these
predictions find most likely. Splitting text-to-image into text-to-layout and
layout-to-image is the route of Hong et al. 2018 ("Inferring Semantic Layout for
Hierarchical Text-to-Image Synthesis"); choosing among a generator's rooms by what the text
asks is, in miniature, what Holodeck (Yang et al. 2024) does with a language model.

Trained by :func:`engine.train.text_scene.train_text_scene` on paraphrased captions
(:func:`engine.data.captions.caption_variants`) of generated rooms; saved beside the model as
``text_scene.safetensors`` (:func:`engine.model.io.save_model`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.captions import OBJECT_WORDS
from ..world.scene import _FLOORS, _WALLS, ROOM_TYPES, Scene, make_scene

#: The furniture kinds a caption may name (:data:`engine.data.captions.OBJECT_WORDS`), in order.
KINDS: tuple[str, ...] = tuple(OBJECT_WORDS)
#: Every wall and floor colour name of the room generator's palettes, in a fixed order.
WALL_NAMES: tuple[str, ...] = tuple(sorted({n for p in _WALLS.values() for n, _ in p}))
FLOOR_NAMES: tuple[str, ...] = tuple(sorted({n for p in _FLOORS.values() for n, _ in p}))


def scene_labels(scene: Scene) -> dict:
    """What :class:`TextToScene` learns to predict of ``scene``: ``room``, ``wall``,
    ``floor`` (indices into :data:`ROOM_TYPES`, :data:`WALL_NAMES`, :data:`FLOOR_NAMES`) and
    ``objects`` float32 ``(len(KINDS),)``, 1 for each kind the room holds."""
    present = {o.kind for o in scene.objects}
    return {"room": ROOM_TYPES.index(scene.room_type), "wall": WALL_NAMES.index(scene.wall_color_name),
            "floor": FLOOR_NAMES.index(scene.floor_color_name),
            "objects": np.array([k in present for k in KINDS], np.float32)}


class TextToScene(nn.Module):
    """Sentence embedding float32 ``(B, text_dim)`` → logits ``{"room" (B, 3), "wall" (B,
    len(WALL_NAMES)), "floor" (B, len(FLOOR_NAMES)), "objects" (B, len(KINDS))}`` (the last
    independent per kind), by a two-layer MLP of width ``hidden``."""

    def __init__(self, text_dim: int = 384, hidden: int = 256):
        super().__init__()
        self.text_dim, self.hidden = text_dim, hidden
        self.trunk = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.heads = nn.ModuleDict({"room": nn.Linear(hidden, len(ROOM_TYPES)),
                                    "wall": nn.Linear(hidden, len(WALL_NAMES)),
                                    "floor": nn.Linear(hidden, len(FLOOR_NAMES)),
                                    "objects": nn.Linear(hidden, len(KINDS))})

    def forward(self, emb: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(emb)
        return {k: head(h) for k, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, emb: np.ndarray) -> dict[str, np.ndarray]:
        """Probabilities for one embedding float32 ``(text_dim,)``: ``room``, ``wall``,
        ``floor`` (softmax) and ``objects`` (sigmoid), float64 arrays."""
        x = torch.as_tensor(np.asarray(emb, np.float32)).view(1, -1)
        out = self(x)
        probs = {k: torch.softmax(v, -1) for k, v in out.items() if k != "objects"}
        probs["objects"] = torch.sigmoid(out["objects"])
        return {k: v[0].double().numpy() for k, v in probs.items()}

    def infer(self, emb: np.ndarray, *, seed: int = 0, candidates: int = 256) -> Scene:
        """The scene a prompt describes: the most probable room type, then, among the rooms
        :func:`make_scene` builds of that type from ``candidates`` seeds (``seed ·
        candidates`` onwards), the one whose wall and floor colours and furniture have the
        highest log-probability under :meth:`predict`. Deterministic for a given ``seed``;
        about 0.6 ms a candidate."""
        p = self.predict(emb)
        room = ROOM_TYPES[int(p["room"].argmax())]
        walls = {n for n, _ in _WALLS[room]}
        floors = {n for n, _ in _FLOORS[room]}
        # the colour heads restricted to the room's palette (a caption names one of its colours)
        lw = np.log(np.where([n in walls for n in WALL_NAMES], p["wall"], 0.0) + 1e-6)
        lf = np.log(np.where([n in floors for n in FLOOR_NAMES], p["floor"], 0.0) + 1e-6)
        lo = np.log(np.clip(p["objects"], 1e-4, 1 - 1e-4))
        lno = np.log(np.clip(1 - p["objects"], 1e-4, 1 - 1e-4))
        best, best_score = None, -np.inf
        for s in range(int(seed) * candidates, (int(seed) + 1) * candidates):
            scene = make_scene(room, s)
            lab = scene_labels(scene)
            score = lw[lab["wall"]] + lf[lab["floor"]] + float(np.where(lab["objects"] > 0, lo, lno).sum())
            if score > best_score:
                best, best_score = scene, score
        return best



def room_for_prompt(text: str, directory=None, *, seed: int = 0) -> Scene:
    """The reference-world room a description asks for, by the text-to-scene network of the
    model in ``directory`` (default: the shipped model): a :class:`Scene`, whose
    ``room_type`` and ``seed`` name a room preset. Slow the first time (the sentence encoder
    loads): call it off the GUI thread. Raises ``ValueError`` for an empty description and
    :class:`engine.model.io.ModelError` for a model without the network."""
    from .io import load_text_scene
    from .text import embed

    if not text.strip():
        raise ValueError("the description is empty; describe the room first")
    return load_text_scene(directory).infer(embed(text), seed=seed)

