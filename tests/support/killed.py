"""A real writer (``observers.run``) SIGKILLed mid-packet right after it printed (issue 13)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from support.observers import REPO

CHILD = r"""
import logging, sys, time
import observers
root = sys.argv[1]
logging.getLogger().setLevel(logging.INFO)
with observers.run(root, pipeline="crashy", run_id="run-k", flush_interval=0.1) as run:
    with run.node("fit") as node:
        with node.packet(subject="s1"):
            print("done quickly")
        with node.packet(subject="s2"):
            print("loading s2")
            print("LAST WORDS before the kill", flush=True)
            print("oops on stderr", file=sys.stderr)
            logging.getLogger("fit").info("step 3 of 4")
            while True:
                time.sleep(0.05)
"""


def _partial_written(root: Path) -> bool:
    for f in glob.glob(str(root / "**" / "execution_logs" / "*.parquet"), recursive=True):
        if os.path.basename(f).startswith("."):
            continue
        try:
            for r in pq.read_table(f).to_pylist():
                if r.get("subject") == "s2" and "step 3 of 4" in (r["_log_python_logs"] or ""):
                    return True
        except Exception:  # a file being written: try again
            continue
    return False


def killed_writer(tmp_path: Path) -> Path:
    """Run the writer, wait until its partial log row is on disk, SIGKILL it; the root."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = tmp_path / "root"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("LAST WORDS"):
                break
        else:
            raise AssertionError("the writer ended early")
        deadline = time.monotonic() + 30
        while not _partial_written(root):
            assert time.monotonic() < deadline, "no partial log row reached disk"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return root
