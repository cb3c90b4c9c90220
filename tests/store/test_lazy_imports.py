"""``deltalake`` is imported only when a Delta table is opened: a Parquet-only store starts fast."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support.events import T0, delta_append, event, write_status

CHILD = """
import sys
from pathlib import Path
from orcatui.store.store import Store
update = Store(Path(sys.argv[1])).poll()
rows = sum(t.num_rows for _, t in update.status)
print(rows, "deltalake" in sys.modules)
"""
REPO = Path(__file__).resolve().parents[2]


def loaded(root: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return out.stdout.strip()


def test_parquet_only_store_never_imports_deltalake(tmp_path):
    write_status(tmp_path, "p", ("n",), [event("RUNNING", T0, subject="a")])
    assert loaded(tmp_path) == "1 False"
    delta_append(tmp_path / "p" / "_status" / "m" / "execution_status", [event("RUNNING", T0)])
    assert loaded(tmp_path) == "2 True"


SUMMARY_CHILD = """
import sys
from orcatui.cli import main
code = main(["summary", sys.argv[1]])
heavy = ("observers.base", "observers.writer", "observers.status", "pyarrow.parquet", "pyarrow.fs")
print(code, *[m for m in heavy if m in sys.modules])
"""


def test_summary_of_a_parquet_store_imports_no_writer_and_no_pyarrow_parquet(tmp_path):
    """Start-up: the reader takes the writers' column names from ``observers.schema`` only, and
    reads Parquet through the low-level reader, so neither the writers nor ``pyarrow.parquet``
    (with ``pyarrow.fs``) are imported by ``summary``."""
    write_status(tmp_path, "p", ("n",), [event("RUNNING", T0, subject="a")])
    out = subprocess.run(
        [sys.executable, "-c", SUMMARY_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    code, *heavy = out.stdout.splitlines()[-1].split()
    assert code.isdigit() and heavy == []


def test_observers_package_still_exports_its_public_names():
    import observers

    assert observers.StatusObserver.__name__ == "StatusObserver"
    from observers import CompositeObserver, LoggingObserver, read_run_record, run

    assert callable(run) and callable(read_run_record)
    assert CompositeObserver.__name__ == "CompositeObserver"
    assert LoggingObserver.__name__ == "LoggingObserver"


LAZY_CHILD = """
import sys
from orcatui.cli import main
code = main(["summary", sys.argv[1], "--json"])
lazy = ("orcatui.store.delta_table", "orcatui.model.errors", "numpy.ma")
print(code, *[m for m in lazy if m in sys.modules])
"""


def _lazy_left(root: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", LAZY_CHILD, str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    code, *imported = out.stdout.splitlines()[-1].split()
    assert code.isdigit()
    return imported


def test_summary_without_delta_or_failures_skips_their_modules(tmp_path):
    """Start-up: the Delta reader is imported only for a Delta table, the error grouping only
    when a packet FAILED, and ``numpy.ma`` (which ``np.median`` imports) never."""
    rows = [event("SUCCESS", T0 + i, subject=f"s{i}") for i in range(30)]
    write_status(tmp_path, "p", ("n",), rows)
    assert _lazy_left(tmp_path) == []
    write_status(tmp_path, "p", ("m",), [event("FAILED", T0, subject="a", error="boom")])
    assert _lazy_left(tmp_path) == ["orcatui.model.errors"]
    delta_append(tmp_path / "p" / "_status" / "d" / "execution_status", [event("RUNNING", T0)])
    assert _lazy_left(tmp_path) == ["orcatui.store.delta_table", "orcatui.model.errors"]


def test_summary_of_multiline_errors_and_running_packets_skips_numpy_ma(tmp_path):
    """``numpy.ma`` stays out when errors need their first line cut out and a live run has
    RUNNING packets (each made an Arrow array from numpy: by buffers, not ``pa.array``)."""
    now = time.time()
    rows = [event("RUNNING", now - 5, subject=f"s{i}") for i in range(3)]
    rows += [event("FAILED", now - 4, subject="s0", error="boom\n  at line 3")]
    write_status(tmp_path, "p", ("n",), rows)
    assert _lazy_left(tmp_path) == ["orcatui.model.errors"]


def test_slow_bound_does_not_import_numpy_ma():
    code = (
        "import sys, numpy as np\n"
        "from orcatui.cli import _arrow_without_pandas\n"
        "_arrow_without_pandas()  # pandas would import numpy.ma\n"
        "from orcatui.model.slow import slow_bound\n"
        "b = slow_bound(np.sort(np.array([1.0, 2.0, 2.5, 3.0, 10.0] * 5)))\n"
        "print(b is not None, 'numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.split() == ["True", "False"]


def test_parallel_reads_keep_order_and_reraise_the_first_error():
    """The store's thread map (no ``concurrent.futures``) behaves like ``Executor.map``."""
    from orcatui.store.store import thread_map

    assert thread_map(lambda x: x * x, list(range(50)), 3) == [x * x for x in range(50)]
    assert thread_map(str, [], 3) == []

    def fail(x: int) -> int:
        if x in (7, 30):
            raise ValueError(x)
        return x

    try:
        thread_map(fail, list(range(40)), 4)
    except ValueError as exc:
        assert exc.args == (7,)
    else:
        raise AssertionError("no error raised")


def test_summary_imports_no_thread_pool(tmp_path):
    for node in ("a", "b", "c"):  # more than two tables: read in parallel
        write_status(tmp_path, "p", (node,), [event("SUCCESS", T0, subject="x")])
    code = (
        "import sys\nfrom orcatui.cli import main\n"
        f"main(['summary', {str(tmp_path)!r}])\n"
        "print('concurrent.futures' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.splitlines()[-1] == "False"
