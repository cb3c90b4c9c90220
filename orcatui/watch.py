"""The change feed: which tables changed under a root, for the store to read (DESIGN §1).

:class:`ChangeFeed` watches a root with inotify (watchfiles) or, on network filesystems where
inotify sees nothing written by other hosts, by polling directory mtimes
(:class:`~orcatui.watching.poller.DirPoller`). It yields :class:`Changes`: the table directories to
read again (``Store.poll(only=…)``) and whether to rediscover tables (``rediscover=…``).

A table directory that appears is reported with ``rescan=True`` and its path: inotify misses
files written into a brand-new directory before its watch exists, so the caller's rediscovery —
which reads a new table whole, after the watch is in place — is what guarantees none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from pathlib import Path

from watchfiles import Change, awatch

from orcatui.watching.changes import Changes
from orcatui.watching.layout import (
    Place,
    locate,
    relative_parts,
    root_identity,
    root_prefixes,
    tables_below,
)
from orcatui.watching.mountinfo import network_fs_type
from orcatui.watching.poller import DirPoller

__all__ = ["DEFAULT_POLL_S", "ChangeFeed", "Changes", "map_changes", "network_fs_type"]

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 2.0
# watchfiles batching: a batch is delivered once no new event arrived for one step, and at most
# DEBOUNCE_MS after its first event even under a steady stream of writes. Each step wakes a
# thread that takes the GIL, so a smaller step trades idle CPU for latency.
STEP_MS = 20
DEBOUNCE_MS = 150
# How often the inotify loop wakes with no events, to notice a vanished or replaced root.
ROOT_CHECK_MS = 1000
# Polling backs off (×BACKOFF per quiet check, up to MAX_BACKOFF × poll) only once nothing has
# changed for HOLD_S: during a run the interval stays at ``poll`` (latency ≤ poll + read time); the
# first change after a long quiet spell may take up to MAX_BACKOFF × poll to be seen.
# Consecutive watcher failures (root present) before giving up on inotify, e.g. watch limits.
FALLBACK_AFTER = 3
BACKOFF = 1.5
MAX_BACKOFF = 4.0
HOLD_S = 30.0


class _StopFlag:
    """The stop event handed to one watchfiles watcher.

    watchfiles sets it when its task is cancelled; that must end only that watcher, not the feed.
    """

    def __init__(self, feed_stop: threading.Event) -> None:
        self._feed_stop = feed_stop
        self._local = False

    def is_set(self) -> bool:
        return self._local or self._feed_stop.is_set()

    def set(self) -> None:
        self._local = True


def map_changes(raw: Iterable[tuple[Change, str]], root: Path) -> Changes:
    """Turn watchfiles' raw ``(change, path)`` pairs into :class:`Changes` for ``root``.

    Table content maps to its table; ``_runs`` changes ask for a rescan; a directory that appeared
    (a new pipeline, node or table) asks for a rescan and is walked for the tables below it.
    Added/deleted are not trusted for renames (watchfiles may label a pair either way), so every
    directory event is checked against the disk.
    """
    prefixes = root_prefixes(root)
    out = Changes()
    dirs: set[tuple[str, ...]] = set()
    for change, path in raw:
        parts = relative_parts(path, prefixes)
        if parts is None:
            continue
        loc = locate(parts)
        if loc is None:
            continue
        if loc.place is Place.TABLE_FILE and loc.table is not None:
            out.tables.add(root.joinpath(*loc.table))
        elif loc.place is Place.RUNS:
            out.rescan = True
        elif change is not Change.modified:
            dirs.add(parts)
    for parts in _topmost(dirs):
        if os.path.isdir(root.joinpath(*parts)):
            out.rescan = True
            out.tables |= tables_below(root, parts)
    return out


def _topmost(dirs: set[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The directories not below another one of the set (walking those covers the rest)."""
    kept: set[tuple[str, ...]] = set()
    for parts in sorted(dirs, key=len):
        if not any(parts[:i] in kept for i in range(1, len(parts))):
            kept.add(parts)
    return sorted(kept)


def _watch_filter(root: Path) -> object:
    prefixes = root_prefixes(root)

    def keep(change: Change, path: str) -> bool:
        parts = relative_parts(path, prefixes)
        return parts is not None and locate(parts) is not None

    return keep


