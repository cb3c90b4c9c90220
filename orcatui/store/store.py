"""A root's tables, read incrementally: each :meth:`Store.poll` returns only what is new."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from orcatui.store import fork_read
from orcatui.store.discovery import TableFormat, TableKind, TableRef, discover
from orcatui.store.files import FileBatch, one_line
from orcatui.store.layout_walk import describe_os_error, run_record_files, shown
from orcatui.store.parquet_table import ParquetTableReader
from orcatui.store.schema import RUNS_DIR

if TYPE_CHECKING:  # imported when a Delta table is found: a Parquet-only root starts faster
    from orcatui.store.delta_table import DeltaTableReader
    from orcatui.store.remote_store import RemoteStore

    Reader = DeltaTableReader | ParquetTableReader

Consumer = Callable[[TableRef, pa.Table], None]


@dataclass(frozen=True)
class SplitConsumer:
    """A consumer in two steps: ``prepare(ref, rows)`` computes from the rows alone (it may run
    in a helper process of a cold load, :mod:`orcatui.store.fork_read`: its result is pickled
    back), ``apply(ref, prepared)`` folds that in here. Called as a consumer, it does both."""

    prepare: Callable[[TableRef, pa.Table], Any]
    apply: Callable[[TableRef, Any], None]

    def __call__(self, ref: TableRef, rows: pa.Table) -> None:
        """Both steps, here."""
        self.apply(ref, self.prepare(ref, rows))


SKIPPED_SUFFIX = "#skipped"  # key suffix in ``Store.broken`` for tables with skipped events
MAX_RECORD_BYTES = 4 << 20  # a run record is a few kB; a huge one is not parsed
#: Keys the object-store reader adds to a run record (reader-clock liveness, design.md §9).
#: A record file on a local disk that holds them is not believed: they are dropped.
READER_RECORD_KEYS = ("_seen_change_at", "_heartbeat_watched", "_clock_offset_s")
#: Threads reading tables: one per core (at least two, so that one waiting for the disk does
#: not stall the other; at most four). One more than cores, to overlap reads with folds, was no
#: faster on two cores, only contending for the GIL (a cold load of 200 tables of 10,000
#: events, 12 rounds in rotating order: 0.98× the wall time, 0.97× the CPU with two threads).
_THREADS = max(2, min(4, os.cpu_count() or 1))


def thread_map(fn: Callable[[Any], Any], items: list[Any], threads: int) -> list[Any]:
    """``list(ThreadPoolExecutor(threads).map(fn, items))`` on bare threads: the same results
    in the same order, the first exception re-raised; without importing ``concurrent.futures``
    (and ``logging`` with it), a noticeable part of ``summary``'s start-up."""
    results: list[Any] = [None] * len(items)
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()
    pending = iter(range(len(items)))

    def work() -> None:
        while True:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # handed to the caller, as the executor does
                with lock:
                    errors.append((i, exc))

    workers = [threading.Thread(target=work, daemon=True) for _ in range(min(threads, len(items)))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise min(errors, key=lambda e: e[0])[1]
    return results


class RootError(Exception):
    """The root cannot be read at all (missing, not a directory, unreadable)."""


@dataclass
class StoreUpdate:
    """What one poll found: new rows per table, changed run records, problems."""

    status: list[tuple[TableRef, pa.Table]] = field(default_factory=list)
    logs: list[tuple[TableRef, pa.Table]] = field(default_factory=list)
    run_records: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)
    new_tables: list[TableRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, this poll only
    consumed: int = 0  # rows handed to a ``consume`` callback instead of being collected

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (
            self.status
            or self.logs
            or self.run_records
            or self.new_tables
            or self.problems
            or self.consumed
        )


ReadResult = tuple[Any, TableRef, Any, "FileBatch | Exception", int]


def read_tables(
    todo: list[tuple[Any, TableRef, Any]],
    consume: Consumer | None,
    threads: int,
    *,
    min_parallel: int = 3,
    failure: Callable[[Exception], Exception] = lambda exc: exc,
) -> list[ReadResult]:
    """Each table's new rows: ``(path, ref, reader, batch or exception, rows consumed)``.

    Tables are read in parallel threads (Arrow releases the GIL) once there are
    ``min_parallel`` of them. With ``consume``, a table's rows are handed to it in the reading
    thread as soon as they are read, instead of being returned — a cold load then never holds
    all raw events at once. A table's failure is returned in place of its batch (``failure``
    may turn it into another exception, e.g. a :class:`RootError`), never raised: one table's
    failure never stops the others.
    """

    def read(item: tuple[Any, TableRef, Any]) -> ReadResult:
        path, ref, reader = item
        try:
            paths = listed.get(id(item))
            batch = reader.read_new() if paths is None else reader.read_listed(paths)
            return path, ref, reader, batch, _hand_over(ref, batch, consume)
        except Exception as exc:
            return path, ref, reader, failure(exc), 0

    results, todo, listed = _read_many_files(todo, consume, failure)
    if len(todo) >= min_parallel:
        return results + thread_map(read, todo, threads)
    return results + [read(item) for item in todo]


def _hand_over(ref: TableRef, batch: FileBatch, consume: Consumer | None) -> int:
    """Give a batch's rows (or what a helper prepared of them) to ``consume`` and drop them
    from the batch; returns how many rows were consumed."""
    if batch.prepared is not None and isinstance(consume, SplitConsumer):
        consume.apply(ref, batch.prepared)
        batch.prepared = None
        return batch.rows
    if consume is None or batch.table is None or not batch.table.num_rows:
        return 0
    rows = batch.table.num_rows
    consume(ref, batch.table)
    batch.table = None
    return rows


def _read_many_files(
    todo: list[tuple[Any, TableRef, Any]],
    consume: Consumer | None,
    failure: Callable[[Exception], Exception],
) -> tuple[list[ReadResult], list[tuple[Any, TableRef, Any]], dict[int, list[str]]]:
    """A cold load of Parquet directories with many files or many small tables, read with
    helper processes (:mod:`orcatui.store.fork_read`); returns those tables' results, the rest
    of ``todo``, and the listings made of fresh tables left to read here (by ``id`` of their
    ``todo`` item)."""
    helpers = fork_read.helpers_available()
    fresh = [item for item in todo if isinstance(item[2], ParquetTableReader) and item[2].fresh]
    if not helpers or not fresh:
        return [], todo, {}
    listed = [(item, item[2].new_files()) for item in fresh]
    tables = sum(1 for _, paths in listed if paths)
    if not fork_read.worth_helpers(tables, [p for _, paths in listed for p in paths]):
        return [], todo, {id(item): paths for item, paths in listed}
    results: list[ReadResult] = []
    split = consume if isinstance(consume, SplitConsumer) else None
    jobs = [
        fork_read.FileJob(
            paths,
            item[1].kind,
            str(item[2].path),
            partial(split.prepare, item[1]) if split is not None else None,
        )
        for item, paths in listed
    ]

    def deliver(index: int, batch: FileBatch | Exception) -> None:
        (path, ref, reader), paths = listed[index]
        try:
            if isinstance(batch, Exception):
                raise batch
            batch = reader.take(paths, batch)
            results.append((path, ref, reader, batch, _hand_over(ref, batch, consume)))
        except Exception as exc:
            results.append((path, ref, reader, failure(exc), 0))

    fork_read.read_jobs(jobs, deliver, helpers)
    taken = {id(item) for item, _ in listed}
    return results, [item for item in todo if id(item) not in taken], {}


class TableResults:
    """How a store takes in what its table readers returned — one rule for local and remote
    roots. A store provides ``broken`` and ``_mark_table_broken``; ``_describe`` says an
    error in one line and ``_key`` names a table in ``broken``."""

    broken: dict[str, str]

    def _mark_table_broken(self, update: StoreUpdate, path: Any, err: str) -> None:
        raise NotImplementedError

    def _key(self, path: Any) -> str:
        return str(path)

    def _describe(self, exc: Exception) -> str:
        return one_line(exc)

    def _take_results(self, update: StoreUpdate, results: list[ReadResult]) -> None:
        for path, ref, reader, batch, consumed in results:
            if isinstance(batch, RootError):
                raise batch
            if isinstance(batch, Exception):
                self._mark_table_broken(update, path, self._describe(batch))
                continue
            key = self._key(path)
            update.problems.extend(shown(p) for p in batch.problems)
            if batch.problems and ref.kind is TableKind.STATUS:
                # Events skipped for bad values are never read again: the table stays marked, so
                # a report over it cannot claim all is well (a skipped event may be a FAILED one).
                self.broken[key + SKIPPED_SUFFIX] = shown(batch.problems[-1])
            if reader.broken:
                name, err = next(iter(reader.broken.items()))
                self._mark_table_broken(update, path, f"{name}: {err}")
            elif key in self.broken:
                del self.broken[key]
            if batch.table is not None and batch.table.num_rows:
                target = update.status if ref.kind is TableKind.STATUS else update.logs
                target.append((ref, batch.table))
            update.consumed += consumed


def check_root(root: Path) -> None:
    """Raise :class:`RootError` with a one-line message, in words, if ``root`` cannot be read.

    The root is listed for real (``os.access`` says yes to root for anything, and says nothing
    about a hung mount or a link loop); the message names what failed and why, never
    ``[Errno n]``.
    """
    where = shown(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise RootError(f"{where}: no such directory") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise RootError(
                f"{where}: cannot be reached: a directory on the way to it may not be entered "
                "by this user (permission denied)"
            ) from None
        raise RootError(f"{where}: cannot be reached: {describe_os_error(exc)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RootError(f"{where}: not a directory")
    try:
        with os.scandir(root) as it:
            next(it, None)
    except OSError as exc:
        raise RootError(f"{where}: cannot list the directory: {describe_os_error(exc)}") from None


class Store(TableResults):
    """Discovers the tables of a root and reads each incrementally."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.readers: dict[Path, tuple[TableRef, Reader]] = {}
        self._records_seen: dict[str, tuple[float, int]] = {}
        self.broken: dict[str, str] = {}  # table path -> last error (kept until it reads again)
        self._unlisted: set[str] = set()  # directories the last walk could not list
        self._new_problems: list[str] = []  # found by discover(), reported by the next poll

    @property
    def tables(self) -> list[TableRef]:
        """The tables discovered so far."""
        return [ref for ref, _ in self.readers.values()]

    def discover(self) -> list[TableRef]:
        """Find tables not known yet; returns them."""
        check_root(self.root)
        found = discover(self.root)
        self._note_unlisted(found.problems)
        new = []
        for ref in found.tables:
            if ref.path not in self.readers:
                reader_cls: type[Reader] = ParquetTableReader
                if ref.format is TableFormat.DELTA:
                    from orcatui.store.delta_table import DeltaTableReader

                    reader_cls = DeltaTableReader
                self.readers[ref.path] = (ref, reader_cls(ref.path, ref.kind))
                new.append(ref)
        return new

    def poll(
        self,
        *,
        rediscover: bool = True,
        only: set[Path] | None = None,
        consume: Consumer | None = None,
    ) -> StoreUpdate:
        """Read what is new. ``only`` limits reading to those table paths (from a change feed).

        Tables are read in parallel threads (Arrow releases the GIL). With ``consume``, each
        table's new rows are handed to it in the reading thread as soon as they are read, instead
        of being collected in the update — a cold load then never holds all raw events at once.
        """
        update = StoreUpdate()
        if rediscover or not self.readers:
            update.new_tables = self.discover()
        else:
            check_root(self.root)
        update.problems.extend(self._new_problems)
        self._new_problems = []
        todo = [
            (path, ref, reader)
            for path, (ref, reader) in list(self.readers.items())
            if only is None or path in only or ref in update.new_tables
        ]
        self._take_results(update, read_tables(todo, consume, _THREADS))
        self._poll_run_records(update)
        return update

    def _note_unlisted(self, problems: dict[str, str]) -> None:
        """Directories the walk could not list are broken until a walk lists them again."""
        for path, why in problems.items():
            self._unlisted.add(path)
            msg = f"{shown(path)}: {why}"
            if self.broken.get(path) != msg:
                self._new_problems.append(msg)
            self.broken[path] = msg
        for path in self._unlisted - problems.keys():
            self._unlisted.discard(path)
            self.broken.pop(path, None)

    def _mark_table_broken(self, update: StoreUpdate, path: Path, err: str) -> None:
        msg = f"{shown(path)}: {shown(err)}"
        if self.broken.get(str(path)) != msg:
            update.problems.append(msg)
        self.broken[str(path)] = msg

    def _poll_run_records(self, update: StoreUpdate) -> None:
        """Re-read the run records that changed (mtime or size) since the last poll.

        Both layouts are read: ``_runs/<run_id>.json`` (one record per run, older writers) and
        ``_runs/<run_id>/<writer_id>.json`` (one per writer process). Each record is handed on as
        a dict with ``"_record_path"``, its path relative to the root, so the model can tell the
        writers of one run apart. A record that cannot be parsed is named and skipped.
        """
        pipelines = {ref.pipeline for ref, _ in self.readers.values()}
        for parts in sorted(pipelines):
            runs = self.root.joinpath(*parts, RUNS_DIR)
            for path in run_record_files(str(runs)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                sig = (st.st_mtime, st.st_size)
                if self._records_seen.get(path) == sig:
                    continue
                self._records_seen[path] = sig
                try:
                    with open(path, "rb") as fh:
                        data = json.loads(fh.read(MAX_RECORD_BYTES + 1).decode("utf-8"))
                    if st.st_size > MAX_RECORD_BYTES:
                        raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
                    if not isinstance(data, dict):
                        raise ValueError(f"a JSON {type(data).__name__}, not an object")
                except (OSError, ValueError) as exc:
                    update.problems.append(
                        f"{shown(path)}: unreadable run record ({one_line(exc)})"
                    )
                    continue
                for key in READER_RECORD_KEYS:
                    data.pop(key, None)
                data["_record_path"] = os.path.relpath(path, self.root)
                update.run_records.setdefault(parts, []).append(data)


def is_remote_root(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` names object storage (``s3://``, ``gs://``, ``az://``, ``abfs://``…).

    Cheap for plain paths: the object-store module is imported only for a text with ``://``.
    """
    text = os.fspath(root)
    if not isinstance(text, str) or "://" not in text:
        return False
    from observers.objstore import is_url

    return is_url(text)


def local_root(root: str | os.PathLike[str]) -> Path:
    """A local root as a ``Path`` (``file:///x`` becomes ``/x``)."""
    text = os.fspath(root)
    if isinstance(text, str) and "://" in text:
        from observers.objstore import local_path

        return Path(local_path(text))
    return Path(text)


def open_store(
    root: str | os.PathLike[str],
    storage_options: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> Store | RemoteStore:
    """THE factory: a :class:`Store` for a local root (a path or ``file://`` URL), a
    :class:`~orcatui.store.remote_store.RemoteStore` for an object-storage URL.

    ``storage_options`` (``--storage-option KEY=VALUE``) and ``clock`` (the reader's wall
    clock, for run-record liveness) matter only for object storage.
    """
    if is_remote_root(root):
        from orcatui.store.remote_store import RemoteStore

        return RemoteStore(os.fspath(root), storage_options, clock=clock)  # type: ignore[arg-type]
    return Store(local_root(root))


def check_any_root(
    root: str | os.PathLike[str], storage_options: Mapping[str, str] | None = None
) -> None:
    """:func:`check_root` for any root: a local one is listed, an object-storage one gets one
    LIST (bad credentials, missing bucket, unreachable endpoint, access denied → ``RootError``,
    one line)."""
    if is_remote_root(root):
        from orcatui.store.remote_store import check_remote_root

        check_remote_root(os.fspath(root), storage_options)  # type: ignore[arg-type]
        return
    check_root(local_root(root))
