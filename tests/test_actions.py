import json
import logging

import numpy as np
import pytest

from engine.actions import ACTION_LIMITS, ActionError, read_actions, sanitize_action, write_actions


def test_sanitize_clamps_with_warning(caplog):
    with caplog.at_level(logging.WARNING):
        a = sanitize_action([1.0, 0, -5, 0])
    assert a.dtype == np.float32 and a[0] == ACTION_LIMITS[0] and a[2] == -ACTION_LIMITS[2]
    assert "clamped" in caplog.text


@pytest.mark.parametrize("bad", [[float("nan"), 0, 0, 0], [0, float("inf"), 0, 0], [0, 0, 0], "abc"])
def test_sanitize_rejects_non_finite_and_wrong_length(bad):
    with pytest.raises(ActionError):
        sanitize_action(bad)


def test_actions_file_round_trip_and_recording_log_replay(tmp_path):
    acts = np.random.default_rng(0).uniform(-0.1, 0.1, (10, 4)).astype(np.float32)
    write_actions(tmp_path / "a.jsonl", acts)
    np.testing.assert_allclose(read_actions(tmp_path / "a.jsonl"), acts, atol=1e-6)
    # A recording's log mixes record types; only "action" lines are replayed.
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"type": "start", "tick": 0, "title": "x"},
        {"type": "action", "tick": 2, "action": [0.1, 0, 0, 0]},
        {"type": "event", "tick": 2, "event": "alarm_on"},
        {"type": "action", "tick": 1, "action": [0.05, 0, 0, 0]},
    ]))
    np.testing.assert_allclose(read_actions(log)[:, 0], [0.05, 0.1])


def test_actions_file_errors_name_the_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"tick": 0, "action": [0, 0, 0, 0]}\n{"tick": 1, "action": [0, "x", 0, 0]}\n')
    with pytest.raises(ActionError, match=r"bad.jsonl:2"):
        read_actions(p)
    p.write_text("not json\n")
    with pytest.raises(ActionError, match=r"bad.jsonl:1: not JSON"):
        read_actions(p)