class ChangeFeed:
    """Debounced changes under a root: inotify, polling (network fs or ``poll=``), or static.

    ``backend`` is a human label for the header (``"inotify"``, ``"polling every 2.0s"``,
    ``"polling (network fs: nfs4) every 2.0s"``, ``"static"``).
    """

    def __init__(self, root: Path, *, poll: float | None = None, static: bool = False) -> None:
        self.root = Path(root)
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._poll: float | None = None
        if static:
            self.backend = "static"
        elif poll is not None:
            if poll <= 0:
                raise ValueError("poll interval must be positive")
            self._poll = float(poll)
            self.backend = f"polling every {self._poll}s"
        elif (fs := network_fs_type(self.root)) is not None:
            self._poll = DEFAULT_POLL_S
            self.backend = f"polling (network fs: {fs}) every {self._poll}s"
        else:
            self.backend = "inotify" if sys.platform.startswith("linux") else "native events"

    @property
    def polling(self) -> bool:
        """True when the root is polled rather than watched with OS events."""
        return self._poll is not None

    def stop(self) -> None:
        """End :meth:`changes` soon (safe from any thread)."""
        self._stop.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(wake.set)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def changes(self) -> AsyncIterator[Changes]:
        """Yield :class:`Changes` until :meth:`stop`; never raises because the root vanished.

        Nothing is reported for what exists when it starts (read the store once first). With
        ``static=True`` it ends at once. Cancelling the task that iterates it ends it too.
        """
        if self.backend == "static" or self._stop.is_set():
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        poll = self._poll
        gen = self._poll_changes(poll) if poll is not None else self._inotify_changes()
        try:
            async for changes in gen:
                yield changes
        finally:
            await gen.aclose()

    # -- polling ------------------------------------------------------------------------------
    async def _poll_changes(self, poll: float) -> AsyncIterator[Changes]:
        poller = DirPoller(self.root)
        await asyncio.to_thread(poller.start)
        loop = asyncio.get_running_loop()
        interval = poll
        last_change = loop.time()
        while not self._stop.is_set():
            await self._sleep(interval)
            if self._stop.is_set():
                return
            changes = await asyncio.to_thread(poller.check)
            if not changes.empty:
                interval, last_change = poll, loop.time()
                yield changes
            elif loop.time() - last_change >= HOLD_S:
                interval = min(interval * BACKOFF, poll * MAX_BACKOFF)

    # -- inotify ------------------------------------------------------------------------------
    async def _inotify_changes(self) -> AsyncIterator[Changes]:
        known = root_identity(self.root)
        announce = False  # the next batch must say "read everything": events may have been lost
        failures = 0
        while not self._stop.is_set():
            ident = root_identity(self.root)
            if ident is None:
                await self._sleep(ROOT_CHECK_MS / 1000)
                continue
            if ident != known:  # the root (re)appeared or was replaced
                known, announce = ident, True
            watcher: AsyncGenerator[set[tuple[Change, str]], None] | None = None
            try:
                watcher = awatch(
                    self.root,
                    watch_filter=_watch_filter(self.root),  # type: ignore[arg-type]
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    stop_event=_StopFlag(self._stop),  # type: ignore[arg-type]
                    rust_timeout=ROOT_CHECK_MS,
                    yield_on_timeout=True,
                    force_polling=False,
                    ignore_permission_denied=True,
                )
                async for raw in watcher:
                    failures = 0
                    now = root_identity(self.root)
                    if now != known:
                        if known is not None and now is None:
                            yield Changes(rescan=True)  # gone: the caller will say so
                        known = None  # (re)appearance is handled at the top of the loop
                        break
                    changes = map_changes(raw, self.root)
                    if announce:
                        # the watch is in place now (awatch yields only after setting it up, at
                        # the latest after ROOT_CHECK_MS): all that was written before is read
                        announce = False
                        changes.tables |= tables_below(self.root, ())
                        changes.rescan = True
                    if not changes.empty:
                        yield changes
            except (OSError, RuntimeError) as exc:
                # the root vanished while the watcher was being set up, inotify limits reached,
                # or the watcher failed: events may be lost, so read everything once it is back
                failures += 1
                announce = True
                if failures >= FALLBACK_AFTER and root_identity(self.root) is not None:
                    log.warning("inotify failed %d times (%s); polling instead", failures, exc)
                    self._poll = DEFAULT_POLL_S
                    self.backend = f"polling (inotify failed) every {self._poll}s"
                    yield Changes(tables_below(self.root, ()), rescan=True)
                    async for changes in self._poll_changes(self._poll):
                        yield changes
                    return
                log.warning("watcher failed (%s); restarting", exc)
                await self._sleep(min(ROOT_CHECK_MS / 1000 * failures, 10.0))
            finally:
                if watcher is not None:
                    await watcher.aclose()
