"""Run-to-run diff on hand-made runs written as real Parquet status tables, read by Monitor."""

from __future__ import annotations

import json

import pytest
from support.events import T0, packet, write_status

from orcatui.model.diff import DiffError, choose_pair, default_pair, diff_lines, diff_runs
from orcatui.model.grid import pipeline_inputs
from orcatui.model.monitor import Monitor
from orcatui.model.runids import RunIdError

P = ("etl",)
CLEAN, SCORE, PLOT = ("clean", "v0"), ("score", "v0"), ("plot", "v0")
LATER = T0 + 10 * 3600  # every run is over: RUNNING packets are LOST


def pk(run, start, dur, state, error=None, subject="s"):
    end = None if dur is None else start + dur
    return packet(run, start, end, state, error, subject=subject)


def two_runs_root(root):
    r1, r2 = T0, T0 + 1000
    clean = [
        *pk("r1", r1, 1, "SUCCESS", subject="a"),
        *pk("r1", r1, 0.01, "CACHED", subject="b"),
        *pk("r1", r1, 1, "FAILED", "ValueError: boom c", subject="c"),
        *pk("r1", r1, None, "", subject="d"),  # RUNNING in a run that is over: LOST
        *pk("r1", r1, 1, "SUCCESS", subject="e"),
        *pk("r1", r1, 1, "SUCCESS", subject="f"),
        *pk("r1", r1, 1, "SUCCESS", subject="g"),
        *pk("r1", r1, 0.2, "SUCCESS", subject="h"),
        *pk("r1", r1, 1, "FAILED", "KeyError: k", subject="i"),
        *pk("r1", r1, 1, "SUCCESS", subject="j"),
        *pk("r2", r2, 1, "FAILED", "ValueError: bad a\nTraceback…", subject="a"),
        *pk("r2", r2, None, "", subject="b"),  # CACHED → LOST
        *pk("r2", r2, 1, "SUCCESS", subject="c"),
        *pk("r2", r2, 0.01, "CACHED", subject="d"),
        *pk("r2", r2, 3, "SUCCESS", subject="f"),  # 3x and +2 s: slower
        *pk("r2", r2, 1.9, "SUCCESS", subject="g"),  # +0.9 s, < 2x: not slower
        *pk("r2", r2, 1.0, "SUCCESS", subject="h"),  # 5x but only +0.8 s: not slower
        *pk("r2", r2, 5, "FAILED", "KeyError: k", subject="i"),  # FAILED → FAILED, slower
        *pk("r2", r2, 0.01, "CACHED", subject="j"),  # SUCCESS → CACHED: unchanged
        *pk("r2", r2, 1, "SUCCESS", subject="x"),  # new
    ]
    write_status(root, "etl", CLEAN, clean)
    write_status(root, "etl", SCORE, pk("r1", r1 + 5, 1, "SUCCESS", subject="a"))
    write_status(root, "etl", PLOT, pk("r2", r2 + 5, None, "", subject="a"))
    return root


def load(root):
    m = Monitor(root)
    m.refresh()
    return pipeline_inputs(m, P, LATER)


def tags_of(changes):
    return [c.tags["subject"] for c in changes]


