"""The demo pipeline: a small imaging study, written by our own observers.

Run as ``python -m orcatui.demo_pipeline ROOT --run N --sink S --speed F``; :mod:`orcatui.demo`
starts it three times. Shape (10 subjects × 4 sessions = 40 packets per node, 200 per run)::

    load ─▶ clean ─┬─▶ features ─┬─▶ report
                   └─▶ qc ───────┘

* run 1: fresh; three packets fail for good (bad data), two fail transiently (timeout, memory);
* run 2: same data release: what succeeded before is ``CACHED``, what failed runs again (the
  transient failures now succeed, the bad data fails again);
* run 3: a new data release invalidates the cache; ``features`` hangs on storage halfway and
  the parent SIGKILLs the process (it writes ``<ROOT>/.orcatui-demo/stalled-3`` once all
  ``features`` workers hang and their ``RUNNING`` events are on disk), leaving those ``LOST``.

A failed packet goes no further downstream; ``report`` needs both ``features`` and ``qc``.
Durations are random but seeded, and every sleep is divided by ``--speed``. SIGTERM (or the
parent going away) ends the run as ``interrupted`` and exits at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import observers
from observers.plain import Run

#: The pipeline's name: its directory under the root.
PIPELINE = "imaging-study"
#: The demo's own directory under the root (marker, child logs, stall markers).
STATE_DIR = ".orcatui-demo"
SUBJECTS = tuple(f"sub-{i:02d}" for i in range(1, 11))
SESSIONS = tuple(f"ses-{i}" for i in range(1, 5))
#: Seconds a packet of each node takes on average at speed 1.
BASE_SECONDS = {"load": 0.2, "clean": 0.25, "features": 0.35, "qc": 0.2, "report": 0.1}
WORKERS = {"load": 4, "clean": 4, "features": 4, "qc": 3, "report": 4}
#: In run 3, ``features`` packets from this index on hang on storage.
STALL_AT = 20

Key = tuple[str, str]
log = logging.getLogger("demo")


@dataclass(frozen=True)
class Scenario:
    """What one of the three runs does."""

    release: str
    transient_failures: bool
    stall: bool


SCENARIOS = {
    1: Scenario(release="2024-06", transient_failures=True, stall=False),
    2: Scenario(release="2024-06", transient_failures=False, stall=False),
    3: Scenario(release="2024-07", transient_failures=False, stall=True),
}


class QCError(Exception):
    """Quality-control thresholds exceeded."""


class Context:
    """What a packet's work needs: the run number, speed, cache and stop flag."""

    def __init__(self, root: Path, run: int, speed: float) -> None:
        self.root = root
        self.run = run
        self.speed = speed
        self.scenario = SCENARIOS[run]
        self.stop = threading.Event()
        self.flush: Callable[[], None] = lambda: None
        self._hung = 0
        self._lock = threading.Lock()

    def rng(self, node: str, key: Key) -> random.Random:
        """A generator seeded by run, node and packet (the same on every machine)."""
        return random.Random(f"{self.run}/{node}/{key[0]}/{key[1]}")

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds / speed``; when the pipeline is stopping, never return."""
        if self.stop.wait(seconds / self.speed):
            _park()

    def cache_path(self, node: str, key: Key) -> Path:
        """Where the result of a packet of ``node`` is cached for this data release."""
        return (
            self.root
            / PIPELINE
            / "_results"
            / node
            / self.scenario.release
            / f"{key[0]}_{key[1]}.json"
        )

    def hang(self, node: str, key: Key) -> None:
        """Block like a read from a dead storage mount; the parent kills us meanwhile."""
        log.warning("read of /data/%s/%s/%s is slow, waiting for storage", *key, node)
        with self._lock:
            self._hung += 1
            stalled = self._hung == WORKERS[node]
        if stalled:
            # the hung packets' RUNNING events must be on disk before the parent kills us
            self.flush()
            marker = self.root / STATE_DIR / f"stalled-{self.run}"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{os.getpid()}\n")
        _park()


def _park() -> None:
    """Block this worker for good: a packet cut short must stay RUNNING, not end SUCCESS.

    The process leaves with ``os._exit`` once the run is closed, ending parked threads.
    """
    threading.Event().wait()


# -- the packets' work -------------------------------------------------------------------------
def _duration(ctx: Context, node: str, key: Key) -> float:
    rng = ctx.rng(node, key)
    seconds = BASE_SECONDS[node] * rng.lognormvariate(0.0, 0.45)
    return seconds * (4.0 if rng.random() < 0.05 else 1.0)  # a few stragglers


def _read_chunk(path: str, offset: int) -> bytes:
    raise TimeoutError(f"read of {path} timed out after 30 s (offset {offset})")


def _fetch(path: str) -> bytes:
    chunks = [_read_chunk(path, offset) for offset in range(0, 4 * 2**20, 2**20)]
    return b"".join(chunks)


def load(ctx: Context, key: Key) -> None:
    """Read a session's raw scan."""
    subject, session = key
    rng = ctx.rng("load", key)
    path = f"/data/raw/{ctx.scenario.release}/{subject}/{session}/func.nii.gz"
    print(f"reading {path}")
    ctx.sleep(_duration(ctx, "load", key))
    if ctx.scenario.transient_failures and key == ("sub-02", "ses-4"):
        _fetch(path)
    volumes = rng.randint(180, 260)
    print(f"{volumes} volumes, TR=2.0 s, {rng.uniform(180, 420):.0f} MiB")
    log.info("checksum ok (sha256 %s…)", f"{rng.getrandbits(64):016x}")


