"""Set-up of a monitor process, its C heap and its numeric libraries' threads (call first,
before numpy or pyarrow is imported)."""

from __future__ import annotations

import os
import sys

#: glibc ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap, and this much free memory at the heap's top is
#: kept (see :func:`keep_heap`).
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def configure_process() -> None:
    """What the ``orcatui`` command does first (and the benchmarks, to measure the same thing).

    Arrow keeps its default pool (mimalloc in Linux wheels). jemalloc was preferred for a while
    for the cold load of many small files, but measured again after the fold took its present
    form it loads no faster (20,000 files: 3.7–4.0 s with mimalloc, 3.9–5.7 s with jemalloc,
    ~20 MB lower peak) and makes the rules on data change a third slower (triage of 200
    changed nodes: 13 vs 20 ms), so Arrow's default is kept. An explicit
    ``ARROW_DEFAULT_MEMORY_POOL`` is honoured by Arrow as always.
    """
    one_blas_thread()
    keep_heap()


def one_blas_thread() -> None:
    """Keep numpy's OpenBLAS to the calling thread (``OPENBLAS_NUM_THREADS=1``), unless the
    environment says otherwise.

    orcatui does no linear algebra, yet importing numpy starts one OpenBLAS server thread per
    extra core, and each spins on its core for tens of milliseconds before it sleeps: on two
    cores, a core taken from the reads at every start (``import numpy``: 155 → 77 ms of CPU;
    ``orcatui summary`` of a small store: 0.27 → 0.18 s of CPU), and ``summary --json`` on 2 M
    events took 8 % more wall time and 9 % more CPU with the spinning thread (12 rounds).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def keep_heap() -> None:
    """Let numpy's multi-megabyte temporaries be reused from the C heap instead of being mapped
    and unmapped (and page-faulted in afresh) on every call.

    The rules run on all nodes at once, so one data change makes temporaries of several MB;
    glibc maps blocks above its threshold (dynamic, at most 32 MB) and trims the heap's free top
    above twice that, so each call faulted its temporaries in again — about a fifth of the
    triage on data change (``benchmarks/bench_triage.py``: 16.5 → 13.2 ms). Blocks up to
    :data:`MMAP_THRESHOLD` now come from the heap and up to :data:`TRIM_THRESHOLD` of free top
    is kept. Only with glibc; an explicit ``MALLOC_*`` environment setting wins.
    """
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
