"""Regenerate the app's hand-built fixtures (deterministic): ``python tests/app/make_fixtures.py``.

- ``tests/fixtures/app/crashed``: a run whose process died (run record with ``ended_at`` null and
  an old heartbeat) — 6 SUCCESS, 1 FAILED, 5 packets left in RUNNING (LOST).
- ``tests/fixtures/app/hostile``: tag, error, stdout text with markup-like brackets, ANSI colour,
  OSC/cursor/clear escapes, and a 1 MB line.
- ``tests/fixtures/app/three_runs``: three runs of one pipeline (two nodes, load and score), each
  with a run record on host ``build-host-7`` (never this host, so no process check): run 1 ended
  (outcome failed) with 2 FAILED scores, run 2 ended (completed) with cache hits and the two
  failures recomputed, run 3 open with a heartbeat stopped 35 minutes ago (dead) and 3 scores left
  in RUNNING (LOST).

``python tests/app/make_fixtures.py [name …]`` rebuilds only the named fixtures.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*

from support.builders import (
    IDENTITY,
    iso,
    log_dir,
    status_dir,
    write_logs,
    write_run_record,
    write_status,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "app"
#: The clock every app test uses (2026-11-28T16:40:00Z).
CLOCK = 1795884000.0
T0 = CLOCK - 3600  # the crashed run started an hour before


def make_crashed(root: Path) -> None:
    """A crashed run: LOST packets, with a run record whose heartbeat stopped 50 minutes ago."""
    pipeline = ("crash_pipeline",)
    run = "0193c0ffee000001"
    events = []
    for i in range(12):
        sid = f"sub-{i + 1:02d}"
        t = T0 + 10 + i * 5
        events.append({"run": run, "state": "RUNNING", "ts": t, "subject_id": sid})
        if i < 6:
            events.append({"run": run, "state": "SUCCESS", "ts": t + 2.5, "subject_id": sid})
        elif i == 6:
            events.append(
                {
                    "run": run,
                    "state": "FAILED",
                    "ts": t + 1,
                    "subject_id": sid,
                    "error": "division by zero",
                }
            )
    write_status(status_dir(root, pipeline, IDENTITY), events)
    write_logs(
        log_dir(root, pipeline, IDENTITY),
        [
            {
                "run": run,
                "ts": T0 + 41,
                "subject_id": "sub-07",
                "stdout": "step 1\n",
                "traceback": 'Traceback (most recent call last):\n  File "job.py", line 3, in f\n'
                "    return 1 / 0\nZeroDivisionError: division by zero\n",
            }
        ],
    )
    write_run_record(
        root,
        pipeline,
        {
            "run_id": run,
            "pipeline_uri": "crash_pipeline@0123456789abcdef",
            "host": "ci-host-x",
            "pid": 4242,
            "pid_start_time": None,
            "started_at": iso(T0),
            "heartbeat_at": iso(T0 + 600),
            "heartbeat_interval_s": 5.0,
            "ended_at": None,
            "outcome": None,
            "nodes": {
                "/".join(IDENTITY): {
                    "label": "score",
                    "node_hash": "ab" * 8,
                    "tag_keys": ["subject_id"],
                }
            },
        },
    )


THREE_PIPELINE = ("nightly_scores",)
THREE_RUNS = ("0193d1a5e0000001", "0193d1a5e0000002", "0193d1a5e0000003")
LOAD_IDENTITY = (
    "load_subject",
    "semantic_v0.1:" + "ef" * 32,
    "v1",
    "python.function.v0",
    "schema:" + "12" * 32,
)


def _node_records() -> dict[str, dict[str, object]]:
    return {
        "/".join(LOAD_IDENTITY): {
            "label": "load",
            "node_hash": "ef" * 8,
            "tag_keys": ["subject_id"],
        },
        "/".join(IDENTITY): {"label": "score", "node_hash": "ab" * 8, "tag_keys": ["subject_id"]},
    }


def _three_record(run: str, start: float, beat: float, end: float | None, outcome: str | None):
    return {
        "run_id": run,
        "pipeline_uri": "nightly_scores@fedcba9876543210",
        "host": "build-host-7",
        "pid": 4711,
        "pid_start_time": None,
        "started_at": iso(start),
        "heartbeat_at": iso(beat),
        "heartbeat_interval_s": 5.0,
        "ended_at": None if end is None else iso(end),
        "outcome": outcome,
        "nodes": _node_records(),
    }


def make_three_runs(root: Path) -> None:
    """Three runs of one pipeline: FAILED, then CACHED, then a dead run with LOST packets.

    Run 1 (3 h ago, ended, outcome failed): 8 loads SUCCESS; scores SUCCESS but sub-03 and
    sub-06 FAILED. Run 2 (2 h ago, ended, completed): loads and scores CACHED, except sub-03 and
    sub-06 recomputed (SUCCESS). Run 3 (40 min ago, open, heartbeat stopped 35 min ago): loads
    CACHED; scores sub-01, sub-02 SUCCESS, sub-03..05 left in RUNNING (LOST), sub-06..08 not
    reached — so "latest per packet, all runs" mixes runs 2 and 3.
    """
    pipeline = THREE_PIPELINE
    r1, r2, r3 = THREE_RUNS
    subjects = [f"sub-{i:02d}" for i in range(1, 9)]
    starts = {r1: CLOCK - 3 * 3600, r2: CLOCK - 2 * 3600, r3: CLOCK - 40 * 60}
    load: dict[str, list[dict]] = {r: [] for r in THREE_RUNS}
    score: dict[str, list[dict]] = {r: [] for r in THREE_RUNS}
    for run, t0 in starts.items():
        for i, sid in enumerate(subjects):
            t = t0 + 2 + i * 3
            state = "SUCCESS" if run == r1 else "CACHED"
            load[run].append({"run": run, "state": "RUNNING", "ts": t, "subject_id": sid})
            load[run].append({"run": run, "state": state, "ts": t + 0.5, "subject_id": sid})
    for i, sid in enumerate(subjects):
        flaky = sid in ("sub-03", "sub-06")
        t = starts[r1] + 40 + i * 4
        score[r1].append({"run": r1, "state": "RUNNING", "ts": t, "subject_id": sid})
        if flaky:
            score[r1].append(
                {
                    "run": r1,
                    "state": "FAILED",
                    "ts": t + 1.25,
                    "subject_id": sid,
                    "error": f"ValueError: no signal for {sid}",
                }
            )
        else:
            score[r1].append({"run": r1, "state": "SUCCESS", "ts": t + 2.5, "subject_id": sid})
        t = starts[r2] + 40 + i * 4
        score[r2].append({"run": r2, "state": "RUNNING", "ts": t, "subject_id": sid})
        state, dt = ("SUCCESS", 3.0) if flaky else ("CACHED", 0.1)
        score[r2].append({"run": r2, "state": state, "ts": t + dt, "subject_id": sid})
        if i < 5:
            t = starts[r3] + 40 + i * 4
            score[r3].append({"run": r3, "state": "RUNNING", "ts": t, "subject_id": sid})
            if i < 2:
                score[r3].append({"run": r3, "state": "SUCCESS", "ts": t + 2.5, "subject_id": sid})
    for n, run in enumerate(THREE_RUNS):
        name = f"part-{n:04d}.parquet"
        write_status(
            status_dir(root, pipeline, LOAD_IDENTITY), load[run], name=name, seq_start=n * 1000
        )
        write_status(
            status_dir(root, pipeline, IDENTITY), score[run], name=name, seq_start=500 + n * 1000
        )
    write_logs(
        log_dir(root, pipeline, IDENTITY),
        [
            {
                "run": r1,
                "ts": starts[r1] + 40 + i * 4 + 1.25,
                "subject_id": sid,
                "stdout": f"scoring {sid}\n",
                "traceback": "Traceback (most recent call last):\n"
                '  File "score.py", line 12, in score\n'
                f"ValueError: no signal for {sid}\n",
            }
            for i, sid in enumerate(subjects)
            if sid in ("sub-03", "sub-06")
        ],
    )
    write_run_record(
        root, pipeline, _three_record(r1, starts[r1], starts[r1] + 90, starts[r1] + 90, "failed")
    )
    write_run_record(
        root, pipeline, _three_record(r2, starts[r2], starts[r2] + 80, starts[r2] + 80, "completed")
    )
    write_run_record(root, pipeline, _three_record(r3, starts[r3], starts[r3] + 300, None, None))


HOSTILE_TAG = "[bold red]not bold[/] \x1b[31mred\x1b[0m \x1b]0;pwned\x07title"
HOSTILE_ERROR = (
    "[link=http://evil]click[/link] \x1b[2J\x1b[Hcleared? \x1b]52;c;ZXZpbA==\x07 "
    "bell\x07 and [/] unbalanced\nsecond line"
)
HOSTILE_STDOUT = (
    "\x1b[32mgreen ok\x1b[0m plain [b]not markup[/b]\n"
    "\x1b[1A\x1b[2Kcursor-up-and-clear\n"
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ \x1bcreset\n"
    "progress 10%\rprogress 100%\n"
)


def make_hostile(root: Path) -> None:
    """Untrusted text of every kind, and a 1 MB line."""
    pipeline = ("hostile[pipeline]",)
    run = "0193bad000000001"
    big = "x" * 1_000_000 + "END"
    tags = [HOSTILE_TAG, "[/]", "big-" + "y" * 300, "normal"]
    events = []
    for i, tag in enumerate(tags):
        t = CLOCK - 300 + i * 10
        events.append({"run": run, "state": "RUNNING", "ts": t, "subject_id": tag})
        error = HOSTILE_ERROR if i == 0 else (big if i == 2 else None)
        state = "FAILED" if error else "SUCCESS"
        events.append({"run": run, "state": state, "ts": t + 1, "subject_id": tag, "error": error})
    ident = ("[red]evil_fn[/red]", "v0")
    write_status(status_dir(root, pipeline, ident), events)
    write_logs(
        log_dir(root, pipeline, ident),
        [
            {
                "run": run,
                "ts": CLOCK - 299,
                "subject_id": HOSTILE_TAG,
                "stdout": HOSTILE_STDOUT,
                "stderr": "\x1b[31mE\x1b[0m [red]x[/red]\x00\x08",
                "python_logs": "ERROR:x:[bold]no[/bold]",
                "traceback": HOSTILE_ERROR,
            },
            {"run": run, "ts": CLOCK - 279, "subject_id": tags[2], "stdout": big, "traceback": big},
        ],
    )


MAKERS = {"crashed": make_crashed, "hostile": make_hostile, "three_runs": make_three_runs}


def main(names: list[str]) -> None:
    """Rebuild the named fixtures (every fixture when none is named) from scratch."""
    for name in names or MAKERS:
        make = MAKERS[name]
        target = FIXTURES / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        make(target)
        print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
