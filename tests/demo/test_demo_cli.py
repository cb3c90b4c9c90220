"""``orcatui demo --no-ui`` as a user runs it: real child processes, real files, read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from orcatui.model.monitor import Monitor, NodeKey, RunInfo
from orcatui.model.runs import Liveness
from orcatui.model.views import View

PIPELINE = ("imaging-study",)
NODES = {
    "load": ("load", "v1"),
    "clean": ("clean", "v2"),
    "features": ("features", "v1"),
    "qc": ("qc", "v1"),
    "report": ("report", "v1"),
}


def orcatui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def demo(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    r = orcatui("demo", str(root), "--no-ui", "--speed", "50", *extra)
    assert r.returncode == 0, r.stderr
    # Run as ``python -m orcatui``, the reopen line names that same command.
    assert f"reopen with: {sys.executable} -m orcatui watch {root}" in r.stdout
    return r


@pytest.fixture(scope="module")
def parquet_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "parquet"
    demo(root)
    return root


def load(root: Path) -> tuple[Monitor, list[RunInfo]]:
    monitor = Monitor(root)
    monitor.refresh()
    assert list(monitor.pipelines) == [PIPELINE]
    runs = sorted(monitor.run_infos(PIPELINE), key=lambda r: r.started or 0.0)
    return monitor, runs


def rows(monitor: Monitor, node: str, run_id: str, state: str) -> list[dict]:
    key: NodeKey = (PIPELINE, NODES[node])
    table = monitor.packet_rows(key, View(run_id))
    return table.filter(pc.equal(table.column("state"), state)).to_pylist()


def check_three_runs(root: Path) -> None:
    monitor, runs = load(root)
    assert len(runs) == 3
    first, second, third = runs
    assert {n[0] for n in monitor.pipelines[PIPELINE].nodes} == set(NODES)

    # run 1: ended, with FAILED packets carrying real tracebacks and captured output
    assert first.verdict.liveness is Liveness.ENDED
    assert first.counts["FAILED"] >= 3 and first.counts["SUCCESS"] > 150
    assert first.counts["LOST"] == first.counts["RUNNING"] == 0
    (bad,) = rows(monitor, "clean", first.run_id, "FAILED")
    assert (bad["subject"], bad["session"]) == ("sub-07", "ses-3")
    log = monitor.details((PIPELINE, NODES["clean"]), bad).log
    assert log is not None and log.success is False
    assert log.traceback is not None
    assert "Traceback (most recent call last)" in log.traceback
    assert "_parse_field" in log.traceback and "_read_header" in log.traceback
    (qc_bad,) = rows(monitor, "qc", first.run_id, "FAILED")
    assert len(qc_bad["error"].splitlines()) > 1  # the multi-line message
    ok = rows(monitor, "clean", first.run_id, "SUCCESS")
    logs = [monitor.details((PIPELINE, NODES["clean"]), r).log for r in ok]
    assert all(lg is not None and "motion correction" in (lg.stdout or "") for lg in logs)
    assert all("denoised with" in (lg.python_logs or "") for lg in logs if lg)
    assert any("NaN" in (lg.stderr or "") for lg in logs if lg)
    # a failed packet goes no further downstream
    downstream = rows(monitor, "features", first.run_id, "SUCCESS")
    assert ("sub-07", "ses-3") not in {(r["subject"], r["session"]) for r in downstream}

    # run 2: the cache; what failed in run 1 ran again
    assert second.verdict.liveness is Liveness.ENDED
    assert second.counts["CACHED"] > 150
    assert second.counts["SUCCESS"] > 0 and second.counts["FAILED"] >= 3
    cached = rows(monitor, "clean", second.run_id, "CACHED")
    assert monitor.details((PIPELINE, NODES["clean"]), cached[0]).log is None

    # run 3: SIGKILLed partway — LOST packets, with a reason, the run record still open
    assert third.verdict.liveness is Liveness.DEAD
    assert third.ended is None and third.has_record
    assert "process gone" in third.verdict.reason
    assert third.counts["LOST"] >= 1 and third.counts["RUNNING"] == 0
    lost = rows(monitor, "features", third.run_id, "LOST")
    assert lost and all("process gone" in (r["lost_reason"] or "") for r in lost)

    # the summary's default view is the newest run: LOST → exit 3
    r = orcatui("summary", str(root))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "LOST" in r.stdout and r.stderr == ""


def test_demo_writes_three_runs_parquet(parquet_demo: Path) -> None:
    check_three_runs(parquet_demo)
    assert not list(parquet_demo.rglob("_delta_log"))


def test_demo_writes_three_runs_delta(tmp_path: Path) -> None:
    demo(tmp_path / "d", "--sink", "delta")
    check_three_runs(tmp_path / "d")
    assert list((tmp_path / "d").rglob("_delta_log"))


def test_demo_summary_json_run_3_is_dead(parquet_demo: Path) -> None:
    r = orcatui("summary", str(parquet_demo), "--json")
    assert r.returncode == 3
    (p,) = json.loads(r.stdout)["pipelines"]
    assert p["run"]["liveness"] == "dead" and p["run"]["certainty"] == "certain"
    assert p["run"]["outcome"] is None


def test_demo_again_in_an_earlier_demo_dir_starts_afresh(tmp_path: Path) -> None:
    # what an earlier demo leaves: its marker directory and the pipeline's directory
    (tmp_path / ".orcatui-demo").mkdir()
    (tmp_path / ".orcatui-demo" / "demo.json").write_text("{}")
    old_run = tmp_path / "imaging-study" / "_runs" / "0123456789abcdef.json"
    old_run.parent.mkdir(parents=True)
    old_run.write_text("{}")
    demo(tmp_path)
    assert not old_run.exists()
    _, runs = load(tmp_path)
    assert len(runs) == 3


def test_demo_refuses_a_non_empty_dir_and_keeps_its_files(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("user data")
    r = orcatui("demo", str(tmp_path), "--no-ui", "--speed", "50")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not empty" in r.stderr
    assert "Traceback" not in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["precious.txt"]


def test_demo_refuses_a_stray_file_in_an_earlier_demo_dir(tmp_path: Path) -> None:
    (tmp_path / ".orcatui-demo").mkdir()
    (tmp_path / ".orcatui-demo" / "demo.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    r = orcatui("demo", str(tmp_path), "--no-ui", "--speed", "50")
    assert r.returncode == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_demo_unusable_dir_is_one_line_exit_2(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    target = blocker if where == "file" else blocker / "sub"
    r = orcatui("demo", str(target), "--no-ui")
    assert r.returncode == 2
    assert r.stderr.startswith("orcatui: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_demo_unwritable_dir_is_one_line_exit_2(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        r = orcatui("demo", str(locked), "--no-ui")
    finally:
        locked.chmod(0o755)
    assert r.returncode == 2
    assert r.stderr.startswith("orcatui: ") and r.stderr.count("\n") == 1
