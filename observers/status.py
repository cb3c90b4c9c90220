"""``StatusObserver``: writes RUNNING / SUCCESS / FAILED / CACHED events, orcapod-compatible.

Mirrors ``orcapod.pipeline.status_observer.StatusObserver`` (0.1.4): the pipeline's
directory parts come from ``pipeline_uri`` (``"a/b@hash"`` → ``a/b``), and
``contextualize(*identity_path)`` returns the observer of one node, which writes to
``<root>/<pipeline parts…>/_status/<identity path…>/execution_status/``. Unlike
orcapod's, this one also keeps a run record with a heartbeat, one per writer process:
``<root>/<pipeline parts…>/_runs/<run_id>/<writer_id>.json`` (see :mod:`observers.runrecord`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from observers import schema as S
from observers.base import NodeScope, ObserverCore, never_raise, noop_logger, run_outcome
from observers.runrecord import RunRecords, valid_total
from observers.textconv import tag_text
from observers.writer import STATUS, TableRef, tags_of

__all__ = ["StatusObserver"]


def _error_summary(error: object) -> str | None:
    """``str(error)``; ``repr`` or ``<unprintable TypeName>`` when that raises."""
    return tag_text(error)


def _tag_keys(tag_schema: Any) -> list[str]:
    if not tag_schema:
        return []
    try:
        keys = list(tag_schema.keys()) if hasattr(tag_schema, "keys") else list(tag_schema)
    except Exception:
        return []
    names = [tag_text(k) or "" for k in keys]
    return [k for k in names if S.is_user_tag(k)]


class _StatusHooks:
    """The data hooks (both generations), writing to one table."""

    _core: StatusObserver
    _ref: TableRef
    _identity: tuple[str, ...]
    _run_id: str
    _uri: str
    _tag_keys_known: bool

    def _emit(self, state: str, tag: object, error: str | None) -> None:
        core = self._core
        if core._closed:
            core.writer.stats.add(events_dropped=1)
            return
        tags = tags_of(tag)
        core.writer.emit((self._ref, time.time_ns(), self._run_id, self._uri, state, error, tags))
        if not self._tag_keys_known:
            self._tag_keys_known = True
            core._note_tag_keys(self, tags)

    def on_data_start(self, node_label: str, tag: Any, data: Any = None, **kwargs: Any) -> None:
        """A packet starts: write ``RUNNING``."""
        try:
            self._emit(S.RUNNING, tag, None)
        except Exception:
            self._core._hook_failed("on_data_start")

    def on_data_end(
        self,
        node_label: str,
        tag: Any,
        input_data: Any = None,
        output_data: Any = None,
        cached: bool = False,
        **kwargs: Any,
    ) -> None:
        """A packet ended: write ``CACHED`` when ``cached`` else ``SUCCESS``."""
        try:
            self._emit(S.CACHED if cached else S.SUCCESS, tag, None)
        except Exception:
            self._core._hook_failed("on_data_end")

    def on_data_crash(
        self, node_label: str, tag: Any, data: Any = None, error: Any = None, **kwargs: Any
    ) -> None:
        """A packet raised: write ``FAILED`` with ``str(error)`` as the summary."""
        try:
            self._emit(S.FAILED, tag, _error_summary(error))
        except Exception:
            self._core._hook_failed("on_data_crash")

    # earlier orcapod releases
    on_packet_start = on_data_start
    on_packet_end = on_data_end
    on_packet_crash = on_data_crash

    def create_data_logger(self, tag: Any = None, data: Any = None, **kwargs: Any) -> Any:
        """Status events come from hooks, not from a logger: return a no-op logger."""
        return noop_logger()

    create_packet_logger = create_data_logger


class _NodeStatusObserver(NodeScope, _StatusHooks):
    """The observer of one node, returned by :meth:`StatusObserver.contextualize`."""

    def __init__(self, core: StatusObserver, identity: tuple[str, ...]):
        super().__init__(core, identity)
        self._uri = core.run.pipeline_uri
        self._tag_keys_known = False
        self._label = identity[0] if identity else ""
        self._node_hash = ""
        self._total: int | None = None

    def _hook_failed(self, hook: str) -> None:
        self._core._hook_failed(hook)

    @never_raise
    def on_run_start(self, run_id: str, pipeline_uri: str = "", **kwargs: Any) -> None:
        """Adopt ``run_id`` for this node's events."""
        self._uri = str(pipeline_uri or "")
        self._follow_run(run_id, self._uri)

    @never_raise
    def on_node_start(
        self, node_label: str, node_hash: str = "", tag_schema: Any = None, **kwargs: Any
    ) -> None:
        """Note the node (label, hash, tag keys) in the run record.

        ``total=<int>`` (a keyword orcapod 0.1.4 never passes; the plain API does) is the
        number of packets declared for the node, stored as ``nodes[…]["total"]``.
        """
        self._label = str(node_label)
        self._node_hash = str(node_hash)
        total = valid_total(kwargs.get("total"))
        if total is not None:
            self._total = total
        keys = _tag_keys(tag_schema)
        self._tag_keys_known = bool(keys)
        self._core._note_node(self, keys)

    @never_raise
    def on_node_end(self, node_label: str, node_hash: str = "", **kwargs: Any) -> None:
        """Hand this node's pending events to the sink now."""
        self._core.writer.flush(retry=False)


