"""``CompositeObserver``: forwards every hook to several observers (like orcapod's)."""

from __future__ import annotations

import logging
from typing import Any

from observers.base import is_noop_logger, noop_logger
from observers.stats import merge_stats

log = logging.getLogger("observers")

__all__ = ["CompositeObserver"]


class CompositeObserver:
    """Fan-out observer: each hook is called on every child, in order.

    A child that raises is logged and skipped; the others still run and nothing reaches
    the pipeline. ``create_data_logger`` returns the first child logger that is not a
    no-op (ours or orcapod's). Extra keyword arguments are forwarded.
    """

    def __init__(self, *observers: Any) -> None:
        self.observers = list(observers)

    def _each(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for o in self.observers:
            try:
                fn = getattr(o, hook, None)
                if fn is None and hook.startswith("on_data_"):
                    fn = getattr(o, hook.replace("on_data_", "on_packet_"), None)
                if fn is not None:
                    fn(*args, **kwargs)
            except Exception:
                log.debug("observers: %s of %r failed", hook, o, exc_info=True)

    def contextualize(self, *identity_path: str) -> CompositeObserver:
        """A composite of each child's contextualized observer."""
        children = []
        for o in self.observers:
            try:
                children.append(o.contextualize(*identity_path))
            except Exception:
                log.debug("observers: contextualize of %r failed", o, exc_info=True)
        return CompositeObserver(*children)

    def on_run_start(self, run_id: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_run_start``."""
        self._each("on_run_start", run_id, *args, **kwargs)

    def on_run_end(self, run_id: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_run_end``."""
        self._each("on_run_end", run_id, *args, **kwargs)

    def on_node_start(self, node_label: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_node_start``."""
        self._each("on_node_start", node_label, *args, **kwargs)

    def on_node_end(self, node_label: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_node_end``."""
        self._each("on_node_end", node_label, *args, **kwargs)

    def on_data_start(self, node_label: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_data_start``."""
        self._each("on_data_start", node_label, *args, **kwargs)

    def on_data_end(self, node_label: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_data_end``."""
        self._each("on_data_end", node_label, *args, **kwargs)

    def on_data_crash(self, node_label: str, *args: Any, **kwargs: Any) -> None:
        """Forward ``on_data_crash``."""
        self._each("on_data_crash", node_label, *args, **kwargs)

    on_packet_start = on_data_start
    on_packet_end = on_data_end
    on_packet_crash = on_data_crash

    def create_data_logger(self, tag: Any = None, data: Any = None, **kwargs: Any) -> Any:
        """The first child logger that is not a no-op, else a no-op logger."""
        for o in self.observers:
            try:
                fn = getattr(o, "create_data_logger", None) or getattr(
                    o, "create_packet_logger", None
                )
                if fn is None:
                    continue
                logger = fn(tag, data, **kwargs)
                if not is_noop_logger(logger):
                    return logger
            except Exception:
                log.debug("observers: create_data_logger of %r failed", o, exc_info=True)
        return noop_logger()

    create_packet_logger = create_data_logger

    @property
    def stats(self) -> dict[str, int]:
        """The children's counters, summed."""
        return merge_stats([o.stats for o in self.observers if hasattr(o, "stats")])

    def flush(self) -> None:
        """Flush every child that can."""
        self._each("flush")

    def close(self) -> None:
        """Close every child that can."""
        self._each("close")

    def __enter__(self) -> CompositeObserver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
