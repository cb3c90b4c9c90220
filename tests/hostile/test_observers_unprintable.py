"""Issue 8 item 2: a tag value whose ``str()`` and ``repr()`` both raise costs only itself.

Real observers write real Parquet files and Delta tables; the result is read back with
pyarrow / deltalake and with orcatui's own reader (``Monitor``).
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import observers


class Evil:
    """Neither ``str()`` nor ``repr()`` works."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class EvilError(Exception):
    """An exception whose text cannot be had either."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def read_table(table_dir: str) -> pa.Table:
    """Rows of one status/log table (Delta or a Parquet directory)."""
    if os.path.isdir(os.path.join(table_dir, "_delta_log")):
        from deltalake import DeltaTable

        return DeltaTable(table_dir).to_pyarrow_table()
    files = sorted(
        f
        for f in glob.glob(os.path.join(table_dir, "*.parquet"))
        if not os.path.basename(f).startswith((".", "_"))
    )
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def one_table(root: Path, name: str) -> pa.Table:
    (found,) = glob.glob(os.path.join(root, "**", name), recursive=True)
    return read_table(found)


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_unprintable_tag_value_keeps_the_rest_of_the_flush(tmp_path: Path, sink: str) -> None:
    n = 300
    obs = observers.StatusObserver(tmp_path, sink=sink, flush_interval=60)  # one flush, at close
    obs.on_run_start("run-1", pipeline_uri="hostile@abc")
    node = obs.contextualize("work", "v0")
    node.on_node_start("work", "h", tag_schema={"subject": "str"})
    for i in range(n):
        node.on_data_start("work", {"subject": f"s{i}"}, None)
        node.on_data_end("work", {"subject": f"s{i}"}, None, None, False)
    node.on_data_start("work", {"subject": Evil()}, None)
    node.on_data_crash("work", {"subject": Evil()}, None, EvilError())
    node.on_node_end("work", "h")
    obs.on_run_end("run-1")
    obs.close()

    stats = obs.stats
    assert stats["events_dropped"] == 0
    assert stats["events_written"] == 2 * n + 2

    table = one_table(tmp_path, "execution_status")
    assert table.num_rows == 2 * n + 2
    rows = table.to_pylist()
    evil = [r for r in rows if r["subject"] == "<unprintable Evil>"]
    assert sorted(r["_status_state"] for r in evil) == ["FAILED", "RUNNING"]
    failed = next(r for r in evil if r["_status_state"] == "FAILED")
    assert failed["_status_error_summary"] == "<unprintable EvilError>"
    good = Counter(r["_status_state"] for r in rows if r["subject"] != "<unprintable Evil>")
    assert good == Counter({"RUNNING": n, "SUCCESS": n})

    # orcatui's reader sees every packet, the unprintable one FAILED under its placeholder
    from orcatui.model.monitor import Monitor

    monitor = Monitor(tmp_path)
    assert monitor.refresh().problems == []
    (pipeline,) = monitor.snapshot().pipelines
    (info,) = pipeline.nodes
    assert info.counts["SUCCESS"] == n
    assert info.counts["FAILED"] == 1
    shown = monitor.packet_rows(info.key).to_pylist()
    assert len(shown) == n + 1
    assert any("<unprintable Evil>" in map(str, r.values()) for r in shown)


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_unprintable_value_in_a_log_row_and_a_tag_key(tmp_path: Path, sink: str) -> None:
    obs = observers.LoggingObserver(tmp_path, sink=sink, flush_interval=60, capture=False)
    obs.on_run_start("run-1", pipeline_uri="hostile@abc")
    node = obs.contextualize("work")
    for i in range(50):
        node.create_data_logger({"subject": f"s{i}"}).record(stdout_log=f"out {i}", success=True)
    node.create_data_logger({"subject": Evil()}).record(stdout_log=Evil(), success=False)
    obs.close()
    assert obs.stats["events_dropped"] == 0
    table = one_table(tmp_path, "execution_logs")
    assert table.num_rows == 51
    evil = [r for r in table.to_pylist() if r["subject"] == "<unprintable Evil>"]
    assert len(evil) == 1 and evil[0]["_log_stdout_log"] == "<unprintable Evil>"
    assert evil[0]["_log_success"] is False
