"""``orcatui wait ROOT [--timeout]``: block until no pipeline's newest run is live (issue 10, 6).

Textual-free and Rich-free (it starts as fast as ``summary``). The loop refreshes one
:class:`~orcatui.model.monitor.Monitor` every ``poll_s`` seconds; when every pipeline's newest run
is over (its verdict not live) it returns the exit code ``summary`` would return for the same
root, or :data:`~orcatui.exitcodes.TIMEOUT` (124) when ``timeout_s`` runs out first. A root with
no tables yet (or tables with no events yet) is waited on too, within the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orcatui import exitcodes
from orcatui.model.runs import DEFAULT_STALE_AFTER_S

#: Seconds between two reads of the root.
DEFAULT_POLL_S = 1.0


def report_exit_code(report: dict[str, Any]) -> int:
    """The exit code of a summary report: LOST 3 > unreadable 4 > FAILED 1 > 0."""
    lost = sum(p["counts"].get("LOST", 0) for p in report["pipelines"])
    failed = sum(p["counts"].get("FAILED", 0) for p in report["pipelines"])
    return exitcodes.worst(lost=bool(lost), unreadable=bool(report["errors"]), failed=bool(failed))


def pending(monitor: Any, now: float) -> list[str]:
    """One line per pipeline whose newest run is still live or that has no run yet.

    Empty when there is at least one pipeline and every pipeline's newest run is over.
    """
    if not monitor.pipelines:
        return ["no status tables yet"]
    out = []
    for name in sorted(monitor.pipelines):
        run_id = monitor.newest_run(name)
        label = "/".join(name)
        if run_id is None:
            out.append(f"{label}: no run yet")
            continue
        verdict = monitor.verdicts(name, now).get(run_id)
        if verdict is None or verdict.live:
            out.append(f"{label}: run {run_id} live")
    return out


def _progress_line(monitor: Any, now: float, waiting: list[str], elapsed: float) -> str:
    counts: dict[str, int] = {}
    for info in monitor.snapshot(now=now).pipelines:
        for state, n in info.counts.items():
            counts[state] = counts.get(state, 0) + n
    done = sum(counts.get(s, 0) for s in ("SUCCESS", "CACHED", "FAILED"))
    parts = [f"waiting {int(elapsed)}s", f"{len(waiting)} live"]
    if counts:
        parts.append(f"{done} done, {counts.get('RUNNING', 0)} running")
        if counts.get("FAILED"):
            parts.append(f"{counts['FAILED']} failed")
        if counts.get("LOST"):
            parts.append(f"{counts['LOST']} lost")
    return " · ".join(parts) + (f" — {waiting[0]}" if waiting else "")


def wait_until_done(
    root: Path | str,
    timeout_s: float | None = None,
    *,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    poll_s: float = DEFAULT_POLL_S,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    job_files: tuple[Path, ...] = (),
    storage_options: Mapping[str, str] | None = None,
) -> int:
    """Wait until every pipeline's newest run under ``root`` is over; its summary exit code.

    ``timeout_s`` ``None`` waits forever; on timeout the result is 124. ``progress`` receives a
    one-line status after each read (the CLI passes it only when stderr is a TTY). ``clock`` and
    ``sleep`` measure the timeout (liveness uses the monitor's wall clock).
    Raises :class:`~orcatui.store.store.RootError` when the root cannot be read at all.
    """
    from orcatui.model.monitor import Monitor
    from orcatui.model.report import build_report
    from orcatui.store.store import check_any_root

    check_any_root(root, storage_options)
    start = clock()
    monitor = Monitor(
        root, stale_after=stale_after, job_files=job_files, storage_options=storage_options
    )
    while True:
        problems = monitor.refresh().problems
        now = monitor.clock()
        waiting = pending(monitor, now)
        if not waiting:
            report = build_report(monitor, now=now, problems=problems)
            return report_exit_code(report)
        elapsed = clock() - start
        if progress is not None:
            progress(_progress_line(monitor, now, waiting, elapsed))
        if timeout_s is not None and elapsed >= timeout_s:
            return exitcodes.TIMEOUT
        delay = poll_s if timeout_s is None else min(poll_s, max(0.0, timeout_s - elapsed))
        sleep(max(delay, 0.01))
