"""Requests a watched S3 root costs: 1,000 tables, one pipeline of 20 tables writing.

Run: ``.venv/bin/python benchmarks/bench_s3_idle.py`` (needs ``moto[server]``; ~3 minutes).

A moto server (child process, loopback) holds 50 pipelines × 10 nodes × (status + log table)
= 1,000 Parquet tables, one compacted object each, and an ended run record per pipeline.
Pipeline ``p00`` is running: a writer puts one new time-named object into each of its 20
tables every 2 s (as the observers' Parquet sink names them) and rewrites its run record's
heartbeat every 5 s. The reader is the app ``orcatui watch s3://…`` runs (``OrcaApp`` headless
in ``run_test()``, its own process): remote feed and poll cadence
(``orcatui/watching/remote_poller.py``), refresher, model over ``RemoteStore``, UI ticks.

After a warm-up (``--warmup``, default 90 s: the start-up sweeps and back-off settle), the
reader's requests in the next ``--window`` seconds are counted (``RemoteStore.requests`` +
the feed's own sweep/probe client; cross-checked with the server's count minus the writer's)
and printed per minute, with their price at S3's list price ($0.005 per 1,000 LIST,
$0.0004 per 1,000 GET) and per 30-day month; plus the reader's CPU time in the window.
Target (issue 12): ≤ 2,000 requests per minute.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._bytecode import compile_tree
from benchmarks._s3 import cost, diff, put_many, server

BUCKET = "idle"
PIPELINES, NODES = 50, 10

READER = r"""
import asyncio, json, resource, sys, time
from orcatui.app.main import OrcaApp
url = sys.argv[1]
warmup, window, interval = (float(a) for a in sys.argv[2:5])

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def requests(app):
    out = dict(app.source.monitor.store.requests)
    feed = app._feed
    if feed is not None:
        for k, v in feed.probes.bucket.requests.items():
            out[k] = out.get(k, 0) + v
    return out

async def main():
    app = OrcaApp(url, poll=interval)
    async with app.run_test(size=(120, 36)) as pilot:
        t0 = time.perf_counter()
        while not (app.main and app.main.frame and app.main.frame.snapshot.pipelines):
            await pilot.pause(0.05)
        print(json.dumps({"cold_s": time.perf_counter() - t0,
                          "tables": len(app.source.monitor.store.tables),
                          "cold_requests": requests(app)}), flush=True)
        await pilot.pause(warmup)
        # a feed restarted after a failure starts a new client: count per feed object
        feed_a = app._feed
        ra, ca, ta = requests(app), cpu(), time.monotonic()
        sys.stdout.write("window\n"); sys.stdout.flush()
        await pilot.pause(window)
        rb, cb, tb = requests(app), cpu(), time.monotonic()
        cad = app.cadence
        print(json.dumps({
            "requests": {k: rb.get(k, 0) - ra.get(k, 0) for k in rb},
            "cpu_s": cb - ca, "wall_s": tb - ta, "same_feed": app._feed is feed_a,
            "sweep_requests": cad.sweep_requests, "sweeping": cad.sweeping,
            "hot": sorted(".".join(p) for p in cad.active_pipelines()),
            "root_error": app.main.frame.root_error,
        }), flush=True)

