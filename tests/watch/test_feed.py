"""The change feed on real files with real watchfiles: inotify and forced polling alike."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.watch import (
    NODE,
    PIPELINE,
    FeedRun,
    backdate,
    status_rows,
    status_table_dir,
    write_parquet,
    write_run_record,
)

from orcatui.store.store import Store
from orcatui.watch import ChangeFeed, Changes


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_backend_labels(root: Path) -> None:
    feed = ChangeFeed(root)
    assert feed.backend == "starting…"  # nothing is looked at on the caller's thread
    assert asyncio.run(feed.prepare()) == "inotify" == feed.backend
    assert ChangeFeed(root, poll=2).backend == "polling every 2.0s"
    assert ChangeFeed(root, static=True).backend == "static"
    with pytest.raises(ValueError):
        ChangeFeed(root, poll=0)


def test_static_yields_nothing(root: Path) -> None:
    async def main() -> None:
        got = [c async for c in ChangeFeed(root, static=True).changes()]
        assert got == []

    run(main())


def test_renamed_parquet_file_reports_its_table(root: Path, feed_kwargs: dict[str, float]) -> None:
    table = status_table_dir(root)

    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            await feed.settle()
            start = len(feed.got)
            write_parquet(table)
            got = await feed.wait_until(lambda c: table in c.tables, start=start)
            assert got.tables == {table}
            assert not got.rescan

    run(main())


def test_delta_log_commit_reports_its_table(root: Path, feed_kwargs: dict[str, float]) -> None:
    table = status_table_dir(root, ("other_fn", "h", "v0", "t", "schema:x"))
    (table / "_delta_log").mkdir(parents=True)

    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            start = len(feed.got)
            (table / "_delta_log" / "00000000000000000001.json").write_text("{}\n")
            await feed.wait_until(lambda c: table in c.tables, start=start)

    run(main())


def test_result_and_record_tables_yield_nothing(root: Path, feed_kwargs: dict[str, float]) -> None:
    backdate(root)

    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            await feed.settle()
            start = len(feed.got)
            result = root / PIPELINE / "_result" / "compute_score" / "abc"
            for i in range(5):
                write_parquet(result, name=f"r{i}.parquet")
            # a record table of orcapod's (a Delta table beside _status), existing before
            record = root / PIPELINE / "compute_score" / "rec"
            record_log = record / "_delta_log"
            write_parquet(record, name="part-0.parquet")
            (record_log / "00000000000000000001.json").write_text("{}\n")
            await asyncio.sleep(1.5)
            assert feed.got[start:] == []

    record_log = root / PIPELINE / "compute_score" / "rec" / "_delta_log"
    record_log.mkdir(parents=True)
    (record_log / "00000000000000000000.json").write_text("{}\n")
    backdate(root)
    run(main())


def test_run_record_change_asks_for_rescan(root: Path, feed_kwargs: dict[str, float]) -> None:
    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            await feed.settle()
            start = len(feed.got)
            write_run_record(root, "run-2")
            got = await feed.wait_until(lambda c: c.rescan, start=start)
            assert got.tables == set()

    run(main())


def test_new_table_with_25_files_is_read_whole(root: Path, feed_kwargs: dict[str, float]) -> None:
    """A table directory that appears with files written at once: no file is missed.

    The consumer does what the app does: ``Store.poll(rediscover=rescan, only=tables)`` for each
    batch, while a thread creates the table and writes 25 files as fast as it can.
    """
    new_node = ("summarize_signal", "semantic_v0.1:9999", "v0", "python.function.v0", "schema:s")
    table = status_table_dir(root, new_node)
    store = Store(root)
    store.poll()
    done = threading.Event()

    def writer() -> None:
        for _ in range(25):
            write_parquet(table, status_rows(1))
        done.set()

    async def main() -> None:
        rows = 0
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            start = len(feed.got)
            thread = threading.Thread(target=writer)
            thread.start()
            seen = start
            loop_deadline = asyncio.get_running_loop().time() + 15
            while rows < 25:
                assert asyncio.get_running_loop().time() < loop_deadline, f"read {rows} of 25"
                await asyncio.sleep(0.05)
                for changes in feed.got[seen:]:
                    update = store.poll(rediscover=changes.rescan, only=changes.tables)
                    rows += sum(t.num_rows for ref, t in update.status if ref.path == table)
                seen = len(feed.got)
            thread.join()
            assert done.is_set()
            got = feed.merged(start)
            assert got.rescan
            assert table in got.tables

    run(main())
    assert rows_of(store, table) == 25


def rows_of(store: Store, table: Path) -> int:
    """The files the store's reader of ``table`` has read (Parquet tables: one row each here)."""
    _ref, reader = store.readers[table]
    return len(reader._seen)  # type: ignore[union-attr]


def test_new_pipeline_directory_is_reported(root: Path, feed_kwargs: dict[str, float]) -> None:
    table = root / "lab_a" / "other_pipeline" / "_log" / "fn" / "h" / "execution_logs"

    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            start = len(feed.got)
            write_parquet(table)
            got = await feed.wait_until(lambda c: c.rescan and table in c.tables, start=start)
            assert got.rescan

    run(main())


def test_root_deleted_and_recreated(root: Path, feed_kwargs: dict[str, float]) -> None:
    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await feed.ready(root)
            await feed.settle()
            shutil.rmtree(root)
            await asyncio.sleep(1.5)
            start = len(feed.got)
            write_parquet(status_table_dir(root))
            # the rescan names every table: files written before the new watch existed are read
            await feed.wait_until(
                lambda c: c.rescan and status_table_dir(root) in c.tables, start=start
            )
            # and it keeps watching the new root
            await feed.settle()
            start = len(feed.got)
            write_parquet(status_table_dir(root))
            await feed.wait_until(lambda c: status_table_dir(root) in c.tables, start=start)

    run(main())


