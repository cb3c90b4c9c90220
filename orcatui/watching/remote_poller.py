"""When to poll which table of a root on object storage (Textual-free).

Object storage has no change notification: every look is a request, and requests cost money.
:class:`PollCadence` decides, tick by tick, which tables to ask the store to poll, so that cost
follows activity rather than history (docs/design.md §9):

* a table that changed within the last ``hot_for`` seconds (or was just discovered) is polled
  every ``interval`` (default 2 s, ``--poll``);
* a table that has been quiet longer backs off, its gap doubling on each quiet poll, up to
  ``max_idle`` (60 s): a long-idle table costs one LIST a minute;
* every ``rescan_every`` seconds a rediscovery (one listing of the root, then every table is
  read) finds tables added anywhere; it also counts as the idle tables' poll;
* tables of an *active* pipeline (one with a hot table) have their section folders probed with
  one delimiter LIST each every ``probe_every`` seconds: a node folder not seen before asks for
  a rediscovery at once, so a node added mid-run shows within a few intervals, not a minute.

The cadence learns what each poll found from :meth:`PollCadence.observe` (which the store proxy
:class:`ObservedStore` calls on the model thread after every poll), never from guessing. All
methods take the clock's "now" from ``clock`` (monotonic seconds), so tests drive it without
sleeping. :class:`RemoteFeed` runs the cadence as an async feed of
:class:`~orcatui.watching.changes.Changes`, like the local :class:`~orcatui.watch.ChangeFeed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orcatui.watching.changes import Changes

__all__ = [
    "BACKOFF",
    "DEFAULT_INTERVAL_S",
    "HOT_FOR_S",
    "MAX_IDLE_S",
    "PROBE_EVERY_S",
    "RESCAN_EVERY_S",
    "ObservedStore",
    "PollCadence",
    "RemoteFeed",
    "TableInfo",
]

DEFAULT_INTERVAL_S = 2.0
#: A quiet table's gap grows by this factor per quiet poll …
BACKOFF = 2.0
#: … up to this (the issue's "checked at least every 60 s").
MAX_IDLE_S = 60.0
#: A table stays at the base interval this long after its last change (a node between two
#: flushes is not idle; the observers flush every 1–5 s).
HOT_FOR_S = 30.0
#: A rediscovery (root listing + every table read) this often; it doubles as the idle check.
RESCAN_EVERY_S = 60.0
#: Active pipelines' section folders are probed for new nodes this often.
PROBE_EVERY_S = 6.0
#: Sections holding tables (design.md §2).
SECTIONS = ("_status", "_log")


class TableInfo(Protocol):
    """What the cadence needs of a store's table (``orcatui.store.discovery.TableRef``)."""

    @property
    def path(self) -> Any: ...

    @property
    def pipeline(self) -> tuple[str, ...]: ...

    @property
    def identity(self) -> tuple[str, ...]: ...

    @property
    def kind(self) -> Any: ...


@dataclass
class _Table:
    pipeline: tuple[str, ...]
    section: str | None
    top: str | None  # the first identity component (the node folder below the section)
    last_change: float
    gap: float
    next_due: float


@dataclass
class Tick:
    """One decision: the tables to poll now and whether to rediscover first."""

    tables: set[Hashable] = field(default_factory=set)
    rescan: bool = False

    def changes(self) -> Changes:
        """As the unit the app's feed loop consumes."""
        return Changes(set(self.tables), self.rescan)  # type: ignore[arg-type]


def _section(ref: TableInfo) -> str | None:
    kind = getattr(ref, "kind", None)
    name = str(getattr(kind, "name", kind) or "").upper()
    if name.startswith("STATUS"):
        return "_status"
    if name.startswith("LOG"):
        return "_log"
    return None


