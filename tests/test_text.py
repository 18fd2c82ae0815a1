"""Text prompts: caption paraphrases, the sentence encoder's cache, free-text event matching."""

import numpy as np
import pytest

from engine.data.captions import ROOM_SYNONYMS, caption_variants
from engine.eval.prompting import paraphrase
from engine.model.text import EVENT_PHRASES, TextEncoder, match_event
from engine.world.scene import ROOM_TYPES, make_scene
from engine.world.state import EVENTS


@pytest.mark.parametrize("room", ROOM_TYPES)
def test_caption_variants_stay_true_to_the_scene(room):
    scene = make_scene(room, 11)
    variants = caption_variants(scene.params(), np.random.default_rng(0), 6)
    assert len(set(variants)) > 3
    for text in variants:
        assert scene.wall_color_name in text.lower()
        assert any(syn.lower() in text.lower() for syn in ROOM_SYNONYMS[room])
    other = ROOM_SYNONYMS[room][0]
    assert other not in paraphrase(scene, 3).lower()


def test_encoder_embeds_normalised_and_caches_on_disk(tmp_path):
    enc = TextEncoder(tmp_path / "t.npz")
    e = enc.encode(["an operating room", "a surgical theatre", "a classroom with yellow walls"])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2]  # a paraphrase is nearer than another room
    again = TextEncoder(tmp_path / "t.npz")  # a fresh encoder reads the cache, no network needed
    again._load = lambda: (_ for _ in ()).throw(AssertionError("encoder loaded despite the cache"))
    np.testing.assert_array_equal(again.encode(["a surgical theatre"])[0], e[1])


def test_a_torn_cache_file_is_rebuilt(tmp_path):
    (tmp_path / "t.npz").write_bytes(b"not a zip")
    enc = TextEncoder(tmp_path / "t.npz")
    assert enc.encode(["hello"]).shape == (1, 384)


def test_event_phrases_cover_every_event_and_match_themselves():
    # the vocabulary is one table (engine.world.state.EVENTS): every event has words for a
    # person, phrases to be asked for by, and an effect on the world
    from engine.world.state import WorldState

    for name, spec in EVENTS.items():
        assert spec.label and len(spec.phrases) >= 2 and EVENT_PHRASES[name] == spec.phrases
        WorldState().apply(name, viewer_pose=(0.0, 0.0, 0.0))
        assert spec.undone_by is None or spec.undone_by in EVENTS
    assert match_event("alarm_on") == ("alarm_on", 1.0)
    assert match_event("dim the lights")[0] == "lights_dim"
    assert match_event("someone enters the room")[0] == "avatar_enter"
