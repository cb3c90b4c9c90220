"""The plain-Python API: status and logs for any pipeline, no orcapod needed.

::

    with observers.run("/data/status", pipeline="etl") as run:
        with run.node("clean", version="v1") as node:
            for sid in ["s1", "s2"]:
                with node.packet(subject_id=sid):
                    ...              # RUNNING, then SUCCESS, or FAILED if this raises
            node.cached(subject_id="s3")   # RUNNING + CACHED

A packet that raises is recorded ``FAILED`` (``str(exc)`` as the summary, the traceback
in its log row) and the exception **propagates** (pass ``suppress=True`` to
``node.packet`` to swallow it instead). The run's outcome is ``completed``, ``failed``
(an exception left the ``with run`` block) or ``interrupted`` (KeyboardInterrupt).
A node's identity path is ``(name,)`` or ``(name, version…)``.

``run.node("clean", total=200)`` declares how many packets the node will have (stored
in the run record as ``nodes["clean"]["total"]``, so the monitor shows progress and an
ETA); ``node.set_total(n)`` declares or corrects it later. A declaration that is not a
non-negative integer is ignored with a warning (it never raises into the pipeline).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from observers import capture as cap
from observers.base import run_outcome
from observers.composite import CompositeObserver
from observers.ids import new_run_id
from observers.logging_observer import LoggingObserver
from observers.runrecord import valid_total
from observers.status import StatusObserver

log = logging.getLogger("observers")

__all__ = ["Node", "Packet", "Run", "run"]


class Packet:
    """One packet of a node; use as a context manager (see module docstring)."""

    def __init__(self, node: Node, tags: dict[str, Any], suppress: bool = False):
        self.node = node
        self.tags = tags
        self.suppress = suppress
        self._cached = False
        self._capture: cap.PacketCapture | None = None
        self._logger: Any = None

    def cached(self) -> None:
        """Mark the packet as a cache hit: it ends ``CACHED`` instead of ``SUCCESS``."""
        self._cached = True

    def __enter__(self) -> Packet:
        self.node._obs.on_data_start(self.node.label, self.tags, None)
        if self.node.run._capture:
            self._capture = cap.PacketCapture().__enter__()
            log_node = self.node._log_node
            if log_node is not None:  # output so far reaches disk while the packet runs
                self._logger = log_node.live_logger(self.tags, self._capture)
        return self

    def _record(self) -> None:
        if self._capture is None:
            return
        logger = self._logger or self.node._obs.create_data_logger(self.tags, None)
        logger.record(**self._capture.fields())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        obs = self.node._obs
        label = self.node.label
        if self._capture is not None:
            self._capture.__exit__(exc_type, exc, tb)
        if exc is None:
            if self._capture is not None and not self._cached:
                self._record()
            elif self._logger is not None and self._logger.stop_partials():
                self._record()  # a cache hit that already has partial rows: supersede them
            obs.on_data_end(label, self.tags, None, None, self._cached)
            return False
        if self._capture is not None:
            self._record()
        obs.on_data_crash(label, self.tags, None, exc)
        return self.suppress and isinstance(exc, Exception)


class Node:
    """One node of a run; use as a context manager (``on_node_start``/``on_node_end``)."""

    def __init__(
        self,
        run: Run,
        name: str,
        version: tuple[str, ...],
        label: str | None,
        total: int | None = None,
    ):
        self.run = run
        self.label = label or name
        self.identity = (name, *version)
        self._obs = run.observer.contextualize(*self.identity)
        self._log_node = next(
            (o for o in getattr(self._obs, "observers", ()) if hasattr(o, "live_logger")), None
        )
        self.node_hash = hashlib.sha256("/".join(self.identity).encode()).hexdigest()[:16]
        self.total = self._checked_total(total)
        self._entered = False

    def _checked_total(self, total: object) -> int | None:
        if total is None:
            return None
        checked = valid_total(total)
        if checked is None:
            log.warning(
                "observers: node %r: total=%r is not a non-negative integer; ignored",
                self.label,
                total,
            )
        return checked

    def set_total(self, total: int) -> None:
        """Declare (or correct) how many packets this node has; written to the run record."""
        checked = self._checked_total(total)
        if checked is None:
            return
        self.total = checked
        if self._entered:
            self._obs.on_node_start(self.label, self.node_hash, None, total=checked)

    def __enter__(self) -> Node:
        self._obs.on_run_start(self.run.run_id, pipeline_uri=self.run.pipeline_uri)
        if self.total is None:
            self._obs.on_node_start(self.label, self.node_hash, None)
        else:
            self._obs.on_node_start(self.label, self.node_hash, None, total=self.total)
        self._entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._obs.on_node_end(self.label, self.node_hash)

    def packet(self, *, suppress: bool = False, **tags: Any) -> Packet:
        """A packet with these tag values (keyword arguments)."""
        return Packet(self, tags, suppress=suppress)

    def cached(self, **tags: Any) -> None:
        """Record a cache hit for the packet with these tags (``RUNNING`` then ``CACHED``)."""
        self._obs.on_data_start(self.label, tags, None)
        self._obs.on_data_end(self.label, tags, None, None, True)


class Run:
    """An open run (from :func:`run`): ``run.node(name, version=…)`` gives nodes."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        pipeline: str | tuple[str, ...],
        *,
        run_id: str | None,
        sink: str,
        capture: bool,
        flush_interval: float,
        heartbeat_interval: float,
        logs: bool,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.root = os.fspath(root)
        parts = (pipeline,) if isinstance(pipeline, str) else tuple(pipeline)
        self.pipeline_uri = "/".join(parts)
        self.run_id = run_id or new_run_id()
        self._capture = capture and logs
        self.status = StatusObserver(
            root,
            sink=sink,
            flush_interval=flush_interval,
            heartbeat_interval=heartbeat_interval,
            storage_options=storage_options,
        )
        children: list[Any] = [self.status]
        self.logging: LoggingObserver | None = None
        if logs:
            self.logging = LoggingObserver(
                root, sink=sink, flush_interval=flush_interval, storage_options=storage_options
            )
            children.insert(0, self.logging)
        self.observer = CompositeObserver(*children)
        if self._capture:
            cap.install()

    def node(
        self,
        name: str,
        *,
        version: str | tuple[str, ...] = (),
        label: str | None = None,
        total: int | None = None,
    ) -> Node:
        """The node ``name`` (identity path ``(name, *version)``).

        ``total``: how many packets the node will have, when known (progress and ETA).
        """
        ver = (version,) if isinstance(version, str) else tuple(version)
        return Node(self, name, ver, label, total)

    @property
    def stats(self) -> dict[str, int]:
        """Counters of the underlying observers."""
        return self.observer.stats

    def __enter__(self) -> Run:
        self.observer.on_run_start(self.run_id, pipeline_uri=self.pipeline_uri)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        outcome = (
            run_outcome()
            if exc is None
            else ("interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed")
        )
        try:
            self.observer.on_run_end(self.run_id, outcome=outcome)
        finally:
            if self._capture:
                cap.uninstall()
            self.observer.close()


def run(
    root: str | os.PathLike[str],
    pipeline: str | tuple[str, ...] = "pipeline",
    *,
    run_id: str | None = None,
    sink: str = "parquet",
    capture: bool = True,
    logs: bool = True,
    flush_interval: float = 0.2,
    heartbeat_interval: float = 5.0,
    storage_options: Mapping[str, str] | None = None,
) -> Run:
    """Open a run of ``pipeline`` writing under ``root``; use it as a context manager.

    Args:
        root: root directory (as given to ``orcatui watch``).
        pipeline: name, ``"a/b"`` or a tuple for several directory levels.
        run_id: defaults to 16 random hex characters.
        sink: ``"parquet"`` or ``"delta"``.
        capture: capture each packet's stdout, stderr, logging and traceback.
        logs: write the log table at all (``False``: status only).
        storage_options: for an object-storage root (``s3://bucket/prefix``): ``KEY=VALUE``
            options as delta-rs spells them; each cloud's environment variables are read too.
    """
    return Run(
        root,
        pipeline,
        run_id=run_id,
        sink=sink,
        capture=capture,
        flush_interval=flush_interval,
        heartbeat_interval=heartbeat_interval,
        logs=logs,
        storage_options=storage_options,
    )
