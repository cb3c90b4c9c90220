"""Run records, one per writer process: ``<root>/<pipeline…>/_runs/<run_id>/<writer_id>.json``.

Several processes may share one run id (the workers of one run); each keeps its **own**
record, so one ending never marks the others ended: a reader judges the run live while
any writer's record is live. ``writer_id`` is ``<host>-<pid>-<8 random hex>`` made safe
as a file name (``[A-Za-z0-9_.-]``, never starting with ``.`` or ``_``); it is also the
prefix of the writer's Parquet files. Records written by earlier releases as one file
``_runs/<run_id>.json`` are still read by orcatui (as one writer); this package no
longer writes them.

Fields: ``run_id, writer_id, pipeline_uri, host, pid, pid_start_time, pid_start_ticks,
started_at, heartbeat_at, heartbeat_interval_s, ended_at, outcome, nodes``.

* ``pid_start_time``: the process start time in **seconds since the epoch** (float),
  computed from ``/proc/<pid>/stat`` field 22 (``starttime``, clock ticks after boot)
  plus ``btime`` from ``/proc/stat``; precise to about one second (``btime`` is whole
  seconds). ``pid_start_ticks`` is the raw ``starttime`` value, exact, for a reader on
  the same host to compare with ``/proc/<pid>/stat`` directly. Both are null where
  ``/proc`` is unavailable (:mod:`observers.procinfo` is the one parser).
* times are ISO-8601 UTC strings; ``started_at`` is when *this writer* joined the run;
  ``heartbeat_at`` is rewritten every ``heartbeat_interval_s`` seconds while the writer
  runs; ``ended_at``/``outcome`` are null until *this writer* leaves the run;
  ``outcome`` is one of ``completed``, ``failed``, ``interrupted``.
* ``nodes``: ``{"<identity path joined by '/'>": {"label", "node_hash", "tag_keys"}}``,
  plus ``"total": <int>`` when this writer declared how many packets the node has
  (``run.node("clean", total=200)``; the writer's latest declaration). A reader merging
  several writers takes the largest declaration.

A record is written to ``.<writer_id>.json.<random>.tmp`` in the same directory and
``os.replace``-d, so readers (which ignore names starting with ``.``) never see a
partial record. On object storage (an ``s3://…`` root) a record is one object rewritten
by a whole-object PUT at each heartbeat (atomic there; readers judge liveness by when
*they* saw the object change, see ``orcatui.store.objstore``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from observers.objstore import buckets_for, is_url
from observers.procinfo import process_start
from observers.schema import NODE_TOTAL, RUNS_DIR, safe_component
from observers.timestamps import iso_now

log = logging.getLogger("observers")

OUTCOMES = ("completed", "failed", "interrupted")


#: The largest packet total a record accepts (beyond it a declaration is ignored).
MAX_TOTAL = 2**53


def valid_total(value: object) -> int | None:
    """A declared packet total as a non-negative ``int``; ``None`` when it is not one.

    ``bool`` is refused; an integral ``float`` (``200.0``) is accepted.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, int):
        try:
            import operator

            value = operator.index(value)  # numpy integers and the like
        except TypeError:
            return None
    return int(value) if 0 <= value <= MAX_TOTAL else None


def run_dir_name(run_id: str) -> str:
    """The directory of a run's records: the run id made safe as a path component.

    A leading ``.`` becomes ``%2E`` so the directory is not hidden from readers (which
    skip names starting with ``.``); readers take the run id from the records' contents.
    """
    name = safe_component(run_id)
    return "%2E" + name[1:] if name.startswith(".") else name


