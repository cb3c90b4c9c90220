"""Arrow memory pool choice for a monitor process."""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa


def use_jemalloc() -> str:
    """Make jemalloc Arrow's default pool when this pyarrow has it; returns the pool in use.

    A cold load allocates and frees many small buffers from several threads: jemalloc loads a
    2 M-event root ~10–15 % faster than the default mimalloc here and peaks ~50 MB lower
    (``benchmarks/bench_cold_load.py``). ``ARROW_DEFAULT_MEMORY_POOL`` still wins if set.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        with contextlib.suppress(NotImplementedError, pa.ArrowNotImplementedError):
            pa.set_memory_pool(pa.jemalloc_memory_pool())
    return pa.default_memory_pool().backend_name
