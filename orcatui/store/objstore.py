"""Reading roots on object storage (``s3://``, ``gs://``, ``az://``/``abfs://``): Textual-free.

The client (obstore, configured from each cloud's environment variables plus storage
options) lives in :mod:`observers.objstore`; this module adds what a reader needs:

* :class:`RemoteRoot` — the cold load's discovery: Parquet tables, Delta tables (with their
  ``_delta_log/`` objects), run records. A root that fits one LIST page is classified from that
  page. A larger one with big Delta logs (orcapod's one commit per event) is walked folder by
  folder (:class:`_Walk`: delimiter LISTs, one level's folders at once) along the layout
  rule, never listing what a cold load does not need: not a Delta table's data files (its log
  names them), not its log when ``_delta_log/_last_checkpoint`` names the newest checkpoint
  (the reader GETs that checkpoint and the commits after it by name, :class:`CheckpointHint`).
  Any other large root (many small tables) is listed whole, as a few prefixes at once
  (:func:`list_tree`).
* :class:`ParquetTail` — new objects of one Parquet table. Our writers name objects
  ``<13-digit epoch ms>-<writer id>-<seq>.parquet``, so keys sort by time across writers:
  the tail LISTs only after ``(newest ms seen − LAG_MS)`` (the lag covers uploads that
  finish out of order and small clock differences between hosts) and reads keys it has not
  read. A table with any other names falls back to a full LIST of its prefix, compared
  with the cached key set. A key that has vanished (compacted away) is forgotten; its events
  are in the merged object, whose key sorts later.
* :class:`DeltaTail` — a Delta table opened through delta-rs (same storage options); new
  commits are found by a LIST of ``_delta_log/`` after the last commit key seen, and their
  added files read by GET; a commit that removes files (OPTIMIZE, overwrite) makes the tail
  reload the snapshot through delta-rs (``reset``).
* :class:`RunRecordWatch` — run records by listing ``_runs/``; each record carries
  ``_seen_change_at`` (the **reader's** clock when it last saw the heartbeat change),
  ``_heartbeat_watched`` (whether it has seen it change at all) and ``_clock_offset_s`` (the
  object's Last-Modified minus the writer's ``heartbeat_at``, measured at a heartbeat write).

The store over all this is :class:`orcatui.store.remote_store.RemoteStore`.

Every failure is an :class:`~observers.objstore.ObjectStoreError` with a one-line message.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from observers.objstore import (
    Bucket,
    ObjectStoreError,
    RootURL,
    delta_options,
    is_url,
    parse_root,
)

__all__ = [
    "DeltaTail",
    "ObjectStoreError",
    "ParquetTail",
    "RemoteRoot",
    "RunRecordWatch",
    "is_url",
    "parse_root",
]

#: Look back this far behind the newest object time seen (out-of-order uploads, clock skew).
LAG_MS = 60_000
#: A run record is a few kB; a larger object is not parsed.
MAX_RECORD_BYTES = 4 << 20
#: GETs in flight at once in the whole process (object storage is latency-bound: a request
#: costs 20-50 ms of waiting and almost no CPU, so many are kept in flight).
GET_THREADS = 64
#: :func:`list_tree`: split a root's listing into this many prefixes, walking down at most
#: ``SCAN_DEPTH`` folder levels to find them.
SCAN_FAN = 16
SCAN_DEPTH = 4
#: Keys in one LIST page (S3's maximum; :meth:`Bucket.list` asks for pages of this size).
LIST_PAGE = 1000
#: :meth:`RemoteRoot.scan`: a root with at least this many keys is not classified from its
#: first page; it is walked (:class:`_Walk`) when that page shows big Delta logs (read at call
#: time: tests lower it).
WALK_FROM = LIST_PAGE
#: Error kinds that are the whole root's, not one prefix's (credentials, bucket, endpoint).
WHOLE_ROOT = frozenset({"credentials", "no-bucket", "unreachable"})
#: ``_delta_log/_last_checkpoint`` larger than this is not parsed (it is a few hundred bytes).
MAX_LAST_CHECKPOINT = 1 << 20
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def get_pool() -> ThreadPoolExecutor:
    """The process-wide pool that runs single GETs (leaf tasks only: nothing run on it waits
    for another task of it, so table threads may share it without deadlock)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=GET_THREADS, thread_name_prefix="get")
        return _pool


