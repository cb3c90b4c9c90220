"""Run ids by unique prefix: exact wins, unknown and ambiguous names give one-line errors."""

from __future__ import annotations

import pytest

from orcatui.model.runids import RunIdError, resolve_run_id, shortest_unique_prefixes

UUIDS = [
    "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "0193a1b2-7c4d-7e8f-9a0b-ffffffffffff",
    "0193a1c9-0000-7000-8000-000000000001",
    "5f2e0000-aaaa-4bbb-8ccc-dddddddddddd",
]


def test_unique_prefix_resolves():
    assert resolve_run_id("5f", UUIDS) == UUIDS[3]
    assert resolve_run_id("0193a1c", UUIDS) == UUIDS[2]
    assert resolve_run_id(UUIDS[1], UUIDS) == UUIDS[1]


def test_exact_id_wins_over_prefix():
    assert resolve_run_id("r1", ["r10", "r1", "r11"]) == "r1"


def test_ambiguous_prefix_lists_candidates_on_one_line():
    with pytest.raises(RunIdError) as e:
        resolve_run_id("0193a1b2", UUIDS)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("'0193a1b2' matches 2 runs: ")
    # each candidate shown by a prefix that is unique, so it can be typed as shown
    shown = msg.split(": ", 1)[1].split(", ")
    assert shown == ["0193a1b2-7c4d-7e8f-9a0b-1…", "0193a1b2-7c4d-7e8f-9a0b-f…"]
    for text, full in zip(shown, UUIDS[:2], strict=True):
        assert resolve_run_id(text.rstrip("…"), UUIDS) == full
    assert e.value.candidates == tuple(UUIDS[:2])


def test_unknown_prefix_lists_runs_bounded():
    runs = [f"run-{i:02d}" for i in range(12)]
    with pytest.raises(RunIdError) as e:
        resolve_run_id("ab", runs)
    msg = str(e.value)
    assert msg == "no run matches 'ab' (runs: run-00, run-01, run-02, run-03, run-04, and 7 more)"


def test_ambiguous_short_ids_are_shown_whole():
    with pytest.raises(RunIdError, match=r"^'a' matches 3 runs: a1, a2, a3$"):
        resolve_run_id("a", ["a1", "a2", "a3", "b1"])


def test_untrusted_text_in_message_is_inert():
    with pytest.raises(RunIdError) as e:
        resolve_run_id("x\x1b[31m\n", ["r\x1b]0;evil\x07un"])
    msg = str(e.value)
    assert "\x1b" not in msg and "\n" not in msg and "\x07" not in msg


def test_empty_query_and_no_runs():
    with pytest.raises(RunIdError, match="empty run id"):
        resolve_run_id("", ["r1"])
    with pytest.raises(RunIdError, match=r"no run matches 'r' \(runs: none\)"):
        resolve_run_id("r", [])


def test_shortest_unique_prefixes():
    p = shortest_unique_prefixes(["abcdefghij1", "abcdefghij2", "zz", "zz9"], min_len=4)
    assert p == {
        "abcdefghij1": "abcdefghij1",
        "abcdefghij2": "abcdefghij2",
        "zz": "zz",
        "zz9": "zz9",
    }
    p = shortest_unique_prefixes(["abcdef", "abzzzz"], min_len=1)
    assert p == {"abcdef": "abc", "abzzzz": "abz"}
