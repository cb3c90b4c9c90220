"""``orcatui summary`` as a user runs it: a real subprocess, real files, exit codes, JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.events import T0, packet, write_status

SAMPLES = Path(__file__).parents[1] / "fixtures" / "orcapod"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_failures_sample_exit_1_and_lists_failed_packets():
    args = ("summary", str(SAMPLES / "failures"), "--job", str(SAMPLES / "failures.job.json"))
    grouped = run(*args)
    assert grouped.returncode == 1, grouped.stderr
    assert "FAILED 3 ×" in grouped.stdout  # by default: one line per error group
    assert grouped.stdout.count("FAILED score subject_id=") == 0
    r = run(*args, "--all-failed")
    assert r.returncode == 1, r.stderr
    assert "pipeline failures_pipeline" in r.stdout
    assert r.stdout.count("FAILED score subject_id=") == 3
    assert "z_value 40.512 is outside the allowed range [-5.0, 5.0]" in r.stdout
    assert "\x1b[" not in r.stdout  # not a TTY: plain text
    assert r.stderr == ""


def test_ok_sample_exit_0():
    r = run("summary", str(SAMPLES / "ok"))
    assert r.returncode == 0, r.stderr
    assert "total" in r.stdout


def test_json_shape(tmp_path):
    r = run(
        "summary",
        str(SAMPLES / "multi_tag"),
        "--json",
        "--job",
        str(SAMPLES / "multi_tag.job.json"),
    )
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert set(data) >= {"pipelines", "errors"}
    (p,) = data["pipelines"]
    assert p["name"] == ["lab_a", "multi_tag_pipeline"]
    assert p["run"]["liveness"] == "over"
    node = next(n for n in p["nodes"] if n["failed"])
    assert set(node) >= {"name", "label", "identity", "counts", "failed", "lost"}
    assert set(node["counts"]) == {"SUCCESS", "CACHED", "FAILED", "RUNNING", "LOST"}
    (failed,) = node["failed"]
    assert failed["tags"] == {"subject_id": "患者 7", "session": "2"}
    assert failed["error"].startswith("séance corrompue")


def test_lost_packets_exit_3_and_say_why(tmp_path):
    rows = packet("r1", T0, T0 + 1, "FAILED", error="boom", subject="a")
    rows += packet("r1", T0, None, "", subject="b")
    write_status(tmp_path, "etl", ("clean",), rows)
    r = run("summary", str(tmp_path))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "LOST" in r.stdout and "subject=b" in r.stdout and "no event for" in r.stdout
    data = json.loads(run("summary", str(tmp_path), "--json").stdout)
    (lost,) = data["pipelines"][0]["nodes"][0]["lost"]
    assert lost["tags"] == {"subject": "b"} and "no event for" in lost["reason"]


def test_a_run_that_can_write_no_more_shows_its_verdict_once_and_no_eta(tmp_path):
    """The run line says ``ended (interrupted)``, not ``ended (run ended (interrupted))``, and
    a run that is over has no rate or ETA (as the app's header); a live run keeps both."""
    import time

    from support.builders import write_run_record
    from support.events import iso

    rows = packet("r1", T0, T0 + 1, "SUCCESS", subject="a")
    rows += packet("r1", T0 + 1, T0 + 2, "SUCCESS", subject="b")
    write_status(tmp_path, "etl", ("clean",), rows)
    record = {
        "run_id": "r1",
        "pipeline_uri": "etl@0123",
        "host": "elsewhere",
        "pid": 1,
        "started_at": iso(T0),
        "heartbeat_at": iso(T0 + 2),
        "heartbeat_interval_s": 5,
        "ended_at": iso(T0 + 3),
        "outcome": "interrupted",
        "nodes": {},
    }
    write_run_record(tmp_path, ["etl"], record)
    r = run("summary", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "run r1: ended (interrupted), started " in r.stdout
    assert "run ended" not in r.stdout
    progress = next(line for line in r.stdout.splitlines() if "progress" in line)
    assert progress.strip() == "progress 2/?"
    # the JSON keeps the model's reason and the progress figures as they are
    data = json.loads(run("summary", str(tmp_path), "--json").stdout)
    p = data["pipelines"][0]
    assert p["run"]["reason"] == "run ended (interrupted)" and p["progress"]["done"] == 2

    now = time.time()  # a run still writing: rate and ETA stay
    live = tmp_path / "live"
    write_status(live, "etl", ("clean",), packet("r2", now - 5, now - 4, "SUCCESS", subject="a"))
    r = run("summary", str(live))
    assert "run r2: live (" in r.stdout and "· ETA ?" in r.stdout


def test_stale_after_keeps_a_recent_run_live(tmp_path):
    import time

    now = time.time()
    write_status(tmp_path, "etl", ("clean",), packet("r1", now - 5, None, "", subject="b"))
    r = run("summary", str(tmp_path), "--stale-after", "1h", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["pipelines"][0]["counts"]["RUNNING"] == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such directory"),
        (lambda p: (p / "f").write_text("x") and p / "f", "not a directory"),
        (lambda p: p, "no status tables found"),
    ],
)
def test_bad_roots_one_line_exit_2(tmp_path, make, message):
    root = make(tmp_path)
    r = run("summary", str(root))
    assert r.returncode == 2
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_bad_options_exit_2():
    for args in (["summary"], ["summary", ".", "--stale-after", "soon"], ["bogus"]):
        r = run(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip()
    r = run("summary", str(SAMPLES / "ok"), "--run", "nope")
    assert r.returncode == 2 and "no run 'nope'" in r.stderr
    r = run("summary", str(SAMPLES / "ok"), "--job", "/nonexistent.json")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_corrupt_table_is_named_and_the_rest_summarised(tmp_path):
    write_status(tmp_path, "etl", ("good",), packet("r1", T0, T0 + 1, "SUCCESS", subject="a"))
    bad = tmp_path / "etl" / "_status" / "bad" / "execution_status"
    bad.mkdir(parents=True)
    (bad / "x.parquet").write_bytes(b"garbage")
    os.utime(bad / "x.parquet", (T0, T0))
    r = run("summary", str(tmp_path), "--json")
    assert r.returncode == 4, r.stderr  # some data could not be read (issue 8 item 6)
    data = json.loads(r.stdout)
    assert any("x.parquet" in e for e in data["errors"])
    assert data["pipelines"][0]["counts"]["SUCCESS"] == 1
    text = run("summary", str(tmp_path))
    assert text.returncode == 4
    assert "warning:" in text.stdout and "x.parquet" in text.stdout


def test_hostile_text_is_printed_inert(tmp_path):
    rows = packet(
        "r1", T0, T0 + 1, "FAILED", error="\x1b]52;c;ZXZpbA==\x07\x1b[2Jboom", subject="\x1b[31mred"
    )
    write_status(tmp_path, "etl", ("clean",), rows)
    r = run("summary", str(tmp_path))
    assert r.returncode == 1
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "boom" in r.stdout


def test_summary_never_imports_textual():
    code = (
        "import sys; from orcatui.cli import main; "
        f"rc = main(['summary', {str(SAMPLES / 'ok')!r}]); "
        "assert 'textual' not in sys.modules, 'textual imported'; sys.exit(rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _run_in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as stdout; return what it printed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orcatui", *args],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color():
    args = ["summary", str(SAMPLES / "failures")]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _run_in_pty(args, {**env, "NO_COLOR": ""})
    assert "\x1b[31;1m" in coloured and "FAILED" in coloured
    plain = _run_in_pty(args, {"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "FAILED" in plain
