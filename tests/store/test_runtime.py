"""The process set-up (``store.runtime``): the C heap keeps the rules' multi-megabyte
temporaries (a block freed and asked for again is not page-faulted in afresh, measured by page
faults, not time), and numpy's OpenBLAS starts no spinning server threads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_CODE = """
import resource
import numpy as np
from orcatui.store.runtime import configure_process
configure_process()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(4_200_000)  # 33.6 MB: above glibc's largest dynamic mmap threshold (32 MB)
del a
before = faults()
for _ in range(5):
    a = np.ones(4_200_000)
    del a
print(faults() - before)
"""


def _number(code: str, env: dict[str, str]) -> int:
    """What a fresh process running ``code`` prints, a number."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def _faults(env: dict[str, str]) -> int:
    return _number(_CODE, env)


def test_temporaries_are_reused_without_page_faults():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    kept = _faults(env)
    # An explicit MALLOC_* setting wins: glibc's own behaviour, each block mapped afresh.
    mapped = _faults({**env, "MALLOC_TOP_PAD_": "0"})
    # the reference: every block faulted in again (at least once per 2 MB: numpy asks for huge
    # pages for large arrays)
    assert mapped >= 5 * (33_600_000 >> 21)
    assert kept * 10 <= mapped


_THREADS = """
import os, sys
import orcatui.cli  # the command's module: it must not import numpy before the set-up
assert "numpy" not in sys.modules and "pyarrow" not in sys.modules
from orcatui.store.runtime import configure_process
configure_process()
import numpy
print(len(os.listdir("/proc/self/task")))
"""


def _threads_after_numpy(env: dict[str, str]) -> int:
    return _number(_THREADS, env)


def test_numpy_starts_no_blas_threads():
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("threads are counted from /proc")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
    }
    assert _threads_after_numpy(env) == 1
    # An explicit setting wins (and shows the count is OpenBLAS's: one thread more).
    assert _threads_after_numpy({**env, "OPENBLAS_NUM_THREADS": "2"}) == 2
