"""Export makes the next nodes' rows on worker threads: the order and content are those of a
node-by-node export, and a consumer that stops early stops the rest."""

from __future__ import annotations

import threading

import pyarrow as pa
from support.events import T0, packet, table_dir, write_parquet

from orcatui.model.export import AHEAD, export_batches, plan_export
from orcatui.model.monitor import Monitor
from orcatui.model.views import View


def _root(root, nodes: int):
    for n in range(nodes):
        rows = []
        for k in (10, 2, 1):  # natural order puts s1, s2, s10
            rows += packet("r1", T0 + n + k, T0 + n + k + 1, "SUCCESS", subject=f"s{k}")
        write_parquet(table_dir(root, "etl", (f"node{n:02d}",)), rows)
    m = Monitor(root, clock=lambda: T0 + 3600)
    m.refresh()
    return m


def test_rows_come_node_by_node_in_the_tables_order(tmp_path):
    nodes = AHEAD * 3 + 1
    m = _root(tmp_path, nodes)
    plan = plan_export(m, now=T0 + 3600)
    table = pa.Table.from_batches(list(export_batches(m, plan)), plan.schema)
    expected = []
    for item in plan.nodes:
        rows = m.packet_rows(item.key, View(), T0 + 3600)
        expected += [(item.title, s) for s in rows.column("subject").to_pylist()]
    got = list(
        zip(table.column("node").to_pylist(), table.column("subject").to_pylist(), strict=True)
    )
    assert got == expected
    assert [s for n, s in got[:3]] == ["s1", "s2", "s10"]
    assert [n for n, _ in got[::3]] == [f"node{i:02d}" for i in range(nodes)]


def test_a_consumer_that_stops_early_leaves_no_worker_behind(tmp_path):
    m = _root(tmp_path, AHEAD * 4)
    plan = plan_export(m, now=T0 + 3600)
    batches = export_batches(m, plan)
    first = next(batches)
    assert first.num_rows == 3
    batches.close()  # as when the writer fails: the pool is shut down, nothing left running
    assert not [t for t in threading.enumerate() if t.name.startswith("orcatui-export")]


def test_all_runs_export_equals_the_all_runs_view_with_one_or_more_runs(tmp_path):
    from orcatui.model.export import export_rows

    one = packet("r1", T0, T0 + 1, "SUCCESS", subject="s2") + packet(
        "r1", T0 + 1, None, "", subject="s10"
    )
    two = one + packet("r2", T0 + 50, T0 + 51, "FAILED", "boom", subject="s2")
    write_parquet(table_dir(tmp_path, "etl", ("one",)), one)
    write_parquet(table_dir(tmp_path, "etl", ("two",)), two)
    m = Monitor(tmp_path, clock=lambda: T0 + 3600)
    m.refresh()
    plan = plan_export(m, all_runs=True, now=T0 + 3600)
    got = pa.Table.from_batches(list(export_batches(m, plan)), plan.schema)
    expected = pa.concat_tables(
        [
            export_rows(item, m.packet_rows(item.key, View(all_runs=True), T0 + 3600), plan.schema)
            for item in plan.nodes
        ]
    )
    assert got.to_pylist() == expected.to_pylist()
    assert {r["state"] for r in got.to_pylist()} == {"SUCCESS", "LOST", "FAILED"}