class PollCadence:
    """Per-table poll schedule with activity-driven back-off (see module docstring).

    Thread-safe: :meth:`observe` runs on the model thread, :meth:`tick` on the feed's.
    """

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        max_idle: float = MAX_IDLE_S,
        backoff: float = BACKOFF,
        hot_for: float = HOT_FOR_S,
        rescan_every: float = RESCAN_EVERY_S,
        probe_every: float = PROBE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("poll interval must be positive")
        self.interval = float(interval)
        self.max_idle = max(float(max_idle), self.interval)
        self.backoff = max(1.0, float(backoff))
        self.hot_for = float(hot_for)
        self.rescan_every = max(float(rescan_every), self.interval)
        self.probe_every = max(float(probe_every), self.interval)
        self.clock = clock
        self._tables: dict[Hashable, _Table] = {}
        self._lock = threading.Lock()
        now = clock()
        self._next_rescan = now + self.rescan_every
        self._next_probe = now + self.probe_every
        self._rescan_asked = False
        self._primed = False

    # -- feedback ---------------------------------------------------------------------------
    def observe(
        self,
        tables: Iterable[TableInfo],
        *,
        polled: Iterable[Hashable] | None,
        changed: Iterable[Hashable],
        rediscovered: bool = False,
    ) -> None:
        """What one store poll did: the store's tables now, the ones it polled (``None`` =
        all of them), the ones that had something new. Tables that appear later start hot;
        those of the first call (the cold load) start quiet."""
        now = self.clock()
        changed = set(changed)
        with self._lock:
            first = not self._primed
            self._primed = True
            if first:
                # The cold load read every table: that says nothing about which are active.
                # They start quiet and back off from the base interval (polls at +2, +6,
                # +14, +30 s …), so an active one is hot again after its first poll.
                changed = set()
            known: dict[Hashable, _Table] = {}
            for ref in tables:
                key = ref.path
                old = self._tables.get(key)
                if old is None:
                    ident = tuple(ref.identity)
                    old = _Table(
                        tuple(ref.pipeline),
                        _section(ref),
                        ident[0] if ident else None,
                        last_change=now - self.hot_for if first else now,
                        gap=self.interval,
                        next_due=now + self.interval,
                    )
                known[key] = old
            self._tables = known
            polled_set = set(known) if polled is None else set(polled) & set(known)
            for key in polled_set:
                t = known[key]
                if first:
                    continue
                if key in changed:
                    t.last_change, t.gap = now, self.interval
                elif now - t.last_change >= self.hot_for:
                    t.gap = min(self.max_idle, max(t.gap, self.interval) * self.backoff)
                t.next_due = now + t.gap
            if rediscovered:
                self._next_rescan = now + self.rescan_every
                self._rescan_asked = False

    def ask_rescan(self) -> None:
        """Rediscover at the next tick (a probe saw a new node folder)."""
        with self._lock:
            self._rescan_asked = True

    # -- decisions --------------------------------------------------------------------------
    def tick(self) -> Tick:
        """The tables due now (their next due time is pushed out by their gap, so a slow
        store is not asked twice), and whether to rediscover (then every table is read)."""
        now = self.clock()
        out = Tick()
        with self._lock:
            if self._rescan_asked or now >= self._next_rescan:
                out.rescan = True
                self._rescan_asked = False
                self._next_rescan = now + self.rescan_every
            for key, t in self._tables.items():
                if out.rescan or now >= t.next_due:
                    out.tables.add(key)
                    t.next_due = now + t.gap
        return out

    def probe_due(self) -> bool:
        """True (once per ``probe_every``) when active pipelines should be probed."""
        now = self.clock()
        with self._lock:
            if now < self._next_probe:
                return False
            self._next_probe = now + self.probe_every
            return True

    def next_wake(self) -> float:
        """Seconds until something is due (at most one interval: probes and asks are checked
        every interval)."""
        now = self.clock()
        with self._lock:
            soonest = min(
                [
                    self._next_rescan,
                    now + self.interval,
                    *(t.next_due for t in self._tables.values()),
                ]
            )
        return max(0.0, soonest - now)

    def active_pipelines(self) -> set[tuple[str, ...]]:
        """Pipelines with a table that changed within ``hot_for``."""
        now = self.clock()
        with self._lock:
            return {t.pipeline for t in self._tables.values() if now - t.last_change < self.hot_for}

    def known_tops(self, pipeline: tuple[str, ...], section: str) -> set[str]:
        """Node folder names (first identity component) known in ``pipeline``'s ``section``."""
        with self._lock:
            return {
                t.top
                for t in self._tables.values()
                if t.pipeline == pipeline and t.section == section and t.top is not None
            }

    def gaps(self) -> dict[Hashable, float]:
        """Each table's current gap between polls (for tests and the benchmark)."""
        with self._lock:
            return {k: t.gap for k, t in self._tables.items()}


class _StoreLike(Protocol):
    tables: Any
    broken: Any

    def poll(self, **kwargs: Any) -> Any: ...


