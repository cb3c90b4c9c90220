"""When to poll which table of a root on object storage (Textual-free).

Object storage has no change notification: every look is a request, and requests cost money.
:class:`PollCadence` decides, tick by tick, which tables the store should poll, so that cost
follows activity rather than history (docs/design.md §9):

* **Hot tables** — changed within ``hot_for`` (30 s), or just discovered — are polled every
  ``interval`` (2 s, ``--poll``): one LIST after the last key seen, plus GETs of what is new.
* **Quiet tables back off**: each quiet poll doubles the gap (4, 8, 16, 32 s …) up to
  ``max_idle`` (60 s).
* **The sweep**: one recursive LIST of the whole root (1,000 keys per request), 2, 6, 14, 30 s
  after start and then every ``sweep_every`` (60 s), compared with the previous one. The tables
  of the cold load start quiet and are left to it: the start-up sweeps find the active ones
  within seconds, without a LIST per table. It replaces the per-table idle checks: a
  table whose keys changed is polled, a table prefix not seen before asks for a rediscovery, a
  run record that changed makes its pipeline *live*. A root of 1,000 compacted tables costs a
  few requests a minute instead of 1,000. When a sweep would take more requests than there are
  tables (huge Delta logs), it is not used: idle tables are then polled every ``max_idle`` and
  the root rediscovered every ``rescan_every``; the sweep then stops listing one page past
  that budget (:meth:`PollCadence.sweep_budget`), so a root's history never makes it cost
  more than its tables do.
* **Run records of live pipelines** — a record not ended that the reader saw change within
  ``hot_for`` — are read every interval (the store reads the records of the pipelines of the
  tables it polls): liveness is judged by when the *reader* saw a heartbeat change, so records
  of a running pipeline must never be read less often than its heartbeat. A record that stopped
  changing backs off like a table (the verdict DEAD needs 3 unchanged heartbeat intervals, seen
  long before the back-off starts).
* **New nodes of active pipelines**: every ``probe_every`` (6 s) one delimiter LIST per section
  (``_status``, ``_log``) of each active pipeline; a node folder not seen before asks for a
  rediscovery, so a node added mid-run shows within a few intervals, not at the next sweep.

The cadence learns what each store poll found from :meth:`PollCadence.observe`, which the
store proxy :class:`ObservedStore` calls on the model thread. Time comes from ``clock``
(monotonic seconds), so the tests drive it without sleeping. :class:`RemoteFeed` runs the
cadence as an async feed of :class:`~orcatui.watching.changes.Changes`, like the local
:class:`~orcatui.watch.ChangeFeed`.
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
    "SWEEP_EVERY_S",
    "ObservedStore",
    "PollCadence",
    "RemoteFeed",
    "Sweep",
    "TableInfo",
    "backend_label",
    "probe_new_nodes",
    "sweep_listing",
]

DEFAULT_INTERVAL_S = 2.0
#: A quiet table's gap grows by this factor per quiet poll …
BACKOFF = 2.0
#: … up to this (the issue's "checked at least every 60 s").
MAX_IDLE_S = 60.0
#: A table stays at the base interval this long after its last change (a node between two
#: flushes is not idle: the observers flush every 1–5 s).
HOT_FOR_S = 30.0
#: The whole-root listing compared with the last one, this often.
SWEEP_EVERY_S = 60.0
#: Without the sweep: rediscover (root listing, then every table read) this often.
RESCAN_EVERY_S = 60.0
#: Active pipelines' section folders are probed for new nodes this often.
PROBE_EVERY_S = 6.0
#: Sections holding tables (design.md §2).
SECTIONS = ("_status", "_log")
#: Keys in one LIST page (S3's maximum; what a sweep's budget is counted in).
LIST_PAGE = 1000
_RUNS = "_runs"
_DELTA_LOG = "_delta_log"
_NEVER = float("inf")

Pipeline = tuple[str, ...]


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
    pipeline: Pipeline
    section: str | None
    top: str | None  # the first identity component (the node folder below the section)
    last_change: float
    gap: float
    next_due: float
    asked_at: float | None = None  # when the last tick asked for it (the period's start)


@dataclass
class _Records:
    """The run records of one pipeline: when the reader last saw an open one change."""

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


@dataclass
class Sweep:
    """What one whole-root listing says, relative to the root: a signature per table prefix
    (Parquet: its object keys and ETags; Delta: its newest ``_delta_log`` key) and per
    pipeline's run records; ``requests``: LIST pages it took; ``complete``: False when it
    stopped at :meth:`PollCadence.sweep_budget` (too costly to be used: not compared)."""

    tables: dict[str, Hashable] = field(default_factory=dict)
    records: dict[Pipeline, Hashable] = field(default_factory=dict)
    requests: int = 0
    #: False when the listing was cut short at the budget (then it is only a cost measure).
    complete: bool = True


def sweep_listing(objects: Iterable[Mapping[str, Any]], prefix: str) -> Sweep:
    """Group a recursive listing (``Bucket.list`` objects) of the root at ``prefix``."""
    cut = len(prefix.strip("/")) + 1 if prefix.strip("/") else 0
    parquet: dict[str, list[tuple[str, Any]]] = {}
    delta: dict[str, str] = {}
    records: dict[Pipeline, list[tuple[str, Any]]] = {}
    for obj in objects:
        rel = str(obj["path"])[cut:]
        parts = rel.split("/")
        name = parts[-1]
        if _DELTA_LOG in parts:
            i = parts.index(_DELTA_LOG)
            table = "/".join(parts[:i])
            if name > delta.get(table, ""):
                delta[table] = name
        elif _RUNS in parts[-3:-1]:
            if name.endswith(".json") and not name.startswith("."):
                pipeline = tuple(parts[: parts.index(_RUNS)])
                records.setdefault(pipeline, []).append((rel, obj.get("e_tag")))
        elif name.endswith(".parquet") and not name.startswith((".", "_")):
            parquet.setdefault("/".join(parts[:-1]), []).append((name, obj.get("e_tag")))
    out = Sweep()
    for table, newest in delta.items():
        out.tables[table] = ("delta", newest)
    for table, objs in parquet.items():
        if any(table == d or table.startswith(d + "/") for d in delta):
            continue  # a Delta table's data files
        out.tables[table] = hash(tuple(sorted(objs, key=lambda o: o[0])))
    for pipeline, objs in records.items():
        out.records[pipeline] = hash(tuple(sorted(objs, key=lambda o: o[0])))
    return out


def _section(ref: TableInfo) -> str | None:
    kind = getattr(ref, "kind", None)
    name = str(getattr(kind, "name", kind) or "").upper()
    if name.startswith("STATUS"):
        return "_status"
    if name.startswith("LOG"):
        return "_log"
    return None


def _suffixes(path: Any) -> list[str]:
    """``a/b/c`` → ``["c", "b/c", "a/b/c"]``: a table path however the store spells it (a
    relative key, a URL, a ``Path``) matches a listing's relative prefix by suffix."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p]
    return ["/".join(parts[i:]) for i in range(len(parts) - 1, -1, -1)]


