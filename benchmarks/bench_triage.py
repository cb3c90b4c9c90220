"""Issue 10 rules at scale: error groups, progress + ETA, slow flags, sorting and search.

A root of 200 nodes (one pipeline) and ~2,000,000 status events in real Parquet files, shaped as
writers write them: fractional ISO timestamps, half the nodes with 16-byte binary UUIDv7 ids and
half with 36-char UUID strings, 16-hex run ids. Two runs: ``A`` ended (2,710 packets per node, all
SUCCESS), ``B`` in progress (2,300 packets per node: 500 FAILED, 30 CACHED, 20 RUNNING — two of
them far too long — and the rest SUCCESS). 100,000 FAILED packets in 20 error families with
realistic, varied messages (numbers, paths, UUIDs, hosts, quoted values, multi-line, unicode)
and a traceback in a log row each (raised from 1-2 user functions per family); 1 in 10 SUCCESS
packets also has a log row (no traceback). Everything is loaded through ``Monitor``.

Figures printed (best of 5 unless noted): error groups cold (new cache) and warm, from display
rows; display rows for every node (Monitor.packet_rows, the input of every rule); progress + ETA
+ slow bound + slow flags for every node when data changes, and the per-tick re-age; sorting and
search of the largest node. Run: ``.venv/bin/python benchmarks/bench_triage.py [--keep DIR]``
(``--keep``: the root is built in DIR once and reused).
"""

# ruff: noqa: E402 - the process is set up (runtime.configure_process) before numpy and pyarrow are imported
from __future__ import annotations

from orcatui.store.runtime import configure_process

configure_process()  # as the orcatui command does, before pyarrow is imported

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orcatui.model.errors import ErrorGrouper, NodeFailures, log_rows
from orcatui.model.monitor import Monitor
from orcatui.model.progress import (
    SortedDurations,
    format_eta,
    node_progress,
    nodes_times,
    packets_times,
    run_progress,
)
from orcatui.model.slow import nodes_bounds, slow_mask, slow_packets
from orcatui.model.sorting import running_longest, search_rows, sort_rows
from orcatui.model.states import State
from orcatui.model.views import display_rows_many, packets_for_view

NODES = 200
A_PACKETS = 2_710
B_PACKETS = 2_300
B_FAILED = 500
B_CACHED = 30
B_RUNNING = 20
T0 = 1_795_880_000.0  # 2026-11-28
RUN_A, RUN_B = "3f9a0c1d2e4b5a69", "7c21e0f4a9b3d856"
SITE = "/opt/conda/envs/lab/lib/python3.11/site-packages"
STDLIB = "/opt/conda/envs/lab/lib/python3.11"
USER = "/home/lab/pipelines/neuro/steps"
NAMES = ["Zoë Müller", "患者 7", "José Ñúñez", "Ørjan", "Ana-María"]