def get_many(bucket: Bucket, keys: list[str]) -> dict[str, bytes | None]:
    """GET ``keys`` concurrently on the shared pool: key → bytes, or None when not found.
    Any other failure raises (the first, as an :class:`ObjectStoreError`)."""

    def one(key: str) -> bytes | None:
        try:
            return bucket.get(key)
        except ObjectStoreError as exc:
            if exc.kind == "not-found":
                return None
            raise

    if len(keys) <= 1:
        return {k: one(k) for k in keys}
    return dict(zip(keys, get_pool().map(one, keys), strict=True))


_TIME_NAME = re.compile(r"^(\d{13})-.+\.parquet$")
_COMMIT = re.compile(r"^(\d{20})\.json$")
_DELTA_LOG = "_delta_log"
_RUNS = "_runs"
_LAST_CHECKPOINT = "_last_checkpoint"


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


@dataclass
class Listing:
    """What one full LIST of a root found (keys relative to the bucket).

    ``parquet``: table prefix → its Parquet objects (``path``, ``size``, ``last_modified``…);
    ``delta``: table prefixes that have a ``_delta_log/``; ``delta_logs``: table prefix → the
    objects of its ``_delta_log/`` (so a cold load needs no LIST of its own); ``delta_hints``:
    table prefix → what its ``_last_checkpoint`` says (the walk's Delta tables: their log is
    then not listed at all); ``records``: run-record objects;
    ``records_failed``: ``_runs/`` prefixes whose listing failed (their records are unknown,
    not absent); ``problems``: prefix → one-line reason it could not be listed or probed (the
    rest of the root is still listed); ``walked``: found by :class:`_Walk`; ``requests``:
    LIST requests made.
    """

    parquet: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delta: list[str] = field(default_factory=list)
    delta_logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delta_hints: dict[str, CheckpointHint] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    records_failed: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)
    walked: bool = False
    requests: int = 0


class RemoteRoot:
    """A root on object storage: one client, a full listing, tails of its tables.

    Args:
        url: ``s3://bucket/prefix`` (or ``gs://``, ``az://``, ``abfs://``).
        storage_options: ``KEY=VALUE`` options as delta-rs spells them (``--storage-option``).
    """

    def __init__(self, url: str, storage_options: Mapping[str, str] | None = None):
        self.url = url.rstrip("/")
        self.root: RootURL = parse_root(self.url)
        self.storage_options = dict(storage_options or {})
        self.bucket = Bucket(self.root, self.storage_options)

    @property
    def requests(self) -> dict[str, int]:
        """Requests made so far, by operation (LIST, GET, PUT, DELETE)."""
        return dict(self.bucket.requests)

    def check(self) -> None:
        """One LIST request; raises a one-line :class:`ObjectStoreError` when the root is
        unusable (bad credentials, missing bucket, unreachable endpoint, access denied)."""
        next(iter(self.bucket.list(self.root.prefix)), None)

    def scan(self, known: Iterable[str] = ()) -> Listing:
        """Find the root's tables and run records.

        One LIST page first (:data:`WALK_FROM` keys): a root that fits it is classified from
        it. A larger one whose first page shows a big Delta log (:func:`big_logs`: orcapod's
        one commit per event) is walked (:class:`_Walk`; ``known`` table prefixes, already
        read, are not entered again); any other (many small tables) is listed whole
        (:func:`list_tree`: a few pages for 1,000 one-object tables, where a walk would make
        a request per folder). A failure to list the root raises :class:`ObjectStoreError`;
        below it, the walk names the prefix in ``problems``.
        """
        before = self.bucket.requests.get("LIST", 0)
        limit = max(1, WALK_FROM)
        first = first_keys(self.bucket, self.root.prefix, limit)
        if len(first) < limit:
            out = self._classify(first)
        elif big_logs(first):
            out = _Walk(self.bucket, self.root.prefix, set(known)).run()
        else:
            out = self._classify(list_tree(self.bucket, self.root.prefix, first=first))
        out.requests = self.bucket.requests.get("LIST", 0) - before
        return out

    def _classify(self, objects: Iterable[dict[str, Any]]) -> Listing:
        """The tables and records of a complete recursive listing of the root."""
        out = Listing()
        delta: set[str] = set()
        for obj in objects:
            key: str = obj["path"]
            parts = key.split("/")
            name = parts[-1]
            if _DELTA_LOG in parts:
                at = parts.index(_DELTA_LOG)
                table = "/".join(parts[:at])
                delta.add(table)
                if at == len(parts) - 2:
                    out.delta_logs.setdefault(table, []).append(obj)
                continue
            if len(parts) >= 2 and (parts[-2] == _RUNS or (len(parts) >= 3 and parts[-3] == _RUNS)):
                if name.endswith(".json") and not name.startswith("."):
                    out.records.append(obj)
                continue
            if name.endswith(".parquet") and not _hidden(name):
                out.parquet.setdefault("/".join(parts[:-1]), []).append(obj)
        # Data files of a Delta table are Parquet too: they belong to the Delta table.
        for table in list(out.parquet):
            if any(table == d or table.startswith(d + "/") for d in delta):
                del out.parquet[table]
        out.delta = sorted(delta)
        return out

    def relative(self, key: str) -> str:
        """``key`` relative to the root prefix (what the store shows and keys tables by)."""
        prefix = self.root.prefix
        return key[len(prefix) + 1 :] if prefix and key.startswith(prefix + "/") else key

    def load_parquet(self, listing: Listing) -> tuple[dict[str, ParquetTail], dict[str, TailBatch]]:
        """Cold load: read every Parquet object of ``listing`` with one pool of concurrent
        GETs; returns a primed tail and the first batch per table prefix."""
        keys = [o["path"] for objs in listing.parquet.values() for o in objs]
        tables, missing, broken = read_objects(self.bucket, keys)
        by_key = dict(tables)
        tails: dict[str, ParquetTail] = {}
        batches: dict[str, TailBatch] = {}
        for prefix, objects in listing.parquet.items():
            tail = ParquetTail(self.bucket, prefix)
            tail.adopt(objects)
            tails[prefix] = tail
            names = [o["path"] for o in objects]
            batches[prefix] = TailBatch(
                tables=[(k, by_key[k]) for k in names if k in by_key],
                gone=[k for k in names if k in missing],
                broken={k: broken[k] for k in names if k in broken},
            )
        return tails, batches

    def parquet_tail(self, table_key: str, seed: list[dict[str, Any]] | None = None) -> ParquetTail:
        """A tail of the Parquet table at ``table_key`` (seeded with a scan's objects)."""
        return ParquetTail(self.bucket, table_key, seed)

    def delta_tail(self, table_key: str) -> DeltaTail:
        """A tail of the Delta table at ``table_key``."""
        return DeltaTail(self.bucket, table_key, self.storage_options)

    def run_records(self) -> RunRecordWatch:
        """A watch of every run record under the root."""
        return RunRecordWatch(self.bucket, self.root.prefix)