def _parse_field(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"bad header field {name!r}: {raw!r} is not a number") from exc


def _read_header(subject: str, session: str) -> dict[str, float]:
    raw = {"TR": "2.0", "slices": "48", "echo": "0.03"}
    if (subject, session) == ("sub-07", "ses-3"):
        raw["TR"] = "n/a"  # the scanner export lost this field
    return {name: _parse_field(name, value) for name, value in raw.items()}


def clean(ctx: Context, key: Key) -> None:
    """Motion-correct and denoise a session."""
    rng = ctx.rng("clean", key)
    header = _read_header(*key)
    print(f"header: TR={header['TR']} s, {header['slices']:.0f} slices")
    ctx.sleep(_duration(ctx, "clean", key))
    print(f"motion correction: max displacement {rng.uniform(0.1, 1.8):.2f} mm")
    if rng.random() < 0.25:
        nan_slices = rng.randint(1, 4)
        print(f"warning: {nan_slices} slices with NaN values, interpolated", file=sys.stderr)
        log.warning("%d slices interpolated in %s/%s", nan_slices, *key)
    log.info("denoised with %d components", rng.randint(5, 20))


def _zscore(values: Sequence[float]) -> list[float]:
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return [(v - mean) / std for v in values]


def _connectivity(signal_values: Sequence[float]) -> float:
    normalised = _zscore(signal_values)
    return max(normalised) - min(normalised)


def features(ctx: Context, key: Key) -> None:
    """Extract connectivity features."""
    rng = ctx.rng("features", key)
    index = SUBJECTS.index(key[0]) * len(SESSIONS) + SESSIONS.index(key[1])
    if ctx.scenario.stall and index >= STALL_AT:
        ctx.hang("features", key)
        return
    ctx.sleep(_duration(ctx, "features", key))
    if ctx.scenario.transient_failures and key == ("sub-06", "ses-1"):
        raise MemoryError("cannot allocate 2.1 GiB for the connectivity matrix (1.4 GiB free)")
    flat = key == ("sub-04", "ses-2")  # a dead channel: constant signal
    values = [1.0] * 64 if flat else [rng.gauss(0.0, 1.0) for _ in range(64)]
    spread = _connectivity(values)
    print(f"connectivity spread {spread:.3f}")
    log.info("features: %d regions, %d edges", 64, 64 * 63 // 2)


def qc(ctx: Context, key: Key) -> None:
    """Check quality thresholds."""
    rng = ctx.rng("qc", key)
    ctx.sleep(_duration(ctx, "qc", key))
    fd, tsnr = rng.uniform(0.05, 0.45), rng.uniform(45.0, 90.0)
    if key == ("sub-09", "ses-1"):
        fd, tsnr = 0.82, 31.2
    print(f"mean FD {fd:.2f} mm, tSNR {tsnr:.1f}")
    if fd > 0.5 or tsnr < 40.0:
        raise QCError(
            f"QC thresholds exceeded for {key[0]}/{key[1]}:\n"
            f"  mean FD {fd:.2f} mm > 0.50 mm\n"
            f"  tSNR {tsnr:.1f} < 40.0\n"
            "  3 of 240 volumes flagged as outliers"
        )
    if fd > 0.35:
        log.warning("mean FD %.2f mm is close to the 0.50 mm threshold", fd)


def report(ctx: Context, key: Key) -> None:
    """Write the session's report."""
    ctx.sleep(_duration(ctx, "report", key))
    path = f"/data/reports/{ctx.scenario.release}/{key[0]}_{key[1]}.html"
    print(f"wrote {path}")
    log.info("report for %s/%s done", *key)


NODES: dict[str, tuple[str, str, Callable[[Context, Key], None]]] = {
    # name: (version, label, work)
    "load": ("v1", "Load raw scans", load),
    "clean": ("v2", "Clean & denoise", clean),
    "features": ("v1", "Extract features", features),
    "qc": ("v1", "Quality control", qc),
    "report": ("v1", "Session report", report),
}


# -- running nodes -----------------------------------------------------------------------------
class Stage:
    """One node of a run, fed a list of packets and processed by a few worker threads."""

    def __init__(self, ctx: Context, run: Run, name: str, keys: Iterable[Key]):
        version, label, self.work = NODES[name]
        self.ctx = ctx
        self.name = name
        self.node = run.node(name, version=version, label=label)
        self.keys = list(keys)
        self.done: set[Key] = set()  # succeeded or cached: these go downstream

    def _one(self, key: Key) -> None:
        cache = self.ctx.cache_path(self.name, key)
        tags = {"subject": key[0], "session": key[1]}
        if cache.exists():
            self.ctx.sleep(0.01)
            self.node.cached(**tags)
            self.done.add(key)
            return
        ok = False
        with self.node.packet(suppress=True, **tags):
            self.work(self.ctx, key)
            ok = True
        if ok:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"subject": key[0], "session": key[1]}))
            self.done.add(key)

    def threads(self) -> list[threading.Thread]:
        """Started daemon worker threads draining this stage's packets."""
        todo: queue.SimpleQueue[Key] = queue.SimpleQueue()
        for key in self.keys:
            todo.put(key)

        def worker() -> None:
            while not self.ctx.stop.is_set():
                try:
                    key = todo.get_nowait()
                except queue.Empty:
                    return
                self._one(key)

        # daemon: hung packets must not keep the interpreter alive on exit
        workers = [
            threading.Thread(target=worker, name=f"{self.name}-{i}", daemon=True)
            for i in range(WORKERS[self.name])
        ]
        for t in workers:
            t.start()
        return workers


