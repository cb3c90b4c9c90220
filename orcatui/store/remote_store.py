"""A root on object storage (``s3://``, ``gs://``, ``az://``/``abfs://``) read like a local one.

:class:`RemoteStore` has the interface of :class:`orcatui.store.store.Store` (``root``,
``tables``, ``broken``, ``discover()``, ``poll(rediscover=, only=, consume=)`` →
:class:`~orcatui.store.store.StoreUpdate``) so the model, the summary and the app do not care
where a root lives. What differs is only how bytes are found and fetched (design.md §9):

* **Discovery** (:meth:`RemoteRoot.scan`): a root that fits one LIST page is classified from
  it; a larger one whose first page shows big Delta logs is walked by delimiter LISTs, a
  level's folders at once, entering only where a table can be, listing neither a table's data
  files nor a Delta log whose ``_last_checkpoint`` can be read; any other large root is listed
  whole (a few prefixes at once). Each folder is placed by
  :func:`orcatui.store.layout_walk.place`, the same rule as the local walk (pipeline above
  ``_status``/``_log``, identity below, tables never nested). A sub-prefix that cannot be
  listed is named in ``broken``, the rest is shown.
* **Tables**: a remote table's :attr:`TableRef.path` is an :class:`ObjectPath` (its URL; never a
  local path). Parquet tables are tailed by :class:`ParquetTail` (LIST after the newest time-named
  key); Delta tables by :class:`RemoteDeltaReader`: the cold load reads the log itself (the
  newest checkpoint and the commits after it, named by the discovery's listing of the log or,
  on a walked root, by ``_last_checkpoint`` and GETs of V+1, V+2 … until one is not found;
  fetched by concurrent GETs), later polls the new commits found by a LIST after the last
  commit key; both fold adds and removes by
  :func:`~orcatui.store.delta_table.fold_actions`, the rule of the local
  :class:`~orcatui.store.delta_table.DeltaTableReader`: an OPTIMIZE whose inputs were all read
  adds nothing. delta-rs loads the snapshot when the log reader cannot (a gap, a v2
  checkpoint, deletion vectors, column mapping, unknown reader features). Rows are normalised
  by the same functions as local files, so the model sees identical rows.
* **Run records**: one :class:`RunRecordWatch` per pipeline's ``_runs/`` prefix; each record
  carries ``_seen_change_at`` / ``_heartbeat_watched`` / ``_clock_offset_s`` for liveness by the
  reader's clock (:func:`orcatui.model.runs.judge_run`).

Failures of the whole root (bad credentials, missing bucket, unreachable endpoint, access
denied to the root's listing) raise :class:`~orcatui.store.store.RootError` with one line; a
table or record that cannot be read (e.g. a sub-prefix denied by policy) is named in
``broken`` and the rest is read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from observers.objstore import ObjectStoreError
from orcatui.store.discovery import ObjectPath, TableFormat, TableKind, TableRef
from orcatui.store.files import FileBatch, concat_normalised, normaliser, one_line
from orcatui.store.layout_walk import RUNS, place
from orcatui.store.objstore import (
    _COMMIT,
    WHOLE_ROOT,
    CheckpointHint,
    Listing,
    ParquetTail,
    RemoteRoot,
    RunRecordWatch,
    read_objects,
    read_parquet_bytes,
)
from orcatui.store.store import (
    RootError,
    StoreUpdate,
    TableResults,
    read_tables,
)

Consumer = Callable[[TableRef, pa.Table], None]
#: Tables read at once: object storage is latency-bound, not CPU-bound.
_THREADS = 16
_DELTA_LOG = "_delta_log"


def root_error(exc: ObjectStoreError) -> RootError:
    """An object-store failure of the whole root as a one-line :class:`RootError`."""
    return RootError(str(exc).splitlines()[0] if str(exc) else exc.kind)


_WHOLE_ROOT = WHOLE_ROOT  # error kinds that mean the root


def _root_failure(exc: Exception) -> Exception:
    """A table's read failure that is the whole root's (credentials, bucket, endpoint)."""
    if isinstance(exc, ObjectStoreError) and exc.kind in _WHOLE_ROOT:
        return root_error(exc)
    return exc


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
    """A Delta table on object storage: its log read directly, delta-rs as the fallback.

    Cold load (:meth:`_load_log`): the newest complete classic checkpoint and every commit
    after it, GET at once (``seed``: the root scan's objects of ``_delta_log/``, so no LIST).
    Then each poll LISTs ``_delta_log/`` after the last commit key and GETs the new commits at
    once. Mirrors :class:`~orcatui.store.delta_table.DeltaTableReader` through the shared
    :func:`~orcatui.store.delta_table.fold_actions`: the data files read are remembered; the
    adds and removes of each batch of new commits are applied before any file is read; a
    compaction (``dataChange: false``) whose replaced files were all read adds nothing. delta-rs
    loads the snapshot (reading only files not read before) when the log cannot be followed
    here: a gap, a vanished object, a malformed action, a v2 checkpoint, a live file with a
    deletion vector, column mapping, a reader feature not known (:class:`LogState`). Rows come
    from the add actions' statistics where those are exact (one-row files, as orcapod writes),
    else from the data files (GET).
    """

    def __init__(
        self,
        remote: RemoteRoot,
        prefix: str,
        kind: TableKind,
        source: str,
        seed: list[dict[str, Any]] | None = None,
        hint: CheckpointHint | None = None,
    ) -> None:
        self.remote = remote
        self._seed = seed
        self._hint = hint
        self.bucket = remote.bucket
        self.prefix = prefix.strip("/")
        self.url = remote.root.url(self.prefix)
        self.kind = kind
        self.source = source
        self.version = -1
        self._last_key: str | None = None
        self._files: set[str] = set()
        self._state = LogState()
        self.broken: dict[str, str] = {}

    def read_new(self) -> FileBatch:
        """Rows added since the last call (all rows on the first call), normalised."""
        if self.version >= 0:
            try:
                batch = self._tail()
            except (ValueError, KeyError, TypeError, AttributeError):
                batch = None  # a malformed action: delta-rs decides what the table is
            if batch is not None:
                return batch
        else:
            seed, self._seed = self._seed, None
            hint, self._hint = self._hint, None
            try:
                batch = self._load_log(seed, hint)
            except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
                batch = None
            if batch is not None:
                return batch
        return self._snapshot()

    def _load_log(
        self, listing: list[dict[str, Any]] | None, hint: CheckpointHint | None = None
    ) -> FileBatch | None:
        """Cold load from the log itself: the newest checkpoint and the commits after it, all
        fetched at once (concurrent GETs; no LIST when ``listing`` — the discovery's objects of
        ``_delta_log/`` — or ``hint`` — what ``_last_checkpoint`` said — is given), folded by
        the same rule as the tail (:func:`~orcatui.store.delta_table.fold_actions`). With a
        hint whose checkpoint is not there the log is listed. None when delta-rs must do it:
        a gap in the log, a checkpoint kind or a protocol feature this reader does not follow
        (v2 checkpoints, deletion vectors, column mapping, partitions, reader features)."""
        from orcatui.store.delta_table import _adds_table, fold_actions, parse_commit
        from orcatui.store.objstore import get_many

        probed = self._probe(hint) if hint is not None and listing is None else None
        if probed is not None:
            checkpoint, commits, got = probed
        else:
            if listing is None:
                listing = list(self.bucket.list(f"{self.prefix}/{_DELTA_LOG}"))
            plan = plan_log(o["path"] for o in listing)
            if plan is None:
                return None
            checkpoint, commits = plan
            got = get_many(self.bucket, checkpoint + [k for _, k in commits])
            if any(got[k] is None for k in checkpoint):
                return None  # cleaned up since the listing
        pending: dict[str, dict[str, Any]] = {}
        files: set[str] = set()
        state = LogState()
        if checkpoint:
            for key in checkpoint:
                data = got[key]
                assert data is not None
                if not state.checkpoint(data, pending):
                    return None
        for version, key in commits:
            data = got[key]
            if data is None:
                return None  # vanished (log cleanup) since the listing
            actions = parse_commit(data)
            if actions is None:
                self._bad_commit(version)
                continue
            state.note(actions)
            if fold_actions(actions, pending, files, set()) is None:
                return None
        if not state.supported() or any(_has_dv(a) for a in pending.values()):
            return None
        self._state = state
        newest = commits[-1][0] if commits else int(checkpoint[0].rsplit("/", 1)[-1][:20])
        fresh = list(pending.values())
        paths = [unquote(a["path"]) for a in fresh]
        batch = self._rows_for(_adds_table(fresh), paths)
        self._files = set(paths) - set(batch.failed)
        self.version = newest
        self._last_key = self._commit_key(newest)
        self.broken.pop(_DELTA_LOG, None)
        return batch

    def _probe(
        self, hint: CheckpointHint
    ) -> tuple[list[str], list[tuple[int, str]], dict[str, bytes | None]] | None:
        """The checkpoint ``hint`` names and the commits after it, by GET without a LIST:
        the checkpoint's parts and commits V and V+1 at once, then (while every commit asked
        for is there) the next 2, 4 … up to 64 at once, until one is not found. Versions are
        contiguous and log cleanup removes the oldest first, so a commit missing after one
        that is there is the end (one written meanwhile is the tail's), and so is V+1 missing
        while V is there. None — the log is then listed — when a checkpoint part is missing,
        or V and V+1 both are (``_last_checkpoint`` stale, the log cleaned up past it: a newer
        checkpoint exists)."""
        from orcatui.store.objstore import get_many

        checkpoint = hint.checkpoint_keys(self.prefix)
        at = self._commit_key(hint.version)
        wanted = [hint.version + 1]
        got = get_many(self.bucket, [*checkpoint, at, self._commit_key(wanted[0])])
        if any(got[k] is None for k in checkpoint):
            return None
        if got[at] is None and got[self._commit_key(wanted[0])] is None:
            return None
        commits: list[tuple[int, str]] = []
        while True:
            for version in wanted:
                key = self._commit_key(version)
                if got.get(key) is None:
                    return checkpoint, commits, got
                commits.append((version, key))
            after = wanted[-1] + 1
            wanted = list(range(after, after + min(64, 2 * len(wanted))))
            got.update(get_many(self.bucket, [self._commit_key(v) for v in wanted]))

    def _bad_commit(self, version: int) -> None:
        # Puts are atomic on object storage: a bad commit stays bad. Named, read past.
        self.broken[f"{_DELTA_LOG}/{version:020d}.json"] = (
            f"commit {version} is empty or not JSON lines: its rows are not shown"
        )

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
        self._state = LogState.of(dt)
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
        from orcatui.store.delta_table import _adds_table, fold_actions, parse_commit
        from orcatui.store.objstore import get_many

        versions: list[tuple[int, str]] = []
        for obj in self.bucket.list(f"{self.prefix}/{_DELTA_LOG}", after=self._last_key):
            m = _COMMIT.match(obj["path"].rsplit("/", 1)[-1])
            if m is not None and int(m.group(1)) > self.version:
                versions.append((int(m.group(1)), obj["path"]))
        versions.sort()
        if versions and versions[0][0] != self.version + 1:
            return None  # a gap (the log was cleaned up past us): reload the snapshot
        contiguous = []
        for i, (version, key) in enumerate(versions):
            if version != self.version + 1 + i:
                break  # not yet visible: read up to the gap, list again next time
            contiguous.append((version, key))
        got = get_many(self.bucket, [k for _, k in contiguous])
        read_before = set(self._files)
        pending: dict[str, dict[str, Any]] = {}
        for version, key in contiguous:
            data = got[key]
            if data is None:
                return None  # cleaned up since the listing
            actions = parse_commit(data)
            if actions is None:
                self._bad_commit(version)
                actions = []
            self._state.note(actions)
            if not self._state.supported():
                return None
            if fold_actions(actions, pending, self._files, read_before) is None:
                return None
            self.version = version
            self._last_key = key
        fresh = [a for p, a in pending.items() if p not in self._files]
        if any(_has_dv(a) for a in fresh):
            return None
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

_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint\.parquet$")
_CHECKPOINT_PART = re.compile(r"^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$")
#: Reader features whose tables this reader folds itself (a deletion vector on any live file,
#: or a column mapping mode other than ``none``, still sends the table to delta-rs).
_SAFE_FEATURES = frozenset(
    {"timestampNtz", "deletionVectors", "columnMapping", "vacuumProtocolCheck"}
)


def plan_log(keys: Iterable[str]) -> tuple[list[str], list[tuple[int, str]]] | None:
    """What a cold load of a ``_delta_log/`` listing reads: the newest complete classic
    checkpoint's part keys (none if there is no checkpoint) and the ``(version, key)`` of every
    commit after it, in order. None when that chain has a gap (delta-rs then decides) or there
    is no commit at all."""
    commits: dict[int, str] = {}
    parts: dict[tuple[int, int], set[int]] = {}
    part_keys: dict[tuple[int, int], list[str]] = {}
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if (m := _COMMIT.match(name)) is not None:
            commits[int(m.group(1))] = key
        elif (m := _CHECKPOINT.match(name)) is not None:
            at = (int(m.group(1)), 1)
            parts.setdefault(at, set()).add(1)
            part_keys.setdefault(at, []).append(key)
        elif (m := _CHECKPOINT_PART.match(name)) is not None:
            at = (int(m.group(1)), int(m.group(3)))
            parts.setdefault(at, set()).add(int(m.group(2)))
            part_keys.setdefault(at, []).append(key)
    complete = [at for at, got in parts.items() if got == set(range(1, at[1] + 1))]
    newest = max(commits, default=-1)
    usable = [at for at in complete if at[0] <= max(newest, at[0])]
    checkpoint = max(usable, default=None)
    start = checkpoint[0] + 1 if checkpoint is not None else 0
    newest = max(newest, start - 1)
    if newest < 0:
        return None
    chain = [(v, commits[v]) for v in range(start, newest + 1) if v in commits]
    if len(chain) != newest + 1 - start:
        return None
    return (sorted(part_keys[checkpoint]) if checkpoint is not None else []), chain


def _has_dv(add: dict[str, Any]) -> bool:
    return isinstance(add.get("deletionVector"), dict)


@dataclass
class LogState:
    """The protocol and metadata a Delta log has shown so far (what decides whether this
    reader may fold the log itself or must leave the table to delta-rs)."""

    protocol: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def note(self, actions: list[dict[str, Any]]) -> None:
        """Take the ``protocol`` and ``metaData`` actions of one commit."""
        for action in actions:
            if isinstance(action.get("protocol"), dict):
                self.protocol = action["protocol"]
            elif isinstance(action.get("metaData"), dict):
                self.meta = action["metaData"]

    def checkpoint(self, data: bytes, pending: dict[str, dict[str, Any]]) -> bool:
        """Take one classic checkpoint part: its protocol, metadata and live files (into
        ``pending``, as add actions). False when it is a kind not followed here (sidecars of
        a v2 checkpoint)."""
        table = read_parquet_bytes(data)
        names = set(table.column_names)
        for col in ("sidecar", "checkpointMetadata"):
            if col in names and table.column(col).null_count < table.num_rows:
                return False
        for col in ("protocol", "metaData"):
            if col in names:
                rows = [r for r in table.column(col).to_pylist() if r]
                if rows and col == "protocol":
                    self.protocol = rows[-1]
                elif rows:
                    meta = dict(rows[-1])
                    conf = meta.get("configuration")
                    meta["configuration"] = dict(conf) if isinstance(conf, list) else conf
                    self.meta = meta
        if "add" not in names:
            return True
        add = table.column("add")
        add = add.filter(add.is_valid())
        fields = {add.type.field(i).name for i in range(add.type.num_fields)}
        paths = pc.struct_field(add, "path").to_pylist()
        stats = (
            pc.struct_field(add, "stats").to_pylist() if "stats" in fields else [None] * len(paths)
        )
        change = (
            pc.struct_field(add, "dataChange").to_pylist()
            if "dataChange" in fields
            else [True] * len(paths)
        )
        dv = (
            pc.struct_field(add, "deletionVector").is_valid().to_pylist()
            if "deletionVector" in fields
            else [False] * len(paths)
        )
        for path, st, ch, has_dv in zip(paths, stats, change, dv, strict=True):
            pending[unquote(path)] = {
                "path": path,
                "stats": st,
                "dataChange": ch,
                "deletionVector": {} if has_dv else None,
            }
        return True

    def supported(self) -> bool:
        """Whether the protocol and metadata seen let this reader fold the log itself."""
        proto = self.protocol or {}
        version = proto.get("minReaderVersion", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version > 3:
            return False
        features = proto.get("readerFeatures") or []
        if version == 3 and not set(features) <= _SAFE_FEATURES:
            return False
        conf = (self.meta or {}).get("configuration") or {}
        mode = conf.get("delta.columnMapping.mode", "none") if isinstance(conf, dict) else None
        return mode in (None, "none")

    @classmethod
    def of(cls, dt: Any) -> LogState:
        """The state of a table delta-rs has opened."""
        p = dt.protocol()
        m = dt.metadata()
        return cls(
            {"minReaderVersion": p.min_reader_version, "readerFeatures": p.reader_features},
            {"configuration": dict(m.configuration or {})},
        )


class RemoteStore(TableResults):
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
        self._seed_records: dict[tuple[str, ...], list[dict[str, Any]] | None] = {}
        self._new_problems: list[str] = []
        self._table_keys: set[str] = set()  # bucket keys of the tables found
        self._listing_broken: set[str] = set()  # prefixes the last discovery could not list

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
            return self.remote.scan(known=self._table_keys)
        except ObjectStoreError as exc:
            raise root_error(exc) from None

    def _note_listing_problems(self, listing: Listing) -> None:
        """Name the prefixes the discovery could not list (and forget those it now could)."""
        now = {self.remote.root.url(key): why for key, why in listing.problems.items()}
        for where in self._listing_broken - set(now):
            self.broken.pop(where, None)
        for where, why in sorted(now.items()):
            msg = f"{where}: {why}" if not why.startswith(where) else why
            if self.broken.get(where) != msg:
                self._new_problems.append(msg)
            self.broken[where] = msg
        self._listing_broken = set(now)

    def discover(self) -> list[TableRef]:
        """Find the root's tables (:meth:`RemoteRoot.scan`); the ones not known yet (run
        records are noted for the poll; prefixes that could not be listed are named)."""
        listing = self._scan()
        self._note_listing_problems(listing)
        found: dict[tuple[str, ...], tuple[TableFormat, list[dict[str, Any]] | None]] = {}
        for key in listing.delta:
            found[self._relative_parts(key)] = (TableFormat.DELTA, listing.delta_logs.get(key))
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
                hint = listing.delta_hints.get(key)
                reader = RemoteDeltaReader(self.remote, key, kind, path.url, objects, hint)
            else:
                reader = RemoteParquetReader(self.remote.parquet_tail(key, objects), kind, path.url)
            self.readers[path] = (ref, reader)
            self._table_keys.add(key)
            new.append(ref)
        new.sort(key=lambda t: (t.kind.value, t.pipeline, t.identity))
        seeds: dict[tuple[str, ...], list[dict[str, Any]] | None] = {}
        for obj in listing.records:
            parts = self._relative_parts(obj["path"])
            if RUNS in parts:
                seeds.setdefault(parts[: parts.index(RUNS)], []).append(obj)  # type: ignore[union-attr]
        for key in listing.records_failed:  # unknown, not absent: the watch lists them itself
            parts = self._relative_parts(key)
            seeds[parts[: parts.index(RUNS)] if RUNS in parts else parts] = None
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

        results = read_tables(todo, consume, _THREADS, min_parallel=2, failure=_root_failure)
        self._take_results(update, results)
        self._poll_run_records(update, only, rediscover)
        return update

    def _key(self, path: ObjectPath) -> str:
        return path.url

    def _describe(self, exc: Exception) -> str:
        return str(exc) if isinstance(exc, ObjectStoreError) else one_line(exc)

    def _mark_table_broken(self, update: StoreUpdate, path: ObjectPath, err: str) -> None:
        self._mark_broken(update, path.url, err)

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
                # a pipeline the discovery found no _runs/ for has no records; one whose
                # _runs/ it could not list (None) is listed by the watch
                listing = seeds.get(parts, []) if rediscover else None
                records = watch.poll(listing, changed_only=True)
            except ObjectStoreError as exc:
                if exc.kind in _WHOLE_ROOT:
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
