"""Paraphrased captions of a scene, so a text-conditioned model learns meanings, not one phrasing.

Every training episode is described several ways from its scene parameters: synonyms for the
room ("surgical theatre" for "operating room"), objects named in another order or only some
of them, with or without the floor and the light. All variants are true of the scene.
"""

from __future__ import annotations

import numpy as np

ROOM_SYNONYMS: dict[str, tuple[str, ...]] = {
    "operating_room": ("operating room", "surgical theatre", "operating theatre", "OR", "surgery room"),
    "therapy_room": ("therapy room", "counselling room", "therapist's office", "consulting room", "quiet sitting room"),
    "classroom": ("classroom", "school classroom", "teaching room", "lecture room", "class room"),
}
OBJECT_WORDS: dict[str, tuple[str, ...]] = {
    "or_table": ("an operating table with a patient", "a patient on the table", "a surgical table"),
    "surgical_lamp": ("a surgical lamp", "an overhead operating light"),
    "monitor": ("a monitor", "a vital-signs screen"),
    "trolley": ("an instrument trolley", "a trolley"),
    "cabinet": ("a cabinet", "a cupboard"),
    "sofa": ("a sofa", "a couch"),
    "armchair": ("an armchair", "a comfortable chair"),
    "coffee_table": ("a coffee table", "a low table"),
    "plant": ("a plant", "a potted plant"),
    "rug": ("a rug", "a carpet rug"),
    "bookshelf": ("a bookshelf", "shelves of books"),
    "desk": ("desks", "pupils' desks"),
    "chair": ("chairs",),
    "whiteboard": ("a whiteboard", "a white board"),
    "teacher_desk": ("a teacher's desk",),
    "floor_lamp": ("a floor lamp", "a standing lamp"),
}


def caption_variants(params: dict, rng: np.random.Generator, n: int = 4) -> list[str]:
    """``n`` paraphrases of the scene described by ``params`` (:meth:`Scene.params`).

    The first is always the canonical caption's content in plain words; the rest vary the
    room synonym, which objects are named and their order, and the floor/light clauses.
    """
    room = params["room_type"]
    kinds = [k for k in dict.fromkeys(params["objects"]) if k in OBJECT_WORDS]
    out = []
    for i in range(n):
        syn = ROOM_SYNONYMS[room][0 if i == 0 else int(rng.integers(len(ROOM_SYNONYMS[room])))]
        chosen = list(kinds)
        if i > 0:
            rng.shuffle(chosen)
            chosen = chosen[: max(1, int(rng.integers(1, len(chosen) + 1)))] if chosen else []
        words = [OBJECT_WORDS[k][0 if i == 0 else int(rng.integers(len(OBJECT_WORDS[k])))] for k in chosen]
        listed = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + (words[-1] if words else "")
        wall = params["wall_color_name"]
        article = "an" if syn[0].lower() in "aeiou" else "a"
        if i == 0 or rng.random() < 0.5:
            text = f"{article} {syn} with {wall} walls"
            if i == 0 or rng.random() < 0.5:
                text += f" and a {params['floor_color_name']} floor"
            text += f", {listed}" if listed else ""
        else:
            text = f"{wall} walls; {article} {syn}" + (f" with {listed}" if listed else "")
        out.append(text[0].upper() + text[1:] + ".")
    return out
