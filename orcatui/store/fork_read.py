"""A cold load of many small Parquet files, read by forked helper processes beside this one.

Arrow spends ~150 µs of CPU on each small Parquet file (footer, schema, one column reader per
column) before decoding a row, and that cost does not scale over threads: 20,000 files of 100
events read 1.25× faster on two threads than on one, but 2.0× faster in two processes
(``benchmarks/bench_cold_load.py``); the same holds for the work on each table, so many small
tables are worth helpers too (:func:`worth_helpers`). So when a cold load of Parquet directories
is worth it, this module forks one helper per extra core. A helper reads and normalises
whole tables (:func:`~orcatui.store.files.read_files`), prepares them when the job says how (the
model's packet rows: :class:`~orcatui.store.store.SplitConsumer`), and streams each result back
through a pipe (an Arrow IPC stream, or the pickled preparation); this process reads its own
share meanwhile and folds every result in the calling thread, as it arrives.

A helper is disposable: a table it did not deliver whole (it crashed, was killed, wrote a
truncated or unreadable message, or its read raised) is read again here, so the results are
exactly those of an in-process read. Helpers only read files and write to their pipe, and leave
by ``os._exit``: no ``atexit`` handler, buffered output or event loop of this process runs in
them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from orcatui.store.discovery import TableKind
from orcatui.store.files import FileBatch, read_files

#: Fewest new files in one read worth a helper process (forking costs ~10–20 ms; this many
#: files cost ~150 ms to read).
MIN_FILES = 1_000
#: Fewer files are worth helpers when they make at least this many tables averaging at most
#: :data:`SMALL_TABLE_BYTES` each (see :func:`worth_helpers`).
MIN_SMALL_TABLES = 16
SMALL_TABLE_BYTES = 256 << 10
#: This process's share of the reading, relative to a helper's. It also folds every result in,
#: but a helper's arrive prepared (``FileJob.prepare``), so equal shares measured best.
PARENT_SHARE = 1.0
_HEADER = struct.Struct("<QQQ")  # job index, JSON length, data length (Arrow IPC or pickle)


@dataclass(frozen=True)
class FileJob:
    """One table's files to read: the paths, the table kind and the name problems give it;
    ``prepare``, when given, is applied to the rows read by a helper, which sends its result
    (pickled) in place of the rows (:class:`~orcatui.store.store.SplitConsumer`)."""

    paths: list[str]
    kind: TableKind
    source: str
    prepare: Callable[[pa.Table], Any] | None = None


def helpers_available() -> int:
    """How many helper processes a read may fork here: one per usable core but this one's (up
    to 3), on Linux only (elsewhere ``fork`` without ``exec`` is unsafe or missing)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except OSError:
        cores = os.cpu_count() or 1
    return max(0, min(cores, 4) - 1)


def worth_helpers(tables: int, paths: Sequence[str]) -> bool:
    """Whether a cold load of ``tables`` tables made of the files ``paths`` reads faster with
    helper processes than on threads.

    Two costs do not scale over threads, only over processes: Arrow's set-up of each file (so
    :data:`MIN_FILES` files or more), and the work on each table — normalising and folding are
    dozens of small Arrow and numpy calls, ~1.4 ms a table mostly holding the GIL, so a second
    thread only contends for it. What a helper sends back grows with the rows, though, so big
    tables stay on threads. Measured in-process on two cores (``bench_cold_load.py --files
    small``, and alternating runs of roots shaped like it): 200 tables of 100 or 1,000 events
    load in 0.55× and 0.67× the time on threads, 30 tables of 1,000 in 0.81×, 50 of 4,000
    (240 kB each) in 0.87×; 10 tiny tables gain nothing (1.02×), and tables of 330 kB to 1 MB
    lose 5–19 %.
    """
    if len(paths) >= MIN_FILES:
        return True
    if tables < MIN_SMALL_TABLES:
        return False
    limit = tables * SMALL_TABLE_BYTES
    size = 0
    for path in paths:
        try:
            size += os.stat(path).st_size
        except OSError:  # gone since the listing: its reader reports it
            continue
        if size > limit:
            return False
    return True


def read_jobs(
    jobs: Sequence[FileJob],
    deliver: Callable[[int, FileBatch | Exception], None],
    helpers: int,
) -> None:
    """Read every job and call ``deliver(index, batch)`` once per job, in this thread, in no
    particular order (``batch`` is the exception when reading the job raised). ``helpers``
    processes are forked for a share of the jobs each; with none, everything is read here.

    This process reads its own share, delivering helpers' results between its reads; then it
    takes helpers' jobs from the far end of their shares (helpers work from the near end) until
    every job is delivered, and kills the helpers. So a slow, hung or dead helper costs time,
    never a result, and this process never waits for one.
    """
    shares = _shares([len(j.paths) for j in jobs], helpers)
    done: set[int] = set()
    arrivals: queue.SimpleQueue[tuple[int, FileBatch]] = queue.SimpleQueue()
    children: list[int] = []
    drains: list[threading.Thread] = []
    forked: list[list[int]] = []
    for share in shares[1:]:
        started = _fork_helper(jobs, share) if share else None
        if started is None:  # none to read, or fork refused (e.g. no memory): read it here
            shares[0].extend(share)
            continue
        pid, fd = started
        children.append(pid)
        drain = threading.Thread(target=_drain, args=(fd, arrivals), daemon=True)
        drain.start()
        drains.append(drain)
        forked.append(share)

    def read_here(index: int) -> None:
        done.add(index)
        jb = jobs[index]
        try:
            batch: FileBatch | Exception = read_files(jb.paths, jb.kind, jb.source)
        except Exception as exc:  # this table's failure, for the caller to report
            batch = exc
        deliver(index, batch)

    def take_arrivals() -> None:
        while True:
            try:
                index, batch = arrivals.get_nowait()
            except queue.Empty:
                return
            if index not in done:
                done.add(index)
                deliver(index, batch)

    try:
        for index in shares[0]:
            read_here(index)
            take_arrivals()
        # helpers' shares, from their far end: interleaving them, the helpers meet us last
        for index in _interleave_reversed(forked):
            take_arrivals()
            if index not in done:
                read_here(index)
        take_arrivals()
    finally:
        for pid in children:
            _end(pid)
        for drain in drains:
            drain.join()