def read_parquet_bytes(data: bytes) -> pa.Table:
    """One Parquet object's rows (``ParquetFile``: ``pq.read_table`` would import
    ``pyarrow.dataset`` and with it pandas, 0.3 s, the first time)."""
    return pq.ParquetFile(pa.BufferReader(data)).read()


def first_keys(bucket: Bucket, prefix: str, limit: int = LIST_PAGE) -> list[dict[str, Any]]:
    """The first ``limit`` objects under ``prefix`` (one LIST page when ``limit`` ≤ 1,000)."""
    pages = bucket.list(prefix.strip("/"))
    first: list[dict[str, Any]] = []
    for obj in pages:
        first.append(obj)
        if len(first) == limit:
            break
    pages.close()
    return first


def big_logs(page: list[dict[str, Any]]) -> bool:
    """Whether one ``_delta_log/`` holds at least half of ``page`` (a root's first LIST page):
    such logs cost a listing of the whole root half a page or more per table, where a walk
    reads ``_last_checkpoint`` and lists nothing of them."""
    counts: dict[str, int] = {}
    for obj in page:
        head, sep, _ = obj["path"].partition(f"/{_DELTA_LOG}/")
        if sep:
            counts[head] = counts.get(head, 0) + 1
    return bool(page) and 2 * max(counts.values(), default=0) >= len(page)


