"""Parquet table directories: incremental reading, temp files, broken files, odd schemas."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from support.events import T0, event, packet, table_dir, write_parquet, write_status

from orcatui.model.monitor import Monitor
from orcatui.store.discovery import TableKind, discover_tables
from orcatui.store.parquet_table import ParquetTableReader
from orcatui.store.store import Store

NODE = ("clean", "v1")


def test_reads_only_new_files_and_ignores_temp_names(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    write_parquet(d, packet("r1", T0, T0 + 1, "SUCCESS", subject="a"))
    pq.write_table(pa.Table.from_pylist([event("RUNNING", T0, subject="tmp")]), d / ".x.parquet")
    pq.write_table(pa.Table.from_pylist([event("RUNNING", T0, subject="tmp")]), d / "_y.parquet")
    reader = ParquetTableReader(d, TableKind.STATUS)
    first = reader.read_new()
    assert first.table.num_rows == 2
    assert reader.read_new().table is None
    write_parquet(d, [event("RUNNING", T0 + 2, subject="b")])
    second = reader.read_new()
    assert second.table.column("tag:subject").to_pylist() == ["b"]


def test_corrupt_file_is_reported_and_the_rest_is_read(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    write_parquet(d, packet("r1", T0, T0 + 1, "SUCCESS", subject="a"))
    (d / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    import os

    os.utime(d / "broken.parquet", (T0, T0))  # old: not a file still being written
    store = Store(tmp_path)
    update = store.poll()
    assert sum(t.num_rows for _, t in update.status) == 2
    assert any("broken.parquet" in p for p in update.problems)
    assert any("broken.parquet" in e for e in store.broken.values())


def test_string_ids_views_and_timestamps_without_fraction(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    d.mkdir(parents=True)
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    table = pa.table(
        {
            "_status_id": pa.array(ids, pa.string_view()),
            "_status_run_id": pa.array(["r", "r"], pa.string_view()),
            "_status_pipeline_uri": pa.array(["", ""], pa.string_view()),
            "_status_state": pa.array(["RUNNING", "SUCCESS"], pa.string_view()),
            "_status_timestamp": ["2026-11-28T15:13:37+00:00", "2026-11-28T15:13:38.5+00:00"],
            "_status_error_summary": pa.array([None, None], pa.string_view()),
            "subject": pa.array(["s", "s"], pa.string_view()),
            "_tag_source_id::abc": pa.array([None, None], pa.string()),
        }
    )
    pq.write_table(table, d / "a.parquet")
    m = Monitor(tmp_path, clock=lambda: T0)
    m.refresh()
    (p,) = m.snapshot().pipelines
    (node,) = p.nodes
    assert node.tags == ("subject",)  # system tags are not user tags
    (row,) = m.packet_rows(node.key).to_pylist()
    assert row["state"] == "SUCCESS" and abs(row["duration_s"] - 1.5) < 1e-6


def test_unknown_state_missing_columns_empty_tables(tmp_path):
    write_status(
        tmp_path,
        "etl",
        ("a",),
        [event("RUNNING", T0, subject="x"), event("WEIRD", T0, subject="y")],
    )
    d = table_dir(tmp_path, "etl", ("b",))
    d.mkdir(parents=True)
    pq.write_table(pa.table({"something": ["else"]}), d / "nocols.parquet")
    e = table_dir(tmp_path, "etl", ("c",))
    e.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([event("RUNNING", T0, subject="z")]).slice(0, 0), e / "empty.parquet"
    )
    m = Monitor(tmp_path, clock=lambda: T0)
    problems = m.refresh().problems
    assert any("WEIRD" in p for p in problems)
    assert any("missing column" in p for p in problems)
    (p,) = m.snapshot().pipelines
    assert p.counts["RUNNING"] == 1


def test_user_tag_named_like_a_system_column_does_not_break(tmp_path):
    row = event("SUCCESS", T0, subject="x")
    row["__weird"] = "ignored"
    row["run_id"] = "a user tag called run_id"
    row["state"] = "a user tag called state"
    write_status(tmp_path, "etl", ("a",), [row])
    m = Monitor(tmp_path, clock=lambda: T0)
    m.refresh()
    (p,) = m.snapshot().pipelines
    (node,) = p.nodes
    assert set(node.tags) == {"subject", "run_id (tag)", "state (tag)"}
    rows = m.packet_rows(node.key)
    assert len(set(rows.column_names)) == len(rows.column_names)
    (r,) = rows.to_pylist()
    assert r["run_id"] == "run1" and r["state"] == "SUCCESS"
    assert r["run_id (tag)"] == "a user tag called run_id"
    assert r["state (tag)"] == "a user tag called state"
    assert p.counts["SUCCESS"] == 1


def test_discovery_finds_multi_part_names_and_skips_result_tables(tmp_path):
    write_status(tmp_path, ("lab", "p"), ("a", "v0"), [event("RUNNING", T0, subject="x")])
    (tmp_path / "lab" / "p" / "_result" / "a" / "execution_status").mkdir(parents=True)
    refs = discover_tables(tmp_path)
    assert [(r.pipeline, r.identity) for r in refs] == [(("lab", "p"), ("a", "v0"))]