def _interleave_reversed(shares: list[list[int]]) -> list[int]:
    """The helpers' shares, each from its far end, taken in turn."""
    rev = [list(reversed(s)) for s in shares]
    out: list[int] = []
    for k in range(max((len(s) for s in rev), default=0)):
        out.extend(s[k] for s in rev if k < len(s))
    return out


def _shares(sizes: list[int], helpers: int) -> list[list[int]]:
    """Job indices per process (this one first), balanced by file count, largest jobs first;
    this process gets :data:`PARENT_SHARE` of a helper's load."""
    capacity = [PARENT_SHARE] + [1.0] * helpers
    load = [0.0] * len(capacity)
    shares: list[list[int]] = [[] for _ in capacity]
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        who = min(range(len(capacity)), key=lambda k: (load[k] + sizes[index]) / capacity[k])
        shares[who].append(index)
        load[who] += sizes[index]
    return shares


def _fork_helper(jobs: Sequence[FileJob], share: list[int]) -> tuple[int, int] | None:
    """Fork a helper that reads ``share``; returns its pid and the read end of its pipe."""
    r, w = os.pipe()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a threaded process may deadlock the child: this
            # child never takes a lock another thread may hold (no logging, no imports, no I/O
            # but its own files and pipe), and leaves by os._exit.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # the helper
        code = 1
        try:
            os.close(r)
            _quiet_signals()
            _helper(jobs, share, w)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _quiet_signals() -> None:
    """A helper ignores the terminal's signals (the app process owns the terminal) and writes
    nothing to this process's signal wake-up pipe (an event loop's)."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGWINCH, signal.SIGTSTP, signal.SIGCONT):
        signal.signal(sig, signal.SIG_IGN if sig is not signal.SIGCONT else signal.SIG_DFL)


def _helper(jobs: Sequence[FileJob], share: list[int], fd: int) -> None:
    """Read each job of ``share`` and write it to ``fd``: header, JSON, Arrow IPC stream."""
    for index in share:
        jb = jobs[index]
        try:
            batch = read_files(jb.paths, jb.kind, jb.source)
        except Exception:
            continue
        rows = batch.table.num_rows if batch.table is not None else 0
        data: bytes | pa.Buffer = b""
        pickled = False
        if batch.table is not None and rows and jb.prepare is not None:
            try:
                data = pickle.dumps(jb.prepare(batch.table), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                continue  # not delivered: the parent reads it and raises it
            pickled = True
        elif batch.table is not None:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.table.schema) as writer:
                writer.write_table(batch.table)
            data = sink.getvalue()
        meta = json.dumps(
            {"failed": batch.failed, "problems": batch.problems, "rows": rows, "pickled": pickled}
        ).encode()
        _write_all(fd, _HEADER.pack(index, len(meta), len(data)) + meta)
        if len(data):
            _write_all(fd, memoryview(data))
    os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _drain(fd: int, arrivals: queue.SimpleQueue[tuple[int, FileBatch]]) -> None:
    """Turn a helper's messages into batches until its pipe ends."""
    try:
        while True:
            head = _read_exact(fd, _HEADER.size)
            if head is None:
                return
            index, meta_len, data_len = _HEADER.unpack(head)
            meta = _read_exact(fd, meta_len)
            data = _read_exact(fd, data_len) if data_len else bytearray()
            if meta is None or data is None:
                return  # truncated: the helper died mid-message
            info = json.loads(bytes(meta))
            batch = FileBatch(None, dict(info["failed"]), list(info["problems"]))
            if info["pickled"]:  # what the job's prepare made of the rows
                batch.prepared, batch.rows = pickle.loads(data), int(info["rows"])
            elif data_len:
                with pa.ipc.open_stream(pa.py_buffer(data)) as stream:
                    batch.table = stream.read_all()
            arrivals.put((index, batch))
    except Exception:
        return
    finally:
        os.close(fd)


def _read_exact(fd: int, size: int) -> bytearray | None:
    """``size`` bytes from ``fd``, or None if it ends first."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            return None
        got += n
    return buf


def _end(pid: int) -> None:
    """Kill a helper (it may be done, or still reading what was read here) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
