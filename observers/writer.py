"""The buffered event writer shared by the observers.

Hooks only append a small tuple to a ``deque`` (thread-safe, no lock). A daemon thread
wakes every ``flush_interval / 2`` and turns what is pending into one Arrow table per
table directory (ids, timestamps and string conversion happen here, not in the hook),
then hands each table to the sink. A failed write is retried with exponential back-off,
logged on logger ``"observers"``, and counted in :class:`~observers.stats.WriterStats`;
events are dropped only once the retries are exhausted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from observers import schema as S
from observers.ids import new_writer_id, uuid7_from_ns
from observers.sinks.base import Sink, make_sink
from observers.stats import WriterStats
from observers.textconv import tag_text, unprintable
from observers.timestamps import iso_from_ns

log = logging.getLogger("observers")

__all__ = ["EventWriter", "TableRef", "tag_text", "tags_of", "unprintable"]

STATUS = "status"
LOG = "log"
#: Retry sleep budget of one flush (seconds); past it, failing tables get one try.
RETRY_BUDGET_S = 2.0


class TableRef:
    """One destination table: its directory and its kind (``"status"`` or ``"log"``)."""

    __slots__ = ("kind", "path")

    def __init__(self, path: str, kind: str):
        self.path = path
        self.kind = kind

    def __repr__(self) -> str:
        return f"TableRef({self.path!r}, {self.kind!r})"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def string_array(values: list[Any]) -> pa.Array:
    """A ``string`` array; values pyarrow cannot encode (lone surrogates) are escaped."""
    try:
        return pa.array(values, type=pa.string())
    except Exception:
        return pa.array([_clean(tag_text(v)) for v in values], type=pa.string())


def tags_of(tag: object) -> dict[Any, Any]:
    """A plain ``dict`` copy of a tag (a mapping, an orcapod Tag, or None)."""
    if tag is None:
        return {}
    if type(tag) is dict:
        return tag.copy()
    if isinstance(tag, Mapping):
        return dict(tag)
    try:
        return dict(tag)  # type: ignore[call-overload]
    except Exception:
        return {"tag": tag}


def _tag_columns(columns: dict[str, pa.Array], tag_dicts: list[dict[Any, Any]]) -> None:
    keys: dict[Any, None] = {}
    for d in tag_dicts:
        for k in d:
            keys[k] = None
    for key in keys:
        name = S.stored_tag_name(key)
        while name in columns:  # a renamed key meeting a real one: keep both
            name += "_"
        columns[name] = string_array([tag_text(d.get(key)) for d in tag_dicts])


def build_status_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Arrow table of status rows ``(ref, ns, run_id, uri, state, error, tags)``."""
    ns = [r[1] for r in rows]
    columns: dict[str, pa.Array] = {
        S.S_ID: pa.array([uuid7_from_ns(n) for n in ns], type=pa.binary()),
        S.S_RUN: string_array([r[2] for r in rows]),
        S.S_URI: string_array([r[3] for r in rows]),
        S.S_STATE: pa.array([r[4] for r in rows], type=pa.string()),
        S.S_TS: pa.array([iso_from_ns(n) for n in ns], type=pa.string()),
        S.S_ERROR: string_array([r[5] for r in rows]),
    }
    _tag_columns(columns, [r[6] for r in rows])
    return pa.table(columns)


