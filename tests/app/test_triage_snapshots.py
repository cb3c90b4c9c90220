"""SVG snapshots of issue 10's views (fixed data, fixed clock, fixed sizes; reviewed as images):
the progress tree with declared totals and slow packets, the problems view, a sorted table."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support.app import CLOCK, make_app, settle
from support.events import log_row, packet, table_dir, write_parquet, write_status

from orcatui.app.packet_table import PacketTable
from orcatui.app.problems import ProblemList

#: A fixed place (the header shows the root): rewritten by each test from the same data.
ROOT = Path("/tmp/orcatui-triage-snapshots/live_run")
RUN = "0193d00000000001"
IDENT_LOAD = ("load_inputs", "v0")
IDENT_CLEAN = ("clean", "v0")
IDENT_LONG = ("summarise_every_subject_for_the_quarterly_report", "v0")


def _tb(path: str, n: int) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/etl/load.py", line 41, in load_inputs\n'
        "    data = open(path).read()\n"
        f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'\n"
    )


def build_live_run() -> Path:
    """A live run (fresh heartbeat, another host) at the snapshot clock: declared totals,
    failures in two families, one slow packet, one node with a long name.

    Built in a private directory and renamed into place (test workers may run at once); the
    data is the same every time, so a root already in place is used as is.
    """
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    if (ROOT / "etl" / "_runs" / f"{RUN}.json").exists():
        return ROOT
    final = ROOT
    build = ROOT.with_name(f".{ROOT.name}.{os.getpid()}")
    if build.exists():
        shutil.rmtree(build)
    _write(build)
    try:
        build.rename(final)
    except OSError:  # another worker was first
        shutil.rmtree(build)
    return final


def _write(root: Path) -> None:
    pipe = "etl"
    t0 = CLOCK - 600
    load, logs = [], []
    for i in range(30):
        start = t0 + i * 10
        load += packet(RUN, start, start + 4 + (i % 3), "SUCCESS", subject=f"s{i:02d}")
    for i in range(4):
        start, path = t0 + 300 + i * 7, f"/data/batch{i}/subject_{i * 13}.csv"
        msg = f"[Errno 2] No such file or directory: '{path}'"
        load += packet(RUN, start, start + 1, "FAILED", msg, subject=f"f{i:02d}")
        logs.append(log_row(RUN, start + 1, tb=_tb(path, i), ok=False, subject=f"f{i:02d}"))
    load += packet(RUN, CLOCK - 300, None, "RUNNING", subject="slow01")  # 5 min vs ~5 s
    load += packet(RUN, CLOCK - 3, None, "RUNNING", subject="s30")
    write_status(root, pipe, IDENT_LOAD, load)
    write_parquet(table_dir(root, pipe, IDENT_LOAD, kind="log"), logs)
    clean = []
    for i in range(12):
        start = t0 + 200 + i * 20
        clean += packet(RUN, start, start + 12, "SUCCESS", subject=f"s{i:02d}")
    clean += packet(RUN, CLOCK - 20, None, "RUNNING", subject="s12")
    write_status(root, pipe, IDENT_CLEAN, clean)
    long_rows = []
    for i in range(6):
        start = t0 + 400 + i * 15
        long_rows += packet(RUN, start, start + 2, "SUCCESS", subject=f"s{i:02d}")
    long_rows += packet(
        RUN, t0 + 500, t0 + 503, "FAILED", "ValueError: ratio 0.73 > 0.5", subject="s06"
    )
    write_status(root, pipe, IDENT_LONG, long_rows)
    record = {
        "run_id": RUN,
        "pipeline_uri": "etl@0123456789abcdef",
        "host": "ci-host-x",
        "pid": 4242,
        "pid_start_time": None,
        "started_at": "2026-11-28T16:30:00+00:00",
        "heartbeat_at": "2026-11-28T16:39:58+00:00",
        "heartbeat_interval_s": 5.0,
        "ended_at": None,
        "outcome": None,
        "nodes": {
            "/".join(IDENT_LOAD): {"label": "load_inputs", "total": 60},
            "/".join(IDENT_CLEAN): {"label": "clean", "total": 40},
        },
    }
    runs = root / pipe / "_runs"
    runs.mkdir(parents=True)
    (runs / f"{RUN}.json").write_text(json.dumps(record))


@pytest.fixture
def live_run() -> Path:
    return build_live_run()


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_progress_tree(snap_compare, live_run, size) -> None:
    """Progress bars (done of the declared total, the rest empty), counts beside a long name,
    the slow count, the header's progress and ETA; the app opens on the worst node."""
    assert snap_compare(make_app(live_run), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_problems_view(snap_compare, live_run, size) -> None:
    """``p``: FAILED groups by signature (counts first), slow packets, the first expanded."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        plist = pilot.app.screen.query_one(ProblemList)
        for _ in range(200):
            if plist.problems is not None:
                break
            await pilot.pause(0.02)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(live_run), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_sorted_table(snap_compare, live_run, size) -> None:
    """The load node sorted by duration, longest first (header click twice): the slow packet
    on top, flagged; at 80×24 state and error come before the tags."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one(PacketTable)
        x = sum(
            c.width + 1 for c in table.columns[: [c.kind for c in table.columns].index("duration")]
        )
        await pilot.click(PacketTable, offset=(x + 1, 0))
        await settle(pilot)
        await pilot.click(PacketTable, offset=(x + 1, 0))
        await settle(pilot)
        table.focus()
        await pilot.press("g")  # the cursor followed its packet: back to the top
        await settle(pilot)

    assert snap_compare(make_app(live_run), terminal_size=size, run_before=run_before)
