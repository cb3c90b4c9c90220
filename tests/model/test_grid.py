"""The runs × nodes grid on real Parquet runs that reached different nodes."""

from __future__ import annotations

import numpy as np
from support.events import T0, packet, write_status

from orcatui.model.grid import CELL_STATES, GridBuilder, count_by_run, pipeline_inputs
from orcatui.model.monitor import Monitor

P = ("etl",)
CLEAN, SCORE, PLOT = ("clean", "v0"), ("score", "v0"), ("plot", "v0")


def pk(run, start, dur, state, error=None, subject="s"):
    return packet(run, start, None if dur is None else start + dur, state, error, subject=subject)


def root_with_three_runs(root):
    # r1 reached clean and score; r2 (crashed) only clean; r3 (live) clean and plot
    write_status(
        root,
        "etl",
        CLEAN,
        [
            *pk("r1", T0, 1, "SUCCESS", subject="a"),
            *pk("r1", T0, 1, "FAILED", "boom", subject="b"),
            *pk("r2", T0 + 100, 0.1, "CACHED", subject="a"),
            *pk("r2", T0 + 100, None, "", subject="b"),
        ],
    )
    write_status(root, "etl", SCORE, pk("r1", T0 + 2, 1, "SUCCESS", subject="a"))
    write_status(
        root,
        "etl",
        PLOT,
        [
            *pk("r3", T0 + 200, 1, "SUCCESS", subject="a"),
            *pk("r3", T0 + 201, None, "", subject="b"),
        ],
    )
    return root


def loaded(root, now=T0 + 210):
    m = Monitor(root)
    m.refresh()
    return m, pipeline_inputs(m, P, now)


def test_cells_of_runs_that_reached_different_nodes(tmp_path):
    _m, inputs = loaded(root_with_three_runs(tmp_path))
    grid = GridBuilder().build(inputs)
    assert grid.runs == ("r3", "r2", "r1")  # newest first
    assert grid.nodes == (CLEAN, SCORE, PLOT)  # tree order: as the pipeline reached them
    assert grid.names == ("clean", "score", "plot")
    cell = {
        (n[0], r): grid.cell(i, j)
        for i, n in enumerate(grid.nodes)
        for j, r in enumerate(grid.runs)
    }
    # did not run: no worst state, all counts zero
    for key in [("clean", "r3"), ("score", "r3"), ("score", "r2"), ("plot", "r2"), ("plot", "r1")]:
        assert not cell[key].ran and cell[key].worst is None and cell[key].total == 0
    assert cell["clean", "r1"].worst == "FAILED"
    assert cell["clean", "r1"].counts["SUCCESS"] == 1 and cell["clean", "r1"].counts["FAILED"] == 1
    # r2 is over (a newer run started): its RUNNING packet is LOST, the worst
    assert cell["clean", "r2"].worst == "LOST"
    assert cell["clean", "r2"].counts == dict.fromkeys(CELL_STATES, 0) | {"LOST": 1, "CACHED": 1}
    assert cell["score", "r1"].worst == "SUCCESS"
    # r3 is live: RUNNING stays RUNNING
    assert cell["plot", "r3"].worst == "RUNNING"
    assert cell["plot", "r3"].counts["RUNNING"] == 1 and cell["plot", "r3"].counts["LOST"] == 0
    assert grid.column_counts(grid.column("r1"))["SUCCESS"] == 2


def test_grid_counts_agree_with_the_monitor_per_run(tmp_path):
    _m, inputs = loaded(root_with_three_runs(tmp_path))
    grid = GridBuilder().build(inputs)
    for info in inputs.infos:
        col = grid.column_counts(grid.column(info.run_id))
        assert {s: col[s] for s in info.counts} == info.counts


def test_slow_is_a_flag_within_running_and_ranks_above_it(tmp_path):
    _m, inputs = loaded(root_with_three_runs(tmp_path))
    grid = GridBuilder().build(inputs, slow={(PLOT, "r3"): 1, (CLEAN, "r2"): 1})
    c = grid.cell(grid.nodes.index(PLOT), grid.column("r3"))
    assert c.worst == "slow" and c.counts["slow"] == 1 and c.counts["RUNNING"] == 1
    assert c.total == 2
    # a run that is not live has no slow packets (they are LOST)
    assert grid.cell(0, grid.column("r2")).counts["slow"] == 0


def test_update_newest_matches_a_full_build(tmp_path):
    root = root_with_three_runs(tmp_path)
    m, inputs = loaded(root)
    builder = GridBuilder()
    grid = builder.build(inputs)
    # events arrive for the live run r3, in a node it had not reached yet and in one it had
    write_status(root, "etl", PLOT, pk("r3", T0 + 201, 2, "FAILED", "late", subject="b"))
    write_status(root, "etl", CLEAN, pk("r3", T0 + 205, 1, "SUCCESS", subject="a"))
    m.refresh()
    after = pipeline_inputs(m, P, T0 + 210)
    updated = builder.update_newest(grid, after)
    full = GridBuilder().build(after)
    assert np.array_equal(updated.counts, full.counts)
    assert np.array_equal(updated.worst, full.worst)
    assert updated.cell(0, 0).counts["SUCCESS"] == 1
    assert updated.cell(2, 0).worst == "FAILED"


def test_update_newest_adds_a_column_for_a_new_run_and_rejudges_lost(tmp_path):
    root = root_with_three_runs(tmp_path)
    m, inputs = loaded(root)
    builder = GridBuilder()
    grid = builder.build(inputs)
    assert grid.cell(2, 0).worst == "RUNNING"
    write_status(root, "etl", CLEAN, pk("r4", T0 + 300, 1, "SUCCESS", subject="a"))
    m.refresh()
    after = pipeline_inputs(m, P, T0 + 310)
    updated = builder.update_newest(grid, after)
    assert updated.runs == ("r4", "r3", "r2", "r1")
    assert np.array_equal(updated.counts, GridBuilder().build(after).counts)
    # r3 is over now that r4 started: its RUNNING packet became LOST
    assert updated.cell(2, 1).worst == "LOST"


def test_node_counts_are_cached_by_version(tmp_path):
    _m, inputs = loaded(root_with_three_runs(tmp_path))
    builder = GridBuilder()
    first = builder.node_counts(inputs.nodes[0])
    assert builder.node_counts(inputs.nodes[0])[1] is first[1]


def test_count_by_run_ignores_unknown_state_codes():
    import pyarrow as pa

    t = pa.table(
        {
            "run_id": pa.array(["r1", "r1", None, "r2", "r2"]),
            "state": pa.array([1, 9, 1, 2, None], pa.int8()),
        }
    )
    runs, counts = count_by_run(t)
    got = {r: counts[i].tolist() for i, r in enumerate(runs)}
    assert got == {"r1": [0, 1, 0, 0], "r2": [0, 0, 1, 0]}
