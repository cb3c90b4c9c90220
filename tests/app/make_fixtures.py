"""Regenerate the app's hand-built fixtures (deterministic): ``python tests/app/make_fixtures.py``.

- ``tests/fixtures/app/crashed``: a run whose process died (run record with ``ended_at`` null and
  an old heartbeat) — 6 SUCCESS, 1 FAILED, 5 packets left in RUNNING (LOST).
- ``tests/fixtures/app/hostile``: tag, error, stdout text with markup-like brackets, ANSI colour,
  OSC/cursor/clear escapes, and a 1 MB line.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import (
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


def main() -> None:
    """Rebuild every fixture from scratch."""
    for name, make in (("crashed", make_crashed), ("hostile", make_hostile)):
        target = FIXTURES / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        make(target)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
