"""Which status rows normalisation keeps: a clean batch whole, a batch with bad rows without
exactly those rows (and one problem naming why)."""

from __future__ import annotations

import time

import pyarrow as pa

from orcatui.store.normalize import normalise_status

NOW = time.time()
TS = "2026-11-28T15:13:37.610238+00:00"


def _raw(rows: list[tuple[str | None, str | None, str | None]]) -> pa.Table:
    """(run id, state, timestamp) rows as a writer would store them, with one user tag."""
    return pa.table(
        {
            "_status_id": pa.array(
                [f"{i:08x}-7a31-7bbb-8ccc-0123456789ab" for i in range(len(rows))]
            ),
            "_status_run_id": pa.array([r for r, _, _ in rows], pa.string()),
            "_status_pipeline_uri": pa.array(["p@1"] * len(rows)),
            "_status_state": pa.array([s for _, s, _ in rows], pa.string()),
            "_status_timestamp": pa.array([t for _, _, t in rows], pa.string()),
            "_status_error_summary": pa.array([None] * len(rows), pa.string()),
            "sample": pa.array([f"s{i}" for i in range(len(rows))]),
        }
    )


def test_a_clean_batch_is_kept_whole_with_no_problem():
    got = normalise_status(_raw([("r", "RUNNING", TS), ("r", "SUCCESS", TS)]), "t", now=NOW)
    assert got.problems == []
    assert got.table.column("state").to_pylist() == ["RUNNING", "SUCCESS"]
    assert got.table.column("tag:sample").to_pylist() == ["s0", "s1"]


def test_states_in_another_case_are_read_as_writers_spell_them():
    got = normalise_status(_raw([("r", "running", TS), ("r", "Failed", TS)]), "t", now=NOW)
    assert got.problems == []
    assert got.table.column("state").to_pylist() == ["RUNNING", "FAILED"]


def test_each_kind_of_bad_row_is_dropped_and_only_those():
    rows = [
        ("r", "SUCCESS", TS),  # kept
        ("r", "EXPLODED", TS),  # unknown state
        ("r", None, TS),  # no state
        ("r", "FAILED", "yesterday"),  # unreadable time
        ("r", "FAILED", None),  # no time
        (None, "SUCCESS", TS),  # no run
        ("r", "cached", TS),  # kept, upper-cased
    ]
    got = normalise_status(_raw(rows), "t", now=NOW)
    assert got.table.column("tag:sample").to_pylist() == ["s0", "s6"]
    assert got.table.column("state").to_pylist() == ["SUCCESS", "CACHED"]
    (problem,) = got.problems
    assert problem.startswith("t: skipped 5 event(s)") and "EXPLODED" in problem
