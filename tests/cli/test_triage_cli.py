"""Issue 10 through the real commands: ``summary`` text and JSON (progress, error groups, slow
packets) on stores written by real observer processes, and ``orcatui wait`` (live → ended,
live → SIGKILL, timeout, TTY progress)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orcatui import exitcodes
from orcatui.model.monitor import Monitor

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}

#: A pipeline with two nodes: "load" fails with one error family (paths and numbers vary),
#: "fit" with another exception; "clean" declares 10 packets. ``hold`` keeps one "clean"
#: packet RUNNING until a line arrives on stdin.
WRITER = textwrap.dedent(
    """
    import sys
    import observers

    root, mode, n_fail = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with observers.run(root, "etl", flush_interval=0.02, heartbeat_interval=0.1) as run:
        with run.node("load") as node:
            for i in range(n_fail):
                with node.packet(subject=f"s{i}", suppress=True):
                    raise FileNotFoundError(f"No such file or directory: '/data/run{i}/x{i}.csv'")
        with run.node("fit") as node:
            for i in range(2):
                with node.packet(subject=f"s{i}", suppress=True):
                    raise ValueError(f"value {i * 7 + 3} out of range")
        with run.node("clean", total=10) as node:
            for i in range(6):
                with node.packet(subject=f"s{i}"):
                    pass
            if mode == "hold":
                held = node.packet(subject="held")
                held.__enter__()
                print("ready", flush=True)
                sys.stdin.readline()
                held.__exit__(None, None, None)
    """
)


def orcatui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real ``orcatui`` process."""
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        cwd=REPO,
    )


def start_writer(root: Path, mode: str, n_fail: int = 5) -> subprocess.Popen[str]:
    """A real writer process; with ``hold`` it returns once the held packet is RUNNING."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), mode, str(n_fail)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    if mode == "hold":
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for _ in range(400):
            m = Monitor(root)
            m.refresh()
            if any(p.counts["RUNNING"] for p in m.snapshot().pipelines):
                break
            time.sleep(0.025)
        else:
            raise AssertionError("the RUNNING event never reached the disk")
    else:
        assert proc.wait(timeout=60) == 0
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill and reap a writer (no-op when it has ended)."""
    proc.kill()
    proc.wait()


def summary_json(root: Path, *extra: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
    r = orcatui("summary", str(root), "--json", *extra)
    return json.loads(r.stdout), r


def node_of(report: dict, name: str) -> dict:
    (p,) = report["pipelines"]
    return next(n for n in p["nodes"] if n["name"] == name)


def test_summary_groups_errors_and_declared_progress(tmp_path):
    writer = start_writer(tmp_path, "hold")
    try:
        report, r = summary_json(tmp_path)
        assert r.returncode == exitcodes.FAILED, r.stderr
        (p,) = report["pipelines"]
        groups = p["error_groups"]
        # five FileNotFoundErrors with different paths and numbers: one group; the
        # ValueErrors (another message): another group; largest first
        assert [g["count"] for g in groups] == [5, 2]
        assert groups[0]["nodes"] == {"load": 5}
        assert groups[0]["exception"] == "FileNotFoundError"
        assert "<path>" in groups[0]["message"] or "<str>" in groups[0]["message"]
        assert groups[1]["exception"] == "ValueError" and groups[1]["nodes"] == {"fit": 2}
        assert groups[1]["message"] == "value <num> out of range"
        assert {e["node"] for e in groups[0]["examples"]} == {"load"}
        assert len(groups[0]["examples"]) == 3 and groups[0]["first_seen"] is not None
        # the per-node failed lists stay
        assert len(node_of(report, "load")["failed"]) == 5
        clean = node_of(report, "clean")["progress"]
        assert clean["done"] == 6 and clean["expected"] == 10
        assert clean["expected_from"] == "declared"
        assert clean["rate_per_min"] == 6.0
        # 4 left, 1 running, durations known: an ETA range, low <= high
        low, high = clean["eta_s"]
        assert 0 <= low <= high
        # the run's progress: every node's expected is not known ("load" and "fit" declared none)
        assert p["progress"]["done"] == 13 and p["progress"]["expected"] is None
        assert p["progress"]["eta_s"] is None
        assert node_of(report, "load")["progress"]["expected"] is None

        text = orcatui("summary", str(tmp_path))
        assert text.returncode == exitcodes.FAILED
        assert "FAILED 5 × FileNotFoundError: " in text.stdout
        assert "[load ×5]" in text.stdout
        assert "FAILED 2 × ValueError: value <num> out of range" in text.stdout
        assert "subject=s3" not in text.stdout  # no line per packet
        assert "progress 13/? · 13/min · ETA ?" in text.stdout

        long = orcatui("summary", str(tmp_path), "--all-failed")
        assert long.stdout.count("FAILED load subject=") == 5
        assert long.stdout.count("FAILED fit subject=") == 2
        assert " × " not in long.stdout
    finally:
        stop(writer)


def test_previous_run_gives_expected_and_eta(tmp_path):
    start_writer(tmp_path, "quick", n_fail=1)  # an earlier run that ended: 6 clean packets
    writer = start_writer(tmp_path, "hold", n_fail=1)
    try:
        report, _ = summary_json(tmp_path)
        (p,) = report["pipelines"]
        load = node_of(report, "load")["progress"]
        assert load == {**load, "done": 1, "expected": 1, "expected_from": "previous run"}
        assert load["eta_s"] == [0.0, 0.0]  # all done, nothing running
        # "clean" declared 10 in this run: a declaration beats the previous run's 6
        assert node_of(report, "clean")["progress"]["expected_from"] == "declared"
        assert p["progress"]["expected"] == 1 + 2 + 10
    finally:
        stop(writer)


def test_no_eta_without_a_previous_run_or_declaration(tmp_path):
    start_writer(tmp_path, "quick", n_fail=1)
    report, _ = summary_json(tmp_path)
    load = node_of(report, "load")["progress"]
    assert load["expected"] is None and load["expected_from"] is None and load["eta_s"] is None


def test_slow_packet_flagged_in_json_and_text(tmp_path):
    writer = start_writer(tmp_path, "hold")
    try:
        time.sleep(1.6)  # the six peers took ~0 s: the bound is their median + 1 s
        report, _ = summary_json(tmp_path)
        (slow,) = node_of(report, "clean")["slow"]
        assert slow["tags"] == {"subject": "held"}
        assert slow["running_for_s"] > slow["bound_s"] >= slow["typical_s"] + 1.0
        assert node_of(report, "load")["slow"] == []  # no peers completed successfully…
        text = orcatui("summary", str(tmp_path)).stdout
        assert "SLOW   clean subject=held: running " in text
    finally:
        stop(writer)


def test_no_slow_flag_without_enough_peers(tmp_path):
    """Fewer than MIN_PEERS (5) completed packets: nothing is flagged, however long."""
    script = WRITER.replace("range(6)", "range(3)")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "few"), "hold", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(1.6)
        report, _ = summary_json(tmp_path / "few")
        clean = node_of(report, "clean")
        assert clean["counts"]["RUNNING"] == 1 and clean["slow"] == []
    finally:
        stop(proc)


