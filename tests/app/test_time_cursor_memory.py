"""Entering history in the app reuses the live model's events: no second read of the store."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.app import make_app, settle, sync

from orcatui.app.main import OrcaApp
from orcatui.model.asof import load_as_of


def _counts(app: OrcaApp) -> dict[str, int]:
    frame = app.main.frame
    assert frame is not None
    (p,) = frame.snapshot.pipelines
    return dict(p.counts)


@sync
async def test_history_is_made_from_the_live_model_not_a_new_read(copy_sample, tmp_path: Path):
    root = copy_sample("crashed")
    kept = tmp_path / "kept"
    shutil.copytree(root, kept)
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        live = _counts(app)
        assert live["LOST"] == 5
        # The tables vanish after the live read: a second read would find nothing at all.
        for section in ("_status", "_log"):
            shutil.rmtree(root / "crash_pipeline" / section)
        await pilot.press("less_than_sign")
        await settle(pilot)
        at = app.time_at
        assert at is not None
        shown = _counts(app)
        await pilot.press("comma")
        await settle(pilot)
        earlier_at, earlier = app.time_at, _counts(app)
    assert earlier_at is not None
    for moment, counts in ((at, shown), (earlier_at, earlier)):
        expected, _ = load_as_of(kept, moment)
        (p,) = expected.snapshot().pipelines
        assert counts == dict(p.counts)
    assert sum(shown.values()) > 0 and shown["RUNNING"] >= 1