class PollCadence:
    """Per-table and per-pipeline poll schedule (see module docstring).

    Thread-safe: :meth:`observe` runs on the model thread, the rest on the feed's.
    """

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        max_idle: float = MAX_IDLE_S,
        backoff: float = BACKOFF,
        hot_for: float = HOT_FOR_S,
        sweep_every: float | None = SWEEP_EVERY_S,
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
        self.sweep_every = None if sweep_every is None else max(float(sweep_every), self.interval)
        self.rescan_every = max(float(rescan_every), self.interval)
        self.probe_every = max(float(probe_every), self.interval)
        self.clock = clock
        self._tables: dict[Hashable, _Table] = {}
        self._records: dict[Pipeline, _Records] = {}
        self._lock = threading.Lock()
        now = clock()
        self._next_rescan = now + self.rescan_every
        self._next_probe = now + self.probe_every
        self._sweep_gap = self.interval
        self._next_sweep = now + self.interval
        self._rescan_asked = False
        self._primed = False
        self._last_sweep: Sweep | None = None
        #: Requests the last sweep took (``None`` before the first).
        self.sweep_requests: int | None = None

    @property
    def sweeping(self) -> bool:
        """True while the sweep replaces per-table idle checks and periodic rediscovery."""
        if self.sweep_every is None:
            return False
        n = self.sweep_requests
        return n is None or n <= max(1, len(self._tables))

    def sweep_budget(self) -> int:
        """LIST pages a sweep may take and still be used (one per table), plus one: a sweep
        that needs more stops there (it would not be used, so it need not be finished)."""
        with self._lock:
            return max(1, len(self._tables)) + 1

    def _ceiling(self) -> float:
        """The longest gap between a table's own polls (the sweep covers longer ones)."""
        if self.sweeping and self.sweep_every is not None:
            return min(self.max_idle, self.sweep_every)
        return self.max_idle

    # -- feedback ---------------------------------------------------------------------------
    def observe(
        self,
        tables: Iterable[TableInfo],
        *,
        polled: Iterable[Hashable] | None,
        changed: Iterable[Hashable],
        rediscovered: bool = False,
        records: Mapping[Pipeline, Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        """What one store poll did: the store's tables now, the ones it polled (``None`` =
        all), the ones with something new, and the run records it (re)read (pipeline → records
        whose content changed). Tables that appear later start hot; those of the first call
        (the cold load) start quiet."""
        now = self.clock()
        changed = set(changed)
        with self._lock:
            first = not self._primed
            self._primed = True
            if first:
                # The cold load read every table: that says nothing about which are active.
                # They start quiet and back off from the base interval (polls at +2, +6, +14,
                # +30 s …), so an active one is hot again after its first poll.
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
                    if first and self.sweeping:
                        # the sweeps (2 s, 4 s, 8 s … after start) tell which are active
                        old.gap, old.next_due = self._ceiling(), _NEVER
                known[key] = old
            self._tables = known
            polled_set = set(known) if polled is None else set(polled) & set(known)
            ceiling = self._ceiling()
            for key in polled_set:
                t = known[key]
                if first:
                    continue
                if key in changed:
                    t.last_change, t.gap = now, self.interval
                elif now - t.last_change >= self.hot_for:
                    t.gap = min(ceiling, max(t.gap, self.interval) * self.backoff)
                # the period counts from when the poll was asked for, not from when the read
                # finished (else every period grows by the read's duration)
                start = now if t.asked_at is None else min(t.asked_at, now)
                t.asked_at = None
                # a table at the ceiling is left to the sweep (it says when the table moved)
                t.next_due = _NEVER if self.sweeping and t.gap >= ceiling else start + t.gap
            for pipeline, recs in (records or {}).items():
                if any(isinstance(r, Mapping) and r.get("ended_at") is None for r in recs):
                    self._records[tuple(pipeline)] = _Records(now, self.interval, now)
            polled_pipelines = {known[k].pipeline for k in polled_set}
            for pipeline, rec in list(self._records.items()):
                if pipeline not in polled_pipelines:
                    continue
                if now - rec.last_change >= self.hot_for:
                    rec.gap = rec.gap * self.backoff
                    if rec.gap > ceiling:  # quiet for long: the tables' cadence covers it
                        del self._records[pipeline]
                        continue
                rec.next_due = now + rec.gap
            if rediscovered:
                self._next_rescan = now + self.rescan_every
                self._rescan_asked = False

    def ask_rescan(self) -> None:
        """Rediscover at the next tick (a probe or the sweep saw a new table)."""
        with self._lock:
            self._rescan_asked = True

    def apply_sweep(self, sweep: Sweep) -> None:
        """Compare a sweep with the previous one: changed tables become due, a new table
        prefix asks for a rediscovery, changed run records make their pipeline live."""
        now = self.clock()
        with self._lock:
            self.sweep_requests = sweep.requests
            if not sweep.complete:  # cut short: says what a sweep costs, not what changed
                self._last_sweep = None
                return
            last, self._last_sweep = self._last_sweep, sweep
            if last is None:
                return
            if sweep.tables.keys() - last.tables.keys():
                self._rescan_asked = True
            moved = {k for k, sig in sweep.tables.items() if last.tables.get(k, sig) != sig}
            if moved:
                index: dict[str, Hashable] = {}
                for key in self._tables:
                    for suffix in _suffixes(key):
                        index.setdefault(suffix, key)
                for prefix in moved:
                    key = index.get(prefix)
                    if key is not None:
                        self._tables[key].next_due = now
            for pipeline, sig in sweep.records.items():
                if last.records.get(pipeline) != sig:  # a record written, new or rewritten
                    self._records[pipeline] = _Records(now, self.interval, now)

    # -- decisions --------------------------------------------------------------------------
    def tick(self) -> Tick:
        """The tables due now (their next due time is pushed out by their gap, so a slow store
        is not asked twice), and whether to rediscover (then every table is read)."""
        now = self.clock()
        out = Tick()
        with self._lock:
            periodic = not self.sweeping and now >= self._next_rescan
            if self._rescan_asked or periodic:
                out.rescan = True
                self._rescan_asked = False
                self._next_rescan = now + self.rescan_every
            sweeping = self.sweeping
            for key, t in self._tables.items():
                if t.next_due == _NEVER and not sweeping:
                    t.next_due = now  # the sweep was given up: poll on the table's own gap
                if out.rescan or now >= t.next_due:
                    out.tables.add(key)
                    t.asked_at = now
                    t.next_due = now + t.gap  # until the poll's outcome is observed
            due = {p for p, r in self._records.items() if now >= r.next_due}
            for pipeline in due:
                self._records[pipeline].next_due = now + self._records[pipeline].gap
                if any(self._tables[k].pipeline == pipeline for k in out.tables):
                    continue
                rep = self._representative(pipeline)
                if rep is not None:
                    out.tables.add(rep)
        return out

    def _representative(self, pipeline: Pipeline) -> Hashable | None:
        """One table of ``pipeline`` (polling it makes the store read its run records)."""
        best = None
        for key, t in self._tables.items():
            if t.pipeline == pipeline and (best is None or t.section == "_status"):
                best = key
                if t.section == "_status":
                    break
        return best

    def due(self, what: str) -> bool:
        """True (once per period) when ``what`` (``"probe"`` or ``"sweep"``) should run."""
        now = self.clock()
        with self._lock:
            if what == "sweep":
                if self.sweep_every is None or now < self._next_sweep:
                    return False
                # soon after start, then doubling: the first sweeps find the active tables
                self._sweep_gap = min(self.sweep_every, self._sweep_gap * self.backoff)
                self._next_sweep = now + self._sweep_gap
                return True
            if now < self._next_probe:
                return False
            self._next_probe = now + self.probe_every
            return True

    def next_wake(self) -> float:
        """Seconds until something may be due (at most one interval: asks from the model
        thread are looked at every interval)."""
        now = self.clock()
        with self._lock:
            dues = [t.next_due for t in self._tables.values()]
            soonest = min([now + self.interval, self._next_sweep, *dues])
        return max(0.0, soonest - now)

    def active_pipelines(self) -> set[Pipeline]:
        """Pipelines with a table that changed within ``hot_for`` or live run records."""
        now = self.clock()
        with self._lock:
            out = {t.pipeline for t in self._tables.values() if now - t.last_change < self.hot_for}
            return out | {p for p, r in self._records.items() if now - r.last_change < self.hot_for}

    def known_tops(self, pipeline: Pipeline, section: str) -> set[str]:
        """Node folder names (first identity component) known in ``pipeline``'s ``section``."""
        with self._lock:
            return {
                t.top
                for t in self._tables.values()
                if t.pipeline == pipeline and t.section == section and t.top is not None
            }

    def gaps(self) -> dict[Hashable, float]:
        """Each table's current gap between its own polls (for tests and benchmarks)."""
        with self._lock:
            return {k: t.gap for k, t in self._tables.items()}


class ObservedStore:
    """A store proxy that tells a :class:`PollCadence` what each poll found.

    Same interface as the store (``tables``, ``broken``, ``poll``; other attributes are passed
    through). Tables with new rows are seen through the ``consume`` callback and the update's
    ``status`` / ``logs`` / ``new_tables``; run records through ``run_records``.
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
            list(self._store.tables),
            polled=polled,
            changed=changed,
            rediscovered=rediscover,
            records=getattr(update, "run_records", None),
        )
        return update


def probe_new_nodes(
    cadence: PollCadence,
    list_dirs: Callable[[str], tuple[list[str], Any]],
    key_of: Callable[..., str],
) -> bool:
    """One delimiter LIST per section of each active pipeline; True (and a rediscovery asked)
    when a node folder appeared that no known table lives in.

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


def backend_label(url: str, interval: float) -> str:
    """What the header says a remote feed does: ``polling s3 every 2s``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "object storage"
    return f"polling {scheme} every {interval:g}s"


class RemoteFeed:
    """The change feed of a root on object storage: yields the :class:`Changes` the cadence
    decides, at its pace. Used like :class:`orcatui.watch.ChangeFeed` (``prepare``,
    ``changes``, ``stop``, ``backend``).

    ``probe`` and ``sweep`` (blocking; run in a thread) look for new nodes of the active
    pipelines and list the whole root; without them new tables are found by the periodic
    rediscovery alone. Their failures are counted, never raised: the store's own poll fails
    the same way and the app shows that.
    """

    def __init__(
        self,
        url: str,
        cadence: PollCadence,
        *,
        probe: Callable[[], bool] | None = None,
        sweep: Callable[[], Sweep] | None = None,
    ) -> None:
        self.url = url
        self.cadence = cadence
        self.probe = probe
        self.sweep = sweep
        if sweep is None:
            cadence.sweep_every = None
        self.backend = backend_label(url, cadence.interval)
        self.errors = 0
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

    async def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except Exception:
            self.errors += 1
            return None

    async def changes(self) -> AsyncIterator[Changes]:
        """Yield what to poll, tick by tick, until :meth:`stop` (nothing for what exists at
        start: the caller reads the store once first)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.sweep is not None:  # the baseline the next sweep is compared with
            sweep = await self._run(self.sweep)
            if sweep is not None:
                self.cadence.apply_sweep(sweep)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, self.cadence.next_wake()))
            if self._stop.is_set():
                return
            if self.sweep is not None and self.cadence.due("sweep"):
                sweep = await self._run(self.sweep)
                if sweep is not None:
                    self.cadence.apply_sweep(sweep)
            if self.probe is not None and self.cadence.due("probe"):
                await self._run(self.probe)
            tick = self.cadence.tick()
            if tick.tables or tick.rescan:
                yield tick.changes()