def run_stages(stages: Sequence[Stage]) -> None:
    """Run several nodes side by side (a fan-out) until all their packets are done."""
    nodes = [s.node for s in stages]
    for node in nodes:
        node.__enter__()
    try:
        workers = [t for s in stages for t in s.threads()]
        for t in workers:
            while t.is_alive():
                t.join(0.1)  # short joins keep KeyboardInterrupt prompt
    finally:
        for node in nodes:
            node.__exit__(None, None, None)


def run_pipeline(root: Path, run: int, *, sink: str, speed: float, heartbeat: float) -> int:
    """Run the pipeline once (scenario ``run``); 0 when the run completed, 130 when stopped."""
    ctx = Context(root, run, speed)
    keys = [(s, ses) for s in SUBJECTS for ses in SESSIONS]
    _install_stop_handlers(ctx)
    logging.getLogger().setLevel(logging.INFO)
    try:
        with observers.run(
            root, PIPELINE, sink=sink, flush_interval=0.2, heartbeat_interval=heartbeat
        ) as r:
            print(f"run {run} ({r.run_id}): release {ctx.scenario.release}", file=sys.__stdout__)
            ctx.flush = r.observer.flush
            loaded = Stage(ctx, r, "load", keys)
            run_stages([loaded])
            cleaned = Stage(ctx, r, "clean", [k for k in keys if k in loaded.done])
            run_stages([cleaned])
            feats = Stage(ctx, r, "features", [k for k in keys if k in cleaned.done])
            checks = Stage(ctx, r, "qc", [k for k in keys if k in cleaned.done])
            run_stages([feats, checks])
            both = feats.done & checks.done
            run_stages([Stage(ctx, r, "report", [k for k in keys if k in both])])
    except KeyboardInterrupt:
        return 130
    return 0


def _install_stop_handlers(ctx: Context) -> None:
    """SIGTERM, or the parent dying, interrupts the main thread (the run ends ``interrupted``)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        ctx.stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()

    def watch_parent() -> None:
        while not ctx.stop.wait(0.5):
            if os.getppid() != parent:
                # not interrupt_main(): it does nothing where SIGINT is ignored (background jobs)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch_parent, name="demo-parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m orcatui.demo_pipeline ROOT --run N --sink S --speed F``."""
    parser = argparse.ArgumentParser(prog="python -m orcatui.demo_pipeline")
    parser.add_argument("root", type=Path)
    parser.add_argument("--run", type=int, choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--sink", choices=("parquet", "delta"), default="parquet")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--heartbeat", type=float, default=1.0, help="heartbeat interval (s)")
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be > 0")
    started = time.monotonic()
    code = run_pipeline(
        args.root, args.run, sink=args.sink, speed=args.speed, heartbeat=args.heartbeat
    )
    print(f"run {args.run} finished in {time.monotonic() - started:.1f} s", file=sys.__stdout__)
    sys.stdout.flush()
    # hung worker threads may still sit inside packets: leave without running them further
    os._exit(code)


if __name__ == "__main__":
    main()
