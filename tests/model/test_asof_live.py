"""The time cursor built from a live monitor's own events (no second read of the store).

The live monitor keeps each node's folded events (``Monitor.keep_history``); a
:class:`TimeCursor` made from it must say exactly what a fresh ``load_as_of`` says, however the
events arrived (one big read, or many small reads folded one packet at a time).
"""

from __future__ import annotations

import random
import shutil

from support.events import T0, event, log_row, table_dir, write_parquet

from orcatui.model.asof import TimeCursor, load_as_of
from orcatui.model.monitor import Monitor
from orcatui.model.views import View

ETL = ("etl",)


def _rows(rnd: random.Random) -> dict[str, list[dict]]:
    """Two nodes, three runs, ties on timestamps (also across reads), duplicates, failures."""
    out = {}
    for node in ("clean", "fit"):
        rows = []
        for run_i, run in enumerate(("r1", "r2", "r3")):
            for k in range(12):
                start = T0 + run_i * 100 + rnd.choice([0, 1, 2, 3, 5, 8])
                end = start + rnd.choice([0, 0, 1, 2, 4])
                state = rnd.choice(["SUCCESS", "FAILED", "CACHED", None])
                tags = {"subject": f"s{k % 6}"}
                if k > 8:
                    tags["session"] = str(k % 2)
                rows.append(event("RUNNING", start, run, **tags))
                if state:
                    error = f"boom {k}" if state == "FAILED" else None
                    rows.append(event(state, end, run, error, **tags))
                    if k % 5 == 0:  # a retry: RUNNING again, then SUCCESS, later
                        rows.append(event("RUNNING", end + 3, run, **tags))
                        rows.append(event("SUCCESS", end + 6, run, **tags))
        rnd.shuffle(rows)
        rows.append(dict(rows[0]))  # a duplicate event
        out[node] = rows
    return out


def _compare(root, cursor: TimeCursor, moments: list[float]) -> None:
    for at in moments:
        folded, _ = load_as_of(root, at, stale_after=50)
        fast = cursor.monitor_at(at)
        for view in (View(), View(run_id="r1"), View(all_runs=True)):
            a = folded.snapshot({ETL: view})
            b = fast.snapshot({ETL: view})
            assert a.pipelines[0].counts == b.pipelines[0].counts, (at - T0, view)
            assert [(r.run_id, r.verdict, r.counts) for r in a.pipelines[0].runs] == [
                (r.run_id, r.verdict, r.counts) for r in b.pipelines[0].runs
            ]
            for node in a.pipelines[0].nodes:
                ra = folded.packet_rows(node.key, view).sort_by("key").to_pylist()
                rb = fast.packet_rows(node.key, view).sort_by("key").to_pylist()
                assert ra == rb, (at - T0, view, node.key)


def _moments(rows: dict[str, list[dict]]) -> list[float]:
    from orcatui.model.moments import parse_moment

    stamps = sorted(
        {parse_moment(r["_status_timestamp"], now=T0 + 1e6) for v in rows.values() for r in v}
    )
    return [stamps[0] - 1, *stamps[::3], stamps[-1] + 1000, stamps[4] + 0.5]


def test_cursor_from_a_monitor_fed_in_small_reads_equals_the_fold(tmp_path):
    rows = _rows(random.Random(7))
    monitor = Monitor(tmp_path, stale_after=50)
    monitor.keep_history = True
    for i in range(0, 80, 5):  # many small files, a refresh after each: small folds too
        for node, node_rows in rows.items():
            if node_rows[i : i + 5]:
                write_parquet(table_dir(tmp_path, "etl", (node,)), node_rows[i : i + 5])
        monitor.refresh()
    cursor = TimeCursor(monitor)
    _compare(tmp_path, cursor, _moments(rows))