def test_missing_root_at_start_then_created(tmp_path: Path, feed_kwargs: dict[str, float]) -> None:
    root = tmp_path / "later"

    async def main() -> None:
        async with FeedRun(ChangeFeed(root, **feed_kwargs)) as feed:
            await asyncio.sleep(0.5)
            assert feed.got == []
            write_parquet(status_table_dir(root))
            await feed.wait_until(lambda c: c.rescan)

    run(main())


def test_stop_from_another_thread_ends_the_feed(root: Path) -> None:
    async def main() -> None:
        feed = ChangeFeed(root, poll=30)
        timer = threading.Timer(0.3, feed.stop)
        timer.start()
        got = await asyncio.wait_for(_drain(feed), 5)
        assert got == []

    run(main())


async def _drain(feed: ChangeFeed) -> list[Changes]:
    return [c async for c in feed.changes()]


def test_a_root_moved_away_wakes_the_feed_by_its_own_event(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle wake-up is a backstop only (here: ten minutes): moving the root away is an event
    on the root itself, which wakes the feed; it then follows a new root at the same path."""
    import orcatui.watch as watch

    monkeypatch.setattr(watch, "IDLE_WAKE_MS", 600_000)

    async def main() -> None:
        async with FeedRun(ChangeFeed(root)) as feed:
            await feed.ready(root)
            await feed.settle()
            start = len(feed.got)
            root.rename(root.with_name(root.name + "-moved-away"))
            await feed.wait_until(lambda c: c.rescan, start=start)
            start = len(feed.got)
            write_parquet(status_table_dir(root))
            await feed.wait_until(
                lambda c: c.rescan and status_table_dir(root) in c.tables, start=start
            )

    run(main())


def test_node_constant_is_a_real_orcapod_shape() -> None:
    assert len(NODE) == 5


def test_falls_back_to_polling_when_inotify_keeps_failing(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orcatui.watch as watch

    def broken_awatch(*args: object, **kwargs: object) -> object:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watch, "awatch", broken_awatch)
    monkeypatch.setattr(watch, "ROOT_CHECK_MS", 50)
    monkeypatch.setattr(watch, "DEFAULT_POLL_S", 0.1)
    table = status_table_dir(root)

    async def main() -> None:
        feed = ChangeFeed(root)
        async with FeedRun(feed) as run_:
            await run_.wait_until(lambda c: c.rescan and table in c.tables)
            assert feed.backend == "polling (inotify failed) every 0.1s"
            await run_.settle()
            start = len(run_.got)
            write_parquet(table)
            await run_.wait_until(lambda c: table in c.tables, start=start)

    run(main())


def test_a_name_that_is_not_utf8_falls_back_to_polling_and_the_feed_goes_on(root: Path) -> None:
    """watchfiles raises (inside an ExceptionGroup) on a path it cannot decode: the feed must not
    end; inotify cannot go on, so it polls from then, and says so."""
    import os

    table = status_table_dir(root)
    odd = os.fsencode(root) + b"/n\xffode"

    async def main() -> None:
        feed = ChangeFeed(root)
        async with FeedRun(feed) as run_:
            await run_.ready(root)
            await run_.settle()
            os.mkdir(odd)
            os.mkdir(odd + b"/_status")
            await run_.wait_until(lambda c: c.rescan and table in c.tables)
            assert feed.backend.startswith("polling (a name is not UTF-8)")
            await run_.settle()
            start = len(run_.got)
            write_parquet(table)
            await run_.wait_until(lambda c: table in c.tables, start=start)

    run(main())


def test_feed_file_system_calls_run_off_the_event_loop(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every stat and directory listing hanging, the loop that iterates the feed still runs."""
    import os
    import sys
    import time

    import orcatui.watch as watch
    import orcatui.watching.layout as layout
    import orcatui.watching.mountinfo as mountinfo

    loop_thread = threading.get_ident()
    on_loop: list[str] = []
    real_stat, real_scandir, real_resolve = os.stat, os.scandir, Path.resolve

    def from_feed() -> bool:
        f = sys._getframe(2)
        while f is not None:
            if f.f_globals.get("__name__", "").startswith("orcatui.watch"):
                return True
            f = f.f_back
        return False

    def slow(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def wrapped(*a: object, **k: object) -> object:
            if a and str(a[0]).startswith(str(root)) and from_feed():
                if threading.get_ident() == loop_thread:
                    on_loop.append(name)
                time.sleep(0.3)
            return fn(*a, **k)

        return wrapped

    monkeypatch.setattr(os, "stat", slow("stat", real_stat))
    monkeypatch.setattr(os, "scandir", slow("scandir", real_scandir))
    monkeypatch.setattr(Path, "resolve", slow("resolve", real_resolve))
    assert layout.os is os and mountinfo.os is os and watch.os is os

    async def main() -> None:
        feed = ChangeFeed(root)
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        async with FeedRun(feed) as run_:
            await run_.ready(root, timeout=30)
            write_parquet(status_table_dir(root))
            await run_.wait_until(lambda c: bool(c.tables), timeout=30)
        stop.set()
        await t
        assert ticks > 50  # the loop kept running while the feed's calls hung

    run(main())
    assert on_loop == [], on_loop