class RootProbes:
    """The probe and the sweep of :class:`RemoteFeed`, on their own client of the root (its
    requests counted in :attr:`bucket`)."""

    def __init__(
        self, url: str, storage_options: Mapping[str, str] | None, cadence: PollCadence
    ) -> None:
        from observers.objstore import Bucket, parse_root

        self.root = parse_root(url)
        self.bucket = Bucket(self.root, storage_options)
        self.cadence = cadence

    def probe(self) -> bool:
        """New node folders in the active pipelines (see :func:`probe_new_nodes`)."""
        return probe_new_nodes(self.cadence, self.bucket.list_dirs, self.root.key)

    def sweep(self) -> Sweep:
        """One recursive listing of the root, grouped (see :func:`sweep_listing`); stopped
        once it needs more pages than :meth:`PollCadence.sweep_budget` (then incomplete)."""
        before = self.bucket.requests.get("LIST", 0)
        limit = self.cadence.sweep_budget() * LIST_PAGE
        cut = False

        def objects() -> Iterable[Mapping[str, Any]]:
            nonlocal cut
            pages = self.bucket.list(self.root.prefix)
            for n, obj in enumerate(pages):
                if n == limit:
                    cut = True
                    pages.close()
                    return
                yield obj

        out = sweep_listing(objects(), self.root.prefix)
        out.requests = self.bucket.requests.get("LIST", 0) - before
        if cut:
            out = Sweep(requests=max(out.requests, self.cadence.sweep_budget()), complete=False)
        return out


def remote_feed(
    url: str,
    storage_options: Mapping[str, str] | None = None,
    *,
    interval: float | None = None,
    cadence: PollCadence | None = None,
) -> RemoteFeed:
    """A :class:`RemoteFeed` of ``url`` with its probe and sweep (the app's entry point)."""
    cadence = cadence or PollCadence(interval=interval or DEFAULT_INTERVAL_S)
    probes = RootProbes(url, storage_options, cadence)
    feed = RemoteFeed(url, cadence, probe=probes.probe, sweep=probes.sweep)
    feed.probes = probes  # type: ignore[attr-defined]
    return feed