def test_cursor_is_rebuilt_when_the_live_monitor_reads_more(tmp_path):
    rows = _rows(random.Random(3))
    half = {n: r[: len(r) // 2] for n, r in rows.items()}
    for node, node_rows in half.items():
        write_parquet(table_dir(tmp_path, "etl", (node,)), node_rows)
    monitor = Monitor(tmp_path, stale_after=50)
    monitor.keep_history = True
    monitor.refresh()
    first = TimeCursor(monitor)
    for node, node_rows in rows.items():
        write_parquet(table_dir(tmp_path, "etl", (node,)), node_rows[len(node_rows) // 2 :])
    monitor.refresh()
    assert first.version != monitor.version  # the app rebuilds on this
    _compare(tmp_path, TimeCursor(monitor), _moments(rows))


def test_cursor_needs_no_second_read_of_the_store(tmp_path):
    """The cursor is made from memory: the tables can be gone by the time history is entered."""
    rows = _rows(random.Random(5))
    for node, node_rows in rows.items():
        write_parquet(table_dir(tmp_path / "root", "etl", (node,)), node_rows)
    write_parquet(
        table_dir(tmp_path / "root", "etl", ("clean",), "log"),
        [log_row("r1", T0 + 200, stdout="late words", subject="s1")],
    )
    root = tmp_path / "root"
    monitor = Monitor(root, stale_after=50)
    monitor.keep_history = True
    monitor.refresh()
    shutil.copytree(root, tmp_path / "copy")
    shutil.rmtree(root / "etl" / "_status")
    shutil.rmtree(root / "etl" / "_log")
    cursor = TimeCursor(monitor)
    _compare(tmp_path / "copy", cursor, _moments(rows))
    m = cursor.monitor_at(T0 + 300)
    (clean,) = [n for n in m.snapshot().pipelines[0].nodes if n.key[1] == ("clean",)]
    row = next(r for r in m.packet_rows(clean.key, View(run_id="r1")).to_pylist()
               if r["subject"] == "s1")  # fmt: skip
    details = m.details(clean.key, row)
    assert details.log is not None and details.log.stdout == "late words"
    # before that log row was written, the moment has none
    early = cursor.monitor_at(T0 + 150)
    row = next(r for r in early.packet_rows(clean.key, View(run_id="r1")).to_pylist()
               if r["subject"] == "s1")  # fmt: skip
    assert early.details(clean.key, row).log is None


def test_a_live_packet_without_history_is_left_out_and_the_rest_still_right(tmp_path):
    """(Defensive path) a live packet the history never saw does not shift the others."""
    rows = _rows(random.Random(11))
    for node, node_rows in rows.items():
        write_parquet(table_dir(tmp_path, "etl", (node,)), node_rows)
    monitor = Monitor(tmp_path, stale_after=50)
    monitor.keep_history = True
    monitor.refresh()
    node = monitor.pipelines[ETL].nodes[("clean",)]
    history, node.packets.history = node.packets.history, None
    # "a" sorts before every s… key: the live rows of all other packets move down by one
    node.packets.fold(_normalised([event("RUNNING", T0 + 1, "r1", subject="a")]))
    node.packets.history = history
    cursor = TimeCursor(monitor)
    assert [n.live_pos is None for n in cursor.nodes] == [False, True]  # the path under test
    _compare(tmp_path, cursor, _moments(rows))


def _normalised(rows: list[dict]):
    import pyarrow as pa

    from orcatui.store.normalize import normalise_status

    return normalise_status(pa.Table.from_pylist(rows), "test", now=T0 + 1e6).table


def test_a_cursor_rebuilt_after_new_data_keeps_the_unchanged_nodes_packets(tmp_path):
    """The live monitor reads more for one node while history is shown: the new cursor sorts
    only that node again, keeps the last moment's packets of the other (the next step reuses
    them), and every moment still says what a fresh fold says."""
    rows = _rows(random.Random(13))
    for node, node_rows in rows.items():
        write_parquet(table_dir(tmp_path, "etl", (node,)), node_rows)
    monitor = Monitor(tmp_path, stale_after=50)
    monitor.keep_history = True
    monitor.refresh()
    first = TimeCursor(monitor)
    at = T0 + 150
    before = first.monitor_at(at)
    late = [
        event("RUNNING", T0 + 400, "r3", subject="late"),
        event("SUCCESS", T0 + 401, "r3", subject="late"),
    ]
    write_parquet(table_dir(tmp_path, "etl", ("fit",)), late)  # later events of "fit" only
    monitor.refresh()
    second = TimeCursor(monitor, previous=first)
    after = second.monitor_at(at)
    clean, fit = ("clean",), ("fit",)
    assert after.pipelines[ETL].nodes[clean].packets is before.pipelines[ETL].nodes[clean].packets
    assert after.pipelines[ETL].nodes[fit].packets is not before.pipelines[ETL].nodes[fit].packets
    assert second.span is not None and second.span[1] == T0 + 401
    moments = _moments(rows)
    _compare(tmp_path, second, [*moments, T0 + 400.5, T0 + 401])
