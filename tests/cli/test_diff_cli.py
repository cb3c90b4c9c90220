"""``orcatui summary --diff`` and run-id prefixes as a user runs them (real processes, files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.events import T0, packet, write_status

FIXTURES = Path(__file__).parents[1] / "fixtures"
THREE = FIXTURES / "app" / "three_runs"
R1, R2, R3 = "0193d1a5e0000001", "0193d1a5e0000002", "0193d1a5e0000003"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def two_runs(root: Path, second: str = "FAILED") -> Path:
    """r1: a SUCCESS, b FAILED, c SUCCESS (1 s); r2: a ``second``, b SUCCESS, c 5 s, d new."""
    r1, r2 = T0, T0 + 1000
    rows = [
        *packet("nightly-01", r1, r1 + 1, "SUCCESS", subject="a"),
        *packet("nightly-01", r1, r1 + 1, "FAILED", "ValueError: old b", subject="b"),
        *packet("nightly-01", r1, r1 + 1, "SUCCESS", subject="c"),
        *packet("nightly-02", r2, r2 + 1, second, "ValueError: bad a\nmore", subject="a"),
        *packet("nightly-02", r2, r2 + 1, "SUCCESS", subject="b"),
        *packet("nightly-02", r2, r2 + 5, "SUCCESS", subject="c"),
        *packet("nightly-02", r2, r2 + 1, "SUCCESS", subject="d"),
    ]
    write_status(root, "etl", ("clean", "v0"), rows)
    return root


def test_default_pair_text_and_exit_1_on_regression(tmp_path):
    r = run("summary", str(two_runs(tmp_path)), "--diff")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "pipeline etl"
    assert (
        lines[1]
        == "  diff nightly-01 → nightly-02: 1 regressed, 1 fixed, 1 new, 0 missing, 1 slower"
    )
    assert "        subject=a  SUCCESS → FAILED  ValueError: bad a…" in lines
    assert "        subject=b  FAILED → SUCCESS" in lines
    assert "        subject=d  SUCCESS" in lines
    assert "        subject=c  1.0 s → 5.0 s" in lines
    assert r.stderr == ""


def test_json_shape_per_pipeline(tmp_path):
    r = run("summary", str(two_runs(tmp_path)), "--diff", "nightly-01", "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    (p,) = data["pipelines"]
    assert p["run"]["run_id"] == "nightly-02"  # the entry describes TO
    d = p["diff"]
    assert set(d) == {"from", "to", "nodes"}
    assert (d["from"], d["to"]) == ("nightly-01", "nightly-02")
    (node,) = d["nodes"]
    assert set(node) == {"name", "identity", "regressed", "fixed", "new", "missing", "slower"}
    assert node["name"] == "clean" and node["identity"] == ["clean", "v0"]
    assert node["regressed"] == [
        {
            "tags": {"subject": "a"},
            "from": "SUCCESS",
            "to": "FAILED",
            "error": "ValueError: bad a\nmore",
        }
    ]
    assert node["fixed"] == [{"tags": {"subject": "b"}, "from": "FAILED", "to": "SUCCESS"}]
    assert node["new"] == [{"tags": {"subject": "d"}, "state": "SUCCESS"}]
    assert node["missing"] == []
    assert node["slower"] == [{"tags": {"subject": "c"}, "from_s": 1.0, "to_s": 5.0}]


def test_no_regression_exit_0_and_cached_counts_as_success(tmp_path):
    r = run("summary", str(two_runs(tmp_path, second="CACHED")), "--diff", "--json")
    assert r.returncode == 0, r.stderr
    node = json.loads(r.stdout)["pipelines"][0]["diff"]["nodes"][0]
    assert node["regressed"] == [] and len(node["fixed"]) == 1


def test_unreadable_data_without_regression_exit_4(tmp_path):
    two_runs(tmp_path, second="SUCCESS")
    bad = tmp_path / "etl" / "_status" / "bad" / "execution_status"
    bad.mkdir(parents=True)
    (bad / "x.parquet").write_bytes(b"garbage")
    os.utime(bad / "x.parquet", (T0, T0))
    r = run("summary", str(tmp_path), "--diff")
    assert r.returncode == 4, r.stderr
    assert "warning:" in r.stdout and "x.parquet" in r.stdout


def test_regression_beats_unreadable_data(tmp_path):
    two_runs(tmp_path)
    bad = tmp_path / "etl" / "_status" / "bad" / "execution_status"
    bad.mkdir(parents=True)
    (bad / "x.parquet").write_bytes(b"garbage")
    os.utime(bad / "x.parquet", (T0, T0))
    assert run("summary", str(tmp_path), "--diff", "--json").returncode == 1


def test_lost_counts_as_failure_on_the_fixture():
    r = run("summary", str(THREE), "--diff", R2[:-1] + "2", "--json")
    assert r.returncode == 1, r.stderr
    node = next(n for n in json.loads(r.stdout)["pipelines"][0]["diff"]["nodes"] if n["regressed"])
    assert {x["to"] for x in node["regressed"]} == {"LOST"}
    assert all(x["error"] for x in node["regressed"])  # LOST: why the run is not live


def test_prefixes_unique_ambiguous_unknown():
    ok = run("summary", str(THREE), "--diff", "0193d1a5e0000001", "0193d1a5e0000002")
    assert ok.returncode == 0, ok.stderr
    assert "diff 0193d1a5e0000001 → 0193d1a5e0000002: 0 regressed, 2 fixed" in ok.stdout
    amb = run("summary", str(THREE), "--diff", "0193")
    assert amb.returncode == 2
    assert amb.stderr.strip() == (f"orcatui: '0193' matches 3 runs: {R3}, {R2}, {R1}")
    unknown = run("summary", str(THREE), "--diff", "zz")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.count("\n") == 1 and f"(runs: {R3}, {R2}, {R1})" in unknown.stderr
    same = run("summary", str(THREE), "--diff", R1, R1)
    assert same.returncode == 2 and "same run" in same.stderr
    many = run("summary", str(THREE), "--diff", R1, R2, R3)
    assert many.returncode == 2 and "at most two" in many.stderr


def test_run_option_takes_a_unique_prefix(tmp_path):
    two_runs(tmp_path)
    r = run("summary", str(tmp_path), "--run", "nightly-01", "--json")
    assert json.loads(r.stdout)["pipelines"][0]["run"]["run_id"] == "nightly-01"
    r = run("summary", str(tmp_path), "--run", "nightly-0", "--json")
    assert r.returncode == 2 and "'nightly-0' matches 2 runs: nightly-02, nightly-01" in r.stderr
    r = run("summary", str(tmp_path), "--run", "nightly-01"[:-1] + "1", "--json")
    assert r.returncode == 1  # run 1 has a FAILED packet
    r = run("summary", str(THREE), "--run", "0193d1a5e0000002"[:16], "--json")
    assert json.loads(r.stdout)["pipelines"][0]["run"]["run_id"] == R2


def test_unique_prefix_names_the_run(tmp_path):
    two_runs(tmp_path)
    write_status(
        tmp_path,
        "etl",
        ("clean", "v0"),
        packet("other-9", T0 + 5000, T0 + 5001, "SUCCESS", subject="a"),
    )
    r = run("summary", str(tmp_path), "--run", "oth", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pipelines"][0]["run"]["run_id"] == "other-9"
    r = run("summary", str(tmp_path), "--diff", "nightly-01", "oth", "--json")
    assert json.loads(r.stdout)["pipelines"][0]["diff"]["to"] == "other-9"


def test_without_diff_the_entry_has_null_diff():
    r = run("summary", str(THREE), "--json")
    assert all(p["diff"] is None for p in json.loads(r.stdout)["pipelines"])


def test_one_run_only_gives_null_diff(tmp_path):
    write_status(tmp_path, "etl", ("clean",), packet("only", T0, T0 + 1, "SUCCESS", subject="a"))
    r = run("summary", str(tmp_path), "--diff", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pipelines"][0]["diff"] is None
    text = run("summary", str(tmp_path), "--diff")
    assert "nothing to compare" in text.stdout


def test_diff_conflicts_with_run(tmp_path):
    r = run("summary", str(THREE), "--diff", "--run", R1)
    assert r.returncode == 2 and "not allowed with" in r.stderr