def test_regressed_fixed_new_missing_slower(tmp_path):
    inputs = load(two_runs_root(tmp_path))
    d = diff_runs(inputs, "r1", "r2")
    assert [n.identity for n in d.nodes] == [CLEAN, SCORE, PLOT]
    clean, score, plot = d.nodes
    assert tags_of(clean.regressed) == ["a", "b"]
    a, b = clean.regressed
    assert (a.from_state, a.to_state) == ("SUCCESS", "FAILED")
    assert a.to_error == "ValueError: bad a\nTraceback…"
    # CACHED counts as success, LOST as failure (with why its run is not live)
    assert (b.from_state, b.to_state) == ("CACHED", "LOST")
    assert b.to_error == "no event for 9h (presumed)"
    assert tags_of(clean.fixed) == ["c", "d"]
    c, dd = clean.fixed
    assert (c.from_state, c.to_state, c.from_error) == ("FAILED", "SUCCESS", "ValueError: boom c")
    assert (dd.from_state, dd.to_state) == ("LOST", "CACHED")
    assert dd.from_error == "a newer run has started (presumed)"
    assert [(x.tags, x.to_state) for x in clean.new] == [({"subject": "x"}, "SUCCESS")]
    assert [(x.tags, x.from_state) for x in clean.missing] == [({"subject": "e"}, "SUCCESS")]
    assert tags_of(clean.slower) == ["f", "i"]
    f = clean.slower[0]
    assert f.from_s == pytest.approx(1.0, abs=1e-3) and f.to_s == pytest.approx(3.0, abs=1e-3)
    # a node only the older run reached: all missing; only the newer: all new (LOST there)
    assert [(x.tags, x.from_state) for x in score.missing] == [({"subject": "a"}, "SUCCESS")]
    assert not score.new and not score.regressed
    assert [(x.tags, x.to_state) for x in plot.new] == [({"subject": "a"}, "LOST")]
    assert d.regressed == 2
    assert d.totals() == {"regressed": 2, "fixed": 2, "new": 2, "missing": 2, "slower": 2}


def test_reverse_direction_swaps_regressed_and_fixed(tmp_path):
    inputs = load(two_runs_root(tmp_path))
    clean = diff_runs(inputs, "r2", "r1").nodes[0]
    assert tags_of(clean.regressed) == ["c", "d"]
    assert tags_of(clean.fixed) == ["a", "b"]
    assert tags_of(clean.new) == ["e"] and tags_of(clean.missing) == ["x"]
    assert clean.slower == ()


def test_running_in_a_live_run_is_neither_regressed_nor_fixed(tmp_path):
    root = tmp_path
    rows = [
        *pk("r1", T0, 1, "SUCCESS", subject="a"),
        *pk("r1", T0, 1, "FAILED", "x", subject="b"),
        *pk("r2", T0 + 100, None, "", subject="a"),
        *pk("r2", T0 + 100, None, "", subject="b"),
    ]
    write_status(root, "etl", CLEAN, rows)
    m = Monitor(root)
    m.refresh()
    inputs = pipeline_inputs(m, P, T0 + 110)  # r2 is live
    assert "r2" not in inputs.lost and "r1" in inputs.lost
    (clean,) = diff_runs(inputs, "r1", "r2").nodes
    assert not clean.changed


def test_json_shape_is_exact(tmp_path):
    inputs = load(two_runs_root(tmp_path))
    data = json.loads(json.dumps(diff_runs(inputs, "r1", "r2").to_json()))
    assert set(data) == {"from", "to", "nodes"}
    assert (data["from"], data["to"]) == ("r1", "r2")
    node = data["nodes"][0]
    assert node["name"] == "clean" and node["identity"] == list(CLEAN)
    assert set(node) == {"name", "identity", "regressed", "fixed", "new", "missing", "slower"}
    assert node["regressed"][0] == {
        "tags": {"subject": "a"},
        "from": "SUCCESS",
        "to": "FAILED",
        "error": "ValueError: bad a\nTraceback…",
    }
    assert node["fixed"][0] == {"tags": {"subject": "c"}, "from": "FAILED", "to": "SUCCESS"}
    assert node["new"] == [{"tags": {"subject": "x"}, "state": "SUCCESS"}]
    assert node["missing"] == [{"tags": {"subject": "e"}, "state": "SUCCESS"}]
    assert node["slower"][0] == {"tags": {"subject": "f"}, "from_s": 1.0, "to_s": 3.0}


