"""The README followed literally: install in a fresh venv, the CLI, the code samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
SAMPLES = REPO / "tests" / "fixtures" / "orcapod"


def code_blocks(lang: str) -> list[str]:
    """The README's fenced code blocks in ``lang``."""
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_names_the_two_setup_commands():
    bash = "\n".join(code_blocks("bash"))
    assert "pip install -e . && .venv/bin/orcatui demo" in bash
    test_cmd = "pip install -e '.[test,orcapod]' && .venv/bin/python -m pytest -n 2"
    assert test_cmd in bash
    assert test_cmd in (REPO / ".ci" / "run").read_text()


@pytest.mark.slow
def test_install_in_a_fresh_venv_then_help_and_summary(tmp_path):
    """``pip install`` the project (not editable: packaging must carry styles) into a new venv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    exe = venv / "bin" / "orcatui"
    help_ = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and "summary" in help_.stdout and "exit codes" in help_.stdout
    r = subprocess.run(
        [str(exe), "summary", str(SAMPLES / "failures"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["pipelines"][0]["counts"]["FAILED"] == 3
    # The installed package carries the app's styles and imports the app.
    code = (
        "import orcatui.app.main, pathlib, orcatui.app as a; print(pathlib.Path(a.__file__).parent)"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert list(Path(out.stdout.strip()).glob("styles/*.tcss"))


def _run_sample(code: str, tmp_path: Path) -> None:
    script = tmp_path / "sample.py"
    script.write_text(code)
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr[-3000:]


def _summary(root: Path) -> tuple[int, dict]:
    r = subprocess.run(
        [sys.executable, "-m", "orcatui", "summary", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    return r.returncode, json.loads(r.stdout)


def test_plain_python_sample_runs_and_is_summarised(tmp_path):
    (sample,) = [c for c in code_blocks("python") if "observers.run(" in c]
    _run_sample(sample, tmp_path)
    rc, data = _summary(tmp_path / "status")
    assert rc == 1
    (node,) = data["pipelines"][0]["nodes"]
    assert node["counts"]["SUCCESS"] == 2 and node["counts"]["FAILED"] == 1
    assert node["counts"]["CACHED"] == 1
    assert data["pipelines"][0]["run"]["liveness"] == "ended"
    # The sample's logging line is captured (the README sets the logger's level for it).
    import pyarrow.parquet as pq

    logs = [
        v
        for f in (tmp_path / "status").rglob("_log/**/*.parquet")
        for v in pq.read_table(f).column("_log_python_logs").to_pylist()
        if v
    ]
    assert any("working on s1" in v for v in logs), logs


def test_orcapod_sample_runs_and_is_summarised(tmp_path):
    pytest.importorskip("orcapod")
    (sample,) = [c for c in code_blocks("python") if "PipelineJob" in c]
    _run_sample(sample, tmp_path)
    rc, data = _summary(tmp_path / "status")
    assert rc == 1
    (node,) = data["pipelines"][0]["nodes"]
    assert node["name"] == "score"
    assert node["counts"]["SUCCESS"] == 9 and node["counts"]["FAILED"] == 1
