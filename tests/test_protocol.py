"""The session protocol (engine.runtime.protocol): one class per kind, one codec, one role table."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime import protocol as P
from engine.runtime.protocol import Role

_text = st.text(max_size=40)
_tick = st.integers(0, 10**7)
_opt = lambda s: st.none() | s  # noqa: E731
_messages = st.one_of(
    st.builds(P.Start, tick=_tick, title=_text, prompt=_text, model=_text,
              state=st.dictionaries(st.sampled_from(["light", "alarm", "avatar"]), st.floats(0, 1)),
              tick_hz=st.integers(1, 120), notice=_opt(_text)),
    st.builds(P.Action, tick=_tick, action=st.tuples(*[st.floats(-1, 1)] * 4)),
    st.builds(P.State, tick=_tick, state=st.dictionaries(st.sampled_from(["light", "bleeding"]), st.floats(0, 1))),
    st.builds(P.Event, tick=_tick, event=_text, source=_text, label=_opt(_text), cue=_opt(st.integers(0, 99))),
    st.builds(P.Cues, tick=_tick, cues=st.lists(st.builds(P.CueRow, index=st.integers(0, 9), event=_text,
                                                                    note=_opt(_text), due_tick=_tick,
                                                                    fired_tick=_opt(_tick)), max_size=3).map(tuple)),
    st.builds(P.Marker, tick=_tick, id=st.integers(0, 999), note=_text),
    st.builds(P.Bookmark, tick=_tick, id=st.integers(0, 999), label=_text),
    st.builds(P.Rewind, tick=_tick, bookmark=st.integers(0, 999), label=_text, to_tick=_tick),
    st.builds(P.PromptChange, tick=_tick, text=_text, image=_opt(_text), applied=st.booleans(), note=_opt(_text)),
    st.builds(P.Pause, tick=_tick), st.builds(P.Resume, tick=_tick),
    st.builds(P.Notice, tick=_tick, text=_text), st.builds(P.End, tick=_tick, reason=_text),
)


@settings(max_examples=200, deadline=None)
@given(_messages)
def test_every_message_survives_the_codec(msg):
    record = P.to_record(msg)
    assert record["type"] == msg.kind and record["tick"] == msg.tick
    assert P.from_record(json.loads(json.dumps(record))) == msg
    assert P.loads(P.dumps(msg)) == msg


def test_a_state_record_is_flat_as_the_recordings_have_it():
    record = P.to_record(P.State(tick=4, state={"light": 0.5, "alarm": 1.0}))
    assert record == {"type": "state", "tick": 4, "light": 0.5, "alarm": 1.0}


def test_every_kind_has_an_audience_and_the_trainee_gets_only_frames_sound_captions_and_the_end():
    assert {cls.model_fields["type"].default for cls in P.MESSAGE_TYPES} == set(P.AUDIENCE)
    assert {k for k, roles in P.AUDIENCE.items() if Role.TRAINEE in roles} == {"frame", "sound", "voice", "caption", "end"}
    assert all(Role.OBSERVER in roles for roles in P.AUDIENCE.values())


def test_only_the_trainee_moves_and_only_the_game_master_steers():
    assert {cls.model_fields["type"].default for cls in P.REQUEST_TYPES} == set(P.SENDERS)
    moves = ("set_action", "look", "headset_status")
    assert all(P.SENDERS[kind] == {Role.TRAINEE} for kind in moves)
    assert all(roles == {Role.GAME_MASTER} for kind, roles in P.SENDERS.items() if kind not in moves)


@pytest.mark.parametrize("record, problem", [
    ({"type": "teleport", "tick": 1}, "teleport"),
    ({"type": "event", "tick": 1}, "event"),
    ({"type": "marker", "tick": -3, "id": 1}, "tick"),
    ({"type": "bookmark", "tick": 1, "id": 1, "label": "x", "extra": 2}, "extra"),
    ([1, 2], "JSON object"),
])
def test_a_bad_record_is_refused_with_what_is_wrong(record, problem):
    with pytest.raises(P.ProtocolError, match=problem):
        P.from_record(record)


def test_loads_refuses_oversized_and_non_json_text():
    with pytest.raises(P.ProtocolError, match="limit"):
        P.loads("x" * (P.MAX_RECORD_BYTES + 1))
    with pytest.raises(P.ProtocolError, match="not JSON"):
        P.loads("{nope")


def test_requests_round_trip_and_are_validated():
    req = P.FireEvent(event="alarm_on", label="monitor")
    assert P.loads(P.dumps(req), request=True) == req
    with pytest.raises(P.ProtocolError, match="note"):
        P.request_from_dict({"type": "mark", "note": "n" * 5000})
    with pytest.raises(P.ProtocolError, match="set_action"):
        P.request_from_dict({"type": "set_action", "action": [0, 0]})
    with pytest.raises(P.ProtocolError, match="yaw"):
        P.request_from_dict({"type": "look", "yaw": float("nan"), "pitch": 0})


def test_a_frame_is_an_image_and_has_no_record():
    frame = P.Frame(tick=0, frame=np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(P.ProtocolError, match="video"):
        P.to_record(frame)
    with pytest.raises(ValueError, match="uint8"):
        P.Frame(tick=0, frame=np.zeros((8, 8), np.float32))
