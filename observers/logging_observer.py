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

Difference from orcapod: a ``None`` tag value is stored as null (orcapod writes the
string ``"None"`` in log rows but null in status rows); null on both sides keeps the
status↔log join working.
"""

from __future__ import annotations

import os
import time
from typing import Any

from observers import capture
from observers import schema as S
from observers.base import NodeScope, ObserverCore, never_raise
from observers.writer import LOG, TableRef, tags_of

__all__ = ["DataLogger", "LoggingObserver"]


class DataLogger:
    """Writes the log row of one packet: ``record(**fields)``.

    Also accepts one positional object with ``as_dict()`` (orcapod's ``CapturedLogs``).
    """

    __slots__ = ("_core", "_ref", "_run_id", "_tags")

    def __init__(self, core: LoggingObserver, ref: TableRef, run_id: str, tags: dict[Any, Any]):
        self._core = core
        self._ref = ref
        self._run_id = run_id
        self._tags = tags

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
            if self._core._closed:
                self._core.writer.stats.add(events_dropped=1)
                return
            self._core.writer.emit((self._ref, time.time_ns(), self._run_id, fields, self._tags))
        except Exception:
            self._core._hook_failed("record")


class _LoggingHooks:
    """Hooks of the logging observer: everything but ``create_data_logger`` is a no-op."""

    _core: LoggingObserver
    _ref: TableRef
    _run_id: str

    def create_data_logger(self, tag: Any = None, data: Any = None, **kwargs: Any) -> Any:
        """A :class:`DataLogger` bound to this node, run and ``tag``."""
        try:
            return DataLogger(self._core, self._ref, self._run_id, tags_of(tag))
        except Exception:
            self._core._hook_failed("create_data_logger")
            from observers.base import noop_logger

            return noop_logger()

    create_packet_logger = create_data_logger

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
        """Nothing to do."""

    def on_data_crash(self, node_label: str, tag: Any = None, *args: Any, **kwargs: Any) -> None:
        """Nothing to do (the traceback arrives through ``record``)."""

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
        **kwargs: Any,
    ):
        super().__init__(
            root,
            sink=sink,
            flush_interval=flush_interval,
            pipeline=pipeline,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
        )
        self._core = self
        self._run_id = ""
        self._ref = self.table(self.run.parts, ())
        self._capture = capture
        self._installed_orcapod = False
        self._install_capture()

    def _install_capture(self) -> None:
        if self._capture and not self._installed_orcapod:
            self._installed_orcapod = capture.install_orcapod()

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
        if self._installed_orcapod:
            self._installed_orcapod = False
            capture.uninstall_orcapod()
