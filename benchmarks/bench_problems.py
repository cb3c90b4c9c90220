"""Issue 10 as wired in: the monitor's cached triage, the problems view, and ``summary --json``.

The root of ``bench_triage.py``: 200 nodes, ~2,000,000 status events (fractional ISO timestamps,
binary UUIDv7 and string UUID ids), run ``A`` ended, run ``B`` in progress with 100,000 FAILED
packets in 20 error families (each with a traceback log row) and slow RUNNING packets.

Figures (best of 5 unless noted):

* ``Monitor.snapshot`` with progress + ETA + slow counts for every node: after a data change
  (every node's triage recomputed) and per frame without one (re-aged from the cache);
* the problems view's model (:func:`orcatui.app.triage_source.problems`): every FAILED / LOST /
  slow packet grouped, warm;
* the problems view in the real app (Textual pilot, 160×48): ``p`` → the list painted, and
  key → repaint (``j``, ``enter`` expanding a 5,000-packet group, ``G``, ``ctrl+u``,
  ``escape``), each also above the pilot's floor (a key bound to nothing: the frames the
  pilot waits for an idle app);
* ``orcatui summary --json`` as a whole process (error groups, progress, slow lists included).

Run: ``.venv/bin/python benchmarks/bench_problems.py``.

Options: ``--root DIR`` builds the root in ``DIR`` once and reuses it after (``DIR/root`` and
``DIR/meta.json``); ``--app-only`` times only the app's keys; ``--rounds N`` adds N more
``p`` / ``escape`` round trips (the median of each is printed beside the single first figures);
``--compare TREE`` (with ``--app-only``) times the app of another checkout interleaved with this
one, in alternating fresh processes (``--runs`` each), e.g. the commit before a change:
``git archive <commit> | tar -x -C /tmp/base`` then ``--compare /tmp/base``; ``--profile FILE``
(with ``--app-only --rounds N``) writes cProfile stats of the N ``escape`` keys.

The pilot's floor is ~3 slices of its idle wait (``press`` and ``pause`` each wait for 20 ms
windows with under 1 ms of process CPU): a key's time above the floor is the number of further
busy 20 ms windows it causes, so spreading work over several frames costs wall time too.
"""

# ruff: noqa: E402 - the process is set up (runtime.configure_process) before numpy and pyarrow are imported
from __future__ import annotations

import os
import sys
from pathlib import Path