def build_log_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Arrow table of log rows ``(ref, ns, run_id, fields, tags)``.

    ``fields`` are the ``record(**kwargs)`` arguments; each becomes ``_log_<name>``
    (``bool`` values as a boolean column, others as strings, as orcapod does).
    """
    ns = [r[1] for r in rows]
    columns: dict[str, pa.Array] = {
        S.L_ID: pa.array([uuid7_from_ns(n) for n in ns], type=pa.binary()),
        S.L_RUN: string_array([r[2] for r in rows]),
        S.L_TS: pa.array([iso_from_ns(n) for n in ns], type=pa.string()),
    }
    field_names: dict[str, None] = dict.fromkeys(S.LOG_FIELDS)
    for r in rows:
        for k in r[3]:
            field_names[k] = None
    for fname in field_names:
        values = [r[3].get(fname) for r in rows]
        col = "_log_" + str(fname)
        if fname == "success" or (values and all(isinstance(v, bool) for v in values)):
            columns[col] = pa.array(
                [None if v is None else bool(v) for v in values], type=pa.bool_()
            )
        else:
            columns[col] = string_array([tag_text(v) for v in values])
    _tag_columns(columns, [r[4] for r in rows])
    return pa.table(columns)


_BUILDERS: dict[str, Callable[[list[tuple[Any, ...]]], pa.Table]] = {
    STATUS: build_status_table,
    LOG: build_log_table,
}


_warm = False


def warm_up() -> None:
    """Pay pyarrow's one-time lazy initialisation (~0.2 s) now, not in the first flush."""
    global _warm
    if _warm:
        return
    _warm = True
    try:
        import pyarrow.parquet as pq

        ref = TableRef("", STATUS)
        table = build_status_table([(ref, time.time_ns(), "", "", "RUNNING", None, {"k": 1})])
        build_log_table([(ref, time.time_ns(), "", {"success": True}, {})])
        from observers.sinks.parquet import FLUSH_OPTIONS

        pq.write_table(table, pa.BufferOutputStream(), **FLUSH_OPTIONS)
    except Exception:
        pass