class ObservedStore:
    """A store proxy that tells a :class:`PollCadence` what each poll found.

    Same interface as the store (``tables``, ``broken``, ``poll``; anything else is passed
    through). Tables with new rows are seen through the ``consume`` callback and the update's
    ``status``/``logs``/``new_tables``.
    """

    def __init__(self, store: Any, cadence: PollCadence) -> None:
        self._store = store
        self._cadence = cadence

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def tables(self) -> Any:
        """The wrapped store's tables."""
        return self._store.tables

    @property
    def broken(self) -> Any:
        """The wrapped store's broken tables."""
        return self._store.broken

    def poll(
        self,
        *,
        rediscover: bool = True,
        only: set[Any] | None = None,
        consume: Callable[[Any, Any], None] | None = None,
    ) -> Any:
        """Poll the wrapped store, then report to the cadence."""
        changed: set[Hashable] = set()
        lock = threading.Lock()
        spy = None
        if consume is not None:
            inner = consume

            def spy(ref: Any, rows: Any) -> None:
                with lock:
                    changed.add(ref.path)
                inner(ref, rows)

        update = self._store.poll(rediscover=rediscover, only=only, consume=spy)
        for ref, _rows in [*getattr(update, "status", ()), *getattr(update, "logs", ())]:
            changed.add(ref.path)
        new = [ref.path for ref in getattr(update, "new_tables", ())]
        changed.update(new)
        polled = None if rediscover or only is None else set(only) | set(new)
        self._cadence.observe(
            list(self._store.tables), polled=polled, changed=changed, rediscovered=rediscover
        )
        return update


def probe_new_nodes(
    cadence: PollCadence,
    list_dirs: Callable[[str], tuple[list[str], Any]],
    key_of: Callable[..., str],
) -> bool:
    """One delimiter LIST per section of each active pipeline; True (and a rescan asked) when
    a node folder appeared that no known table lives in.

    ``list_dirs(prefix)`` returns ``(common prefixes, objects)`` (``Bucket.list_dirs``);
    ``key_of(*parts)`` makes a bucket key under the root (``RootURL.key``).
    """
    for pipeline in sorted(cadence.active_pipelines()):
        for section in SECTIONS:
            known = cadence.known_tops(pipeline, section)
            dirs, _objects = list_dirs(key_of(*pipeline, section))
            names = {d.rstrip("/").rsplit("/", 1)[-1] for d in dirs}
            if names - known:
                cadence.ask_rescan()
                return True
    return False


class RemoteFeed:
    """The change feed of a root on object storage: yields the :class:`Changes` the cadence
    decides, at its pace. Same use as :class:`orcatui.watch.ChangeFeed` (``prepare``,
    ``changes``, ``stop``, ``backend``).

    ``probe`` (optional, blocking, run in a thread) looks for new node folders of the active
    pipelines; without it new tables are found by the periodic rediscovery alone.
    """

    def __init__(
        self,
        url: str,
        cadence: PollCadence,
        *,
        probe: Callable[[], bool] | None = None,
    ) -> None:
        self.url = url
        self.cadence = cadence
        self.probe = probe
        scheme = url.split("://", 1)[0].lower() if "://" in url else "object storage"
        self.backend = f"polling {scheme} every {cadence.interval:g}s"
        self.probe_errors = 0
        self._stop = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def prepare(self) -> str:
        """The backend label (nothing to detect for object storage)."""
        return self.backend

    def stop(self) -> None:
        """End :meth:`changes` soon (safe from any thread)."""
        self._stop.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def changes(self) -> AsyncIterator[Changes]:
        """Yield what to poll, tick by tick, until :meth:`stop` (nothing for what exists at
        start: the caller reads the store once first)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, self.cadence.next_wake()))
            if self._stop.is_set():
                return
            if self.probe is not None and self.cadence.probe_due():
                try:
                    await asyncio.to_thread(self.probe)
                except Exception:  # the store's own poll reports the failure in the banner
                    self.probe_errors += 1
            tick = self.cadence.tick()
            if tick.tables or tick.rescan:
                yield tick.changes()


def make_probe(url: str, storage_options: Mapping[str, str] | None, cadence: PollCadence) -> Any:
    """A :func:`probe_new_nodes` bound to a client of ``url`` (its requests are counted in the
    returned callable's ``bucket``)."""
    from observers.objstore import Bucket, parse_root

    root = parse_root(url)
    bucket = Bucket(root, storage_options)

    def probe() -> bool:
        return probe_new_nodes(cadence, bucket.list_dirs, root.key)

    probe.bucket = bucket  # type: ignore[attr-defined]
    return probe
