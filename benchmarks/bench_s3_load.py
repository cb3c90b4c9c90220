"""Cold load of a root on S3 by the whole ``orcatui summary --json s3://…`` process.

Run: ``.venv/bin/python benchmarks/bench_s3_load.py`` (needs ``moto[server]``; the Delta store
is generated once with real delta-rs appends — ~10 minutes — and kept in ``benchmarks/_data/``).

1. 200 Parquet tables × 5,000 events, one object each (time-named keys as our writers name
   them): target ≤ 3 s.
2. orcapod's layout, 20 Delta tables × 500 one-event commits (written by ``write_deltalake``
   appends as orcapod does, then uploaded): target ≤ 5 s. orcapod 0.1.4's own
   ``ObservabilityReader`` is tried on the same ``s3://`` root and what it says is printed.

Each figure is the median of ``--repeat`` fresh processes: wall time, the process's CPU time
(user+sys) and the requests the server answered for it; the baseline is the same command on
the same data on local disk (ratio printed). The moto server runs in its own process on
loopback (its CPU is not counted; on AWS the latency per request is higher: see the request
counts). For the Delta store, one more process times the store's phases (discovery, reading)
and counts its client's requests by kind: recursive LISTs and the keys they returned,
delimiter LISTs and their entries, GETs found and not found (moto's LIST walks every key of
the bucket, so on it the cost of a cold load is mostly the number of LISTs and keys listed).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._bytecode import compile_tree
from benchmarks._s3 import child_env, diff, latency_proxy, put_many, run_timed, server

DATA = Path(__file__).resolve().parent / "_data"

_ORCAPOD = r"""
import sys
try:
    from orcapod.pipeline.observability_reader import ObservabilityReader
    df = ObservabilityReader(sys.argv[1]).status()
    print(f"read {df.height} rows")