def _families(rng: np.random.Generator) -> list[tuple[str, list[tuple[str, str]], object]]:
    """(exception, [(user file, function)…], message(i)) for 20 families."""

    def u() -> str:
        return str(uuid.UUID(bytes=rng.bytes(16)))

    def n(hi: int = 10_000) -> int:
        return int(rng.integers(0, hi))

    return [
        (
            "FileNotFoundError",
            [("io.py", "load_scan")],
            lambda i: (
                "[Errno 2] No such file or directory: "
                f"'/data/raw/sub-{i:05d}/ses-{n(9)}/anat.nii.gz'"
            ),
        ),
        (
            "ValueError",
            [("score.py", "compute_score")],
            lambda i: (
                f"z_value {rng.normal(30, 5):.4f} is outside the allowed range [-5.0, 5.0]\n"
                "  detail: signal saturated or mis-calibrated\n  hint: re-run acquisition QC"
            ),
        ),
        (
            "KeyError",
            [("tables.py", "merge_meta"), ("tables.py", "pivot")],
            lambda i: f"'col_{n(40)}'",
        ),
        (
            "requests.exceptions.ConnectionError",
            [("fetch.py", "download")],
            lambda i: (
                f"HTTPSConnectionPool(host='api-{n(12)}.example.com', port=443): Max retries "
                f"exceeded with url: /v1/items/{n()}?token={u()}"
            ),
        ),
        (
            "TimeoutError",
            [("db.py", "query")],
            lambda i: f"timed out after {n(120)}s waiting for db-{n(9)}.cluster.local:5432",
        ),
        (
            "RuntimeError",
            [("train.py", "fit")],
            lambda i: (
                f"CUDA out of memory. Tried to allocate {rng.uniform(10, 900):.2f} MiB "
                f"(GPU {n(8)}; 15.78 GiB total capacity; "
                f"{rng.uniform(1, 15):.2f} GiB already allocated)"
            ),
        ),
        (
            "AssertionError",
            [("shapes.py", "check")],
            lambda i: f"expected shape (3, {n(500)}) but got ({n(9)}, {n(500)})",
        ),
        (
            "json.decoder.JSONDecodeError",
            [("meta.py", "read_sidecar")],
            lambda i: f"Expecting value: line {n(90)} column {n(80)} (char {n()})",
        ),
        (
            "PermissionError",
            [("io.py", "lock")],
            lambda i: f"[Errno 13] Permission denied: '/scratch/user{n(30)}/tmp/{u()}.lock'",
        ),
        (
            "ZeroDivisionError",
            [("stats.py", "normalise"), ("stats.py", "zscore")],
            lambda i: "float division by zero",
        ),
        (
            "IndexError",
            [("align.py", "slice_volume")],
            lambda i: f"index {n(400)} is out of bounds for axis 0 with size {n(400)}",
        ),
        (
            "TypeError",
            [("merge.py", "combine")],
            lambda i: "unsupported operand type(s) for +: 'int' and 'NoneType'",
        ),
        (
            "OSError",
            [("io.py", "verify")],
            lambda i: (
                f"checksum mismatch for run {rng.bytes(8).hex()}: "
                f"0x{rng.bytes(4).hex()} != 0x{rng.bytes(4).hex()}"
            ),
        ),
        (
            "numpy.core._exceptions._ArrayMemoryError",
            [("resample.py", "upsample")],
            lambda i: (
                f"Unable to allocate {rng.uniform(1, 90):.1f} GiB for an array with shape "
                f"({n(90000)}, {n(90000)}) and data type float64"
            ),
        ),
        (
            "ValueError",
            [("parse.py", "to_float")],
            lambda i: (
                f"could not convert string to float: '{rng.choice(['n/a', '', 'NaN?', '1,5'])}'"
            ),
        ),
        (
            "subprocess.CalledProcessError",
            [("fsl.py", "run_fslmaths")],
            lambda i: (
                f"Command '['fslmaths', '/data/work/sub-{i:05d}/t1.nii.gz', '-thr', "
                f"'{n(9)}']' returned non-zero exit status {n(3) + 1}."
            ),
        ),
        (
            "botocore.exceptions.ClientError",
            [("s3.py", "get_object")],
            lambda i: (
                "An error occurred (NoSuchKey) when calling the GetObject operation: The "
                f"specified key does not exist: s3://lab-bucket-{n(4)}/derivatives/{u()}.parquet"
            ),
        ),
        (
            "UnicodeDecodeError",
            [("meta.py", "read_notes")],
            lambda i: (
                f"'utf-8' codec can't decode byte 0x{rng.bytes(1).hex()} in position {n()}: "
                "invalid start byte"
            ),
        ),
        (
            "sqlite3.OperationalError",
            [("db.py", "write_result")],
            lambda i: f"database is locked (pid {n(99999)})",
        ),
        (
            "ValueError",
            [("qc.py", "check_sessions")],
            lambda i: (
                f"subject {rng.choice(NAMES)} has {n(6)} sessions, expected 2\n"
                f"  sessions: {', '.join(str(n(9)) for _ in range(3))}"
            ),
        ),
    ]