def test_wait_live_then_ended(tmp_path):
    writer = start_writer(tmp_path, "hold")
    try:
        waiter = subprocess.Popen(
            [sys.executable, "-m", "orcatui", "wait", str(tmp_path), "--timeout", "2m"],
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting while the run is live
        writer.communicate("go\n", timeout=30)
        assert waiter.wait(timeout=60) == exitcodes.FAILED
        assert waiter.stderr is not None
        err = waiter.stderr.read()
        assert err == "orcatui wait: all runs over: FAILED packets present\n"  # not a TTY
    finally:
        stop(writer)


def test_wait_live_then_sigkill_is_lost(tmp_path):
    writer = start_writer(tmp_path, "hold")
    try:
        waiter = subprocess.Popen(
            [sys.executable, "-m", "orcatui", "wait", str(tmp_path), "--timeout", "2m"],
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        time.sleep(1.0)
        assert waiter.poll() is None
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert waiter.wait(timeout=60) == exitcodes.LOST
    finally:
        stop(writer)


def test_wait_timeout_and_tty_progress(tmp_path):
    writer = start_writer(tmp_path, "hold")
    master, slave = pty.openpty()
    try:
        waiter = subprocess.Popen(
            [sys.executable, "-m", "orcatui", "wait", str(tmp_path), "--timeout", "1.5s"],
            stderr=slave,
            stdout=subprocess.DEVNULL,
            env=ENV,
        )
        os.close(slave)
        assert waiter.wait(timeout=60) == exitcodes.TIMEOUT
        out = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        text = out.decode()
        assert "\r\x1b[2K" in text  # redrawn in place
        assert "1 live" in text and "running" in text
        assert text.rstrip().endswith("orcatui wait: timed out while a run was still live")
    finally:
        os.close(master)
        stop(writer)


def test_wait_ended_root_exits_at_once_and_bad_input(tmp_path):
    start_writer(tmp_path, "quick", n_fail=0)
    r = orcatui("wait", str(tmp_path), "--timeout", "30s")
    assert r.returncode == exitcodes.FAILED  # "fit" failed twice
    bad = orcatui("wait", str(tmp_path), "--timeout", "soon")
    assert bad.returncode == exitcodes.USAGE and "not a duration" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = orcatui("wait", str(tmp_path / "nope"))
    assert missing.returncode == exitcodes.USAGE and missing.stderr.count("\n") == 1


def test_wait_empty_root_times_out(tmp_path):
    r = orcatui("wait", str(tmp_path), "--timeout", "0.5s")
    assert r.returncode == exitcodes.TIMEOUT