class EventWriter:
    """Buffers events and writes them through a sink from a background thread.

    Args:
        root: the root directory (only used in messages).
        sink: ``"parquet"`` or ``"delta"``.
        flush_interval: data reaches the sink within this many seconds (the thread
            wakes twice per interval).
        max_retries: attempts after the first failed write of a batch.
        retry_backoff: first back-off sleep in seconds; doubled on each retry.
        storage_options: for object-storage roots (see :mod:`observers.objstore`).
    """

    def __init__(
        self,
        root: str,
        sink: str = "parquet",
        flush_interval: float = 0.2,
        max_retries: int = 4,
        retry_backoff: float = 0.05,
        storage_options: Mapping[str, str] | None = None,
    ):
        warm_up()
        self.root = root
        self.writer_id = new_writer_id()
        self.stats = WriterStats()
        self.sink: Sink = make_sink(sink, self.writer_id, self.stats, storage_options)
        self.flush_interval = max(0.005, float(flush_interval))
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff = max(0.0, float(retry_backoff))
        self._queue: deque[tuple[Any, ...]] = deque()
        #: Called by the flush thread on every tick before flushing (``produce(force)``),
        #: e.g. to queue partial log rows of running packets; ``force`` at close.
        self.producers: list[Callable[[bool], None]] = []
        #: The hot path: ``emit(row)`` appends one row tuple (its first item a TableRef).
        self.emit: Callable[[tuple[Any, ...]], None] = self._queue.append
        self._flush_lock = threading.RLock()
        self._stop = threading.Event()
        self._warned = False
        self._closed = False
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._loop, name=f"observers-flush-{sink}", daemon=True
        )
        self._thread.start()

    # -- background thread --

    def _loop(self) -> None:
        tick = self.flush_interval / 2
        while not self._stop.wait(tick):
            if self.producers:
                self._produce(False)
            if self._queue:
                try:
                    self.flush()
                except Exception:  # never let the thread die
                    log.exception("observers: flush failed")

    def _produce(self, force: bool) -> None:
        for produce in list(self.producers):
            try:
                produce(force)
            except Exception:  # never let the thread die
                log.debug("observers: producer failed", exc_info=True)

    # -- flushing --

    def pending(self) -> int:
        """Number of events not yet handed to the sink."""
        return len(self._queue)

    def flush(self, *, retry: bool = True, compact: bool = False) -> None:
        """Write everything pending now.

        With ``retry=False`` (used from pipeline hooks such as node end) a failed batch
        is put back for the background thread to retry instead of sleeping here.
        """
        if os.getpid() != self._pid:
            return  # a forked child must not write the parent's buffer
        with self._flush_lock:
            popleft = self._queue.popleft
            n = len(self._queue)
            if n:
                groups: dict[int, tuple[TableRef, list[tuple[Any, ...]]]] = {}
                for _ in range(n):
                    row = popleft()
                    ref = row[0]
                    entry = groups.get(id(ref))
                    if entry is None:
                        groups[id(ref)] = (ref, [row])
                    else:
                        entry[1].append(row)
                # log rows before status rows: a packet's log lands before its end state
                ordered = sorted(groups.values(), key=lambda e: e[0].kind != LOG)
                budget = [RETRY_BUDGET_S]
                for ref, rows in ordered:
                    self._write_group(ref, rows, retry, budget)
            if compact:
                try:
                    self.sink.compact(force=True)
                except Exception:
                    log.warning("observers: compaction under %s failed", self.root, exc_info=True)

    def _write_group(
        self, ref: TableRef, rows: list[tuple[Any, ...]], retry: bool, budget: list[float]
    ) -> None:
        try:
            table = _BUILDERS[ref.kind](rows)
        except Exception:
            built = self._build_rows_one_by_one(ref, rows)
            if built is None:
                return
            table, rows = built
        delay = self.retry_backoff
        attempt = 0
        while True:
            try:
                self.sink.write(ref.path, table)
            except Exception as exc:
                self.stats.add(write_errors=1)
                if not retry:
                    self._queue.extend(rows)  # the background thread will retry them
                    log.debug("observers: write to %s failed (%s); requeued", ref.path, exc)
                    return
                if attempt < self.max_retries and budget[0] > 0:
                    attempt += 1
                    self.stats.add(retries=1)
                    log.debug(
                        "observers: write to %s failed (%s); retry %d", ref.path, exc, attempt
                    )
                    time.sleep(delay)
                    budget[0] -= delay
                    delay *= 2
                    continue
                self.stats.add(events_dropped=len(rows))
                self.warn_once(f"cannot write to {ref.path}: {exc!r}")
                return
            self.stats.add(events_written=len(rows))
            return

    def _build_rows_one_by_one(
        self, ref: TableRef, rows: list[tuple[Any, ...]]
    ) -> tuple[pa.Table, list[tuple[Any, ...]]] | None:
        """Build a batch that failed as a whole row by row, dropping only the rows that fail."""
        build = _BUILDERS[ref.kind]
        good: list[tuple[Any, ...]] = []
        bad = 0
        for row in rows:
            try:
                build([row])
            except Exception:
                bad += 1
                continue
            good.append(row)
        if bad:
            log.warning(
                "observers: %d event(s) for %s could not be converted and were dropped",
                bad,
                ref.path,
                exc_info=True,
            )
            self.stats.add(events_dropped=bad, write_errors=1)
        if not good:
            return None
        try:
            return build(good), good
        except Exception:
            log.exception("observers: could not build a batch for %s", ref.path)
            self.stats.add(events_dropped=len(good), write_errors=1)
            return None

    def warn_once(self, message: str) -> None:
        """Log a clear warning the first time; later problems go to debug level."""
        if not self._warned:
            self._warned = True
            log.warning(
                "observers: %s — status events under %s are being dropped "
                "(the pipeline is not affected; see observer.stats)",
                message,
                self.root,
            )
        else:
            log.debug("observers: %s", message)

    def close(self) -> None:
        """Flush everything, compact this writer's files and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self.producers:
            self._produce(True)  # what running packets captured so far (exit, SIGTERM)
        self.flush(compact=True)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        # events emitted while closing (another thread) still get written
        if self._queue:
            self.flush()
