"""orcapod on a local Ray instance (``RayExecutor``), writing to an S3 store, followed live.

Optional: skipped when ``ray`` is not installed (``pip install -e '.[ray]'``; CI does not
install it — a Ray wheel and its start-up cost more than this one test is worth there). Each
packet's function runs in a Ray worker and waits for its gate file, so the reader sees the
packets RUNNING before any has finished, then every one finished — no timing assumptions
beyond generous timeouts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from orcatui.model.monitor import Monitor
from orcatui.store.store import RootError

pytestmark = pytest.mark.orcapod

PACKETS = 4

_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import pyarrow as pa
    import ray
    from orcapod import PipelineJob, function_pod
    from orcapod.core.executors.ray import RayExecutor
    from orcapod.databases import DeltaTableDatabase, InMemoryArrowDatabase
    from orcapod.pipeline.composite_observer import CompositeObserver
    from orcapod.pipeline.logging_observer import LoggingObserver
    from orcapod.pipeline.status_observer import StatusObserver
    from orcapod.sources import ArrowTableSource

    url, gates, packets = sys.argv[1], sys.argv[2], int(sys.argv[3])
    options = {k: os.environ[k] for k in (
        "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    options["AWS_ALLOW_HTTP"] = "true"
    options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 * 1024,
             log_to_driver=False)

    @function_pod(output_keys="score", executor=RayExecutor(num_cpus=0.5))
    def compute_score(raw_value: float) -> float:
        gate = os.path.join(gates, str(int(raw_value)))
        deadline = time.time() + 300
        while not os.path.exists(gate) and time.time() < deadline:
            time.sleep(0.05)
        print("scoring", raw_value)
        if raw_value == 1.0:
            raise ValueError(f"cannot score {raw_value}")
        return raw_value * 2

    schema = pa.schema([pa.field("subject_id", pa.large_string(), nullable=False),
                        pa.field("raw_value", pa.float64(), nullable=False)])
    data = pa.table({"subject_id": [f"s{i}" for i in range(packets)],
                     "raw_value": [float(i) for i in range(packets)]}, schema=schema)
    job = PipelineJob(name=("ray_lab",), store=InMemoryArrowDatabase())
    with job:
        compute_score.pod(ArrowTableSource(data, tag_columns=["subject_id"]), label="score")
    db = DeltaTableDatabase(url, storage_options=options)
    observer = CompositeObserver(
        StatusObserver(status_database=db.at("ray_lab", "_status")),
        LoggingObserver(log_database=db.at("ray_lab", "_log")),
    )
    job.run(observer=observer)
    ray.shutdown()
    """
)


def _counts(monitor: Monitor) -> dict[str, int]:
    monitor.refresh()
    total: dict[str, int] = {}
    for p in monitor.snapshot().pipelines:
        for state, n in p.counts.items():
            total[state] = total.get(state, 0) + n
    return total


def _until(check: Any, proc: subprocess.Popen, timeout: float = 300) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got is not None:
            return got
        if proc.poll() is not None and proc.returncode != 0:
            _, err = proc.communicate()
            pytest.fail(f"writer exited {proc.returncode}: {err[-2000:]}")
        time.sleep(0.3)
    pytest.fail("timed out")


def test_ray_pipeline_on_s3_is_followed_live(
    tmp_path: Path, s3_bucket: str, child_env: dict[str, str]
) -> None:
    pytest.importorskip("ray")
    pytest.importorskip("orcapod")
    gates = tmp_path / "gates"
    gates.mkdir()
    url = f"s3://{s3_bucket}/orca"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(gates), str(PACKETS)],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        monitor = Monitor(url)

        def running() -> dict[str, int] | None:
            c = _counts(monitor) if _tables(monitor) else {}
            return c if c.get("RUNNING", 0) >= 1 else None

        seen = _until(running, proc)
        # Live, while the Ray workers wait at their gates: packets RUNNING, none finished.
        assert seen.get("SUCCESS", 0) == seen.get("FAILED", 0) == 0
        for i in range(PACKETS):
            (gates / str(i)).touch()

        def finished() -> dict[str, int] | None:
            c = _counts(monitor)
            return c if c.get("SUCCESS", 0) + c.get("FAILED", 0) == PACKETS else None

        done = _until(finished, proc)
        assert done["FAILED"] == 1 and done["SUCCESS"] == PACKETS - 1
        assert done.get("RUNNING", 0) == 0
        proc.wait(timeout=300)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _tables(monitor: Monitor) -> bool:
    """Whether the store holds a status table yet (the writer may still be starting Ray)."""
    try:
        monitor.refresh()
    except RootError:  # the prefix is empty until the first commit: nothing to read yet
        return False
    return bool(monitor.pipelines)
