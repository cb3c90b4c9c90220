"""The change feed: which tables changed under a root, for the store to read.

See docs/design.md, "1 Layout" (what is watched) and "7 The app" (how the app uses it).

:class:`ChangeFeed` watches a root with inotify (watchfiles) or, on network filesystems where
inotify sees nothing written by other hosts, by polling directory mtimes
(:class:`~orcatui.watching.poller.DirPoller`). It yields :class:`Changes`: the table directories to
read again (``Store.poll(only=…)``) and whether to rediscover tables (``rediscover=…``).

A table directory that appears is reported with ``rescan=True`` and its path: inotify misses
files written into a brand-new directory before its watch exists, so the caller's rediscovery —
which reads a new table whole, after the watch is in place — is what guarantees none is lost.

Every filesystem call (mount detection, path resolution, ``stat`` of the root, directory walks,
mapping a batch to tables) runs in a worker thread: a hung network mount never blocks the event
loop that iterates the feed.
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

from orcatui.text import inert
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
# While the root is absent (or the watcher failed), look for it again this often.
ROOT_CHECK_MS = 1000
# How often the inotify loop wakes with no events, to check the root's identity. Events on the
# root itself (deleted, moved away) are kept by the filter, so a vanished root is noticed at
# once; this is the backstop (each wake-up costs two thread hops: 1 s was ~0.2 % of a core).
IDLE_WAKE_MS = 5000
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


def _watch_filter(prefixes: tuple[str, ...]) -> object:
    """watchfiles' filter (runs on the event loop: string rules only, no filesystem call)."""

    def keep(change: Change, path: str) -> bool:
        parts = relative_parts(path, prefixes)
        # the root itself (``()``) too: its deletion or move wakes the feed to check it
        return parts is not None and (not parts or locate(parts) is not None)

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
        self._prepared = static or poll is not None
        if static:
            self.backend = "static"
        elif poll is not None:
            if poll <= 0:
                raise ValueError("poll interval must be positive")
            self._poll = float(poll)
            self.backend = f"polling every {self._poll}s"
        else:
            self.backend = "starting…"  # until prepare() has looked at the mount

    async def prepare(self) -> str:
        """Choose inotify or polling (a network mount is polled); returns the backend label.

        Looks at ``/proc/self/mountinfo`` and resolves the root in a worker thread.
        """
        if not self._prepared:
            fs = await asyncio.to_thread(network_fs_type, self.root)
            self._prepared = True
            if fs is not None:
                self._poll = DEFAULT_POLL_S
                self.backend = f"polling (network fs: {fs}) every {self._poll}s"
            else:
                self.backend = "inotify" if sys.platform.startswith("linux") else "native events"
        return self.backend

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
        await self.prepare()
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
    async def _identity(self) -> tuple[int, int] | None:
        return await asyncio.to_thread(root_identity, self.root)

    async def _fall_back(self, reason: str) -> AsyncIterator[Changes]:
        """Poll from now on; first say "read everything" (events may have been lost)."""
        log.warning("inotify cannot continue (%s); polling instead", reason)
        self._poll = DEFAULT_POLL_S
        self.backend = f"polling ({reason}) every {self._poll}s"
        yield Changes(await asyncio.to_thread(tables_below, self.root, ()), rescan=True)
        async for changes in self._poll_changes(self._poll):
            yield changes

    async def _inotify_changes(self) -> AsyncIterator[Changes]:
        known = await self._identity()
        announce = False  # the next batch must say "read everything": events may have been lost
        failures = 0
        while not self._stop.is_set():
            ident = await self._identity()
            if ident is None:
                await self._sleep(ROOT_CHECK_MS / 1000)
                continue
            if ident != known:  # the root (re)appeared or was replaced
                known, announce = ident, True
            prefixes = await asyncio.to_thread(root_prefixes, self.root)
            watcher: AsyncGenerator[set[tuple[Change, str]], None] | None = None
            undecodable = False
            try:
                watcher = awatch(
                    self.root,
                    watch_filter=_watch_filter(prefixes),  # type: ignore[arg-type]
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    stop_event=_StopFlag(self._stop),  # type: ignore[arg-type]
                    # after a (re)appearance the announcement waits for the first wake-up
                    rust_timeout=ROOT_CHECK_MS if announce else IDLE_WAKE_MS,
                    yield_on_timeout=True,
                    force_polling=False,
                    ignore_permission_denied=True,
                )
                async for raw in watcher:
                    failures = 0
                    now = await self._identity()
                    if now != known:
                        if known is not None and now is None:
                            yield Changes(rescan=True)  # gone: the caller will say so
                        known = None  # (re)appearance is handled at the top of the loop
                        break
                    if not raw and not announce:
                        continue  # the idle wake-up (rust_timeout): nothing to map
                    changes = await asyncio.to_thread(map_changes, raw, self.root)
                    if announce:
                        # the watch is in place now (awatch yields only after setting it up, at
                        # the latest after ROOT_CHECK_MS): all that was written before is read
                        announce = False
                        changes.tables |= await asyncio.to_thread(tables_below, self.root, ())
                        changes.rescan = True
                    if not changes.empty:
                        yield changes
            except (OSError, RuntimeError, ExceptionGroup) as exc:
                # the root vanished while the watcher was being set up, inotify limits reached,
                # a path watchfiles cannot decode (a name that is not UTF-8: it raises inside an
                # ExceptionGroup), or the watcher failed: events may be lost, so read everything
                failures += 1
                announce = True
                undecodable = _undecodable(exc)
                exists = await self._identity() is not None
                if exists and (undecodable or failures >= FALLBACK_AFTER):
                    reason = "a name is not UTF-8" if undecodable else "inotify failed"
                    async for changes in self._fall_back(reason):
                        yield changes
                    return
                log.warning("watcher failed (%s); restarting", _describe(exc))
                await self._sleep(min(ROOT_CHECK_MS / 1000 * failures, 10.0))
            finally:
                if watcher is not None:
                    await watcher.aclose()


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _undecodable(exc: BaseException) -> bool:
    """True when watchfiles failed on a path it cannot decode (inotify cannot go on)."""
    return any("decode path" in str(leaf) for leaf in _leaves(exc))


def _describe(exc: BaseException) -> str:
    """One line for the log: the inner errors of a group, made inert."""
    return "; ".join(inert(leaf) for leaf in _leaves(exc))[:300]