def test_packets_match_on_all_tags_whatever_their_order(tmp_path):
    root = tmp_path
    rows = [
        *packet("r1", T0, T0 + 1, "SUCCESS", subject="1", session="a"),
        *packet("r1", T0, T0 + 1, "SUCCESS", subject="1", session="b"),
        *packet("r2", T0 + 100, T0 + 101, "FAILED", "e", session="a", subject="1"),
        *packet("r2", T0 + 100, T0 + 101, "SUCCESS", session="b", subject="1"),
    ]
    write_status(root, "etl", CLEAN, rows)
    (clean,) = diff_runs(load(root), "r1", "r2").nodes
    assert [c.tags for c in clean.regressed] == [{"subject": "1", "session": "a"}]
    assert not clean.new and not clean.missing


def test_default_pair_skips_runs_sharing_no_node(tmp_path):
    root = tmp_path
    write_status(root, "etl", CLEAN, pk("r1", T0, 1, "SUCCESS"))
    write_status(root, "etl", SCORE, pk("r2", T0 + 100, 1, "SUCCESS"))
    write_status(root, "etl", CLEAN, pk("r3", T0 + 200, 1, "FAILED", "x"))
    inputs = load(root)
    assert inputs.runs == ("r3", "r2", "r1")
    assert default_pair(inputs) == ("r1", "r3")
    assert choose_pair(inputs) == ("r1", "r3")


def test_default_pair_none_with_one_run(tmp_path):
    write_status(tmp_path, "etl", CLEAN, pk("r1", T0, 1, "SUCCESS"))
    assert default_pair(load(tmp_path)) is None


def test_choose_pair_with_prefixes(tmp_path):
    root = tmp_path
    for i, run in enumerate(["0193aa-1", "0193ab-2", "0193ab-3"]):
        write_status(root, "etl", CLEAN, pk(run, T0 + 100 * i, 1, "SUCCESS"))
    inputs = load(root)
    assert choose_pair(inputs, "0193aa") == ("0193aa-1", "0193ab-3")  # TO: the newest run
    assert choose_pair(inputs, "0193aa", "0193ab-2") == ("0193aa-1", "0193ab-2")
    with pytest.raises(RunIdError, match="'0193ab' matches 2 runs"):
        choose_pair(inputs, "0193ab")
    with pytest.raises(RunIdError, match="no run matches 'zz'"):
        choose_pair(inputs, "zz")
    with pytest.raises(DiffError, match="same run"):
        choose_pair(inputs, "0193ab-3")
    with pytest.raises(DiffError):
        choose_pair(inputs, None, "0193ab-3")


def test_tags_of_a_packet_include_null_tags_like_the_summary(tmp_path):
    root = tmp_path
    rows = [
        *packet("r1", T0, T0 + 1, "SUCCESS", subject="1", session=None),
        *packet("r2", T0 + 100, T0 + 101, "FAILED", "e", subject="1", session=None),
    ]
    write_status(root, "etl", CLEAN, rows)
    (clean,) = diff_runs(load(root), "r1", "r2").nodes
    assert [c.tags for c in clean.regressed] == [{"subject": "1", "session": None}]


def test_text_form_lists_changes_and_keeps_untrusted_text_inert(tmp_path):
    root = tmp_path
    rows = [
        *packet("r1", T0, T0 + 1, "SUCCESS", subject="\x1b[31mred"),
        *packet(
            "r2", T0 + 100, T0 + 101, "FAILED", "Boom\x1b]0;x\x07\nTraceback", subject="\x1b[31mred"
        ),
    ]
    rows += [
        r
        for i in range(25)
        for r in packet("r2", T0 + 100, T0 + 101, "SUCCESS", subject=f"n{i:02d}")
    ]
    write_status(root, "etl", CLEAN, rows)
    text = "\n".join(diff_lines(diff_runs(load(root), "r1", "r2"), limit=20))
    assert "\x1b" not in text and "\x07" not in text
    assert text.splitlines()[0] == "diff r1 → r2: 1 regressed, 0 fixed, 25 new, 0 missing, 0 slower"
    assert "subject=red  SUCCESS → FAILED  Boom…" in text
    assert "new (25)" in text and "… and 5 more" in text and "n19" in text and "n20" not in text
