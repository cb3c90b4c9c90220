"""Public model API the app and ``summary --diff`` build on (issues 10 and 11, wave 4):
``ErrorGrouper.assign`` (the one grouping rule) and ``Monitor.run_started``."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from support.events import T0, packet, write_status
from test_errors import logs_for, rows, tb

from orcatui.app.triage_source import failed_groups
from orcatui.cmd_diff import all_run_ids
from orcatui.model.errors import ErrorGrouper, NodeFailures, error_groups
from orcatui.model.monitor import Monitor

REPO = Path(__file__).resolve().parents[2]


def test_assign_numbers_each_failed_row_with_its_group():
    a = rows(
        ("value 3 out of range", T0),
        ("value 4 out of range", T0 + 1),
        ("disk full on /dev/sda", T0 + 2),
    )
    logs = logs_for(a, [tb("ValueError", "value 3 out of range"), None, None])
    b = rows(("disk full on /dev/sdq", T0 + 10), run="r2")
    ok = rows(("fine 1", T0), state="SUCCESS")
    found = ErrorGrouper().assign(
        [NodeFailures("a", a, logs), NodeFailures("ok", ok), NodeFailures("b", b)]
    )
    assert [t.num_rows for t in found.failed] == [3, 0, 1]  # SUCCESS rows are left out
    assert found.node.tolist() == [0, 0, 0, 2]
    assert found.row.tolist() == [0, 1, 2, 0]
    by_row = [found.keys[g] for g in found.group]
    # one traceback splits the first two apart; the disks of both nodes are one group
    assert by_row[0] == ("ValueError", "etl.py:load", "value <num> out of range")
    assert by_row[1] == (None, None, "value <num> out of range")
    assert by_row[2] == by_row[3] == (None, None, "disk full on <path>")
    assert found.signature(int(found.group[0])) == (
        "ValueError: value <num> out of range  (in etl.py:load)"
    )


def test_assign_with_nothing_failed_is_empty():
    found = ErrorGrouper().assign([NodeFailures("ok", rows(("x", T0), state="SUCCESS"))])
    assert found.keys == [] and len(found.group) == 0


def test_problems_view_groups_exactly_as_summary_error_groups():
    """The problems view and ``summary`` give the same groups with the same counts."""
    msgs = [f"[Errno 2] No such file: '/d/s{i}.nii'" for i in range(5)]
    msgs += [f"value {i} out of range" for i in range(3)]
    a = rows(*[(m, T0 + i) for i, m in enumerate(msgs)])
    tbs = [None] * 5 + [tb("ValueError", "v"), tb("IndexError", "v"), None]
    logs = logs_for(a, tbs)
    b = rows(("[Errno 2] No such file: '/x/y'", T0 + 20), run="r2")
    grouper = ErrorGrouper()
    expected = error_groups([NodeFailures("a", a, logs), NodeFailures("b", b)], grouper)
    got = failed_groups(
        [(("p", ("a",)), "a", a, logs), (("p", ("b",)), "b", b, None)], ErrorGrouper()
    )
    assert sorted((g.title, g.count, tuple(sorted(g.nodes.items()))) for g in got) == sorted(
        (e.signature, e.count, tuple(sorted(e.nodes.items()))) for e in expected
    )
    # every packet of a group really carries an error of that group
    for g in got:
        for k in range(g.count):
            _key, _name, table, i = g.packet(k)
            assert table.column("state")[i].as_py() == "FAILED"
    assert isinstance(got[0].row_idx, np.ndarray)


def _private_names_used(path: Path, module_prefix: str) -> set[str]:
    """Names starting with ``_`` imported from, or accessed on objects of, our modules."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(module_prefix):
            out |= {a.name for a in node.names if a.name.startswith("_")}
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
        if not node.attr.startswith("__") and not on_self:
            out.add(node.attr)
    return out


def test_app_and_diff_command_use_only_public_model_api():
    assert _private_names_used(REPO / "orcatui/app/triage_source.py", "orcatui.model") == set()
    assert "_started" not in _private_names_used(REPO / "orcatui/cmd_diff.py", "orcatui.model")


def test_run_started_is_the_record_start_else_the_first_event(tmp_path):
    write_status(
        tmp_path,
        "etl",
        ("clean", "v0"),
        [
            *packet("old", T0, T0 + 1, "SUCCESS", s="a"),
            *packet("new", T0 + 50, T0 + 51, "SUCCESS", s="a"),
        ],
    )
    m = Monitor(tmp_path)
    m.refresh()
    (p,) = m.pipelines
    assert m.run_started(p, "old") == T0
    assert m.run_started(p, "new") == T0 + 50
    assert m.run_started(p, "nope") is None
    assert m.run_started(("no", "such"), "old") is None
    assert all_run_ids(m) == ["new", "old"]


