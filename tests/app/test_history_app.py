"""Packet history in the details screen and flaky marks in the table, on real Parquet tables."""

from __future__ import annotations

from support.app import APP_FIXTURES, make_app, settle, sync
from support.events import T0, packet, write_status

from orcatui.app.details import DetailsScreen
from orcatui.app.history import HistoryList, HistoryStrip
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable

THREE = APP_FIXTURES / "three_runs"


def flaky_root(root):
    """Five runs of one node: packet a goes S F S F S (flaky), b always SUCCESS, c F S (a fix)."""
    states = {"a": "SFSFS", "b": "SSSSS", "c": "FFFFS"}
    rows = []
    for k in range(5):
        start = T0 + 1000 * k
        for subject, seq in states.items():
            state = "SUCCESS" if seq[k] == "S" else "FAILED"
            rows += packet(
                f"run-{k}",
                start,
                start + 1 + k,
                state,
                "E" if state == "FAILED" else None,
                subject=subject,
            )
    write_status(root, "etl", ("clean",), rows)
    return root


async def wait_history(pilot) -> HistoryStrip:
    strip = pilot.app.screen.query_one(HistoryStrip)
    for _ in range(200):
        if strip.history is not None:
            return strip
        await pilot.pause(0.02)
    raise AssertionError("no history")


@sync
async def test_flaky_marked_in_table_and_history_in_details(tmp_path):
    app = make_app(flaky_root(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        for _ in range(200):
            if table.flaky:
                break
            await pilot.pause(0.02)
        marked = {
            table._row(i)["subject"]
            for i in range(table.row_count)
            if table._row(i)["key"] in table.flaky
        }
        assert marked == {"a"}
        cells = {
            table._row(i)["subject"]: table._cell(table.columns[1], table._row(i))[0]
            for i in range(3)
        }
        assert cells["a"].endswith("≈") and not cells["b"].endswith("≈")
        table.focus()
        row = next(i for i in range(table.row_count) if table._row(i)["subject"] == "a")
        table._move(row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        strip = await wait_history(pilot)
        h = strip.history
        assert [e.run_id for e in h.entries] == [f"run-{k}" for k in (4, 3, 2, 1, 0)]
        assert [e.state for e in h.entries] == ["SUCCESS", "FAILED", "SUCCESS", "FAILED", "SUCCESS"]
        assert h.flaky and h.last_success == "run-4"
        text = str(strip.render())
        assert "✓✗✓✗✓" in text and "flaky" in text and "run-4 (newest run)" in text
        await pilot.press("6")
        listing = str(app.screen.query_one(HistoryList).render())
        assert listing.splitlines()[0].startswith("✓ run-4")
        assert "FAILED" in listing.splitlines()[1]


@sync
async def test_history_of_a_lost_packet_names_the_last_success():
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(NodeTree)
        for _key, line in tree.node_lines():
            if str(line.label).startswith("score"):
                tree.move_cursor(line)
        await settle(pilot)
        await pilot.press("l")  # LOST packets of the newest run
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        strip = await wait_history(pilot)
        h = strip.history
        assert h.entries[0].state == "LOST"
        assert h.last_success == h.entries[1].run_id
        assert "1 run ago" in str(strip.render())
        assert not table.flaky
