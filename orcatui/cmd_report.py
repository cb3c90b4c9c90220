"""``orcatui report`` and the shared loading of ``summary/report/export --at``.

The rules live in :mod:`orcatui.postmortem` (the report), :mod:`orcatui.model.errors` (error
groups) and :mod:`orcatui.model.asof` (the state as of a moment); this module only loads the
model, wires the error grouping into the report and writes the result.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orcatui.model.monitor import Monitor
    from orcatui.postmortem import ErrorGroup, FailedPacket


def parse_at(text: str | None) -> float | None:
    """The ``--at`` moment as epoch seconds (None without one); ``ValueError`` (one line)."""
    if text is None:
        return None
    from orcatui.model.moments import parse_moment

    return parse_moment(text, time.time())


def load(args: argparse.Namespace, at: float | None) -> tuple[Monitor, list[str]]:
    """The model of ``args.root``, live or as of ``at``, and the problems met reading it.

    ``RootError`` when the root cannot be read at all.
    """
    from orcatui.cli import storage_options
    from orcatui.store.store import check_any_root

    options = storage_options(args)
    check_any_root(args.root, options)
    if at is None:
        from orcatui.model.monitor import Monitor

        monitor = Monitor(
            args.root, stale_after=args.stale_after, job_files=args.job, storage_options=options
        )
        return monitor, monitor.refresh().problems
    from orcatui.model.asof import load_as_of

    return load_as_of(
        args.root, at, stale_after=args.stale_after, job_files=args.job, storage_options=options
    )


def has_run(monitor: Monitor, run_id: str) -> bool:
    """Whether any pipeline of the root knows ``run_id`` (events or a run record)."""
    return any(run_id in p.runs or run_id in p.records for p in monitor.pipelines.values())


_INDEX = "\x00index"  # the packet's index in ``failed`` (never a real tag name)


def group_failed(failed: Sequence[FailedPacket]) -> list[ErrorGroup]:
    """The report's error-group seam: FAILED packets grouped by :mod:`orcatui.model.errors`.

    Each packet's error message and traceback (when its log row has one) are what the grouping
    reads; the group's example is the first packet of the group (the earliest to fail).
    """
    import pyarrow as pa

    from orcatui.model.errors import NodeFailures, error_groups
    from orcatui.postmortem import ErrorGroup

    if not failed:
        return []
    by_node: dict[str, list[int]] = {}
    for i, f in enumerate(failed):
        by_node.setdefault(f.node, []).append(i)
    nodes = []
    for name, idx in by_node.items():
        keys = pa.array([str(i) for i in idx], pa.string())
        rows = pa.table(
            {
                "key": keys,
                "run_id": pa.array([failed[i].run_id for i in idx], pa.string()),
                "state": pa.array(["FAILED"] * len(idx), pa.string()),
                "ts_us": pa.array([failed[i].ts_us for i in idx], pa.int64()),
                "error": pa.array([failed[i].error for i in idx], pa.string()),
                _INDEX: keys,  # not a row column, so the group's examples carry it as a tag
            }
        )
        tbs = [failed[i].traceback for i in idx]
        logs = pa.table({"key": keys, "traceback": pa.array(tbs, pa.string())})
        nodes.append(NodeFailures(name, rows, logs if any(tbs) else None))
    out = []
    for g in error_groups(nodes):
        first = g.examples[0] if g.examples else None
        if first is None or _INDEX not in first["tags"]:
            continue
        example = failed[int(first["tags"][_INDEX])]
        out.append(ErrorGroup(g.signature, g.count, tuple(g.nodes), example))
    return out


def write_output(text: str, out: Path | None) -> None:
    """``text`` to ``out`` (replaced atomically), or to stdout without one."""
    if out is None:
        sys.stdout.write(text)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)


def cmd_report(args: argparse.Namespace) -> int:
    """``orcatui report``: the post-mortem of each pipeline's newest run (or of ``--run``)."""
    from orcatui.cli import _arrow_without_pandas

    _arrow_without_pandas()  # pyarrow would import pandas (0.2–0.3 s) to ask about our arrays
    from orcatui.postmortem import build_postmortem, render_html, render_markdown, report_exit_code
    from orcatui.text import inert

    at = parse_at(args.at)
    monitor, problems = load(args, at)
    if not monitor.pipelines:
        raise ValueError(
            f"{args.root}: no status tables found (looked for */_status/**/execution_status)"
        )
    if args.run is not None and not has_run(monitor, args.run):
        raise ValueError(f"{args.root}: no run {args.run!r}")
    now = monitor.clock()
    runs = build_postmortem(monitor, args.run, now)
    errors = sorted({*monitor.store.broken.values(), *problems})
    render = render_markdown if args.format == "markdown" else render_html
    text = render(runs, root=str(monitor.root), now=now, problems=errors, group_errors=group_failed)
    if at is not None:
        text = _historical_note(text, args.format, at)
    write_output(text, args.output)
    if args.output is not None:
        sys.stderr.write(f"orcatui: report written to {inert(str(args.output))}\n")
    return report_exit_code(runs, bool(errors))


def _historical_note(text: str, fmt: str, at: float) -> str:
    """A line under the title saying the report is of a past moment (``--at``)."""
    from orcatui.model.moments import format_moment

    when = format_moment(at)
    if fmt == "markdown":
        note = f"\n> **Historical:** the state as of {when} (events after it ignored).\n"
        head, sep, rest = text.partition("\n")
        return head + "\n" + note + rest if sep else text
    note = f"<p><b>Historical:</b> the state as of {when} (events after it ignored).</p>"
    return text.replace("<h1>orcatui post-mortem</h1>", "<h1>orcatui post-mortem</h1>" + note, 1)


__all__ = ["cmd_report", "group_failed", "has_run", "load", "parse_at", "write_output"]
