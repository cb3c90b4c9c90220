"""A root on object storage (``s3://``, ``gs://``, ``az://``/``abfs://``) read like a local one.

:class:`RemoteStore` has the interface of :class:`orcatui.store.store.Store` (``root``,
``tables``, ``broken``, ``discover()``, ``poll(rediscover=, only=, consume=)`` →
:class:`~orcatui.store.store.StoreUpdate``) so the model, the summary and the app do not care
where a root lives. What differs is only how bytes are found and fetched (design.md §9):

* **Discovery**: one LIST of the whole root prefix (:meth:`RemoteRoot.scan`); each data key's
  folder is placed by :func:`orcatui.store.layout_walk.place`, the same rule as the local walk
  (pipeline above ``_status``/``_log``, identity below, tables never nested).
* **Tables**: a remote table's :attr:`TableRef.path` is an :class:`ObjectPath` (its URL; never a
  local path). Parquet tables are tailed by :class:`ParquetTail` (LIST after the newest time-named
  key); Delta tables by :class:`RemoteDeltaReader` (delta-rs for the snapshot, then the new
  ``_delta_log`` commits found by a LIST after the last commit key), folding adds and removes as
  :class:`~orcatui.store.delta_table.DeltaTableReader` does: an OPTIMIZE never makes rows count
  twice. Rows are normalised by the same functions as local files, so the model sees identical
  rows.
* **Run records**: one :class:`RunRecordWatch` per pipeline's ``_runs/`` prefix; each record
  carries ``_seen_change_at`` / ``_heartbeat_watched`` / ``_clock_offset_s`` for liveness by the
  reader's clock (:func:`orcatui.model.runs.judge_run`).

Failures of the whole root (bad credentials, missing bucket, unreachable endpoint, access
denied to the root's listing) raise :class:`~orcatui.store.store.RootError` with one line; a
table or record that cannot be read (e.g. a sub-prefix denied by policy) is named in
``broken`` and the rest is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from observers.objstore import ObjectStoreError
from orcatui.store.discovery import ObjectPath, TableFormat, TableKind, TableRef
from orcatui.store.files import FileBatch, concat_normalised, normaliser, one_line
from orcatui.store.layout_walk import RUNS, place
from orcatui.store.objstore import (
    Listing,
    ParquetTail,
    RemoteRoot,
    RunRecordWatch,
    read_objects,
)
from orcatui.store.store import SKIPPED_SUFFIX, RootError, StoreUpdate, _thread_map

Consumer = Callable[[TableRef, pa.Table], None]
#: Tables read at once: object storage is latency-bound, not CPU-bound.
_THREADS = 16
_DELTA_LOG = "_delta_log"


def root_error(exc: ObjectStoreError) -> RootError:
    """An object-store failure of the whole root as a one-line :class:`RootError`."""
    return RootError(str(exc).splitlines()[0] if str(exc) else exc.kind)


def check_remote_root(url: str, storage_options: Mapping[str, str] | None = None) -> None:
    """One LIST of the root; :class:`RootError` (one line) when it cannot be used at all."""
    try:
        RemoteRoot(url, storage_options).check()
    except ObjectStoreError as exc:
        raise root_error(exc) from None


def normalise_tables(tables: list[pa.Table], kind: TableKind, source: str) -> FileBatch:
    """Raw tables of one table (objects or files) normalised exactly as a local read does."""
    norm = normaliser(kind)
    parts: list[pa.Table] = []
    problems: list[str] = []
    for raw in tables:
        result = norm(raw, source)
        parts.append(result.table)
        problems.extend(result.problems)
    return FileBatch(concat_normalised(parts), {}, problems)


class RemoteParquetReader:
    """A Parquet table prefix, read incrementally (the ``read_new`` of a local reader)."""

    def __init__(self, tail: ParquetTail, kind: TableKind, source: str) -> None:
        self.tail = tail
        self.kind = kind
        self.source = source
        self.broken: dict[str, str] = {}

    def read_new(self) -> FileBatch:
        """Rows of the objects not read before (normalised); unreadable objects in ``broken``."""
        batch = self.tail.poll()
        for key in batch.gone:
            self.broken.pop(key.rsplit("/", 1)[-1], None)
        for key, why in batch.broken.items():
            self.broken[key.rsplit("/", 1)[-1]] = why
        out = normalise_tables([t for _, t in batch.tables], self.kind, self.source)
        out.failed = dict(batch.broken)
        return out


class RemoteDeltaReader:
    """A Delta table on object storage: delta-rs for the snapshot, then the new commits.

    Mirrors :class:`~orcatui.store.delta_table.DeltaTableReader`: the data files read are
    remembered; the adds and removes of each batch of new commits are applied before any file
    is read; a compaction (``dataChange: false``) whose replaced files were all read adds
    nothing; a snapshot reload (a gap in the log, a protocol it cannot tail) reads only files
    not read before. Rows come from the add actions' statistics where those are exact (one-row
    files, as orcapod writes), else from the data files (GET).
    """

    def __init__(self, remote: RemoteRoot, prefix: str, kind: TableKind, source: str) -> None:
        self.remote = remote
        self.bucket = remote.bucket
        self.prefix = prefix.strip("/")
        self.url = remote.root.url(self.prefix)
        self.kind = kind
        self.source = source
        self.version = -1
        self._last_key: str | None = None
        self._files: set[str] = set()
        self.broken: dict[str, str] = {}

    def read_new(self) -> FileBatch:
        """Rows added since the last call (all rows on the first call), normalised."""
        if self.version >= 0:
            batch = self._tail()
            if batch is not None:
                return batch
        return self._snapshot()

    def _snapshot(self) -> FileBatch:
        from deltalake import DeltaTable

        from orcatui.store.objstore import delta_options

        options = delta_options(self.remote.storage_options) or None
        try:
            dt = DeltaTable(self.url, storage_options=options)
            stream = dt.get_add_actions(flatten=True)
        except Exception as exc:
            raise self.bucket.error(exc, self.prefix) from None
        actions = pa.RecordBatchReader.from_stream(stream).read_all()
        paths = [unquote(p) for p in actions.column("path").to_pylist()]
        new_idx = [i for i, p in enumerate(paths) if p not in self._files]
        batch = self._rows_for(
            actions.take(pa.array(new_idx, pa.int64())), [paths[i] for i in new_idx]
        )
        self._files = set(paths) - set(batch.failed)
        self.version = dt.version()
        self._last_key = self._commit_key(self.version)
        self.broken.pop(_DELTA_LOG, None)
        return batch

    def _commit_key(self, version: int) -> str:
        return f"{self.prefix}/{_DELTA_LOG}/{version:020d}.json"

    def _tail(self) -> FileBatch | None:
        """Fold the commits after ``self.version``; None when a snapshot reload is needed."""
        import json

        from orcatui.store.objstore import _COMMIT

        versions: list[tuple[int, str]] = []
        for obj in self.bucket.list(f"{self.prefix}/{_DELTA_LOG}", after=self._last_key):
            m = _COMMIT.match(obj["path"].rsplit("/", 1)[-1])
            if m is not None and int(m.group(1)) > self.version:
                versions.append((int(m.group(1)), obj["path"]))
        versions.sort()
        if versions and versions[0][0] != self.version + 1:
            return None  # a gap (the log was cleaned up past us): reload the snapshot
        read_before = set(self._files)
        pending: dict[str, dict[str, Any]] = {}
        expected = self.version + 1
        for version, key in versions:
            if version != expected:
                break  # not yet visible: read up to the gap, list again next time
            actions: list[dict[str, Any]] = []
            bad = False
            for line in self.bucket.get(key).decode("utf-8", "replace").splitlines():
                if not line.strip():
                    continue
                try:
                    action = json.loads(line)
                except ValueError:
                    bad = True
                    break
                if isinstance(action, dict):
                    actions.append(action)
            if bad or not actions:
                # Puts are atomic on object storage: a bad commit stays bad. Named, read past.
                self.broken[f"{_DELTA_LOG}/{version:020d}.json"] = (
                    f"commit {version} is empty or not JSON lines: its rows are not shown"
                )
            removed: set[str] = set()
            compacted: list[dict[str, Any]] = []
            for action in actions:
                add, rm = action.get("add"), action.get("remove")
                if isinstance(add, dict) and isinstance(add.get("path"), str):
                    p = unquote(add["path"])
                    if add.get("dataChange") is False:
                        compacted.append(add)
                    else:
                        pending[p] = add
                elif isinstance(rm, dict) and isinstance(rm.get("path"), str):
                    p = unquote(rm["path"])
                    removed.add(p)
                    pending.pop(p, None)
                    self._files.discard(p)
                elif (
                    isinstance(action.get("protocol"), dict)
                    and action["protocol"].get("minReaderVersion", 1) > 3
                ):
                    return None
            if compacted and removed and removed <= read_before:
                self._files.update(unquote(a["path"]) for a in compacted)
            else:
                for a in compacted:
                    pending[unquote(a["path"])] = a
            self.version = version
            self._last_key = key
            expected += 1
        from orcatui.store.delta_table import _adds_table

        fresh = [a for p, a in pending.items() if p not in self._files]
        paths = [unquote(a["path"]) for a in fresh]
        batch = self._rows_for(_adds_table(fresh), paths)
        self._files.update(p for p in paths if p not in batch.failed)
        return batch

    def _rows_for(self, actions: pa.Table, paths: list[str]) -> FileBatch:
        """Rows of the given add actions: from statistics where exact, else by GET."""
        if not paths:
            return FileBatch(None)
        from orcatui.store.delta_table import _split_by_stats, _stats_rows

        from_stats, need_file = _split_by_stats(actions, self.kind)
        raw: list[pa.Table] = []
        if from_stats:
            raw.append(_stats_rows(actions.take(pa.array(from_stats, pa.int64())), self.kind))
        failed: dict[str, str] = {}
        if need_file:
            keys = {f"{self.prefix}/{paths[i]}": paths[i] for i in need_file}
            tables, missing, broken = read_objects(self.bucket, list(keys))
            raw.extend(t for _, t in tables)
            for key in missing:
                failed[keys[key]] = "data file missing (vacuumed?)"
            for key, why in broken.items():
                failed[keys[key]] = why
            for rel in keys.values():
                name = rel.rsplit("/", 1)[-1]
                if rel in failed:
                    self.broken[name] = failed[rel]
                else:
                    self.broken.pop(name, None)
        batch = normalise_tables(raw, self.kind, self.source)
        batch.failed = failed
        return batch


Reader = RemoteParquetReader | RemoteDeltaReader


class RemoteStore:
    """Discovers the tables of a root on object storage and reads each incrementally.

    The same interface as :class:`orcatui.store.store.Store`; ``root`` is the URL (a string),
    each table's ``path`` an :class:`ObjectPath`. ``requests`` counts the requests made, by
    operation. ``clock`` is the reader's wall clock, used for run-record liveness.
    """

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.clock = clock
        try:
            self.remote = RemoteRoot(self.root, self.storage_options)
        except ObjectStoreError as exc:
            raise root_error(exc) from None
        self.readers: dict[ObjectPath, tuple[TableRef, Reader]] = {}
        self.broken: dict[str, str] = {}
        self._records: dict[tuple[str, ...], RunRecordWatch] = {}
        self._seed_records: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._new_problems: list[str] = []

    @property
    def tables(self) -> list[TableRef]:
        """The tables discovered so far."""
        return [ref for ref, _ in self.readers.values()]

    @property
    def requests(self) -> dict[str, int]:
        """Requests made so far, by operation (LIST, GET…); delta-rs' own are not counted."""
        return self.remote.requests

    def _relative_parts(self, key: str) -> tuple[str, ...]:
        rel = self.remote.relative(key)
        return tuple(p for p in rel.split("/") if p)

    def _scan(self) -> Listing:
        try:
            return self.remote.scan()
        except ObjectStoreError as exc:
            raise root_error(exc) from None

    def discover(self) -> list[TableRef]:
        """List the root once; the tables not known yet (run records are noted for the poll)."""
        listing = self._scan()
        found: dict[tuple[str, ...], tuple[TableFormat, list[dict[str, Any]] | None]] = {}
        for key in listing.delta:
            found[self._relative_parts(key)] = (TableFormat.DELTA, None)
        for key, objects in listing.parquet.items():
            found.setdefault(self._relative_parts(key), (TableFormat.PARQUET, objects))
        # The table is the folder the rule names: data nested deeper inside a table, a table
        # inside another table (the local walk never descends into one) or below a foreign
        # Delta table above the sections (not ours, as in the local walk) is not a table.
        placed = {}
        for parts in found:
            spot = place(parts)
            if spot is not None and spot.length == len(parts):
                placed[parts] = spot
        foreign = {p for p, (fmt, _) in found.items() if fmt is TableFormat.DELTA} - set(placed)
        new: list[TableRef] = []
        for parts, spot in sorted(placed.items()):
            if any(parts[:k] in placed or parts[:k] in foreign for k in range(1, len(parts))):
                continue
            fmt, objects = found[parts]
            path = ObjectPath(self.remote.root.url(self.remote.root.key(*parts)))
            if path in self.readers:
                continue
            kind = TableKind.STATUS if spot.kind == "status" else TableKind.LOG
            ref = TableRef(kind, spot.pipeline, spot.identity, path, stored_format=fmt)
            key = self.remote.root.key(*parts)
            reader: Reader
            if fmt is TableFormat.DELTA:
                reader = RemoteDeltaReader(self.remote, key, kind, path.url)
            else:
                reader = RemoteParquetReader(self.remote.parquet_tail(key, objects), kind, path.url)
            self.readers[path] = (ref, reader)
            new.append(ref)
        new.sort(key=lambda t: (t.kind.value, t.pipeline, t.identity))
        seeds: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for obj in listing.records:
            parts = self._relative_parts(obj["path"])
            if RUNS in parts:
                seeds.setdefault(parts[: parts.index(RUNS)], []).append(obj)
        self._seed_records = seeds
        return new

    def _watch(self, pipeline: tuple[str, ...]) -> RunRecordWatch:
        watch = self._records.get(pipeline)
        if watch is None:
            root = self.remote.root
            watch = RunRecordWatch(
                self.remote.bucket, root.key(*pipeline, RUNS), self.clock, base=root.prefix
            )
            self._records[pipeline] = watch
        return watch

    def poll(
        self,
        *,
        rediscover: bool = True,
        only: set[Any] | None = None,
        consume: Consumer | None = None,
    ) -> StoreUpdate:
        """Read what is new. ``only`` limits reading to those table paths (``ObjectPath``s
        from :attr:`tables`); ``rediscover`` lists the whole root again first."""
        update = StoreUpdate()
        if rediscover or not self.readers:
            update.new_tables = self.discover()
        update.problems.extend(self._new_problems)
        self._new_problems = []
        todo = [
            (path, ref, reader)
            for path, (ref, reader) in list(self.readers.items())
            if only is None or path in only or ref in update.new_tables
        ]

        def read(item: tuple[ObjectPath, TableRef, Reader]) -> tuple[Any, ...]:
            path, ref, reader = item
            try:
                batch = reader.read_new()
                rows = 0
                if consume is not None and batch.table is not None and batch.table.num_rows:
                    rows = batch.table.num_rows
                    consume(ref, batch.table)
                    batch.table = None
                return path, ref, reader, batch, rows
            except ObjectStoreError as exc:
                if exc.kind in {"credentials", "no-bucket", "unreachable"}:
                    return path, ref, reader, root_error(exc), 0
                return path, ref, reader, exc, 0
            except Exception as exc:  # one table's failure never stops the others
                return path, ref, reader, exc, 0

        results = _thread_map(read, todo, _THREADS) if len(todo) > 1 else [read(t) for t in todo]
        for path, ref, reader, batch, consumed in results:
            if isinstance(batch, RootError):
                raise batch
            if isinstance(batch, Exception):
                why = str(batch) if isinstance(batch, ObjectStoreError) else one_line(batch)
                self._mark_broken(update, path.url, why)
                continue
            update.problems.extend(batch.problems)
            if batch.problems and ref.kind is TableKind.STATUS:
                self.broken[path.url + SKIPPED_SUFFIX] = batch.problems[-1]
            if reader.broken:
                name, err = next(iter(reader.broken.items()))
                self._mark_broken(update, path.url, f"{name}: {err}")
            elif path.url in self.broken:
                del self.broken[path.url]
            if batch.table is not None and batch.table.num_rows:
                target = update.status if ref.kind is TableKind.STATUS else update.logs
                target.append((ref, batch.table))
            update.consumed += consumed
        self._poll_run_records(update, only, rediscover)
        return update

    def _mark_broken(self, update: StoreUpdate, where: str, err: str) -> None:
        msg = f"{where}: {err}" if not err.startswith(where) else err
        if self.broken.get(where) != msg:
            update.problems.append(msg)
        self.broken[where] = msg

    def _poll_run_records(
        self, update: StoreUpdate, only: set[Any] | None, rediscover: bool
    ) -> None:
        """Re-read the run records that changed (by ETag) of the pipelines polled.

        With ``only``, the pipelines of those tables plus every pipeline with a writer not
        yet ended (a heartbeat must be watched every poll, whatever its tables do).
        """
        pipelines = {ref.pipeline for ref, _ in self.readers.values()}
        if only is not None and not rediscover:
            wanted = {ref.pipeline for path, (ref, _) in self.readers.items() if path in only}
            wanted |= {p for p, w in self._records.items() if w.open_records()}
            pipelines &= wanted
        seeds, self._seed_records = self._seed_records, {}
        root = self.remote.root
        for parts in sorted(pipelines):
            watch = self._watch(parts)
            where = root.url(watch.prefix)
            try:
                listing = seeds.get(parts, []) if rediscover else None
                records = watch.poll(listing, changed_only=True)
            except ObjectStoreError as exc:
                if exc.kind in {"credentials", "no-bucket", "unreachable"}:
                    raise root_error(exc) from None
                self._mark_broken(update, where, str(exc))
                continue
            self.broken.pop(where, None)
            bad = {root.url(key): why for key, why in watch.problems.items()}
            for url in [k for k in self.broken if k.startswith(where + "/") and k not in bad]:
                del self.broken[url]
            for url, why in bad.items():
                self._mark_broken(update, url, why)
            if records:
                update.run_records.setdefault(parts, []).extend(records)


__all__ = [
    "RemoteDeltaReader",
    "RemoteParquetReader",
    "RemoteStore",
    "check_remote_root",
    "normalise_tables",
    "root_error",
]