except Exception as exc:
    print(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
"""

# The phases of a cold load inside one process (the store only, no summary around it), with
# the client's requests by kind: recursive LISTs (and the keys they returned), delimiter LISTs
# (and the entries they returned), GETs (found / not found), per phase.
_PHASES = r"""
import json, resource, sys, time, threading
from collections import Counter
t0 = time.perf_counter()
from observers.objstore import Bucket, ObjectStoreError
from orcatui.store.remote_store import RemoteStore
kinds, lock = Counter(), threading.Lock()
def note(**k):
    with lock:
        kinds.update(k)
get, lst, dirs = Bucket.get, Bucket.list, Bucket.list_dirs
def _get(self, key):
    try:
        out = get(self, key)
    except ObjectStoreError as exc:
        note(**{"GET " + ("404" if exc.kind == "not-found" else "failed"): 1})
        raise
    note(**{"GET": 1})
    return out
def _list(self, prefix, *, after=None):
    note(**{"LIST recursive" + (" start-after" if after else ""): 1})
    for obj in lst(self, prefix, after=after):
        note(**{"keys listed": 1})
        yield obj
def _dirs(self, prefix):
    out = dirs(self, prefix)
    note(**{"LIST delimiter": 1, "delimiter entries": len(out[0]) + len(out[1])})
    return out
Bucket.get, Bucket.list, Bucket.list_dirs = _get, _list, _dirs
store = RemoteStore(sys.argv[1])
t1 = time.perf_counter()
tables = store.discover()
t2 = time.perf_counter()
scan_kinds = dict(kinds)
update = store.poll(rediscover=False)
t3 = time.perf_counter()
ru = resource.getrusage(resource.RUSAGE_SELF)
read_kinds = {k: v - scan_kinds.get(k, 0) for k, v in kinds.items() if v - scan_kinds.get(k, 0)}
print(json.dumps({"import+client": t1 - t0, "scan": t2 - t1, "read": t3 - t2,
    "tables": len(tables), "rows": sum(t.num_rows for _, t in update.status),
    "cpu": ru.ru_utime + ru.ru_stime, "requests": store.requests,
    "scan_kinds": scan_kinds, "read_kinds": read_kinds}))
"""

SERVER_CPU: list[float] = []  # the server's CPU seconds during each of the last summaries


def summary(root: str, repeat: int, srv=None) -> tuple[float, float, dict[str, int], dict]:
    """Median wall and CPU of ``orcatui summary --json root``; requests of the last run."""
    walls, cpus = [], []
    req: dict[str, int] = {}
    report: dict = {}
    SERVER_CPU.clear()
    for _ in range(repeat):
        before = srv.counts() if srv else {}
        scpu = srv.cpu() if srv else 0.0
        wall, cpu, out = run_timed(
            [sys.executable, "-m", "orcatui", "summary", "--json", root], child_env()
        )
        if out.returncode not in (0, 1, 3, 4):
            raise SystemExit(f"summary {root} failed ({out.returncode}): {out.stderr.strip()}")
        req = diff(srv.counts(), before) if srv else {}
        SERVER_CPU.append(srv.cpu() - scpu if srv else 0.0)
        report = json.loads(out.stdout)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus), req, report


def _packets(report: dict) -> int:
    return sum(
        sum(n.get("counts", {}).values())
        for p in report.get("pipelines", [])
        for n in p.get("nodes", [])
    )


def parquet_root(local: Path, tables: int, events: int) -> list[tuple[str, bytes]]:
    """``tables`` one-object Parquet tables; written under ``local`` and returned as items."""
    import pyarrow.parquet as pq

    from benchmarks._gen import node_events

    base = int(time.time() * 1000) - 3_600_000
    items = []
    for k in range(tables):
        rel = f"p/_status/node{k:04d}/v0/execution_status/{base + k:013d}-host-1-abcdef01-1.parquet"
        sink = io.BytesIO()
        pq.write_table(node_events(k, events // 2), sink, compression="zstd")
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(sink.getvalue())
        items.append((rel, sink.getvalue()))
    return items


def delta_root(tables: int, commits: int) -> Path:
    """orcapod's layout, generated once (real ``write_deltalake`` appends) and cached."""
    from benchmarks._gen import delta_root_orcapod_style

    root = DATA / f"orcapod_layout_{tables}x{commits}"
    if not (root / "complete").exists():
        t = time.perf_counter()
        shutil.rmtree(root, ignore_errors=True)
        delta_root_orcapod_style(root, tables, commits)
        (root / "complete").write_text("")
        took = time.perf_counter() - t
        print(f"generated {tables} Delta tables × {commits} commits in {took:.0f} s")
    return root


def _line(
    what: str, wall: float, cpu: float, req: dict[str, int], target: float, scpu: float
) -> str:
    total = sum(req.values())
    return (
        f"{what}: {wall:.2f} s wall, {cpu:.2f} s CPU (the moto server meanwhile: "
        f"{scpu:.2f} s CPU); {total:,} requests {req}; "
        f"target {target:g} s → {target / wall:.1f}× headroom"
    )


def main() -> None:
    """Upload both stores, time the summaries, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--delta-tables", type=int, default=20)
    ap.add_argument("--commits", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-delta", action="store_true")
    ap.add_argument("--skip-parquet", action="store_true")
    ap.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="round trip a proxy adds to each request for the with-latency figure (0: none)",
    )
    args = ap.parse_args()
    compile_tree(Path(__file__).resolve().parents[1])  # bytecode as a pip install leaves it
    tmp = Path(tempfile.mkdtemp(prefix="bench_s3_load_"))
    try:
        with server() as srv:
            client = srv.client()
            client.create_bucket(Bucket="load")
            client.create_bucket(Bucket="orcapod")  # apart: moto's LIST scans the whole bucket
            if not args.skip_parquet:
                items = parquet_root(tmp / "parquet", args.tables, args.events)
                put_many(client, "load", [(f"parquet/{k}", v) for k, v in items])
                wall, cpu, req, rep = summary("s3://load/parquet", args.repeat, srv)
                scpu = statistics.median(SERVER_CPU)
                lwall, lcpu, _, lrep = summary(str(tmp / "parquet"), args.repeat)
                assert _packets(rep) == _packets(lrep), "S3 and local summaries differ"
                print(
                    _line(
                        f"1. summary --json of {args.tables} Parquet tables × "
                        f"{args.events:,} events on S3 ({_packets(rep):,} packets)",
                        wall,
                        cpu,
                        req,
                        3.0,
                        scpu,
                    )
                )
                print(
                    f"   same data on local disk: {lwall:.2f} s wall, {lcpu:.2f} s CPU "
                    f"(S3/local = {wall / lwall:.2f}×)"
                )
            if args.skip_delta:
                return
            local = delta_root(args.delta_tables, args.commits)
            files = [p for p in local.rglob("*") if p.is_file() and p.name != "complete"]
            put_many(
                client,
                "orcapod",
                [(f"delta/{p.relative_to(local).as_posix()}", p.read_bytes()) for p in files],
            )
            wall, cpu, req, rep = summary("s3://orcapod/delta", args.repeat, srv)
            scpu = statistics.median(SERVER_CPU)
            lwall, lcpu, _, lrep = summary(str(local), args.repeat)
            assert _packets(rep) == _packets(lrep), "S3 and local summaries differ"
            print(
                _line(
                    f"2. summary --json of orcapod's layout, {args.delta_tables} Delta tables × "
                    f"{args.commits} one-event commits on S3 ({len(files):,} objects, "
                    f"{_packets(rep):,} packets)",
                    wall,
                    cpu,
                    req,
                    5.0,
                    scpu,
                )
            )
            print(
                f"   same data on local disk: {lwall:.2f} s wall, {lcpu:.2f} s CPU "
                f"(S3/local = {wall / lwall:.2f}×)"
            )
            _w, _c, out = run_timed(
                [sys.executable, "-c", _PHASES, "s3://orcapod/delta"], child_env()
            )
            ph = json.loads(out.stdout)
            print(
                f"   phases in one process: import+client {ph['import+client']:.2f} s, "
                f"scan {ph['scan']:.2f} s, read {ph['read']:.2f} s ({ph['tables']} tables, "
                f"{ph['rows']:,} rows); {ph['cpu']:.2f} s CPU; our client's requests "
                f"{ph['requests']}"
            )
            print(f"   discovery's requests by kind: {ph['scan_kinds']}")
            print(f"   reading's requests by kind: {ph['read_kinds']}")
            if args.latency_ms > 0:
                with latency_proxy(srv.endpoint, args.latency_ms) as proxied:
                    walls, cpus = [], []
                    before = srv.counts()
                    for _ in range(args.repeat):
                        wall, cpu, out = run_timed(
                            [
                                sys.executable,
                                "-m",
                                "orcatui",
                                "summary",
                                "--json",
                                "s3://orcapod/delta",
                            ],
                            child_env({"AWS_ENDPOINT_URL": proxied}),
                        )
                        assert _packets(json.loads(out.stdout)) == _packets(rep), out.stderr
                        walls.append(wall)
                        cpus.append(cpu)
                    per = {k: v // args.repeat for k, v in diff(srv.counts(), before).items()}
                print(
                    f"   with {args.latency_ms:g} ms added to every request (a proxy): "
                    f"{statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU, "
                    f"{sum(per.values()):,} requests {per}; target 5 s → "
                    f"{5.0 / statistics.median(walls):.1f}× headroom"
                )
            _w, _c, out = run_timed(
                [sys.executable, "-c", _ORCAPOD, "s3://orcapod/delta"], child_env()
            )
            said = out.stdout.strip() or out.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"   orcapod 0.1.4 ObservabilityReader('s3://orcapod/delta').status(): {said}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