def _mixed_root(root):
    rows = []
    for i in range(6):
        rows += packet("old", T0 + i, T0 + i + 1, "SUCCESS", s=i)
    rows += packet("old", T0 + 7, None, "", s=7)  # RUNNING in a run that is over: LOST
    for i in range(6):
        state = "FAILED" if i % 2 else "SUCCESS"
        rows += packet("new", T0 + 100 + i, T0 + 101 + i, state, f"boom {i}", s=i)
    rows += packet("new", T0 + 110, None, "", s=7)  # RUNNING in the live run
    rows += packet("new", T0 + 111, T0 + 112, "CACHED", s=8)
    write_status(root, "etl", ("clean", "v0"), rows)


def _as_set(t):
    return {(r["key"], r["state"], r["duration_s"], r["error"]) for r in t.to_pylist()}


def test_problem_rows_are_the_failed_lost_running_display_rows(tmp_path):
    from orcatui.model.views import View

    _mixed_root(tmp_path)
    now = T0 + 130
    m = Monitor(tmp_path, clock=lambda: now)
    m.refresh()
    (p,) = m.pipelines
    (ident,) = m.pipelines[p].nodes
    key = (p, ident)
    verdicts = m.verdicts(p, now)
    for view in (View(), View(run_id="old"), View(all_runs=True)):
        expected = m.packet_rows(key, view, now, verdicts, states=("FAILED", "LOST", "RUNNING"))
        got = m.problem_rows(key, view, now, verdicts)
        assert got.column_names == expected.column_names
        assert _as_set(got) == _as_set(expected) and got.num_rows == expected.num_rows
    states = m.problem_rows(key, View(run_id="old"), now, verdicts).column("state").to_pylist()
    assert states == ["LOST"]


def test_problem_rows_cache_keeps_failed_rows_and_re_ages_running(tmp_path):
    from orcatui.app.triage_source import ProblemRows
    from orcatui.model.views import View

    _mixed_root(tmp_path)
    m = Monitor(tmp_path, clock=lambda: T0 + 130)
    m.refresh()
    (p,) = m.pipelines
    (ident,) = m.pipelines[p].nodes
    key, cache = (p, ident), ProblemRows()
    verdicts = m.verdicts(p, T0 + 130)
    failed, others = cache.rows(m, key, View(), "new", T0 + 130, verdicts)
    assert failed.column("state").to_pylist() == ["FAILED"] * 3
    assert others.column("state").to_pylist() == ["RUNNING"]
    assert others.column("duration_s").to_pylist() == [20.0]
    failed2, others2 = cache.rows(m, key, View(), "new", T0 + 135, verdicts)
    assert failed2 is failed  # the same table while the data is the same (grouping reuses it)
    assert others2.column("duration_s").to_pylist() == [25.0]  # re-aged to the new time
    fresh = m.problem_rows(key, View(), T0 + 135, verdicts)
    assert _as_set(fresh) == _as_set(failed2) | _as_set(others2)


def test_nodes_times_of_many_nodes_equal_each_node_alone(tmp_path):
    """The vectorised split per node gives each node exactly its own numbers."""
    from orcatui.model.progress import node_times, nodes_times
    from orcatui.model.views import View

    _mixed_root(tmp_path)
    rows = []
    for i in range(4):
        rows += packet("new", T0 + 100 + i, None if i % 2 else T0 + 104 + i, "SUCCESS", t=i)
    write_status(tmp_path, "etl", ("fit", "v0"), rows)
    now = T0 + 130
    m = Monitor(tmp_path, clock=lambda: now)
    m.refresh()
    (p,) = m.pipelines
    tables = [
        m.packet_rows((p, ident), view, now, ordered=False)
        for ident in sorted(m.pipelines[p].nodes)
        for view in (View(), View(run_id="old"), View(all_runs=True))
    ]
    tables.insert(1, tables[0].slice(0, 0))  # a node with no rows in between
    together = nodes_times(tables)
    for t, got in zip(tables, together, strict=True):
        alone = node_times(t)
        assert got.counts == alone.counts
        for field in ("durations", "done_ts_us", "running_started_us", "running_rows"):
            assert getattr(got, field).tolist() == getattr(alone, field).tolist(), field
    assert any(len(t.running_rows) for t in together)
    assert sorted(together[0].durations.tolist()) == together[0].durations.tolist()
