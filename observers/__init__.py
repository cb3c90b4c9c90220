"""orcapod-compatible observers writing packet status and logs for orcatui.

* :class:`StatusObserver` / :class:`LoggingObserver` / :class:`CompositeObserver` —
  drop-in observers for orcapod's ``PipelineJob.run(observer=...)`` (both hook
  generations), writing Parquet (default) or Delta tables.
* :func:`run` — the same events from any Python pipeline.

The package imports neither ``orcatui`` nor ``textual`` (nor ``orcapod``).
"""

from __future__ import annotations

from observers.composite import CompositeObserver
from observers.logging_observer import LoggingObserver
from observers.plain import run
from observers.runrecord import read_run_record
from observers.status import StatusObserver

__all__ = ["CompositeObserver", "LoggingObserver", "StatusObserver", "read_run_record", "run"]
