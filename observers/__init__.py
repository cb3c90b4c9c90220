"""orcapod-compatible observers writing packet status and logs for orcatui.

* :class:`StatusObserver` / :class:`LoggingObserver` / :class:`CompositeObserver` —
  drop-in observers for orcapod's ``PipelineJob.run(observer=...)`` (both hook
  generations), writing Parquet (default) or Delta tables.
* :func:`run` — the same events from any Python pipeline.

The package imports neither ``orcatui`` nor ``textual`` (nor ``orcapod``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from observers.composite import CompositeObserver
    from observers.logging_observer import LoggingObserver
    from observers.plain import run
    from observers.runrecord import read_run_record
    from observers.status import StatusObserver

__all__ = ["CompositeObserver", "LoggingObserver", "StatusObserver", "read_run_record", "run"]

# Imported on first use: the reader imports ``observers.schema`` (the writers' column names) and
# must not pay for the writers themselves at start-up.
_HOME = {
    "CompositeObserver": "observers.composite",
    "LoggingObserver": "observers.logging_observer",
    "run": "observers.plain",
    "read_run_record": "observers.runrecord",
    "StatusObserver": "observers.status",
}


def __getattr__(name: str) -> Any:
    """The public names, each imported from its module when first asked for."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'observers' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