asyncio.run(main())
"""


def _parquet(rows: int, seed: int) -> bytes:
    import pyarrow.parquet as pq

    from benchmarks._gen import node_events

    sink = io.BytesIO()
    pq.write_table(node_events(seed, rows // 2), sink, compression="zstd")
    return sink.getvalue()


def _logs(rows: int, run: str) -> bytes:
    """A log table's rows (the observers' log columns): one captured packet output each."""
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq

    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".123456+00:00"
    table = pa.table(
        {
            "_log_id": [str(uuid.uuid4()) for _ in range(rows)],
            "_log_run_id": [run] * rows,
            "_log_timestamp": [stamp] * rows,
            "_log_stdout_log": [f"processing subject-{i}\n" for i in range(rows)],
            "_log_stderr_log": [""] * rows,
            "_log_python_logs": ["INFO loaded 250 Hz signal"] * rows,
            "_log_traceback": pa.array([None] * rows, pa.string()),
            "_log_success": [True] * rows,
            "subject_id": [f"subject-{i}" for i in range(rows)],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _record(run: str, ended: bool, beat: str) -> bytes:
    return json.dumps(
        {
            "run_id": run,
            "pipeline_uri": "bench@0123456789abcdef",
            "host": "bench-host",
            "pid": 4242,
            "writer_id": "bench-host-4242-abcdef01",
            "started_at": "2026-11-30T10:00:00.000000+00:00",
            "heartbeat_at": beat,
            "heartbeat_interval_s": 5.0,
            "ended_at": "2026-11-30T10:30:00.000000+00:00" if ended else None,
            "outcome": "completed" if ended else None,
            "nodes": {},
        }
    ).encode()


def _table_key(p: int, node: int, kind: str) -> str:
    section, leaf = ("_status", "execution_status") if kind == "s" else ("_log", "execution_logs")
    return f"db/p{p:02d}/{section}/fn_{node:02d}/v0/{leaf}"


def populate(client) -> None:
    """1,000 compacted tables (200 events each) and one ended run record per pipeline."""
    body = {"s": _parquet(200, 1), "l": _logs(100, "run1")}
    ms = int(time.time() * 1000) - 86_400_000
    items = []
    for p in range(PIPELINES):
        for node in range(NODES):
            for kind in "sl":
                key = f"{_table_key(p, node, kind)}/{ms:013d}-w-00000001.parquet"
                items.append((key, body[kind]))
        beat = "2026-11-30T10:30:00.000000+00:00"
        items.append(
            (
                f"db/p{p:02d}/_runs/r{p:02d}/bench-host-4242-abcdef01.json",
                _record(f"r{p:02d}", True, beat),
            )
        )
    put_many(client, BUCKET, items)


def writer(client, stop: threading.Event, counts: dict[str, int]) -> None:
    """Pipeline p00 running: a new object in each of its 20 tables every 2 s, a heartbeat
    every 5 s."""
    seq = 1
    last_beat = 0.0
    while not stop.is_set():
        t = time.time()
        seq += 1
        body = {"s": _parquet(10, seq), "l": _logs(5, "live")}
        items = [
            (f"{_table_key(0, node, kind)}/{int(t * 1000):013d}-w-{seq:08d}.parquet", body[kind])
            for node in range(NODES)
            for kind in "sl"
        ]
        if t - last_beat >= 5:
            last_beat = t
            beat = time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(t))
            items.append(
                ("db/p00/_runs/live/bench-host-1-abcdef02.json", _record("live", False, beat))
            )
        put_many(client, BUCKET, items, threads=4)
        counts["PUT"] = counts.get("PUT", 0) + len(items)
        stop.wait(max(0.0, 2.0 - (time.time() - t)))


def main() -> None:
    """Build the root, start the writer and the reader, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--warmup", type=float, default=90.0)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--poll", type=float, default=2.0)
    args = ap.parse_args()
    compile_tree(Path(__file__).resolve().parents[1])  # bytecode as a pip install leaves it
    from benchmarks._s3 import child_env

    with server() as srv:
        client = srv.client()
        client.create_bucket(Bucket=BUCKET)
        t = time.perf_counter()
        populate(client)
        print(
            f"moto on {srv.endpoint}: {PIPELINES * NODES * 2} tables written in "
            f"{time.perf_counter() - t:.0f} s"
        )
        stop = threading.Event()
        wrote: dict[str, int] = {}
        w = threading.Thread(target=writer, args=(client, stop, wrote), daemon=True)
        w.start()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                READER,
                f"s3://{BUCKET}/db",
                str(args.warmup),
                str(args.window),
                str(args.poll),
            ],
            env=child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        cold = json.loads(proc.stdout.readline())
        print(
            f"reader cold load: {cold['tables']} tables in {cold['cold_s']:.2f} s, "
            f"{cold['cold_requests']}"
        )
        assert proc.stdout.readline().strip() == "window"
        srv_a, wrote_a = srv.counts(), dict(wrote)
        res = json.loads(proc.stdout.readline())
        srv_b, wrote_b = srv.counts(), dict(wrote)
        proc.wait()
        stop.set()
        w.join()
    per_min = 60.0 / res["wall_s"]
    req = {k: round(v * per_min) for k, v in res["requests"].items() if v}
    total = sum(req.values())
    lists, gets = req.get("LIST", 0), req.get("GET", 0)
    server_reader = sum(diff(srv_b, srv_a).values()) - sum(diff(wrote_b, wrote_a).values())
    dollars = cost(lists, gets)
    print(
        f"reader, steady state ({res['wall_s']:.0f} s window after {args.warmup:.0f} s warm-up, "
        f"poll {args.poll:g}s): {total:,} requests/minute {req} "
        f"(server-side count minus the writer's PUTs: {round(server_reader * per_min):,}/min); "
        f"target ≤ 2,000/min → {2000 / max(total, 1):.1f}× headroom"
    )
    print(
        f"cost at S3 list price: ${dollars:.4f}/minute = ${dollars * 60:.2f}/hour = "
        f"${dollars * 60 * 24 * 30:.0f} per 30-day month of watching"
    )
    print(
        f"reader CPU (user+sys) in the window: {res['cpu_s']:.2f} s per {res['wall_s']:.0f} s "
        f"wall = {100 * res['cpu_s'] / res['wall_s']:.1f} % of a core (the headless app: "
        f"UI ticks included); last sweep {res['sweep_requests']} LIST "
        f"(sweeping: {res['sweeping']}); active pipelines {res['hot']}"
    )


if __name__ == "__main__":
    main()
