"""Storage back-ends for the buffered writer: Parquet directories and Delta tables."""

from __future__ import annotations

from observers.sinks.base import Sink, make_sink

__all__ = ["Sink", "make_sink"]
