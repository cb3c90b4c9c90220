"""``LoggingObserver``: one log row per executed packet, orcapod-compatible.

Mirrors ``orcapod.pipeline.logging_observer.LoggingObserver`` (0.1.4): the executor
captures each packet's stdout, stderr, Python logging and traceback and calls
``logger.record(**fields)`` on the logger from ``create_data_logger(tag, data)``; each
field becomes a ``_log_<field>`` column (``bool`` values as booleans), plus
``_log_id``, ``_log_run_id``, ``_log_timestamp`` and the tag columns. Rows go to
``<root>/<pipeline parts…>/_log/<identity path…>/execution_logs/``.

With ``capture=True`` (default) the observer makes sure orcapod's capture streams are
installed when orcapod is loaded (as orcapod's own LoggingObserver does at creation) and
restores ``sys.stdout``/``sys.stderr`` and the logging handlers on ``close()``. The
plain-Python API (:func:`observers.run`) captures with :mod:`observers.capture`.

**Partial log rows ("last words survive a crash").** While a packet captured by
:mod:`observers.capture` runs — the plain API's packets, and (with ``capture=True``) the
packets orcapod's executor runs: from ``create_data_logger`` to ``record()`` our tee
captures the packet's output beside orcapod's own capture — the flush thread writes a
*partial* log row for it — same ``_log_run_id`` and tag values, ``_log_success`` null,
``_log_traceback`` null, ``_log_stdout_log``/``_log_stderr_log``/``_log_python_logs``
holding everything captured so far (each cut to its last ``PARTIAL_MAX_CHARS``
characters, after a line ``[… N earlier characters not in this partial row]``). A partial
row is written only when

* the packet has run for at least one flush interval,
* its captured text changed since its previous partial row, and
* at least ``flush_interval × (1 + captured characters // 65536)`` seconds (at most 5 s)
  have passed since its previous partial row;

and once more, regardless of these limits, when the observer closes (interpreter exit,
SIGTERM) while the packet still runs. The packet's final row (``_log_success`` true or
false) always has a strictly later ``_log_timestamp`` (by at least 1 µs) and a later
UUIDv7 ``_log_id`` than its partial rows, so the **newest log row of a (run, tags) is
the packet's final row once there is one**; a reader shows a partial row (success null)
as "output so far". A packet SIGKILLed mid-run keeps its last partial row on disk.
Compaction at run end drops partial rows whose packet has a final row in the same
writer's files. orcapod's ``ObservabilityReader`` reads partial rows as rows whose
``success`` is null.

Difference from orcapod: a ``None`` tag value is stored as null (orcapod writes the
string ``"None"`` in log rows but null in status rows); null on both sides keeps the
status↔log join working.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from observers import capture
from observers import schema as S
from observers.base import NodeScope, ObserverCore, never_raise
from observers.writer import LOG, TableRef, tags_of

__all__ = ["PARTIAL_MAX_CHARS", "DataLogger", "LoggingObserver"]

#: A partial log row keeps at most this many (last) characters of each captured text.
PARTIAL_MAX_CHARS = 256 * 1024
#: Captured characters per extra flush interval between two partial rows of one packet.
PARTIAL_CHARS_PER_INTERVAL = 65536
#: The longest gap between two partial rows of a packet whose output keeps changing.
PARTIAL_MAX_GAP_S = 5.0


class _Live:
    """A running packet whose captured output is written as partial log rows."""

    __slots__ = ("capture", "last_ns", "last_sig", "ref", "run_id", "started_ns", "tags")

    def __init__(
        self,
        ref: TableRef,
        run_id: str,
        tags: dict[Any, Any],
        capture: capture.PacketCapture,
    ):
        self.ref = ref
        self.run_id = run_id
        self.tags = tags
        self.capture = capture
        self.started_ns = time.time_ns()
        self.last_ns = 0
        self.last_sig = (0, 0, 0)


class DataLogger:
    """Writes the log row of one packet: ``record(**fields)``.

    Also accepts one positional object with ``as_dict()`` (orcapod's ``CapturedLogs``).
    A logger made by ``live_logger`` also stops that packet's partial rows and stamps
    its final row after them.
    """

    __slots__ = ("_capture", "_core", "_live", "_ref", "_run_id", "_tags")

    def __init__(
        self,
        core: LoggingObserver,
        ref: TableRef,
        run_id: str,
        tags: dict[Any, Any],
        live: _Live | None = None,
        started: capture.PacketCapture | None = None,
    ):
        self._core = core
        self._ref = ref
        self._run_id = run_id
        self._tags = tags
        self._live = live
        #: Our capture started for this packet (orcapod's packets): stopped at ``record()``.
        self._capture = started

    def abandon(self) -> None:
        """The packet ended without ``record()``: stop its capture and partial rows (the
        last partial row, if any, stays its log row)."""
        live, self._live = self._live, None
        if live is not None:
            self._core._end_live(live)
        started, self._capture = self._capture, None
        if started is not None:
            started.stop()

    def stop_partials(self) -> bool:
        """Stop this packet's partial rows without a final row; True if some were written.

        (Then the caller should still write a final row, or a reader keeps showing the
        partial one as the packet's output so far.)
        """
        live, self._live = self._live, None
        if live is None:
            return False
        last = self._core._end_live(live)
        if last:
            self._live = live  # record() must still stamp its row after the partial ones
            live.last_ns = last
        return bool(last)

    def record(self, *captured: Any, **kwargs: Any) -> None:
        """Queue one log row with the given fields (never raises)."""
        try:
            fields: dict[str, Any] = {}
            for obj in captured:
                if hasattr(obj, "as_dict"):
                    fields.update(obj.as_dict())
                elif isinstance(obj, dict):
                    fields.update(obj)
            fields.update(kwargs)
            core = self._core
            ns = time.time_ns()
            if self._live is not None:
                ns = max(ns, core._end_live(self._live) + 1000)
                self._live = None
            started, self._capture = self._capture, None
            if started is not None:
                started.stop()
            if core._closed:
                core.writer.stats.add(events_dropped=1)
                return
            core.writer.emit((self._ref, ns, self._run_id, fields, self._tags))
        except Exception:
            self._core._hook_failed("record")


#: The logger ``create_data_logger`` made last in this context (orcapod's packet in flight).
_pending: contextvars.ContextVar[DataLogger | None] = contextvars.ContextVar(
    "observers_pending_logger", default=None
)


def _end_pending() -> None:
    """Stop the capture of this context's packet if it ended without ``record()``."""
    try:
        logger = _pending.get()
        if logger is not None:
            _pending.set(None)
            logger.abandon()
    except Exception:
        pass


class _LoggingHooks:
    """Hooks of the logging observer: everything but ``create_data_logger`` is a no-op."""

    _core: LoggingObserver
    _ref: TableRef
    _run_id: str

    def create_data_logger(self, tag: Any = None, data: Any = None, **kwargs: Any) -> Any:
        """A :class:`DataLogger` bound to this node, run and ``tag``.

        orcapod's executor calls this just before it runs the packet, in the packet's own
        context (thread or task), and ``record()``s its captured output when the packet ends.
        While capturing, we also capture the packet's output from here on (our tee beside
        orcapod's) and write it as partial log rows until then.
        """
        try:
            core = self._core
            tags = tags_of(tag)
            if not (core._capture and core._own_capture and not core._closed):
                return DataLogger(core, self._ref, self._run_id, tags)
            packet = capture.PacketCapture().start()
            live = _Live(self._ref, self._run_id, tags, packet)
            core._begin_live(live)
            logger = DataLogger(core, live.ref, live.run_id, live.tags, live, packet)
            _pending.set(logger)
            return logger
        except Exception:
            self._core._hook_failed("create_data_logger")
            from observers.base import noop_logger

            return noop_logger()

    create_packet_logger = create_data_logger

    def live_logger(self, tag: Any, packet_capture: capture.PacketCapture) -> Any:
        """A :class:`DataLogger` for a packet whose output ``packet_capture`` is capturing.

        Until its ``record()``, the packet's output so far is written as partial log rows
        (see the module docstring).
        """
        try:
            core = self._core
            live = _Live(self._ref, self._run_id, tags_of(tag), packet_capture)
            core._begin_live(live)
            return DataLogger(core, live.ref, live.run_id, live.tags, live)
        except Exception:
            self._core._hook_failed("live_logger")
            return self.create_data_logger(tag)

    def on_node_start(
        self, node_label: str, node_hash: str = "", tag_schema: Any = None, **kwargs: Any
    ) -> None:
        """Nothing to do."""

    def on_node_end(self, node_label: str, node_hash: str = "", **kwargs: Any) -> None:
        """Hand pending rows to the sink now."""
        try:
            self._core.writer.flush(retry=False)
        except Exception:
            self._core._hook_failed("on_node_end")

    def on_data_start(
        self, node_label: str, tag: Any = None, data: Any = None, **kwargs: Any
    ) -> None:
        """Nothing to do (the executor captures)."""

    def on_data_end(self, node_label: str, tag: Any = None, *args: Any, **kwargs: Any) -> None:
        """A packet ended: if its logger was never ``record()``ed, stop its capture."""
        _end_pending()

    def on_data_crash(self, node_label: str, tag: Any = None, *args: Any, **kwargs: Any) -> None:
        """Likewise (the traceback arrives through ``record``)."""
        _end_pending()

    on_packet_start = on_data_start
    on_packet_end = on_data_end
    on_packet_crash = on_data_crash


class _NodeLoggingObserver(NodeScope, _LoggingHooks):
    """The logging observer of one node (from :meth:`LoggingObserver.contextualize`)."""

    def on_run_start(self, run_id: str, pipeline_uri: str = "", **kwargs: Any) -> None:
        """Adopt ``run_id`` for this node's rows."""
        try:
            self._follow_run(run_id, pipeline_uri)
        except Exception:
            self._core._hook_failed("on_run_start")


class LoggingObserver(ObserverCore, _LoggingHooks):
    """Writes one log row per executed packet under ``root`` (drop-in for orcapod's).

    Args:
        root: the root directory; the pipeline name comes from ``pipeline_uri``.
        sink: ``"parquet"`` (default) or ``"delta"``.
        flush_interval: seconds within which a row reaches disk.
        pipeline: directory name used when ``pipeline_uri`` is empty.
        capture: install orcapod's capture streams when orcapod is loaded (default True).
        max_retries, retry_backoff: write retry policy.
    """

    _section = S.LOG_DIR
    _table_name = S.LOG_TABLE
    _kind = LOG
    _node_class = _NodeLoggingObserver

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        sink: str = "parquet",
        flush_interval: float = 0.2,
        pipeline: str | tuple[str, ...] | None = None,
        capture: bool = True,
        max_retries: int = 4,
        retry_backoff: float = 0.05,
        storage_options: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            root,
            sink=sink,
            flush_interval=flush_interval,
            pipeline=pipeline,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            storage_options=storage_options,
        )
        self._core = self
        self._run_id = ""
        self._ref = self.table(self.run.parts, ())
        self._capture = capture
        self._installed_orcapod = False
        self._own_capture = False  # our tees installed (partial rows of orcapod's packets)
        self._install_capture()
        self._live: dict[int, _Live] = {}
        self._live_lock = threading.Lock()
        self.writer.producers.append(self._write_partials)

    # -- partial rows of running packets --

    def _begin_live(self, live: _Live) -> None:
        with self._live_lock:
            self._live[id(live)] = live

    def _end_live(self, live: _Live) -> int:
        """Stop ``live``'s partial rows; the time (ns) of its last partial row (0: none)."""
        with self._live_lock:
            self._live.pop(id(live), None)
            return live.last_ns

    def _write_partials(self, force: bool) -> None:
        """Queue a partial log row for each running packet whose output changed."""
        if not self._live:
            return
        interval_ns = int(self.writer.flush_interval * 1e9)
        with self._live_lock:
            now = time.time_ns()
            for live in self._live.values():
                sig = live.capture.signature()
                if sig == live.last_sig:
                    continue
                if not force:
                    if now - live.started_ns < interval_ns:
                        continue
                    size = sig[0] + sig[1]
                    gap = min(
                        PARTIAL_MAX_GAP_S * 1e9,
                        interval_ns * (1 + size // PARTIAL_CHARS_PER_INTERVAL),
                    )
                    if live.last_ns and now - live.last_ns < gap:
                        continue
                fields = live.capture.partial_fields(PARTIAL_MAX_CHARS)
                ns = max(now, live.last_ns + 1000)
                self.writer.emit((live.ref, ns, live.run_id, fields, live.tags))
                live.last_ns = ns
                live.last_sig = sig

    def _install_capture(self) -> None:
        if self._capture and not self._installed_orcapod:
            self._installed_orcapod = capture.install_orcapod()
        if self._capture and not self._own_capture:
            capture.install()
            self._own_capture = True

    @never_raise
    def on_run_start(self, run_id: str, pipeline_uri: str = "", **kwargs: Any) -> None:
        """Start a run: remember its id and pipeline; install orcapod's capture."""
        self.set_run(run_id, pipeline_uri)
        self._run_id = self.run.run_id
        self._ref = self.table(self.run.parts, ())
        self._install_capture()

    @never_raise
    def on_run_end(self, run_id: str, **kwargs: Any) -> None:
        """End a run: flush and compact this writer's files."""
        self.writer.flush(compact=True)

    def close(self) -> None:
        """Flush, compact, stop the writer and restore streams/handlers we installed."""
        if self._closed:
            return
        super().close()
        if self._own_capture:
            self._own_capture = False
            capture.uninstall()
        if self._installed_orcapod:
            self._installed_orcapod = False
            capture.uninstall_orcapod()