def read_run_record(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read one run record; ``None`` when missing, unreadable or not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(
    path: str, data: dict[str, Any], storage_options: Mapping[str, str] | None = None
) -> None:
    """Write ``data`` as JSON to a hidden temporary file beside ``path``, then rename it
    (on object storage: one PUT of the whole object)."""
    if is_url(path):
        bucket, key = buckets_for(storage_options).locate(path)
        bucket.put(key, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
        return
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class RunRecords:
    """Keeps this writer's records of the runs it has open, and their heartbeat thread.

    ``writer_id`` names this writer's record file in each run's directory.
    ``on_error(message)`` is called when a record cannot be written (never raises).
    """

    def __init__(
        self,
        root: str,
        heartbeat_interval: float,
        on_error: Callable[[str], None],
        writer_id: str | None = None,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.root = root
        self.storage_options = dict(storage_options or {})
        if writer_id is None:
            from observers.ids import new_writer_id

            writer_id = new_writer_id()
        self.writer_id = safe_component(writer_id)
        self.heartbeat_interval = max(0.01, float(heartbeat_interval))
        self._on_error = on_error
        self._lock = threading.RLock()
        self._open: dict[str, tuple[str, dict[str, Any]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid_start = process_start(os.getpid())

    def path_for(self, pipeline_parts: tuple[str, ...], run_id: str) -> str:
        """Where this writer's record of ``run_id`` lives."""
        return os.path.join(
            self.root,
            *pipeline_parts,
            RUNS_DIR,
            run_dir_name(run_id),
            self.writer_id + ".json",
        )

    def _write(self, path: str, record: dict[str, Any]) -> None:
        try:
            write_json_atomic(path, record, self.storage_options)
        except Exception as exc:
            self._on_error(f"cannot write run record {path}: {exc!r}")

    def start(self, run_id: str, pipeline_uri: str, pipeline_parts: tuple[str, ...]) -> None:
        """Open the record of a new run and make sure the heartbeat thread runs."""
        now = iso_now()
        pid = os.getpid()
        record: dict[str, Any] = {
            "run_id": run_id,
            "writer_id": self.writer_id,
            "pipeline_uri": pipeline_uri,
            "host": socket.gethostname(),
            "pid": pid,
            "pid_start_time": self._pid_start[0],
            "pid_start_ticks": self._pid_start[1],
            "started_at": now,
            "heartbeat_at": now,
            "heartbeat_interval_s": self.heartbeat_interval,
            "ended_at": None,
            "outcome": None,
            "nodes": {},
        }
        path = self.path_for(pipeline_parts, run_id)
        with self._lock:
            self._open[run_id] = (path, record)
            self._write(path, record)
            if self._thread is None or not self._thread.is_alive() or self._stop.is_set():
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._beat, args=(self._stop,), name="observers-heartbeat", daemon=True
                )
                self._thread.start()

    def node(
        self,
        run_id: str,
        identity: tuple[str, ...],
        label: str,
        node_hash: str,
        tag_keys: list[str],
        total: int | None = None,
    ) -> None:
        """Note a node of an open run (rewrites the record when something changed).

        ``total``: the number of packets declared for the node (kept until declared again).
        """
        with self._lock:
            entry = self._open.get(run_id)
            if entry is None:
                return
            path, record = entry
            key = "/".join(identity)
            info: dict[str, Any] = {
                "label": label,
                "node_hash": node_hash,
                "tag_keys": list(tag_keys),
            }
            old = record["nodes"].get(key)
            if old is not None and not info["tag_keys"]:
                info["tag_keys"] = old["tag_keys"]
            if total is not None:
                info[NODE_TOTAL] = total
            elif old is not None and NODE_TOTAL in old:
                info[NODE_TOTAL] = old[NODE_TOTAL]
            if old == info:
                return
            record["nodes"][key] = info
            # Every rewrite is a sign of life: a stale heartbeat_at in a fresh object would make
            # a reader measure the writer's clock offset (Last-Modified − heartbeat_at) wrong.
            record["heartbeat_at"] = iso_now()
            self._write(path, record)

    def end(self, run_id: str, outcome: str) -> None:
        """Close the record of ``run_id`` with ``outcome``."""
        with self._lock:
            entry = self._open.pop(run_id, None)
            if entry is None:
                return
            path, record = entry
            now = iso_now()
            record["heartbeat_at"] = now
            record["ended_at"] = now
            record["outcome"] = outcome if outcome in OUTCOMES else "failed"
            self._write(path, record)

    def end_all(self, outcome: str) -> None:
        """Close every open record with ``outcome`` and stop the heartbeat."""
        with self._lock:
            for run_id in list(self._open):
                self.end(run_id, outcome)
            self._stop.set()

    def open_runs(self) -> list[str]:
        """Run ids whose records are still open."""
        with self._lock:
            return list(self._open)

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_interval):
            with self._lock:
                now = iso_now()
                for path, record in self._open.values():
                    record["heartbeat_at"] = now
                    self._write(path, record)
