"""``orcatui summary --json`` on an S3 root (moto on loopback) equals the same store on disk.

Each store is written to ``s3://`` by a real writer (our observers' Parquet and Delta sinks,
orcapod's own observers on a ``DeltaTableDatabase("s3://…")``), then copied object by object
to a local directory (the same bytes: a second write would differ in every timestamp); the
real ``orcatui`` process reads both and the JSON must match, apart from the root and the
moment it was generated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import observers


def orcatui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real ``orcatui`` console script (``python -m orcatui`` if it is not installed)."""
    script = Path(sys.executable).with_name("orcatui")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "orcatui"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )


def comparable(stdout: str) -> dict[str, Any]:
    """A summary's JSON without what differs between two roots holding the same data."""
    data = json.loads(stdout)
    data.pop("root")
    data.pop("generated_at")
    return data


def download(s3_server: Any, bucket: str, prefix: str, dest: Path) -> int:
    """Copy every object under ``prefix`` to ``dest`` (keys as relative paths); how many."""
    client = s3_server.client()
    n = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            target = dest / obj["Key"][len(prefix) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            n += 1
    return n


def assert_same_summary(
    local: Path, url: str, env: dict[str, str], *extra: str, expect: int | None = None
) -> dict[str, Any]:
    """Both roots summarised by the real CLI: same exit code, same JSON."""
    a = orcatui("summary", str(local), "--json", *extra, env=env)
    b = orcatui("summary", url, "--json", *extra, env=env)
    assert a.returncode in (0, 1), a.stderr
    assert b.returncode == a.returncode, b.stderr
    if expect is not None:
        assert a.returncode == expect
    want, got = comparable(a.stdout), comparable(b.stdout)
    assert want["pipelines"], "the local store must hold something to compare"
    assert got == want
    assert b.stderr == a.stderr == ""
    return got


def _our_pipeline(root: str, sink: str) -> None:
    run = observers.run(root, pipeline="lab/p", run_id="r1", sink=sink, flush_interval=0.05)
    with run:
        with run.node("clean", total=12) as node:
            for i in range(12):
                with node.packet(suppress=True, subject=f"s{i}"):
                    print(f"cleaning {i}")
                    if i in (3, 7):
                        raise ValueError(f"bad subject s{i}\nvalue out of range")
        with run.node("score") as node:
            for i in range(5):
                with node.packet(suppress=True, subject=f"s{i}"):
                    pass


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_our_observers_store_on_s3_summarises_like_local(
    tmp_path: Path, s3_server: Any, s3_bucket: str, child_env: dict[str, str], sink: str
) -> None:
    local = tmp_path / "root"
    url = f"s3://{s3_bucket}/stores/db"
    _our_pipeline(url, sink)
    assert download(s3_server, s3_bucket, "stores/db/", local) > 0
    got = assert_same_summary(local, url, child_env, expect=1)
    (p,) = got["pipelines"]
    assert p["name"] == ["lab", "p"]
    assert p["counts"]["FAILED"] == 2 and p["counts"]["SUCCESS"] == 15
    assert p["run"]["liveness"] == "ended"


def _orcapod_job(store: Any) -> Any:
    import pyarrow as pa
    from orcapod import PipelineJob, function_pod
    from orcapod.sources import ArrowTableSource

    @function_pod(output_keys="score")
    def compute_score(raw_value: float) -> float:
        print("scoring", raw_value)
        if raw_value in (3.0, 5.0):
            raise ValueError(f"cannot score {raw_value}")
        return raw_value * 2

    schema = pa.schema(
        [
            pa.field("subject_id", pa.large_string(), nullable=False),
            pa.field("raw_value", pa.float64(), nullable=False),
        ]
    )
    data = pa.table(
        {"subject_id": [f"s{i}" for i in range(8)], "raw_value": [float(i) for i in range(8)]},
        schema=schema,
    )
    src = ArrowTableSource(data, tag_columns=["subject_id"])
    job = PipelineJob(name=("orca_lab",), store=store)
    with job:
        compute_score.pod(src, label="score")
    return job


def _orcapod_write(base: str, options: dict[str, str] | None) -> None:
    from orcapod.databases import DeltaTableDatabase, InMemoryArrowDatabase
    from orcapod.pipeline.composite_observer import CompositeObserver
    from orcapod.pipeline.logging_observer import LoggingObserver
    from orcapod.pipeline.status_observer import StatusObserver

    db = DeltaTableDatabase(base, storage_options=options)
    observer = CompositeObserver(
        StatusObserver(status_database=db.at("orca_lab", "_status")),
        LoggingObserver(log_database=db.at("orca_lab", "_log")),
    )
    _orcapod_job(InMemoryArrowDatabase()).run(observer=observer)


@pytest.mark.orcapod
def test_orcapods_own_observers_on_s3_summarise_like_local(
    tmp_path: Path, s3_server: Any, s3_bucket: str, child_env: dict[str, str]
) -> None:
    pytest.importorskip("orcapod")
    local = tmp_path / "db"
    url = f"s3://{s3_bucket}/orca"
    options = {
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": os.environ["AWS_REGION"],
        "AWS_ACCESS_KEY_ID": s3_server.admin[0],
        "AWS_SECRET_ACCESS_KEY": s3_server.admin[1],
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }
    _orcapod_write(url, options)
    assert download(s3_server, s3_bucket, "orca/", local) > 0
    # Without run records a run's verdict reads "last event Ns ago": judged at one moment
    # (``--at``, after every event) both reads say the same.
    at = datetime.now(UTC).isoformat()
    got = assert_same_summary(local, url, child_env, "--at", at, expect=1)
    (p,) = got["pipelines"]
    assert p["counts"]["FAILED"] == 2 and p["counts"]["SUCCESS"] == 6


def _storage_options_only(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment without the S3 endpoint settings, and those as ``--storage-option``."""
    keys = ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP")
    rest = {k: v for k, v in env.items() if k not in keys}
    args = [a for k in keys for a in ("--storage-option", f"{k}={env[k]}")]
    return rest, args


def test_storage_options_reach_lister_and_delta_rs(
    tmp_path: Path, s3_bucket: str, child_env: dict[str, str]
) -> None:
    """The endpoint given only as ``--storage-option`` (not in the environment) reaches both the
    lister and delta-rs: a Delta store reads the same as from the environment."""
    url = f"s3://{s3_bucket}/db"
    _our_pipeline(url, "delta")
    env, args = _storage_options_only(child_env)
    with_env = orcatui("summary", url, "--json", env=child_env)
    with_opts = orcatui("summary", url, "--json", *args, env=env)
    assert with_env.returncode == with_opts.returncode == 1, with_opts.stderr
    assert comparable(with_opts.stdout) == comparable(with_env.stdout)


def test_report_export_and_wait_take_s3_roots(
    tmp_path: Path, s3_bucket: str, child_env: dict[str, str]
) -> None:
    url = f"s3://{s3_bucket}/db"
    _our_pipeline(url, "parquet")
    report = orcatui("report", url, env=child_env)
    assert report.returncode == 1, report.stderr
    assert url in report.stdout and "clean" in report.stdout
    out = tmp_path / "packets.jsonl"
    export = orcatui("export", url, "-o", str(out), env=child_env)
    assert export.returncode == 0, export.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 17 and sum(r["state"] == "FAILED" for r in rows) == 2
    wait = orcatui("wait", url, "--timeout", "30s", env=child_env)
    assert wait.returncode == 1, wait.stderr
