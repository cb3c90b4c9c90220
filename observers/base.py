"""What the status and logging observers share: the writer, the run context, lifecycle."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from observers import lifecycle
from observers.objstore import ObjectStoreError, buckets_for, is_url, local_path
from observers.schema import pipeline_name_parts, safe_components
from observers.writer import EventWriter, TableRef

log = logging.getLogger("observers")

F = TypeVar("F", bound=Callable[..., Any])


class NoOpLogger:
    """A packet logger that discards what it is given (``record(**kwargs)`` does nothing)."""

    is_noop = True

    def record(self, *args: Any, **kwargs: Any) -> None:
        """Discard the record."""


_NOOP = NoOpLogger()


def noop_logger() -> Any:
    """orcapod's own no-op logger when orcapod is loaded (so orcapod's CompositeObserver
    recognises it and picks the real logger of another child), else ours."""
    module = sys.modules.get("orcapod.pipeline.observer")
    if module is not None:
        found = getattr(module, "_NOOP_LOGGER", None)
        if found is not None:
            return found
    return _NOOP


def is_noop_logger(obj: Any) -> bool:
    """True for our no-op logger, orcapod's, or anything called ``NoOpLogger``."""
    return obj is None or getattr(obj, "is_noop", False) or type(obj).__name__ == "NoOpLogger"


def never_raise(method: F) -> F:
    """Decorate a hook so that it logs and counts an exception instead of raising it."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:
            self._hook_failed(method.__name__)
            return None

    return wrapper  # type: ignore[return-value]


def run_outcome() -> str:
    """``completed``, or ``failed``/``interrupted`` when called while an exception is
    propagating (orcapod calls ``on_run_end`` from a ``finally`` block)."""
    exc = sys.exc_info()[1]
    if exc is None:
        return "completed"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "failed"


class RunContext:
    """The run an observer is in: id, pipeline URI and the pipeline's directory parts."""

    __slots__ = ("parts", "pipeline_uri", "run_id")

    def __init__(self, run_id: str = "", pipeline_uri: str = "", fallback: str = "pipeline"):
        self.run_id = run_id
        self.pipeline_uri = pipeline_uri
        self.parts = pipeline_name_parts(pipeline_uri, fallback)


class ObserverCore:
    """Owns an :class:`EventWriter` for one root and registers for exit handling.

    Subclasses define ``_section`` (``"_status"`` or ``"_log"``), ``_table_name`` and
    ``_kind``.
    """

    _section = ""
    _table_name = ""
    _kind = ""
    #: The per-node observer class that :meth:`contextualize` returns.
    _node_class: type[NodeScope]

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        sink: str = "parquet",
        flush_interval: float = 0.2,
        pipeline: str | tuple[str, ...] | None = None,
        max_retries: int = 4,
        retry_backoff: float = 0.05,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.root = normalize_root(root)
        self.storage_options = dict(storage_options or {})
        self.writer = EventWriter(
            self.root,
            sink=sink,
            flush_interval=flush_interval,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            storage_options=self.storage_options,
        )
        if isinstance(pipeline, tuple):
            self._fallback = "/".join(pipeline)
        else:
            self._fallback = pipeline or "pipeline"
        self.run = RunContext(fallback=self._fallback)
        self._tables: dict[tuple[tuple[str, ...], tuple[str, ...]], TableRef] = {}
        self._closed = False
        self._check_root()
        lifecycle.register(self)

    def _check_root(self) -> None:
        if is_url(self.root):
            self._check_remote_root()
            return
        try:
            os.makedirs(self.root, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(f"{self.root} is not writable")
        except OSError as exc:
            self.writer.warn_once(f"root {self.root!r} is not writable ({exc})")

    def _check_remote_root(self) -> None:
        """One LIST request, so bad credentials or a missing bucket are named at once."""
        try:
            bucket, key = buckets_for(self.storage_options).locate(self.root)
            next(iter(bucket.list(key)), None)
        except ObjectStoreError as exc:
            self.writer.warn_once(str(exc))
        except Exception as exc:
            self.writer.warn_once(f"root {self.root!r} cannot be checked ({exc!r})")

    def table(self, parts: tuple[str, ...], identity: tuple[str, ...]) -> TableRef:
        """The (cached) table of node ``identity`` in pipeline ``parts``."""
        key = (parts, identity)
        ref = self._tables.get(key)
        if ref is None:
            path = os.path.join(self.root, *parts, self._section, *identity, self._table_name)
            ref = self._tables[key] = TableRef(path, self._kind)
        return ref

    def contextualize(self, *identity_path: str) -> Any:
        """The observer for one node; its rows go to ``<section>/<identity path…>/``."""
        try:
            return self._node_class(self, identity_of(identity_path))
        except Exception:
            self._hook_failed("contextualize")
            return self._node_class(self, ("unknown",))

    def set_run(self, run_id: str, pipeline_uri: str) -> None:
        """Enter a run (called from ``on_run_start``)."""
        self.run = RunContext(str(run_id), str(pipeline_uri or ""), self._fallback)

    def _hook_failed(self, hook: str) -> None:
        self.writer.stats.add(hook_errors=1)
        log.debug("observers: hook %s failed", hook, exc_info=True)

    @property
    def stats(self) -> dict[str, int]:
        """Counters: events written/dropped, retries, files written, errors."""
        return self.writer.stats.as_dict()

    def flush(self) -> None:
        """Write everything pending now (retrying failed writes)."""
        try:
            self.writer.flush()
        except Exception:
            self._hook_failed("flush")

    def _shutdown(self, outcome: str) -> None:
        """Flush and close (exit handling); ``outcome`` is for open runs."""
        self.close()

    def close(self) -> None:
        """Flush, compact this writer's files and stop its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        lifecycle.unregister(self)
        try:
            self.writer.close()
        except Exception:
            self._hook_failed("close")

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def normalize_root(root: str | os.PathLike[str]) -> str:
    """An object-storage URL without its trailing ``/``, or an absolute local path
    (``file://`` URLs become paths)."""
    text = os.fspath(root)
    if is_url(text):
        return str(text).rstrip("/")
    return os.path.abspath(local_path(text))


def identity_of(identity_path: tuple[Any, ...]) -> tuple[str, ...]:
    """A node identity path made safe for directory names."""
    return safe_components(identity_path)


class NodeScope:
    """What the per-node observers share: scoping further, following the run's pipeline."""

    _core: ObserverCore
    _identity: tuple[str, ...]
    _run_id: str
    _ref: TableRef

    def __init__(self, core: Any, identity: tuple[str, ...]) -> None:
        self._core = core
        self._identity = identity
        self._run_id = core.run.run_id
        self._ref = core.table(core.run.parts, identity)

    def contextualize(self, *identity_path: str) -> Any:
        """Scope further (identity paths are concatenated, as orcapod's ``db.at`` does)."""
        return type(self)(self._core, self._identity + identity_of(identity_path))

    def _follow_run(self, run_id: str, pipeline_uri: str) -> None:
        """Adopt ``run_id`` and write to this node's table of the run's pipeline."""
        self._run_id = str(run_id)
        parts = pipeline_name_parts(str(pipeline_uri or ""), self._core._fallback)
        self._ref = self._core.table(parts, self._identity)

    def on_run_end(self, run_id: str, **kwargs: Any) -> None:
        """Nothing to do for one node."""
