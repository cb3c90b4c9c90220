"""``deltalake`` is imported only when a Delta table is opened: a Parquet-only store starts fast."""

from __future__ import annotations

import subprocess
import sys
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
