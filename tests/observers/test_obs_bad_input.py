"""Unwritable roots, odd tag values, colliding tag keys, misbehaving callers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from support.observers import read_tables

import observers


def test_unwritable_root_warns_once_and_counts_drops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    root = blocker / "root"
    caplog.set_level(logging.WARNING, logger="observers")
    obs = observers.StatusObserver(root, max_retries=2, retry_backoff=0.001, flush_interval=0.02)
    obs.on_run_start("r1", pipeline_uri="p@1")
    node = obs.contextualize("n")
    node.on_node_start("n", "h")
    for i in range(10):
        node.on_data_start("n", {"i": i}, None)
        node.on_data_crash("n", {"i": i}, None, RuntimeError("x"))
    node.on_node_end("n", "h")
    obs.on_run_end("r1")
    obs.close()
    warnings = [r for r in caplog.records if r.name == "observers" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(root) in warnings[0].getMessage()
    assert obs.stats["events_dropped"] == 20
    assert obs.stats["events_written"] == 0
    assert obs.stats["retries"] >= 2


def test_odd_tag_values_are_stored_as_strings(tmp_path: Path) -> None:
    long = "x" * 100_000
    tags = [
        {"k": None},
        {"k": b"\x00\xffbytes"},
        {"k": "Zoë 患者 🧪 \n two  spaces "},
        {"k": long},
        {"k": 42},
        {"k": "bad \udc80 surrogate"},
    ]
    with observers.StatusObserver(tmp_path) as obs:
        obs.on_run_start("r", pipeline_uri="odd@h")
        node = obs.contextualize("n")
        for t in tags:
            node.on_data_start("n", t, None)
    (table,) = read_tables(tmp_path, "execution_status").values()
    assert str(table.schema.field("k").type) == "string"
    got = table.column("k").to_pylist()
    assert got[:5] == [None, str(b"\x00\xffbytes"), "Zoë 患者 🧪 \n two  spaces ", long, "42"]
    assert got[5] == "bad \\udc80 surrogate"


def test_colliding_tag_keys_get_a_non_colliding_name(tmp_path: Path) -> None:
    with observers.StatusObserver(tmp_path) as obs:
        obs.on_run_start("r", pipeline_uri="c@h")
        node = obs.contextualize("n")
        node.on_data_start("n", {"_status_state": "mine", "__x": 1, "_tag_a": 2, "ok": 3}, None)
    (table,) = read_tables(tmp_path, "execution_status").values()
    row = table.to_pylist()[0]
    assert row["_status_state"] == "RUNNING"
    assert row["tag:_status_state"] == "mine"
    assert row["tag:__x"] == "1" and row["tag:_tag_a"] == "2" and row["ok"] == "3"
    user = [c for c in table.column_names if observers.schema.is_user_tag(c)]
    assert sorted(user) == ["ok", "tag:__x", "tag:_status_state", "tag:_tag_a"]


def test_hooks_never_raise_and_accept_both_generations(tmp_path: Path) -> None:
    class Explodes:
        def keys(self) -> list[str]:
            raise RuntimeError("bad tag")

    with observers.StatusObserver(tmp_path) as obs:
        obs.on_run_start("r", pipeline_uri="g@h", future_kwarg=1)
        node = obs.contextualize("n", "v1")
        node.on_node_start("n", "h", tag_schema=None, extra=True)
        node.on_packet_start("n", {"a": 1}, None)
        node.on_packet_end("n", {"a": 1}, None, None, True, more=1)
        node.on_packet_crash("n", {"a": 2}, None, ValueError("v"))
        node.on_data_start("n", Explodes(), None)  # stored under a "tag" column, no raise
        assert node.create_packet_logger({"a": 1}, None).record(x=1) is None
        node.on_node_end("n", "h")
        obs.on_run_end("r")
    (table,) = read_tables(tmp_path, "execution_status").values()
    assert sorted(table.column("_status_state").to_pylist()) == [
        "CACHED",
        "FAILED",
        "RUNNING",
        "RUNNING",
    ]


def test_plain_api_writes_status_logs_and_run_record(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), observers.run(tmp_path, pipeline="a/etl") as run:
        with run.node("clean", version="v2") as node:
            with node.packet(subject_id="s1"):
                print("to stdout")
                logging.getLogger("etl").warning("careful")
            with node.packet(subject_id="s2", suppress=True):
                raise ValueError("bad input")
            with node.packet(subject_id="s3") as p:
                p.cached()
            node.cached(subject_id="s4")
        with run.node("load") as node, node.packet(subject_id="s1"):
            1 / 0  # noqa: B018
    status = read_tables(tmp_path, "execution_status")
    clean = next(t for p, t in status.items() if "/_status/clean/v2/" in p)
    final = {r["subject_id"]: r for r in clean.to_pylist() if r["_status_state"] != "RUNNING"}
    assert {k: v["_status_state"] for k, v in final.items()} == {
        "s1": "SUCCESS",
        "s2": "FAILED",
        "s3": "CACHED",
        "s4": "CACHED",
    }
    assert final["s2"]["_status_error_summary"] == "bad input"
    logs = read_tables(tmp_path, "execution_logs")
    clean_logs = {
        r["subject_id"]: r for p, t in logs.items() if "clean" in p for r in t.to_pylist()
    }
    assert set(clean_logs) == {"s1", "s2"}
    assert clean_logs["s1"]["_log_stdout_log"] == "to stdout\n"
    assert clean_logs["s1"]["_log_python_logs"] == "WARNING:etl:careful"
    assert "ValueError: bad input" in clean_logs["s2"]["_log_traceback"]
    (rec_path,) = tmp_path.glob("a/etl/_runs/*/*.json")
    rec = observers.read_run_record(rec_path)
    assert rec is not None and rec["outcome"] == "failed" and rec["ended_at"]
    assert set(rec["nodes"]) == {"clean/v2", "load"}
    import sys

    assert not type(sys.stdout).__name__.startswith("TeeStream")