class StatusObserver(ObserverCore, _StatusHooks):
    """Writes packet status events under ``root``, drop-in for orcapod's StatusObserver.

    Args:
        root: the root directory (created if needed). Nothing else is needed: the
            pipeline name comes from ``pipeline_uri`` in ``on_run_start``.
        sink: ``"parquet"`` (default) or ``"delta"``.
        flush_interval: seconds within which an event reaches disk (≤ 0.25 advised).
        heartbeat_interval: seconds between run-record heartbeats.
        pipeline: directory name used when ``pipeline_uri`` is empty (default
            ``"pipeline"``).
        max_retries, retry_backoff: write retry policy (first sleep, doubled each time).
        run_records: write this writer's run record
            ``_runs/<run_id>/<writer_id>.json`` (default True).

    Hooks never raise. ``stats`` reports what was written, dropped and retried.
    """

    _section = S.STATUS_DIR
    _table_name = S.STATUS_TABLE
    _kind = STATUS
    _node_class = _NodeStatusObserver

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        sink: str = "parquet",
        flush_interval: float = 0.2,
        heartbeat_interval: float = 5.0,
        pipeline: str | tuple[str, ...] | None = None,
        max_retries: int = 4,
        retry_backoff: float = 0.05,
        run_records: bool = True,
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
        self._identity = ()
        self._run_id = ""
        self._uri = ""
        self._ref = self.table(self.run.parts, ())
        self._tag_keys_known = True
        self._run_records = run_records
        self.runs = RunRecords(
            self.root,
            heartbeat_interval,
            self.writer.warn_once,
            self.writer.writer_id,
            storage_options=self.storage_options,
        )

    # -- orcapod protocol (contextualize: ObserverCore) --

    @never_raise
    def on_run_start(self, run_id: str, pipeline_uri: str = "", **kwargs: Any) -> None:
        """Start a run: remember its id and URI and open its run record."""
        self.set_run(run_id, pipeline_uri)
        self._run_id = self.run.run_id
        self._uri = self.run.pipeline_uri
        self._ref = self.table(self.run.parts, ())
        if self._run_records:
            self.runs.start(self.run.run_id, self.run.pipeline_uri, self.run.parts)

    @never_raise
    def on_run_end(self, run_id: str, **kwargs: Any) -> None:
        """End a run: flush, compact this writer's files, close the run record.

        The outcome is ``completed``, or ``failed``/``interrupted`` when an exception
        (KeyboardInterrupt) is propagating, or ``kwargs["outcome"]`` when given.
        """
        outcome = kwargs.get("outcome") or run_outcome()
        self.writer.flush(compact=True)
        self.runs.end(str(run_id), outcome)

    @never_raise
    def on_node_start(
        self, node_label: str, node_hash: str = "", tag_schema: Any = None, **kwargs: Any
    ) -> None:
        """Nothing is written at node start (the node observer notes it in the record)."""

    @never_raise
    def on_node_end(self, node_label: str, node_hash: str = "", **kwargs: Any) -> None:
        """Hand pending events to the sink now."""
        self.writer.flush(retry=False)

    # -- run record bookkeeping --

    def _note_node(self, node: _NodeStatusObserver, tag_keys: list[str]) -> None:
        if self._run_records and node._run_id:
            self.runs.node(
                node._run_id, node._identity, node._label, node._node_hash, tag_keys, node._total
            )

    def _note_tag_keys(self, node: _StatusHooks, tags: dict[Any, Any]) -> None:
        if isinstance(node, _NodeStatusObserver) and self._run_records and node._run_id:
            keys = [S.stored_tag_name(k) for k in tags]
            self.runs.node(node._run_id, node._identity, node._label, node._node_hash, keys)

    # -- lifecycle --

    def _shutdown(self, outcome: str) -> None:
        self.close(outcome=outcome)

    def close(self, outcome: str = "interrupted") -> None:  # type: ignore[override]
        """Flush and compact, then close still-open run records with ``outcome``.

        A run still open at close did not get ``on_run_end``; it is marked ``outcome``
        (default ``interrupted``).
        """
        if self._closed:
            return
        super().close()
        try:
            self.runs.end_all(outcome)
        except Exception:
            self._hook_failed("close")
