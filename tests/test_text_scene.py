"""Text to scene: a prompt of words alone gets the scene graph it describes."""

import json
import shutil

import numpy as np
import pytest
import torch

from engine.model.text_scene import FLOOR_NAMES, KINDS, WALL_NAMES, TextToScene, scene_labels
from engine.world.scene import ROOM_TYPES, make_scene


def test_scene_labels_name_the_rooms_type_colours_and_furniture():
    scene = make_scene("classroom", 7)
    lab = scene_labels(scene)
    assert ROOM_TYPES[lab["room"]] == "classroom"
    assert WALL_NAMES[lab["wall"]] == scene.wall_color_name and FLOOR_NAMES[lab["floor"]] == scene.floor_color_name
    assert lab["objects"][KINDS.index("whiteboard")] == 1 and lab["objects"][KINDS.index("or_table")] == 0


def test_inference_searches_the_generator_for_the_most_probable_room():
    """With the heads set to say "therapy room, lavender walls, no rug", the chosen
    scene is a therapy room with lavender walls and no rug, and the same seed gives it again."""
    net = TextToScene(8, 16)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.heads["room"].bias[ROOM_TYPES.index("therapy_room")] = 5.0  # the trunk gives zeros: biases decide
        net.heads["wall"].bias[WALL_NAMES.index("lavender")] = 5.0
        net.heads["objects"].bias[KINDS.index("rug")] = -5.0
    emb = np.ones(8, np.float32)
    scene = net.infer(emb, seed=3, candidates=64)
    assert scene.room_type == "therapy_room" and scene.wall_color_name == "lavender"
    assert "rug" not in {o.kind for o in scene.objects}
    again = net.infer(emb, seed=3, candidates=64)
    assert again.seed == scene.seed


@pytest.mark.slow
def test_trained_on_captions_it_reads_room_and_wall_colour_from_unseen_words():
    from engine.train.text_scene import train_text_scene

    net, acc = train_text_scene(n_scenes=150, variants=3, steps=400, seed=0, eval_rooms=40, log=lambda *a: None)
    assert acc["room"] >= 0.9 and acc["wall"] >= 0.6, acc
    from engine.model.text import embed

    scene = net.infer(embed("A surgical theatre with teal walls, two monitors and a trolley."), candidates=128)
    assert scene.room_type == "operating_room" and scene.wall_color_name == "teal"


def test_a_layout_model_draws_words_alone_on_the_inferred_scene():
    """Without a room preset or an image, a layout model with a text-to-scene network opens
    on the scene it infers (the layout of its view is not empty); with an image it does not."""
    from engine.model.dynamics import DynamicsModel
    from engine.model.interface import Prompt
    from engine.model.world_model import LatentWorldModel, Sampling
    from engine.world.state import WorldState
    from tests.test_layout import _layout_cfg
    from tests.test_layout_decoder import _trained_plain

    dyn = DynamicsModel(_layout_cfg(text_dim=16)).eval()
    m = LatentWorldModel(_trained_plain(), dyn, torch.zeros(4), torch.ones(4),
                         sampling=Sampling(steps=1, deterministic=True))
    m.text_scene = TextToScene(dyn.cfg.text_dim, 16)
    emb = np.random.default_rng(0).standard_normal(dyn.cfg.text_dim).astype(np.float32)
    emb /= np.linalg.norm(emb)
    m.reset(Prompt("a room", text_embedding=emb, seed=2), WorldState())
    want = m.text_scene.infer(emb, seed=2)
    assert m._scene is not None and (m._scene.room_type, m._scene.seed) == (want.room_type, want.seed)
    assert m._layout(np.array([*want.start_pose, 0.0], np.float32), WorldState())[0].any()
    m.reset(Prompt("a room", np.zeros((32, 32, 3), np.uint8), text_embedding=emb), WorldState())
    assert m._scene is None


def test_a_model_without_the_network_says_so(tmp_path):
    from engine.model.io import ModelError, load_text_scene
    from engine.model.paths import DEFAULT_MODEL_DIR

    folder = tmp_path / "m"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    card = json.loads((folder / "model_card.json").read_text())
    card["files"].pop("text_scene.safetensors", None)
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="cannot choose a room"):
        load_text_scene(folder)

