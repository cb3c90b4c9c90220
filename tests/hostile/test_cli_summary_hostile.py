"""``orcatui summary`` over hostile data, as a user runs it (real files, a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
from support.events import T0, packet, write_status

from orcatui.model.durations import format_age, format_duration
from orcatui.model.views import display_rows
from orcatui.text import inert

BIDI = "\u202e\u2066\u200f\u061c"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def test_bidi_and_escapes_never_reach_the_summary(tmp_path):
    rows = packet(
        "r1\u202e",
        T0,
        T0 + 1,
        "FAILED",
        error=f"boom{BIDI}\x1b[2J gnp.exe\nsecond line",
        uri=f"lab{BIDI}/etl@0123",
        subject=f"a{BIDI}\x1b]52;c;ZXZpbA==\x07b",
    )
    rows += packet("r1\u202e", T0, None, "", subject="c\u202e")
    write_status(tmp_path, (), (f"fn{BIDI}\x1b[31m",), rows)
    write_status(tmp_path, f"p{BIDI}", (f"fn{BIDI}",), rows)
    for extra in ([], ["--all-runs"], ["--stale-after", "1s"]):
        r = run("summary", str(tmp_path), *extra)
        for ch in [*BIDI, "\x1b", "\x07"]:
            assert ch not in r.stdout and ch not in r.stderr, (extra, repr(ch))
        assert "boom" in r.stdout and "Traceback" not in r.stderr


def test_all_runs_with_all_null_tags(tmp_path):
    """Issue 8 item 9: every tag null made the all-runs key array shorter than the table."""
    rows = packet("r1", T0, T0 + 1, "FAILED", error="x", subject=None, day=None)
    rows += packet("r2", T0 + 5, T0 + 6, "SUCCESS", subject=None, day=None)
    rows += packet("r2", T0 + 5, T0 + 6, "SUCCESS", subject="s", day=None)
    write_status(tmp_path, "etl", ("fn",), rows)
    r = run("summary", str(tmp_path), "--all-runs", "--json")
    assert r.returncode == 0, r.stderr
    counts = json.loads(r.stdout)["pipelines"][0]["counts"]
    assert counts["SUCCESS"] == 2 and counts["FAILED"] == 0  # r2 is the latest for the null tags


def test_help_documents_exit_code_4():
    r = run("summary", "--help")
    assert r.returncode == 0
    assert "4  some data could not be read" in r.stdout
    assert "3  LOST" in r.stdout and r.stdout.index("3  LOST") < r.stdout.index("4  some")


def test_json_compact_by_default_and_pretty_on_request(tmp_path):
    write_status(tmp_path, "etl", ("fn",), packet("r1", T0, T0 + 1, "SUCCESS", subject="a"))
    compact = run("summary", str(tmp_path), "--json")
    pretty = run("summary", str(tmp_path), "--json", "--pretty")
    assert compact.stdout.count("\n") == 1 and pretty.stdout.count("\n") > 10
    assert json.loads(compact.stdout) | {"generated_at": 0} == json.loads(pretty.stdout) | {
        "generated_at": 0
    }
    bad = run("summary", str(tmp_path), "--pretty")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_lost_wins_over_unreadable_which_wins_over_failed(tmp_path):
    write_status(tmp_path, "etl", ("fn",), packet("r1", T0, T0 + 1, "FAILED", subject="a"))
    bad = tmp_path / "etl" / "_status" / "bad" / "execution_status"
    bad.mkdir(parents=True)
    (bad / "x.parquet").write_bytes(b"not parquet at all")
    os.utime(bad / "x.parquet", (T0, T0))
    assert run("summary", str(tmp_path)).returncode == 4
    write_status(tmp_path, "etl", ("fn",), packet("r1", T0, None, "", subject="b"))
    assert run("summary", str(tmp_path), "--stale-after", "1s").returncode == 3


def test_display_rows_survive_any_int64_timestamp():
    """Issue 8 item 11 (model side): year-1 and far-future µs, no float64 cast error, no
    negative or absurd durations."""
    lo, hi = -62135596800 * 10**6, 2**62
    packets = pa.table(
        {
            "key": ["a", "b", "c", "d"],
            "run_id": ["r"] * 4,
            "ts": pa.array([lo, hi, int(T0 * 1e6), int(T0 * 1e6)], pa.int64()),
            "prio": pa.array([1, 1, 1, 0], pa.int8()),
            "id": [b""] * 4,
            "state": pa.array([1, 1, 1, 0], pa.int8()),
            "running_ts": pa.array([lo, lo, int(T0 * 1e6) + 5_000_000, hi], pa.int64()),
            "error": pa.array([None] * 4, pa.string()),
        }
    )
    rows = display_rows(packets, {}, now=T0).to_pylist()
    durations = [r["duration_s"] for r in rows]
    assert durations[0] == 0.0  # same instant
    assert durations[1] is None  # far beyond ten years: unknown, not a 100-digit figure
    assert durations[2] == 0.0  # finished "before" it started: clamped
    assert durations[3] == 0.0  # started in the future
    assert format_duration(1e300) == ">9999d" and format_age(float("nan")) == "?"
    assert inert("x\u202ey") == "xy"
