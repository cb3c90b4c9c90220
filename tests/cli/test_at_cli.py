"""``orcatui summary --at`` through the real CLI on hand-made stores, and hook A (``until_us``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support.events import T0, iso, log_row, packet, table_dir, write_parquet

from orcatui.model.monitor import Monitor
from orcatui.store.store import Store


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def record(root, run_id, **fields) -> None:
    d = root / "etl" / "_runs"
    d.mkdir(parents=True, exist_ok=True)
    data = {
        "run_id": run_id,
        "pipeline_uri": "etl@0123",
        "host": "elsewhere",
        "pid": 1,
        "started_at": iso(T0),
        "heartbeat_at": iso(T0),
        "heartbeat_interval_s": 5,
        "ended_at": None,
        "outcome": None,
        "nodes": {},
    } | fields
    (d / f"{run_id}.json").write_text(json.dumps(data))


@pytest.fixture
def crashed(tmp_path):
    """Run r1: a SUCCESS at T0..T0+10, b RUNNING from T0+5 forever, c FAILED T0+20..T0+30;
    the writer's heartbeat stops at T0+40 (it was killed), the record never ends."""
    rows = (
        packet("r1", T0, T0 + 10, "SUCCESS", subject="a")
        + packet("r1", T0 + 5, None, "", subject="b")
        + packet("r1", T0 + 20, T0 + 30, "FAILED", "ValueError: bad", subject="c")
    )
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), rows)
    write_parquet(
        table_dir(tmp_path, "etl", ("clean",), "log"),
        [log_row("r1", T0 + 10, stdout="a done", subject="a")],
    )
    record(tmp_path, "r1", heartbeat_at=iso(T0 + 40))
    return tmp_path


def summary_at(root, at: float | str) -> tuple[int, dict]:
    moment = at if isinstance(at, str) else iso(at)
    r = run("summary", str(root), "--json", "--at", moment)
    assert r.returncode != 2, r.stderr
    return r.returncode, json.loads(r.stdout)


def test_before_the_run_started_nothing_is_there(crashed):
    code, rep = summary_at(crashed, T0 - 60)
    assert code == 0
    (p,) = rep["pipelines"]
    assert p["run"] is None
    assert sum(p["counts"].values()) == 0
    assert rep["as_of"] == iso(T0 - 60)


def test_mid_run_packets_in_flight_and_the_run_live(crashed):
    code, rep = summary_at(crashed, T0 + 25)
    (p,) = rep["pipelines"]
    assert p["run"]["liveness"] == "live"
    assert "alive then" in p["run"]["reason"]  # the record's heartbeat at T0+40 says so
    assert p["counts"]["SUCCESS"] == 1 and p["counts"]["RUNNING"] == 2
    assert p["counts"]["FAILED"] == 0 and p["counts"]["LOST"] == 0
    assert code == 0


def test_after_the_crash_the_run_is_dead_and_b_lost(crashed):
    code, rep = summary_at(crashed, T0 + 3600)
    (p,) = rep["pipelines"]
    assert p["run"]["liveness"] == "dead"
    assert p["counts"] == {"RUNNING": 0, "SUCCESS": 1, "FAILED": 1, "CACHED": 0, "LOST": 1}
    assert code == 3
    (node,) = p["nodes"]
    assert [x["tags"]["subject"] for x in node["lost"]] == ["b"]


def test_record_not_yet_written_at_the_moment_is_ignored(tmp_path):
    """Events before the record's started_at: judged from events alone (no record then)."""
    write_parquet(
        table_dir(tmp_path, "etl", ("clean",)), packet("r1", T0, T0 + 1, "SUCCESS", subject="a")
    )
    record(tmp_path, "r1", started_at=iso(T0 + 100), heartbeat_at=iso(T0 + 200))
    _, rep = summary_at(tmp_path, T0 + 2)
    assert rep["pipelines"][0]["run"]["has_run_record"] is False
    _, rep = summary_at(tmp_path, T0 + 150)
    assert rep["pipelines"][0]["run"]["has_run_record"] is True


def test_record_ended_later_is_not_ended_then(crashed):
    record(
        crashed,
        "r1",
        heartbeat_at=iso(T0 + 40),
        ended_at=iso(T0 + 50),
        outcome="completed",
    )
    _, rep = summary_at(crashed, T0 + 25)
    run_ = rep["pipelines"][0]["run"]
    assert run_["ended"] is None and run_["outcome"] is None
    _, rep = summary_at(crashed, T0 + 60)
    assert rep["pipelines"][0]["run"]["outcome"] == "completed"


def test_text_output_says_historical(crashed):
    r = run("summary", str(crashed), "--at", iso(T0 + 25))
    first = r.stdout.splitlines()[0]
    assert first.startswith("HISTORICAL: the state as of 2026-11-28T"), r.stdout
    live = run("summary", str(crashed))
    assert "HISTORICAL" not in live.stdout


def test_live_summary_has_as_of_null(crashed):
    r = run("summary", str(crashed), "--json")
    assert json.loads(r.stdout)["as_of"] is None


def test_relative_moment(crashed):
    code, rep = summary_at(crashed, "-1m")  # now is long after the crash
    assert rep["pipelines"][0]["counts"]["LOST"] == 1
    assert code == 3


@pytest.mark.parametrize(
    ("moment", "says"),
    [
        ("yesterday-ish", "not an ISO-8601 moment"),
        ("-15x", "not a relative moment"),
        ("1999-01-01T00:00:00Z", "before 2000-01-01"),
        ("2999-01-01T00:00:00Z", "in the future"),
        ("", "empty moment"),
    ],
)
def test_bad_moment_one_line_exit_2(crashed, moment, says):
    r = run("summary", str(crashed), f"--at={moment}")
    assert r.returncode == 2
    assert says in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_hook_a_until_us_drops_later_rows_both_ways(crashed):
    """``Monitor(until_us=…)`` drops later status and log rows in ``_consume`` and ``apply``."""
    cut = int((T0 + 25) * 1e6)
    threaded = Monitor(crashed, until_us=cut, check_process=False)
    threaded.store.poll(consume=threaded._consume)
    applied = Monitor(crashed, until_us=cut, check_process=False)
    applied.apply(Store(crashed).poll(consume=None))
    plain = Monitor(crashed, check_process=False)
    plain.refresh()
    for m in (threaded, applied):
        (node,) = m.pipelines[("etl",)].nodes.values()
        assert node.packets.table().num_rows == 3
        assert sorted(node.packets.table().column("state").to_pylist()) == [
            int(s) for s in sorted(_states(plain, ("RUNNING", "RUNNING", "SUCCESS")))
        ]
        assert node.logs.rows == 1  # the log row at T0+10 is kept
    late = Monitor(crashed, until_us=int((T0 + 5) * 1e6), check_process=False)
    late.store.poll(consume=late._consume)
    (node,) = late.pipelines[("etl",)].nodes.values()
    assert node.logs.rows == 0  # the only log row (T0+10) is after the cut


def _states(_m: Monitor, names: tuple[str, ...]) -> list[int]:
    from orcatui.model.states import State

    return [int(State[n]) for n in names]
