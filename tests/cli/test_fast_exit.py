"""One-shot commands leave without the interpreter's teardown (``cli._leave``): what they
printed must still arrive whole, with the command's own exit code."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import sys

import pytest
from support.events import T0, packet, write_status

from orcatui.cli import main

# Buffered as a user's shell has it (this machine's environment may set PYTHONUNBUFFERED): what a
# fast exit could lose is what sits in the buffers.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _store(root, packets: int = 3000):
    rows = []
    for i in range(packets):
        rows += packet("r1", T0 + i, T0 + i + 1, "FAILED", error=f"boom {i}", subject=f"s{i}")
    write_status(root, "etl", ("clean",), rows)


@pytest.mark.parametrize("packets", [1, 3000])  # output within one buffer, and far beyond
def test_output_arrives_whole_with_the_exit_code(tmp_path, packets):
    _store(tmp_path, packets)
    args = ["summary", "--json", "--all-failed", str(tmp_path)]
    r = subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert r.returncode == 1, r.stderr  # FAILED present
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)  # in-process: returns, never leaves the interpreter
    assert code == 1
    assert gc.isenabled()  # summary turns the collector off only for a process of its own
    assert (len(r.stdout) > 1 << 16) == (packets > 1)
    printed, expected = json.loads(r.stdout), json.loads(out.getvalue())
    for report in (printed, expected):
        report.pop("generated_at")  # the two runs may straddle a second
    assert printed == expected


def test_closed_pipe_is_no_traceback(tmp_path):
    _store(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orcatui", "summary", "--json", "--all-failed", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the reader went away, as ``| head -c 10`` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode != 0


def test_export_file_is_complete_after_fast_exit(tmp_path):
    _store(tmp_path / "db")
    target = tmp_path / "out.jsonl"
    r = subprocess.run(
        [sys.executable, "-m", "orcatui", "export", str(tmp_path / "db"), "-o", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    lines = target.read_text().splitlines()
    assert len(lines) == 3000
    assert all(json.loads(line)["state"] == "FAILED" for line in lines)
