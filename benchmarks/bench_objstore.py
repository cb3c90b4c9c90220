"""Object storage (S3 on a loopback moto server): writers' throughput, cold load, requests.

Run: ``.venv/bin/python benchmarks/bench_objstore.py`` (needs the test extra's ``moto[server]``;
prints figures, ~1 minute). Request counts are counted by the server (every HTTP request it
answered), so they include delta-rs's own requests. Each figure has wall time and CPU time
(user+sys) of the writer processes (1, 2) or of this process (3; the server runs in it too).
The whole ``orcatui`` process on S3 (summary, watch) is measured by ``bench_s3_load.py``,
``bench_s3_latency.py`` and ``bench_s3_idle.py``.

1. Parquet sink to S3, one process: events/s sustained (target >= 20,000/s).
2. Delta sink, 4 concurrent writer processes into one table: events/s (target >= 2,000/s),
   every event exactly once.
3. Cold listing + read of 200 Parquet tables x 5,000 events (one object each) through
   ``orcatui.store.objstore`` (target <= 3 s).
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from werkzeug.serving import WSGIRequestHandler  # noqa: E402

from benchmarks._gen import node_events  # noqa: E402

REQUESTS: Counter[str] = Counter()
_lock = threading.Lock()
_orig_log_request = WSGIRequestHandler.log_request


def _count(self: WSGIRequestHandler, *args: object, **kwargs: object) -> None:
    with _lock:
        REQUESTS[self.command] += 1


WSGIRequestHandler.log_request = _count  # type: ignore[method-assign]

WRITER = r"""
import sys, time
import observers
url, sink, who, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pause = float(sys.argv[5])  # seconds after every 100 packets: many flushes, not one
with observers.run(url, pipeline="bench", sink=sink, flush_interval=0.2, logs=False) as run:
    with run.node("work") as node:
        obs = node._obs
        for i in range(n):
            tags = {"who": who, "i": i}
            obs.on_data_start("work", tags, None)
            obs.on_data_end("work", tags, None, None, False)
            if pause and i % 100 == 99:
                time.sleep(pause)
s = run.status.stats
print(s["events_written"], s["events_dropped"], s["retries"])
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _delta(before: Counter[str]) -> str:
    diff = {k: REQUESTS[k] - before.get(k, 0) for k in REQUESTS}
    total = sum(diff.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(diff.items()) if v)
    return f"{total} requests ({parts})"


def bench_parquet_sink(url: str, env: dict[str, str], packets: int) -> None:
    script = Path(tempfile.mkdtemp()) / "w.py"
    script.write_text(WRITER)
    before = Counter(REQUESTS)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(script), url, "parquet", "w0", str(packets), "0.002"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    events = 2 * packets
    print(
        f"1. Parquet sink to S3: {events:,} events in {wall:.2f} s (whole process incl. start; "
        f"writer CPU {cpu:.2f} s) "
        f"= {events / wall:,.0f} events/s; target 20,000/s -> {events / wall / 20000:.1f}x; "
        f"written {out[0]}, dropped {out[1]}; {_delta(before)}"
    )


def bench_delta_writers(url: str, env: dict[str, str], packets: int) -> None:
    script = Path(tempfile.mkdtemp()) / "w.py"
    script.write_text(WRITER)
    before = Counter(REQUESTS)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, "delta", f"w{k}", str(packets), "0.05"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outs = [p.communicate()[0].split() for p in procs]
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    events = 4 * 2 * packets
    import deltalake

    from orcatui.store.objstore import RemoteRoot

    root = RemoteRoot(url)
    (table,) = root.scan().delta
    rows = root.delta_tail(table).poll().tables[0][1]
    ids = rows.column("_status_id").to_pylist()
    exact = len(ids) == len(set(ids)) == events
    version = deltalake.DeltaTable(f"s3://{root.root.bucket}/{table}").version()
    print(
        f"2. Delta sink, 4 writer processes: {events:,} events in {wall:.2f} s "
        f"(writers' CPU {cpu:.2f} s) = "
        f"{events / wall:,.0f} events/s; target 2,000/s -> {events / wall / 2000:.1f}x; "
        f"{version + 1} commits; every event exactly once: {exact}; "
        f"retries {sum(int(o[2]) for o in outs)}; dropped {sum(int(o[1]) for o in outs)}; "
        f"{_delta(before)}"
    )


def bench_cold_load(bucket_client, bucket: str, url: str, tables: int, packets: int) -> None:
    from orcatui.store.objstore import RemoteRoot

    base = int(time.time() * 1000) - 3_600_000
    for k in range(tables):
        sink = pa.BufferOutputStream()
        pq.write_table(node_events(k, packets // 2), sink, compression="zstd")
        key = (
            f"cold/p/_status/node{k:04d}/execution_status/"
            f"{base + k:013d}-host-1-abcdef01-00000001.parquet"
        )
        bucket_client.put_object(Bucket=bucket, Key=key, Body=sink.getvalue().to_pybytes())
    before = Counter(REQUESTS)
    cpu0 = _self_cpu()
    t0 = time.perf_counter()
    root = RemoteRoot(f"{url}/cold")
    listing = root.scan()
    _tails, batches = root.load_parquet(listing)
    wall = time.perf_counter() - t0
    cpu = _self_cpu() - cpu0
    rows = sum(t.num_rows for b in batches.values() for _, t in b.tables)
    print(
        f"3. cold listing + read of {len(listing.parquet)} Parquet tables x "
        f"{packets:,} events ({rows:,} rows): {wall:.2f} s (CPU {cpu:.2f} s, server "
        f"included); target 3 s -> "
        f"{3 / wall:.1f}x headroom; {_delta(before)}"
    )


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    os.environ.update(env)
    child_env = dict(os.environ, PYTHONPATH=str(REPO))
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for b in ("parquet-sink", "delta-sink", "cold-load"):
        client.create_bucket(Bucket=b)
    print(f"moto {__import__('moto').__version__} on {endpoint} (loopback, one process)")
    try:
        bench_parquet_sink("s3://parquet-sink/db", child_env, packets=100_000)
        bench_delta_writers("s3://delta-sink/db", child_env, packets=2_500)
        bench_cold_load(client, "cold-load", "s3://cold-load", tables=200, packets=5_000)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
