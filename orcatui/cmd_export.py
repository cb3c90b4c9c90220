"""``orcatui export``: one row per packet to CSV, JSON Lines or Parquet (rules in
:mod:`orcatui.model.export`; this module only parses, loads, opens the output and reports).

Exit codes: 0 written; 4 written, but some data could not be read (each named in a warning);
2 bad input (run, node, state, format, moment) or an unreadable root — nothing written then.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from orcatui import exitcodes

if TYPE_CHECKING:
    import pyarrow as pa

    from orcatui.model.export import ExportPlan

_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def export_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, or the one ``out``'s suffix names; ``ValueError`` if neither."""
    if fmt is not None:
        return fmt
    if out is not None and out.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[out.suffix.lower()]
    raise ValueError("--format csv|jsonl|parquet is required (or an -o FILE ending in one)")


def cmd_export(args: argparse.Namespace) -> int:
    """``orcatui export``."""
    from orcatui.cli import _arrow_without_pandas

    _arrow_without_pandas()  # pyarrow would import pandas (0.2–0.3 s) to ask about our arrays
    from orcatui.cmd_report import has_run, load, parse_at
    from orcatui.model.export import export_batches, plan_export
    from orcatui.text import inert

    fmt = export_format(args.format, args.output)
    if args.output is None and fmt == "parquet" and sys.stdout.isatty():
        raise ValueError("will not write Parquet to a terminal: give -o FILE or redirect stdout")
    at = parse_at(args.at)
    monitor, problems = load(args, at)
    if not monitor.pipelines:
        raise ValueError(
            f"{args.root}: no status tables found (looked for */_status/**/execution_status)"
        )
    if args.run is not None and not has_run(monitor, args.run):
        raise ValueError(f"{args.root}: no run {args.run!r}")
    states = [s.upper() for s in args.state]
    plan = plan_export(
        monitor,
        run_id=args.run,
        all_runs=args.all_runs,
        nodes=args.node,
        states=states,
        now=monitor.clock(),
    )
    batches = export_batches(monitor, plan)
    if args.output is None:
        sys.stdout.flush()
        out = os.fdopen(sys.stdout.fileno(), "wb", closefd=False)
        rows = _write(fmt, plan, batches, out)
        out.flush()
    else:
        # Written beside the target, then renamed: a failed export never leaves half a file.
        target: Path = args.output
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as out:
                rows = _write(fmt, plan, batches, out)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        sys.stderr.write(f"orcatui: {rows} row(s) written to {inert(str(target))}\n")
    errors = sorted({*monitor.store.broken.values(), *problems})
    for err in errors:
        sys.stderr.write(f"orcatui: warning: {inert(err)}\n")
    return exitcodes.UNREADABLE if errors else exitcodes.OK


def _write(fmt: str, plan: ExportPlan, batches: Iterable[pa.RecordBatch], out: IO[bytes]) -> int:
    from orcatui.model.export import write_csv, write_jsonl, write_parquet

    if fmt == "csv":
        return write_csv(plan, batches, out, formula_guard=True)
    if fmt == "jsonl":
        return write_jsonl(plan, batches, out)
    return write_parquet(plan, batches, out)


__all__ = ["cmd_export", "export_format"]
