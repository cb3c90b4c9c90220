"""Issue 11 in the main packet table, and issue 10's narrow table (wave 4): a packet that
succeeded in the node's previous run and fails in this one reads ``SUCCESS → FAILED``; at 80
columns the tags (the packet's identity) stay in view before state, duration and error, as many
as fit and at least the first.
Pilot tests and snapshots (fixed data, clock and sizes; reviewed as images)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.app import CLOCK, make_app, settle, sync
from support.events import packet, write_status

from orcatui.app.packet_table import PacketTable

ROOT = Path("/tmp/orcatui-triage-snapshots/regressed")
R1, R2 = "0193d00000000101", "0193d00000000102"
NODE = ("load_scans", "v0")
LONG = (
    "FileNotFoundError: [Errno 2] No such file or directory: "
    "'/data/archive/2026/subject_{s}/session_a/raw_scan_0001.nii.gz'"
)
#: subject → (state in R1, state in R2); None: no packet in that run.
PLAN = {
    "01": ("SUCCESS", "FAILED"),  # regressed
    "02": ("SUCCESS", "SUCCESS"),
    "03": ("SUCCESS", "FAILED"),  # regressed
    "04": ("SUCCESS", "SUCCESS"),
    "05": ("CACHED", "FAILED"),  # regressed (CACHED counts as success)
    "06": ("SUCCESS", "SUCCESS"),
    "07": ("FAILED", "FAILED"),  # failed before too: not a regression
    "08": ("FAILED", "SUCCESS"),  # fixed
    "09": (None, "FAILED"),  # new
}


def _write(root: Path) -> None:
    t1, t2 = CLOCK - 7200, CLOCK - 3600  # both runs are over at the clock
    rows = []
    for i, (s, (a, b)) in enumerate(PLAN.items()):
        for run, t, state in ((R1, t1, a), (R2, t2, b)):
            if state is None:
                continue
            err = LONG.format(s=s) if state == "FAILED" else None
            start = t + 10 * i
            rows += packet(run, start, start + 2 + i % 3, state, err, subject=s, session="a")
    write_status(root, "scans", NODE, rows)


def build_root() -> Path:
    """The fixture root at a fixed place (the header shows it), built once, atomically."""
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    if (ROOT / "scans").exists():
        return ROOT
    build = ROOT.with_name(f".{ROOT.name}.{os.getpid()}")
    if build.exists():
        shutil.rmtree(build)
    _write(build)
    try:
        build.rename(ROOT)
    except OSError:  # another worker was first
        shutil.rmtree(build)
    return ROOT


def _state_cells(table: PacketTable) -> dict[str, str]:
    col = next(c for c in table.columns if c.kind == "state")
    out = {}
    for i in range(table.row_count):
        row = table._row(i)
        out[row["subject"]] = table._cell(col, row)[0]
    return out


@sync
async def test_regressed_packets_read_success_to_failed_in_the_main_table() -> None:
    app = make_app(build_root())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        assert set(table.rows.column("run_id").to_pylist()) == {R2}  # the newest run
        cells = _state_cells(table)
        assert cells["01"] == "✗ SUCCESS → FAILED"
        assert cells["03"] == "✗ SUCCESS → FAILED"
        assert cells["05"] == "✗ CACHED → FAILED"
        assert cells["07"] == "✗ FAILED"  # failed in both runs
        assert cells["09"] == "✗ FAILED"  # new in this run
        assert cells["08"].endswith(" SUCCESS") and "→" not in cells["08"]  # fixed
        # on screen too (a rendered line), and wide enough not to be cut
        lines = [
            "".join(s.text for s in table.render_line(y)) for y in range(1, table.row_count + 1)
        ]
        assert sum("SUCCESS → FAILED" in line for line in lines) == 2
        # the older run has nothing to compare with: no marks
        await pilot.press("left_square_bracket")  # the older run
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        assert set(table.rows.column("run_id").to_pylist()) == {R1}
        assert not any("→" in c for c in _state_cells(table).values())


@sync
async def test_first_tag_stays_in_view_at_80_columns() -> None:
    app = make_app(build_root())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        kinds = [c.kind for c in table.columns]
        assert table.columns[0].header == "subject"  # the identity first
        assert kinds[1:4] == ["state", "duration", "error"]
        assert sum(c.width + 1 for c in table.columns[:4]) - 1 <= table.size.width  # all shown
        header = "".join(s.text for s in table.render_line(0))
        assert header.startswith("subject")
        first = "".join(s.text for s in table.render_line(1))
        assert first.startswith("01") and "FAILED" in first and "FileNotFound" in first


@sync
async def test_every_tag_that_fits_stays_in_view_at_80_columns(tmp_path: Path) -> None:
    """Two short tags (subject, session): both come before state, duration and error, so no two
    rows read alike (with the first tag alone, four rows read ``sub-01 ✓ SUCCESS``)."""
    rows = []
    for i in range(8):
        subject, session = f"sub-0{i // 4 + 1}", f"ses-{i % 4 + 1}"
        state, err = ("FAILED", LONG.format(s=i)) if i == 5 else ("SUCCESS", None)
        start = CLOCK - 3600 + 10 * i
        rows += packet(R2, start, start + 2, state, err, subject=subject, session=session)
    write_status(tmp_path, "scans", NODE, rows)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        assert [c.header for c in table.columns[:5]] == [
            "subject",
            "session",
            "state",
            "duration",
            "error",
        ]
        assert sum(c.width + 1 for c in table.columns[:5]) - 1 <= table.size.width  # all shown
        lines = ["".join(s.text for s in table.render_line(y)) for y in range(1, 9)]
        assert len(set(lines)) == 8
        assert any(line.startswith("sub-02  ses-2") and "FAILED" in line for line in lines)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_regressed_table(snap_compare, size) -> None:
    """The newest run: three packets read ``SUCCESS → FAILED`` / ``CACHED → FAILED``; at
    80×24 the subject tag comes first, then state, duration and the (cut) error."""
    assert snap_compare(make_app(build_root()), terminal_size=size, run_before=settle)