def list_tree(
    bucket: Bucket,
    prefix: str,
    *,
    fan: int = SCAN_FAN,
    depth: int = SCAN_DEPTH,
    first: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every object under ``prefix`` (as one recursive LIST would give, in key order).

    A root that fits one page (1,000 keys) costs that one LIST. A larger one is listed as a
    few prefixes at once: a delimiter LIST per level (up to ``depth`` levels, each level's
    folders at once) until there are ``fan`` folders, then a full LIST of each, concurrently.
    One recursive LIST would page through the whole root one page after another (a round
    trip each, and moto re-sorts every key below the prefix for every page); the split keeps
    many requests in flight and each one small. ``first``: the root's first page, when the
    caller has it already (a full page: the root is split).
    """
    prefix = prefix.strip("/")
    if first is None:
        first = first_keys(bucket, prefix)
        if len(first) < LIST_PAGE:
            return first
    objects: list[dict[str, Any]] = []
    frontier = [prefix]
    for _ in range(depth):
        if len(frontier) >= fan:
            break
        found = list(get_pool().map(bucket.list_dirs, frontier))
        frontier = [d for dirs, _ in found for d in dirs]
        objects.extend(o for _, objs in found for o in objs)
        if not frontier:
            break
    for part in get_pool().map(lambda p: list(bucket.list(p)), frontier):
        objects.extend(part)
    objects.sort(key=lambda o: o["path"])
    return objects


@dataclass(frozen=True)
class CheckpointHint:
    """What ``_delta_log/_last_checkpoint`` says: the newest checkpoint's ``version`` and its
    number of ``parts`` (None: one file). Untrusted: the reader checks that the objects it
    names exist, and lists the log when they do not."""

    version: int
    parts: int | None = None

    def checkpoint_keys(self, table: str) -> list[str]:
        """The keys of the checkpoint's objects (classic checkpoints: one file or parts)."""
        log = f"{table}/{_DELTA_LOG}/{self.version:020d}"
        if self.parts is None:
            return [f"{log}.checkpoint.parquet"]
        n = self.parts
        return [f"{log}.checkpoint.{i:010d}.{n:010d}.parquet" for i in range(1, n + 1)]


def parse_last_checkpoint(data: bytes) -> CheckpointHint | None:
    """``_last_checkpoint``'s content as a :class:`CheckpointHint`; None unless it is a JSON
    object naming a classic checkpoint (a non-negative integer ``version``, ``parts`` absent
    or a positive integer, no ``v2Checkpoint``)."""
    if len(data) > MAX_LAST_CHECKPOINT:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("v2Checkpoint") is not None:
        return None
    version, parts = doc.get("version"), doc.get("parts")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 10**20:
        return None
    if parts is not None and (
        isinstance(parts, bool) or not isinstance(parts, int) or not 1 <= parts <= 10_000
    ):
        return None
    return CheckpointHint(version, parts)


def probe_delta_log(
    bucket: Bucket, table: str
) -> tuple[CheckpointHint | None, list[dict[str, Any]]]:
    """How a cold load will read the log of ``<table>/_delta_log/``: a
    :class:`CheckpointHint` from ``_last_checkpoint`` (then nothing is listed), else the whole
    log's objects (none: no Delta table there). A failure of the root as a whole raises, as
    does a LIST failure (the caller names the table); an unreadable ``_last_checkpoint`` only
    makes the log listed (the reader names what it cannot read).
    """
    log = f"{table}/{_DELTA_LOG}"
    try:
        hint = parse_last_checkpoint(bucket.get(f"{log}/{_LAST_CHECKPOINT}"))
    except ObjectStoreError as exc:
        if exc.kind in WHOLE_ROOT:
            raise
        hint = None  # none yet, or not readable
    if hint is not None:
        return hint, []
    return None, list(bucket.list(log))


@dataclass
class _Visit:
    """One folder of :class:`_Walk`: ``what`` is ``dir`` (list it), ``table`` (a folder the
    layout names a table: probe its log) or ``runs`` (list its run records); ``sec``: the index
    of the section component in ``parts`` (None above the sections)."""

    what: str
    parts: tuple[str, ...]
    sec: int | None


class _Walk:
    """The discovery of a large root: a delimiter LIST per folder, one level's folders at
    once, along the layout rule of :func:`orcatui.store.layout_walk.place`.

    It enters only folders where a table of ours can still be found: not hidden or
    never-entered folders, not ``_delta_log/``, not below a ``_runs/`` above the sections, not
    inside a table (a folder with a ``_delta_log/``, ours or foreign, or a placed Parquet
    table: tables are never nested). A folder the layout names a table (``execution_status``,
    ``execution_logs`` below a section) is not listed at all: its log is probed
    (:func:`probe_delta_log`); only without a log are its objects listed (a Parquet table).
    ``known`` table prefixes are not entered. What it gives is what
    :meth:`RemoteRoot._classify` would give for the tables that place, except that a Delta
    table whose ``_last_checkpoint`` is readable has a hint instead of its log's objects.
    """

    def __init__(self, bucket: Bucket, prefix: str, known: set[str]) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.known = known

    def key(self, parts: tuple[str, ...]) -> str:
        """The bucket key of the folder ``parts`` below the root."""
        return "/".join((self.prefix, *parts)) if self.prefix else "/".join(parts)

    def run(self) -> Listing:
        """Walk the root; raises :class:`ObjectStoreError` when the root itself cannot be
        listed or a failure is the whole root's."""
        out = Listing(walked=True)
        delta: set[str] = set()
        level = [_Visit("dir", (), None)]
        while level:
            found = (
                list(get_pool().map(self._visit, level))
                if len(level) > 1
                else [self._visit(level[0])]
            )
            level = []
            for part, nxt in found:
                level.extend(nxt)
                delta.update(part.delta)
                out.parquet.update(part.parquet)
                out.delta_logs.update(part.delta_logs)
                out.delta_hints.update(part.delta_hints)
                out.records.extend(part.records)
                out.records_failed |= part.records_failed
                out.problems.update(part.problems)
        out.delta = sorted(delta)
        out.records.sort(key=lambda o: o["path"])
        return out

    def _visit(self, visit: _Visit) -> tuple[Listing, list[_Visit]]:
        out = Listing()
        key = self.key(visit.parts)
        try:
            if visit.what == "runs":
                out.records = [o for o in self.bucket.list(key) if _is_record(o["path"])]
                return out, []
            if visit.what == "table":
                self._table(key, out)
                return out, []
            return out, self._dir(visit, key, out)
        except ObjectStoreError as exc:
            if not visit.parts or exc.kind in WHOLE_ROOT:
                raise
            if visit.what == "runs":
                out.records_failed.add(key)
            out.problems[key] = str(exc).splitlines()[0] if str(exc) else exc.kind
            return out, []

    def _table(self, key: str, out: Listing) -> None:
        """A folder the layout names a table: Delta if it has a log, else Parquet objects."""
        hint, log = probe_delta_log(self.bucket, key)
        if hint is not None or log:
            self._delta(key, hint, log, out)
            return
        _dirs, objects = self.bucket.list_dirs(key)
        data = [o for o in objects if _is_data(o["path"])]
        if data:
            out.parquet[key] = data

    def _delta(
        self, key: str, hint: CheckpointHint | None, log: list[dict[str, Any]], out: Listing
    ) -> None:
        out.delta.append(key)
        if hint is not None:
            out.delta_hints[key] = hint
            return
        log_dir = f"{key}/{_DELTA_LOG}"
        out.delta_logs[key] = [o for o in log if o["path"].rsplit("/", 1)[0] == log_dir]

    def _dir(self, visit: _Visit, key: str, out: Listing) -> list[_Visit]:
        from orcatui.store.layout_walk import NEVER, SECTIONS, TABLE_DIRS, place

        parts, sec = visit.parts, visit.sec
        dirs, objects = self.bucket.list_dirs(key)
        names = sorted({d.rsplit("/", 1)[-1] for d in dirs})
        if parts and _DELTA_LOG in names:
            spot = place(parts) if sec is not None else None
            if spot is not None and spot.length == len(parts):
                hint, log = probe_delta_log(self.bucket, key)
                self._delta(key, hint, log, out)
            else:
                out.delta.append(key)  # not ours: only what lies inside it is left out
            return []
        if sec is not None:
            data = [o for o in objects if _is_data(o["path"])]
            spot = place(parts)
            if data and spot is not None and spot.length == len(parts):
                out.parquet[key] = data
                return []
        nxt: list[_Visit] = []
        for name in names:
            if name.startswith(".") or name in NEVER or name == _DELTA_LOG:
                continue
            child = (*parts, name)
            if self.key(child) in self.known:
                continue
            if sec is None:
                if name == _RUNS:
                    nxt.append(_Visit("runs", child, None))
                else:
                    nxt.append(_Visit("dir", child, len(parts) if name in SECTIONS else None))
            else:
                nxt.append(_Visit("table" if name in TABLE_DIRS else "dir", child, sec))
        return nxt


def _is_data(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.endswith(".parquet") and not _hidden(name)


def _is_record(key: str) -> bool:
    """A run record's key: ``…/_runs/<run>.json`` or ``…/_runs/<run>/<writer>.json``."""
    parts = key.split("/")
    name = parts[-1]
    if not name.endswith(".json") or name.startswith(".") or _DELTA_LOG in parts:
        return False
    return len(parts) >= 2 and (parts[-2] == _RUNS or (len(parts) >= 3 and parts[-3] == _RUNS))


def read_objects(
    bucket: Bucket, keys: list[str]
) -> tuple[list[tuple[str, pa.Table]], list[str], dict[str, str]]:
    """GET and parse Parquet objects concurrently (on the shared pool).

    Returns ``(tables, missing, broken)``: ``(key, table)`` in key order, keys that no
    longer exist (compacted away), and key → one-line reason for objects that failed.
    """

    def one(key: str) -> tuple[str, pa.Table | None, str | None]:
        try:
            data = bucket.get(key)
        except ObjectStoreError as exc:
            if exc.kind == "not-found":
                return key, None, None
            raise
        try:
            return key, read_parquet_bytes(data), None
        except Exception as exc:
            return key, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"

    results = [one(k) for k in keys] if len(keys) <= 1 else list(get_pool().map(one, keys))
    tables: list[tuple[str, pa.Table]] = []
    missing: list[str] = []
    broken: dict[str, str] = {}
    for key, table, problem in results:
        if table is not None:
            tables.append((key, table))
        elif problem is not None:
            broken[key] = problem
        else:
            missing.append(key)
    return tables, missing, broken


@dataclass
class TailBatch:
    """What one poll of a tail found.

    ``tables``: new ``(key, rows)``; ``gone``: keys read before that no longer exist;
    ``broken``: key → reason; ``reset``: the rows so far must be replaced by ``tables``
    (a Delta snapshot reload); ``requests``: requests this poll made.
    """

    tables: list[tuple[str, pa.Table]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    requests: int = 0

    @property
    def changed(self) -> bool:
        """True when the poll found anything new."""
        return bool(self.tables or self.gone or self.reset)


def _total(bucket: Bucket) -> int:
    return sum(bucket.requests.values())


class ParquetTail:
    """New objects of one Parquet table prefix (see module docstring)."""

    def __init__(self, bucket: Bucket, prefix: str, seed: list[dict[str, Any]] | None = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._read: set[str] = set()
        self._newest_ms = -1
        self._time_named = True
        self._seed = seed

    def adopt(self, objects: list[dict[str, Any]]) -> None:
        """Mark ``objects`` (a listing of this prefix) as read (they were read elsewhere)."""
        for obj in objects:
            name = obj["path"].rsplit("/", 1)[1]
            m = _TIME_NAME.match(name)
            if m is None:
                self._time_named = False
            else:
                self._newest_ms = max(self._newest_ms, int(m.group(1)))
            self._read.add(obj["path"])

    def _start_after(self) -> str | None:
        if not self._time_named or self._newest_ms < 0:
            return None
        return f"{self.prefix}/{max(0, self._newest_ms - LAG_MS):013d}"

    def poll(self) -> TailBatch:
        """Read the objects that appeared since the last poll."""
        start = _total(self.bucket)
        batch = TailBatch()
        after = self._start_after()
        if self._seed is not None:
            objects, self._seed = self._seed, None
        else:
            objects = list(self.bucket.list(self.prefix, after=after))
        names = [o["path"] for o in objects if o["path"].rsplit("/", 1)[0] == self.prefix]
        names = [n for n in names if n.endswith(".parquet") and not _hidden(n.rsplit("/", 1)[1])]
        for n in names:
            m = _TIME_NAME.match(n.rsplit("/", 1)[1])
            if m is None:
                self._time_named = False
            else:
                self._newest_ms = max(self._newest_ms, int(m.group(1)))
        present = set(names)
        if after is None:  # a full listing: anything read and not listed is gone
            batch.gone = sorted(self._read - present)
            self._read &= present
        new = sorted(present - self._read)
        if new:
            tables, missing, broken = read_objects(self.bucket, new)
            batch.tables = tables
            batch.broken = broken
            self._read.update(k for k, _ in tables)
            self._read.update(broken)  # reported once; not retried every poll
            batch.gone.extend(missing)
        batch.requests = _total(self.bucket) - start
        return batch


class DeltaTail:
    """A Delta table on object storage: snapshot through delta-rs, then new commits by LIST
    after the last ``_delta_log`` key and GETs of the commits and their added files."""

    def __init__(self, bucket: Bucket, prefix: str, storage_options: Mapping[str, str]):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = bucket.root.url(self.prefix)
        self.storage_options = delta_options(storage_options)
        self.version = -1
        self._last_log_key: str | None = None

    def _snapshot(self) -> TailBatch:
        from deltalake import DeltaTable

        try:
            dt = DeltaTable(self.url, storage_options=self.storage_options or None)
            table = dt.to_pyarrow_table()
        except Exception as exc:
            raise self.bucket.error(exc, self.prefix) from None
        self.version = dt.version()
        self._last_log_key = f"{self.prefix}/{_DELTA_LOG}/{self.version:020d}.json"
        return TailBatch(tables=[(self.url, table)], reset=True)

    def poll(self) -> TailBatch:
        """The rows of commits newer than the last one read (the snapshot the first time)."""
        start = _total(self.bucket)
        if self.version < 0:
            batch = self._snapshot()
            batch.requests = _total(self.bucket) - start
            return batch
        commits: list[tuple[int, str]] = []
        for obj in self.bucket.list(f"{self.prefix}/{_DELTA_LOG}", after=self._last_log_key):
            m = _COMMIT.match(obj["path"].rsplit("/", 1)[1])
            if m is not None and int(m.group(1)) > self.version:
                commits.append((int(m.group(1)), obj["path"]))
        commits.sort()
        batch = TailBatch()
        expected = self.version + 1
        adds: list[str] = []
        for version, key in commits:
            if version != expected:
                break  # a gap (commit not yet visible): stop before it, list again next poll
            actions = _actions(self.bucket.get(key))
            if any("remove" in a or _changes_partitioning(a) for a in actions):
                batch = self._snapshot()
                batch.requests = _total(self.bucket) - start
                return batch
            adds.extend(
                f"{self.prefix}/{a['add']['path']}"
                for a in actions
                if "add" in a and isinstance(a["add"], dict) and "path" in a["add"]
            )
            self.version = version
            self._last_log_key = key
            expected += 1
        if adds:
            tables, missing, broken = read_objects(self.bucket, adds)
            batch.tables, batch.broken = tables, broken
            if missing:  # vacuumed under us: the snapshot is the truth
                batch = self._snapshot()
        batch.requests = _total(self.bucket) - start
        return batch


def _actions(data: bytes) -> list[dict[str, Any]]:
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            action = json.loads(line)
        except ValueError:
            continue
        if isinstance(action, dict):
            out.append(action)
    return out


def _changes_partitioning(action: dict[str, Any]) -> bool:
    meta = action.get("metaData")
    return isinstance(meta, dict) and bool(meta.get("partitionColumns"))


class RunRecordWatch:
    """Run records under a prefix, with reader-clock liveness.

    ``clock`` is the reader's wall clock (seconds since the epoch); ``poll`` returns every
    record as a dict with ``_record_path`` (relative to ``base``, the root's prefix; default
    the watched prefix), ``_seen_change_at`` (the **reader's** time when it last saw this
    record's ``heartbeat_at`` change, or first saw the record), ``_heartbeat_watched`` (True
    once the reader has seen ``heartbeat_at`` change between two of its reads: until then a
    verdict is post-mortem) and ``_clock_offset_s`` (object Last-Modified − written
    ``heartbeat_at``: how far the writer's clock is behind the store's, ``None`` when
    unknown). Keys a record file itself holds under these names are overwritten.
    """

    def __init__(
        self,
        bucket: Bucket,
        prefix: str,
        clock: Callable[[], float] = time.time,
        *,
        base: str | None = None,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.base = self.prefix if base is None else base.strip("/")
        self.clock = clock
        self._etags: dict[str, str | None] = {}
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        #: Records that could not be read on the last poll: key → one-line reason.
        self.problems: dict[str, str] = {}

    def _record_keys(self) -> list[dict[str, Any]]:
        out = []
        for obj in self.bucket.list(self.prefix):
            parts = obj["path"].split("/")
            name = parts[-1]
            if not name.endswith(".json") or name.startswith("."):
                continue
            if _RUNS in parts[-3:-1] and _DELTA_LOG not in parts:
                out.append(obj)
        return out

    def poll(
        self, objects: Iterable[dict[str, Any]] | None = None, *, changed_only: bool = False
    ) -> list[dict[str, Any]]:
        """Re-read records whose ETag changed; every current record (see class docstring),
        or with ``changed_only`` only those (re)read now.

        ``objects``: a listing to use instead of a LIST (e.g. :meth:`RemoteRoot.scan`'s).
        A record that cannot be read (denied, not JSON, not an object) is left out and named
        in :attr:`problems`; a LIST failure raises :class:`ObjectStoreError`.
        """
        listed = list(objects) if objects is not None else self._record_keys()
        now = self.clock()
        changed: list[dict[str, Any]] = []
        with self._lock:
            present = {o["path"] for o in listed}
            for gone in set(self._records) - present:
                self._records.pop(gone, None)
                self._etags.pop(gone, None)
            for gone in set(self.problems) - present:
                del self.problems[gone]
            for obj in listed:
                key = obj["path"]
                etag = obj.get("e_tag")
                if key in self._records and etag is not None and self._etags.get(key) == etag:
                    continue
                try:
                    raw = self.bucket.get(key)
                    data = json.loads(raw) if len(raw) <= MAX_RECORD_BYTES else None
                except ObjectStoreError as exc:
                    if exc.kind != "not-found":
                        self.problems[key] = f"unreadable run record ({exc})"
                    continue
                except ValueError as exc:
                    self.problems[key] = f"unreadable run record (not JSON: {exc})"
                    continue
                if not isinstance(data, dict):
                    what = "too large" if data is None else f"a JSON {type(data).__name__}"
                    self.problems[key] = f"unreadable run record ({what}, not an object)"
                    continue
                self.problems.pop(key, None)
                old = self._records.get(key)
                beat_changed = old is not None and old.get("heartbeat_at") != data.get(
                    "heartbeat_at"
                )
                data["_record_path"] = self._relative(key)
                data["_seen_change_at"] = (
                    old["_seen_change_at"] if old is not None and not beat_changed else now
                )
                data["_heartbeat_watched"] = beat_changed or bool(
                    old is not None and old.get("_heartbeat_watched")
                )
                offset = _offset(obj.get("last_modified"), data)
                if old is not None and not beat_changed and old.get("_clock_offset_s") is not None:
                    # rewritten without a new heartbeat (a node added): Last-Modified is later
                    # than heartbeat_at by more than the clock difference; keep the measure
                    # taken at a heartbeat write
                    offset = old["_clock_offset_s"]
                data["_clock_offset_s"] = offset
                self._records[key] = data
                self._etags[key] = etag
                changed.append(data)
            chosen = changed if changed_only else list(self._records.values())
            return [dict(r) for r in chosen]

    def open_records(self, within_s: float = 60.0) -> bool:
        """Whether a record not ended was seen changing within ``within_s`` (or 4 of its
        heartbeat intervals) of the reader's clock: its heartbeat needs watching. A crashed
        writer's record stays open for ever; once silent it costs nothing (the watch poller's
        sweep notices if it ever changes again)."""
        now = self.clock()
        with self._lock:
            for r in self._records.values():
                if r.get("ended_at") is not None:
                    continue
                interval = r.get("heartbeat_interval_s")
                if isinstance(interval, bool) or not isinstance(interval, int | float):
                    interval = 0.0
                seen = r.get("_seen_change_at")
                if not isinstance(seen, int | float):
                    return True
                if now - seen <= max(within_s, 4.0 * float(interval)):
                    return True
            return False

    def _relative(self, key: str) -> str:
        return key[len(self.base) + 1 :] if self.base and key.startswith(self.base + "/") else key


def _offset(last_modified: Any, record: dict[str, Any]) -> float | None:
    if not isinstance(last_modified, datetime):
        return None
    written = record.get("heartbeat_at")
    if not isinstance(written, str):
        return None
    try:
        at = datetime.fromisoformat(written)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return round((last_modified - at).total_seconds(), 3)


def silent_for(record: dict[str, Any], now: float) -> float:
    """Seconds (reader's clock) since the reader last saw ``record``'s heartbeat change."""
    seen = record.get("_seen_change_at")
    return max(0.0, now - seen) if isinstance(seen, int | float) else 0.0


def looks_dead(record: dict[str, Any], now: float, misses: int = 3) -> bool:
    """An open record whose heartbeat the reader has not seen change for ``misses``
    intervals (judged only by the reader's clock; the writer's clock is never compared)."""
    if record.get("ended_at") is not None:
        return False
    interval = record.get("heartbeat_interval_s")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        interval = 5.0
    return silent_for(record, now) > misses * float(interval)