def _traceback(exc: str, file: str, func: str, message: str, line: int) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/orcapod/core/executors/local.py", line 46, in execute_callable\n'
        "    raw_result = fn(**kwargs)\n"
        "                 ^^^^^^^^^^^^\n"
        f'  File "{USER}/{file}", line {line}, in {func}\n'
        f"    result = helper(data, **options)\n"
        f'  File "{STDLIB}/contextlib.py", line 81, in inner\n'
        "    return func(*args, **kwds)\n"
        f"{exc}: {message}\n"
    )


def _ids(n: int, start_ms: np.ndarray, binary: bool, rng: np.random.Generator) -> pa.Array:
    if not binary:
        return pa.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)])
    raw = np.zeros((n, 16), np.uint8)
    ms = start_ms.astype(np.uint64)
    for b in range(6):
        raw[:, b] = (ms >> np.uint64(8 * (5 - b))) & np.uint64(0xFF)
    raw[:, 6:] = rng.integers(0, 256, size=(n, 10), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    buf = pa.py_buffer(raw.tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, buf]).cast(pa.binary())


def _iso(epoch_s: np.ndarray) -> pa.Array:
    ts = pa.array((epoch_s * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC"))
    return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S+00:00")  # %S carries the fraction


def _write(directory: Path, table: pa.Table) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    pq.write_table(table, directory / f".{name}")
    os.replace(directory / f".{name}", directory / name)


def build(root: Path) -> tuple[int, int, float]:
    """Write the root; returns (status events, FAILED packets, the time of the newest event)."""
    rng = np.random.default_rng(10)
    families = _families(rng)
    events = failed_total = 0
    newest = 0.0
    for node in range(NODES):
        binary = node % 2 == 0
        typical = float(np.exp(rng.uniform(np.log(0.5), np.log(30.0))))
        concurrency = 4
        status_dir = root / "neuro" / "_status" / f"step_{node:03d}" / "v0" / "execution_status"
        log_dir = root / "neuro" / "_log" / f"step_{node:03d}" / "v0" / "execution_logs"
        tables, logs = [], []
        # Every node's run B reaches "now" together (nodes run side by side); A ended before.
        span = (B_PACKETS - 1) * typical / concurrency
        for run, packets, start in (
            (RUN_A, A_PACKETS, T0),
            (RUN_B, B_PACKETS, T0 + 400_000 - span),
        ):
            idx = np.arange(packets)
            dur = rng.lognormal(np.log(typical), 0.25, packets)
            begin = start + idx * typical / concurrency + rng.uniform(0, 0.01, packets)
            end = begin + dur
            state = np.full(packets, "SUCCESS", dtype=object)
            error = np.full(packets, None, dtype=object)
            has_end = np.ones(packets, bool)
            if run == RUN_B:
                fam_of = rng.integers(0, len(families), B_FAILED)
                fail_at = rng.choice(packets - B_RUNNING, B_FAILED, replace=False)
                state[fail_at] = "FAILED"
                cached = rng.choice(np.setdiff1d(idx[:-B_RUNNING], fail_at), B_CACHED, False)
                state[cached] = "CACHED"
                end[cached] = begin[cached] + 0.002
                has_end[-B_RUNNING:] = False
                now_b = begin[-1] + 1.0
                # In flight: started within the last typical duration; two stuck for long.
                begin[-B_RUNNING:] = now_b - rng.uniform(0, 0.8 * typical, B_RUNNING)
                begin[-2:] = now_b - np.array([40.0, 25.0]) * typical
                tb_rows = []
                for j, (i, f) in enumerate(zip(fail_at, fam_of, strict=True)):
                    exc, frames, message = families[f]
                    msg = message(int(i))
                    error[i] = msg
                    file, func = frames[j % len(frames)]
                    tb_rows.append((int(i), _traceback(exc, file, func, msg, 40 + int(f))))
                failed_total += B_FAILED
                newest = max(newest, now_b)
                ok = np.flatnonzero(state == "SUCCESS")[::10]
                log_idx = np.concatenate([[i for i, _ in tb_rows], ok]).astype(np.int64)
                tbs = [t for _, t in tb_rows] + [None] * len(ok)
                log_ts = end[log_idx] - 0.001
                logs.append(
                    pa.table(
                        {
                            "_log_id": _ids(len(log_idx), log_ts * 1000, binary, rng),
                            "_log_run_id": pa.array([run] * len(log_idx)),
                            "_log_timestamp": _iso(log_ts),
                            "_log_stdout_log": pa.array(["processed 1 volume\n"] * len(log_idx)),
                            "_log_stderr_log": pa.array([""] * len(log_idx)),
                            "_log_python_logs": pa.array(["INFO:steps:start\n"] * len(log_idx)),
                            "_log_traceback": pa.array(tbs, pa.string()),
                            "_log_success": pa.array([t is None for t in tbs]),
                            "subject_id": pa.array([f"sub-{i:05d}" for i in log_idx]),
                            "session": pa.array([str(i % 3 + 1) for i in log_idx]),
                        }
                    )
                )
            subjects = np.char.add("sub-", np.char.zfill(idx.astype(str), 5))
            sessions = (idx % 3 + 1).astype(str)
            e_idx = idx[has_end]
            ts = np.concatenate([begin, end[has_end]])
            tables.append(
                pa.table(
                    {
                        "_status_id": _ids(len(ts), ts * 1000, binary, rng),
                        "_status_run_id": pa.array([run] * len(ts)),
                        "_status_pipeline_uri": pa.array(["neuro@0123456789abcdef"] * len(ts)),
                        "_status_state": pa.array(
                            np.concatenate([np.full(packets, "RUNNING"), state[has_end]]).tolist()
                        ),
                        "_status_timestamp": _iso(ts),
                        "_status_error_summary": pa.array(
                            [None] * packets + list(error[has_end]), pa.string()
                        ),
                        "subject_id": pa.array(np.concatenate([subjects, subjects[e_idx]])),
                        "session": pa.array(np.concatenate([sessions, sessions[e_idx]])),
                    }
                )
            )
        for t in tables:
            events += t.num_rows
            for off in range(0, t.num_rows, 2_500):
                _write(status_dir, t.slice(off, 2_500))
        for t in logs:
            _write(log_dir, t)
    return events, failed_total, newest


class Ms(float):
    """A wall time in ms that also carries the CPU time (user + system) of the same call."""

    cpu: float = 0.0

    def __format__(self, spec: str) -> str:
        return f"{float(self):{spec}} ms wall, {self.cpu:{spec}} ms CPU"


def best(fn, repeat: int = 5) -> tuple[Ms, object]:
    """The best wall time of ``repeat`` calls (ms, with that call's CPU time) and the last
    result. The machine may be shared: wall time is an upper bound, CPU time the work done."""
    times, out = [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000))
    wall, cpu = min(times)
    ms = Ms(wall)
    ms.cpu = cpu
    return ms, out


def main() -> None:
    global T0
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="build the root here once and reuse it")
    args = ap.parse_args()
    # The store skips events more than a day ahead of the machine's clock: the runs end
    # now-ish (the fixed T0 would put run B days after 2026-11-28 on a later clock).
    T0 = time.time() - 450_000
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        meta = root / "bench_triage.json"
        t = time.perf_counter()
        if meta.exists():
            events, failed, newest = json.loads(meta.read_text())
        else:
            events, failed, newest = build(root)
            if args.keep:
                meta.write_text(json.dumps([events, failed, newest]))
        print(
            f"root: {events:,} status events, {NODES} nodes, {failed:,} FAILED "
            f"(built or found in {time.perf_counter() - t:.1f} s)"
        )
        now = newest
        monitor = Monitor(root, clock=lambda: now, stale_after=3600)
        t = time.perf_counter()
        monitor.refresh()
        print(f"Monitor.refresh (cold load): {time.perf_counter() - t:.1f} s")
        (pipeline,) = monitor.pipelines
        model = monitor.pipelines[pipeline]
        keys = [(pipeline, ident) for ident in sorted(model.nodes)]
        verdicts = monitor.verdicts(pipeline, now)
        assert verdicts[RUN_B].live and not verdicts[RUN_A].live

        ms, rows = best(lambda: [monitor.packet_rows(k, now=now, verdicts=verdicts) for k in keys])
        print(f"display rows, every node (Monitor.packet_rows, input of every rule): {ms:.0f}")
        logs = [log_rows(model.nodes[k[1]].logs) for k in keys]
        inputs = [NodeFailures(k[1][0], r, lg) for k, r, lg in zip(keys, rows, logs, strict=True)]

        t = time.perf_counter()
        groups = ErrorGrouper().groups(inputs)
        cold = (time.perf_counter() - t) * 1000
        grouper = ErrorGrouper()
        grouper.groups(inputs)
        warm, groups = best(lambda: grouper.groups(inputs))
        print(
            f"error groups: {len(groups)} groups of {sum(g.count for g in groups):,} FAILED; "
            f"cold {cold:.0f} ms, warm {warm:.0f} "
            f"(target ≤ 300 ms; target / measured = {300 / warm:.2f})"
        )
        for g in groups[:3]:
            print(f"   {g.count:>6,} × {g.signature[:100]}")

        prev_counts = {k: model.nodes[k[1]].packets.counts for k in keys}

        def on_change():
            # What the app needs when data changes: progress, ETA, slow bound and flags.
            out = []
            all_times = nodes_times(rows)
            bounds = nodes_bounds(all_times)  # every node's at once, as Monitor.triage does
            for k, r, times, bound in zip(keys, rows, all_times, bounds, strict=True):
                prev = sum(n for (run, _), n in prev_counts[k].items() if run == RUN_A)
                p = node_progress(times, now, previous_count=prev)
                out.append((p, slow_mask(times, r.num_rows, now, bound), times, bound))
            return out

        ms_change, per_node = best(on_change)
        run_p = run_progress([p for p, *_ in per_node])
        n_slow = sum(int(m.sum()) for _, m, *_ in per_node)
        print(
            f"progress + ETA + slow flags, every node, no state kept (every duration sorted): "
            f"{ms_change:.1f} (target ≤ 20 ms; target / measured = {20 / ms_change:.2f}); "
            f"{n_slow} slow packets; run {run_p.done:,}/{run_p.expected:,} ETA {format_eta(run_p)}"
        )

        # As the monitor does it: times from the packet rows of the shown run (packets_times),
        # sorted durations kept per node (SortedDurations), and every node changed by new data
        # — each step, 2 more of every node's RUNNING packets have completed (new durations to
        # merge) and the rest of the rows are the same.
        packets = [packets_for_view(model.nodes[k[1]].packets.table(), RUN_B, False) for k in keys]
        steps = [packets]
        for step in range(1, 6):
            changed = []
            for r in packets:
                state = r.column("state").to_numpy()
                running = np.flatnonzero(state == int(State.RUNNING))[: 2 * step]
                flip = np.zeros(r.num_rows, dtype=bool)
                flip[running] = True
                mask = pa.array(flip)
                done = pc.if_else(mask, pa.scalar(int(State.SUCCESS), pa.int8()), r.column("state"))
                end = pc.add(r.column("running_ts"), int((1.5 + step) * 1e6))
                ts = pc.if_else(mask, end, r.column("ts"))
                r = r.set_column(r.schema.get_field_index("state"), "state", done)
                changed.append(r.set_column(r.schema.get_field_index("ts"), "ts", ts))
            steps.append(changed)
        kept = SortedDurations()
        node_keys = [(k, RUN_B) for k in keys]
        packets_times(steps[0], verdicts, now, node_keys, kept, RUN_B)  # the state before
        at = iter(steps[1:])

        def on_change_kept():
            out = []
            step_rows = next(at)
            step_times = packets_times(step_rows, verdicts, now, node_keys, kept, RUN_B)
            bounds = nodes_bounds(step_times)
            for k, r, times, bound in zip(keys, step_rows, step_times, bounds, strict=True):
                prev = sum(n for (run, _), n in prev_counts[k].items() if run == RUN_A)
                p = node_progress(times, now, previous_count=prev)
                out.append((p, slow_mask(times, r.num_rows, now, bound), times, bound))
            return out

        ms_kept, kept_nodes = best(on_change_kept)
        fresh = packets_times(steps[-1], verdicts, now, run_id=RUN_B)
        for (_, _, t_kept, _), t_fresh in zip(kept_nodes, fresh, strict=True):
            assert np.array_equal(t_kept.durations, t_fresh.durations)
        print(
            f"progress + ETA + slow flags, every node changed with new completed packets "
            f"(2 more each; sorted again), as Monitor.triage does (from packet rows): "
            f"{ms_kept:.1f} (target ≤ 20 ms; target / measured = {20 / ms_kept:.2f})"
        )
        # The same changes the way Monitor.triage took before: every node's display rows made,
        # then their times.
        kept_old = SortedDurations()
        nodes_times(display_rows_many(steps[0], verdicts, now), node_keys, kept_old)
        at_old = iter(steps[1:])
        ms_old, _ = best(
            lambda: nodes_times(display_rows_many(next(at_old), verdicts, now), node_keys, kept_old)
        )
        print(
            f"    the same from display rows (display_rows_many + nodes_times, as before): "
            f"{ms_old:.1f} (packet rows / display rows = {float(ms_kept) / float(ms_old):.2f})"
        )
        # Every node changed, its completed durations not (new RUNNING packets, a verdict):
        # the kept sorted durations are reused.
        again = iter([steps[-1]] * 5)
        at = again
        ms_same, _ = best(on_change_kept)
        print(
            f"progress + ETA + slow flags, every node changed but not its completed durations "
            f"(kept sorted durations reused): {ms_same:.1f} "
            f"(target ≤ 20 ms; target / measured = {20 / ms_same:.2f})"
        )
        ms_list, _ = best(
            lambda: [
                slow_packets(r, times, now, bound)
                for (_, _, times, bound), r in zip(per_node, rows, strict=True)
            ]
        )
        print(f"slow-packet lists for --json (tags etc.), every node: {ms_list:.1f}")

        def on_tick():
            return [
                (node_progress(times, now + 1), slow_mask(times, len(r), now + 1, bound))
                for (_, _, times, bound), r in zip(per_node, rows, strict=True)
            ]

        ms_tick, _ = best(on_tick)
        print(f"per-second re-age (progress + slow mask), every node: {ms_tick:.1f}")
        print(f"rules + display rows on data change: {ms + ms_change:.0f} ms")

        big = max(rows, key=lambda r: r.num_rows)
        for label, fn in (
            ("sort by subject_id (natural)", lambda: sort_rows(big, "subject_id")),
            ("sort by session (numeric) desc", lambda: sort_rows(big, "session", descending=True)),
            ("sort by state (severity)", lambda: sort_rows(big, "state")),
            ("running longest", lambda: running_longest(big)),
            ("search 'failed sub-001 range'", lambda: search_rows(big, "failed sub-001 range")),
        ):
            ms_one, _ = best(fn)
            print(f"{label} ({big.num_rows:,} rows): {ms_one:.1f}")


if __name__ == "__main__":
    main()