#: The checkout whose ``orcatui`` is measured (``--compare`` runs children with another one).
TREE = Path(os.environ.get("ORCATUI_BENCH_TREE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(TREE))

import observers

try:
    from orcatui.store.runtime import configure_process
except ImportError:  # a --compare tree from before the module's rename
    from orcatui.store.allocator import configure_memory as configure_process

configure_process()  # as the orcatui command does, before pyarrow is imported

import argparse
import asyncio
import cProfile
import json
import resource
import statistics
import subprocess
import tempfile
import time

import bench_triage
from _order import round_order
from bench_triage import NODES, RUN_B, Ms, best, build

from orcatui.app.problems import GROUPER, ProblemList, ProblemsScreen
from orcatui.app.triage_source import ProblemRows, problems
from orcatui.model.errors import ErrorGrouper
from orcatui.model.monitor import Monitor
from orcatui.model.progress import SortedDurations
from orcatui.model.views import View


def ratio(target: float, measured: float) -> str:
    """``target / measured`` (> 1: within the target)."""
    return f"target {target:.0f} ms; target / measured = {target / measured:.2f}"


async def app_figures(
    root: Path, now: float, rounds: int = 0, profile_to: Path | None = None
) -> dict[str, float]:
    """Times of the problems view in the real app, driven by the pilot; ``rounds`` more
    ``p`` / ``escape`` round trips give the median of each (``profile_to``: cProfile stats of
    those escapes, written there)."""
    from orcatui.app.main import OrcaApp

    app = OrcaApp(root, clock=lambda: now, static=True, tick=None, stale_after=3600)
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(6000):  # the cold load of 2 M events
            if app.idle:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        main = app.main
        assert main is not None and main.frame is not None
        (pipeline,) = (p.name for p in main.frame.snapshot.pipelines)
        main.set_state(main.state.with_view(pipeline, View(run_id=RUN_B)))
        for _ in range(6000):
            if app.idle:
                break
            await pilot.pause(0.05)

        async def timed(key: str, done) -> Ms:
            t, c = time.perf_counter(), time.process_time()
            await pilot.press(key)
            while not done():
                await asyncio.sleep(0.001)
            await pilot.pause()  # the repaint of what changed
            ms = Ms((time.perf_counter() - t) * 1000)
            ms.cpu = (time.process_time() - c) * 1000
            return ms

        def listed() -> bool:
            s = app.screen
            return isinstance(s, ProblemsScreen) and s.query_one(ProblemList).problems is not None

        out["open (p → groups listed, painted)"] = await timed("p", listed)
        plist = app.screen.query_one(ProblemList)
        assert plist.problems is not None
        out["entries"] = plist.problems.packets
        # The pilot's own floor: press() and pause() wait for the app to look idle (several
        # frames); a key bound to nothing costs that and nothing else.
        floor = sorted([await timed("f12", lambda: True) for _ in range(9)])[4]
        out["pilot floor (a key bound to nothing, median of 9)"] = floor
        out["j"] = await timed("j", lambda: True)
        before = plist.line_count
        out["enter (expand a group)"] = await timed("enter", lambda: plist.line_count != before)
        out["expanded packets"] = plist.line_count - before
        out["G (last line)"] = await timed("G", lambda: plist.cursor == plist.line_count - 1)
        out["ctrl+u"] = await timed("ctrl+u", lambda: True)
        out["escape (back)"] = await timed(
            "escape", lambda: not isinstance(app.screen, ProblemsScreen)
        )
        opens, backs = [], []
        profile = cProfile.Profile() if profile_to is not None else None
        for _ in range(rounds):
            opens.append(await timed("p", listed))
            if profile is not None:
                profile.enable()
            backs.append(await timed("escape", lambda: not isinstance(app.screen, ProblemsScreen)))
            if profile is not None:
                profile.disable()
        if profile is not None and profile_to is not None:
            profile.dump_stats(profile_to)
        if rounds:
            out[f"open again (median of {rounds})"] = _median(opens)
            out[f"escape again (median of {rounds})"] = _median(backs)
    return out


def _median(values: list[Ms]) -> Ms:
    """The median of timings (by wall time), with its CPU time."""
    return sorted(values)[len(values) // 2]


def make_root(root: Path) -> float:
    """Build the root in ``root`` (an empty directory); the time of its newest event."""
    # The store skips events more than a day ahead of the machine's clock: the runs end
    # now-ish (bench_triage's fixed T0 puts run B ~4.6 days after 2026-11-28).
    bench_triage.T0 = time.time() - 450_000
    t = time.perf_counter()
    events, failed, newest = build(root)
    print(
        f"root: {events:,} status events, {NODES} nodes, {failed:,} FAILED "
        f"(built in {time.perf_counter() - t:.1f} s)"
    )
    return newest


def kept_root(directory: Path) -> tuple[Path, float]:
    """``directory/root`` and its newest event's time, built there the first time."""
    root, meta = directory / "root", directory / "meta.json"
    if not meta.exists():
        root.mkdir(parents=True, exist_ok=True)
        newest = make_root(root)
        meta.write_text(json.dumps({"newest": newest}))
    return root, float(json.loads(meta.read_text())["newest"])


def print_app(figures: dict[str, float]) -> None:
    """The app's figures against the targets, each also above the pilot's floor."""
    floor = figures["pilot floor (a key bound to nothing, median of 9)"]
    for k, v in figures.items():
        if k in ("entries", "expanded packets"):
            print(f"  {k}: {int(v):,}")
        elif k.startswith("pilot floor"):
            print(f"  {k}: {v:.0f}")
        else:
            target = 300 if k.startswith("open") else 100
            above = v - floor
            print(
                f"  {k}: {v:.0f} ({ratio(target, max(v, 0.01))}); above the pilot floor: "
                f"{above:.0f} ms wall, {v.cpu - floor.cpu:.0f} ms CPU "
                f"({ratio(target, max(above, 0.01))})"
            )


def app_child(root: Path, now: float, rounds: int) -> None:
    """The app's figures as one JSON line (a ``--compare`` child)."""
    for module in (sys.modules["orcatui"], observers):
        assert Path(module.__file__).resolve().is_relative_to(TREE.resolve()), module.__file__
    figures = asyncio.run(app_figures(root, now, rounds))
    print(json.dumps({k: [float(v), getattr(v, "cpu", 0.0)] for k, v in figures.items()}))


def compare(root: Path, trees: dict[str, Path], runs: int, rounds: int) -> None:
    """Each tree's app figures in fresh processes, the trees alternating; the medians."""
    results: dict[str, list[dict[str, list[float]]]] = {name: [] for name in trees}
    for run in range(runs):
        for name, tree in round_order(list(trees.items()), run):
            env = {**os.environ, "ORCATUI_BENCH_TREE": str(tree)}
            cmd = [sys.executable, __file__, "--root", str(root.parent), "--child"]
            cmd += ["--rounds", str(rounds)]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            results[name].append(json.loads(r.stdout.strip().splitlines()[-1]))
    floor_key = "pilot floor (a key bound to nothing, median of 9)"
    keys = [k for k in results[next(iter(trees))][0] if k not in ("entries", "expanded packets")]
    print(f"app figures, median of {runs} fresh processes per tree, run interleaved:")
    for name in trees:
        print(f"  {name} ({trees[name]}):")
        for k in keys:
            above = [r[k][0] - r[floor_key][0] for r in results[name]]
            above_cpu = [r[k][1] - r[floor_key][1] for r in results[name]]
            wall = [r[k][0] for r in results[name]]
            if k == floor_key:
                print(f"    {k}: {statistics.median(wall):.0f} ms wall")
            else:
                print(
                    f"    {k}: {statistics.median(wall):.0f} ms wall; above the floor "
                    f"{statistics.median(above):.0f} ms wall, "
                    f"{statistics.median(above_cpu):.0f} ms CPU "
                    f"(each run: {', '.join(f'{a:.0f}' for a in above)})"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, help="keep the root in this directory (built once)")
    ap.add_argument("--app-only", action="store_true", help="only the app's figures")
    ap.add_argument("--rounds", type=int, default=0, help="more p / escape round trips")
    ap.add_argument("--compare", type=Path, help="with --app-only: another checkout")
    ap.add_argument("--runs", type=int, default=3, help="with --compare: processes per tree")
    ap.add_argument("--profile", type=Path, help="cProfile stats of the --rounds escapes to here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.root is not None:
            root, now = kept_root(args.root)
        else:
            root = Path(tmp)
            now = make_root(root)
        if args.child:
            app_child(root, now, args.rounds)
            return
        if args.app_only:
            if args.compare is not None:
                trees = {"this tree": TREE, "compared": args.compare.resolve()}
                compare(root, trees, args.runs, args.rounds)
                return
            print("problems view in the app (pilot, 160x48):")
            print_app(asyncio.run(app_figures(root, now, args.rounds, args.profile)))
            return
        monitor = Monitor(root, clock=lambda: now, stale_after=3600)
        monitor.refresh()
        (pipeline,) = monitor.pipelines
        views = {pipeline: View(run_id=RUN_B)}  # the run in progress (failures, slow packets)

        def changed():
            monitor._triage_cache.clear()  # as after a refresh that touched every node
            return monitor.snapshot(views, now=now)

        ms_change, snap = best(changed)

        def changed_durations():
            monitor._triage_cache.clear()
            monitor._sorted_durations = SortedDurations()  # every node's durations changed too
            return monitor.snapshot(views, now=now)

        ms_durations, _ = best(changed_durations)
        ms_frame, snap = best(lambda: monitor.snapshot(views, now=now))

        def one_changed():
            monitor._triage_cache.pop(next(iter(monitor._triage_cache)))  # one node's new data
            return monitor.snapshot(views, now=now)

        ms_one, _ = best(one_changed)
        base = Monitor.snapshot
        p = snap.pipelines[0]
        slow = sum(n.slow for n in p.nodes)
        print(
            f"snapshot with progress + ETA + slow, every node changed: {ms_change:.0f}; "
            f"per frame (cached triage): {ms_frame:.0f}; run progress "
            f"{p.progress.done:,}/{p.progress.expected}; {slow} slow packets"
        )
        # the triage part alone: the snapshot's cost with the triage switched off
        monitor.triage = lambda *a, **k: {}  # type: ignore[method-assign]
        ms_plain, _ = best(lambda: base(monitor, views, now=now))
        del monitor.triage
        print(
            f"  of which triage when every node changed and its completed durations too "
            f"(sorted again): {ms_durations - ms_plain:.0f} ms wall, "
            f"{ms_durations.cpu - ms_plain.cpu:.0f} ms CPU "
            f"({ratio(20, max(ms_durations - ms_plain, 0.01))})"
        )
        print(
            f"  of which triage on change (every node's rows changed, its completed durations "
            f"not: kept sorted durations and bounds reused): {ms_change - ms_plain:.0f} ms wall, "
            f"{ms_change.cpu - ms_plain.cpu:.0f} ms CPU "
            f"({ratio(20, max(ms_change - ms_plain, 0.01))}); "
            f"per frame: {ms_frame - ms_plain:.1f} ms wall, {ms_frame.cpu - ms_plain.cpu:.1f} ms "
            f"CPU; one node changed: {ms_one - ms_plain:.1f} ms wall, "
            f"{ms_one.cpu - ms_plain.cpu:.1f} ms CPU ({ratio(20, max(ms_one - ms_plain, 0.01))})"
        )
        cold, found = best(lambda: problems(monitor, views, now, ErrorGrouper(), ProblemRows()), 1)
        rows_cache = ProblemRows()  # as the app keeps them between computations
        problems(monitor, views, now, GROUPER, rows_cache)  # warm the grouper and the rows
        ms_prob, found = best(lambda: problems(monitor, views, now + 1, GROUPER, rows_cache))
        print(
            f"problems model: {len(found.groups)} groups, {found.packets:,} packets: "
            f"cold {cold:.0f}; warm (rows and groups kept, as in the app) {ms_prob:.0f}"
        )

        print("problems view in the app (pilot, 160x48):")
        print_app(asyncio.run(app_figures(root, now, args.rounds)))

        env = {**os.environ, "PYTHONPATH": str(TREE)}
        cmd = [
            sys.executable,
            "-m",
            "orcatui",
            "summary",
            str(root),
            "--json",
            "--stale-after",
            "1h",
        ]
        times = []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, env=env)
            wall = (time.perf_counter() - t) * 1000
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
            times.append((wall, cpu))
        size = len(r.stdout)
        print(
            f"orcatui summary --json, whole process (best of 3): {min(times)[0]:.0f} ms wall, "
            f"{min(times)[1]:.0f} ms CPU "
            f"({ratio(2000, min(times)[0])}); {size / 1e6:.1f} MB of JSON, exit {r.returncode}"
        )


if __name__ == "__main__":
    main()
