"""``orcatui watch | summary | demo``: argument parsing and exit codes, nothing else."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from orcatui import exitcodes

if TYPE_CHECKING:  # the CLI imports the model lazily: `orcatui --help` stays instant
    from orcatui.model.monitor import Monitor

_EPILOG = """\
exit codes (summary), when several apply the first listed wins:
  3  LOST packets present (packets left in RUNNING by a run that is not live)
  4  some data could not be read (an unreadable table, file or run record, a bad value
     skipped); each is named in a warning
  1  FAILED packets present
  0  all good
  2  usage error, or the root cannot be read at all (missing, unreadable, no status tables)
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"orcatui: {message} (see orcatui --help)\n")
        raise SystemExit(exitcodes.USAGE)


def _duration(text: str) -> float:
    from orcatui.model.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _root(text: str) -> Path | str:
    """ROOT: a local path (or ``file://`` URL) as a ``Path``; an object-storage URL as text."""
    if "://" not in text:
        return Path(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        from observers.objstore import local_path

        return Path(local_path(text))
    from observers.objstore import REMOTE_SCHEMES, ObjectStoreError, parse_root

    if scheme not in REMOTE_SCHEMES:
        known = ", ".join(f"{s}://" for s in ("s3", "gs", "az", "abfs", "file"))
        raise argparse.ArgumentTypeError(f"unsupported URL scheme {scheme!r} (use {known})")
    try:
        parse_root(text)  # a URL without a bucket (``s3://``) is refused here, in one line
    except ObjectStoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.rstrip("/")


def _storage_option(text: str) -> str:
    """One ``--storage-option KEY=VALUE`` (checked by ``observers.objstore``)."""
    from observers.objstore import parse_storage_options

    try:
        parse_storage_options([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def storage_options(args: argparse.Namespace) -> dict[str, str]:
    """The ``--storage-option`` values of ``args`` as a dict (empty without any)."""
    from observers.objstore import parse_storage_options

    return parse_storage_options(getattr(args, "storage_option", None) or [])


def _common(p: argparse.ArgumentParser) -> None:
    from orcatui.model.durations import format_age
    from orcatui.model.runs import DEFAULT_STALE_AFTER_S

    p.add_argument(
        "root",
        type=_root,
        help="directory holding the status tables (Parquet or Delta), or an object-storage "
        "URL: s3://bucket/prefix, gs://…, az://…, abfs://…, file://…",
    )
    p.add_argument(
        "--storage-option",
        type=_storage_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="object-storage setting passed to the lister and to delta-rs alike (repeatable; "
        "e.g. AWS_ENDPOINT_URL=http://localhost:9000); the cloud's AWS_*/GOOGLE_*/AZURE_* "
        "environment variables are read too",
    )
    p.add_argument(
        "--stale-after",
        type=_duration,
        default=DEFAULT_STALE_AFTER_S,
        metavar="DURATION",
        help="a run without a run record is over after this long without events "
        f"(default {format_age(DEFAULT_STALE_AFTER_S)})",
    )
    p.add_argument(
        "--job",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="orcapod PipelineJob JSON giving node labels (repeatable)",
    )


def _at_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--at",
        metavar="TIME",
        help="the state as of TIME: ISO-8601 (2026-11-28T14:03:00Z, UTC unless an offset is "
        "given) or relative to now (-15m, -2h30m); events after it are ignored",
    )


def _join_at(argv: list[str]) -> list[str]:
    """``--at -15m`` as ``--at=-15m``: argparse would take ``-15m`` for an option."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--":
            out += [arg, *it]
            break
        if arg == "--at":
            nxt = next(it, None)
            if nxt is not None and nxt[:2] in {f"-{d}" for d in "0123456789"}:
                out.append(f"--at={nxt}")
                continue
            out.append(arg)
            if nxt is not None:
                out.append(nxt)
            continue
        out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = _Parser(
        prog="orcatui",
        description="A terminal monitor for data-pipeline runs (orcapod status tables).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from orcatui import __version__

    parser.add_argument("--version", action="version", version=f"orcatui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    watch = sub.add_parser(
        "watch",
        help="open the monitor on a root and follow it live",
        description="Open the monitor.",
    )
    _common(watch)
    mode = watch.add_mutually_exclusive_group()
    mode.add_argument(
        "--poll",
        type=_positive,
        metavar="SECONDS",
        help="poll every SECONDS instead of inotify (automatic on network filesystems)",
    )
    mode.add_argument(
        "--no-watch", action="store_true", help="a static view: read once, no updates"
    )
    watch.add_argument(
        "--bell",
        action="store_true",
        help="ring the terminal bell when a followed run ends, dies or first fails",
    )

    summary = sub.add_parser(
        "summary",
        help="print per-node counts, FAILED and LOST packets; exit code says if all is well",
        description="Summarise a root without starting the UI.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(summary)
    which = summary.add_mutually_exclusive_group()
    which.add_argument(
        "--run", metavar="ID", help="summarise this run, by id or unique prefix (default: newest)"
    )
    which.add_argument(
        "--all-runs", action="store_true", help="latest state per packet across all runs"
    )
    which.add_argument(
        "--diff",
        nargs="*",
        metavar="RUN",
        help="compare two runs: --diff [FROM [TO]] (ids or unique prefixes; FROM the older; "
        "default: each pipeline's newest run against its newest earlier run sharing a node; "
        "TO default: the newest run). Exit 1 if any packet regressed, 4 if data was unreadable",
    )
    summary.add_argument(
        "--json", action="store_true", help="print JSON, compact (shape in the README)"
    )
    summary.add_argument("--pretty", action="store_true", help="with --json: indent the JSON")
    _at_option(summary)
    summary.add_argument(
        "--all-failed",
        action="store_true",
        help="list every FAILED packet instead of grouping them by error",
    )

    report = sub.add_parser(
        "report",
        help="write a post-mortem (Markdown or HTML) of each pipeline's newest run, to paste",
        description="A self-contained post-mortem: the run, counts per node, error groups, "
        "LOST packets with their last output, the slowest packets, a text timeline.",
        epilog=_EPILOG.replace("(summary)", "(report, as summary)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(report)
    report.add_argument("--run", metavar="ID", help="report on this run (default: newest run)")
    report.add_argument("--format", choices=("markdown", "html"), default="markdown")
    report.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)"
    )
    _at_option(report)

    export = sub.add_parser(
        "export",
        help="write one row per packet to CSV, JSON Lines or Parquet",
        description="Export packets: pipeline, node, run_id, state, started, ended, duration_s, "
        "error, lost_reason, then one column per tag. Exit code: 0 written, 4 written but "
        "some data could not be read, 2 bad input (nothing written).",
    )
    _common(export)
    scope = export.add_mutually_exclusive_group()
    scope.add_argument("--run", metavar="ID", help="export this run (default: newest run)")
    scope.add_argument(
        "--all-runs", action="store_true", help="latest state per packet across all runs"
    )
    export.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="NAME",
        help="only this node (label, name or function; repeatable)",
    )
    export.add_argument(
        "--state",
        nargs="+",
        action="extend",
        default=[],
        metavar="STATE",
        help="only packets in these states (RUNNING SUCCESS FAILED CACHED LOST)",
    )
    export.add_argument(
        "--format",
        choices=("csv", "jsonl", "parquet"),
        help="output format (default: from -o FILE's suffix)",
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)"
    )
    _at_option(export)

    wait = sub.add_parser(
        "wait",
        help="block until no pipeline's newest run is live; exit like summary (124: timeout)",
        description="Wait until every pipeline's newest run under ROOT is over, then exit "
        "with summary's exit code (124 when --timeout runs out first).",
        epilog=_EPILOG + "  124  --timeout ran out while a run was still live\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(wait)
    wait.add_argument(
        "--timeout",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="give up after this long (e.g. 90s, 10m, 2h; default: wait forever)",
    )

    demo = sub.add_parser(
        "demo",
        help="run a realistic demo pipeline and open the monitor on it",
        description="Write a demo pipeline's status (three runs, one killed) and watch it.",
    )
    demo.add_argument("dir", nargs="?", type=Path, help="where to write (default: a new temp dir)")
    demo.add_argument("--sink", choices=("parquet", "delta"), default="parquet")
    demo.add_argument("--speed", type=_positive, default=1.0, metavar="FACTOR", help="speed-up")
    demo.add_argument("--no-ui", action="store_true", help="only write the data, then exit")
    return parser


def _fail(message: str) -> int:
    from orcatui.text import inert  # paths may hold escape sequences too

    sys.stderr.write(f"orcatui: {inert(message)}\n")
    return exitcodes.USAGE


def _load_monitor(args: argparse.Namespace) -> tuple[Monitor, list[str]]:
    from orcatui.model.monitor import Monitor
    from orcatui.store.store import check_any_root

    options = storage_options(args)
    check_any_root(args.root, options)
    monitor = Monitor(
        args.root, stale_after=args.stale_after, job_files=args.job, storage_options=options
    )
    result = monitor.refresh()
    return monitor, result.problems


class _NoPandas:
    """An import finder that reports pandas as not installed (see :func:`_arrow_without_pandas`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _arrow_without_pandas() -> None:
    """Tell pyarrow, once, that pandas is absent: ``summary`` never uses pandas.

    pyarrow imports pandas (0.2 s, most of ``summary``'s start-up) the first time almost any
    array is built, only to ask whether the object is a pandas one. It asks once per process;
    answering "no pandas" while it asks keeps pandas out. ``import pandas`` still works for
    any other code afterwards. Skipped when pandas is imported already.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pyarrow.lib._pandas_api.have_pandas  # noqa: B018 - the Python shim's one-time attempt
        pyarrow.array(["x"])  # the C++ converter's one-time attempt
    except Exception:
        pass
    finally:
        sys.meta_path.remove(finder)


def cmd_summary(args: argparse.Namespace) -> int:
    """``orcatui summary``."""
    # A one-shot process whose objects are all kept until it exits: the cyclic collector only
    # re-scans them (some 66 passes over the imports and the load) and would free nothing.
    gc.disable()
    _arrow_without_pandas()
    from orcatui.model.report import build_report, exit_code, write_report_json
    from orcatui.summary_text import render
    from orcatui.text import inert

    if args.pretty and not args.json:
        return _fail("--pretty needs --json")

    if args.at is not None:
        from orcatui.cmd_report import load, parse_at

        at = parse_at(args.at)  # a bad moment: ValueError, one line, exit 2
        monitor, problems = load(args, at)
    else:
        monitor, problems = _load_monitor(args)
    if not monitor.pipelines:
        return _fail(
            f"{args.root}: no status tables found (looked for */_status/**/execution_status)"
        )
    if args.diff is not None:
        from orcatui.cmd_diff import summary_diff

        return summary_diff(args, monitor, problems)
    if args.run:
        from orcatui.cmd_diff import resolve_run
        from orcatui.model.runids import RunIdError

        try:
            args.run = resolve_run(monitor, args.run)
        except RunIdError as exc:
            return _fail(f"{args.root}: {exc}")
    # Compact JSON: each node's FAILED list is encoded by Arrow passes (report_json).
    encoded = args.json and not args.pretty
    report = build_report(
        monitor, run_id=args.run, all_runs=args.all_runs, problems=problems, encoded=encoded
    )
    for note in monitor.clock_warnings():  # a skewed writer clock is no unreadable data
        sys.stderr.write(f"orcatui: warning: {inert(note)}\n")
    if args.json:
        for err in report["errors"]:
            sys.stderr.write(f"orcatui: warning: {inert(err)}\n")
        if encoded:
            write_report_json(report, sys.stdout)
        else:  # --pretty: indented by the pure-Python encoder
            text = json.dumps(report, indent=2, ensure_ascii=False, check_circular=False)
            sys.stdout.write(text)
            sys.stdout.write("\n")
    else:
        sys.stdout.write(render(report, sys.stdout, all_failed=args.all_failed))
    return exit_code(report)


def cmd_watch(args: argparse.Namespace) -> int:
    """``orcatui watch``."""
    from orcatui.model.naming import labels_from_job
    from orcatui.store.store import check_any_root

    check_any_root(args.root, storage_options(args))
    for job in args.job:
        labels_from_job(job)  # a bad --job file fails here, before the UI starts
    from orcatui.app import run_app

    return run_app(
        args.root,
        poll=args.poll,
        static=args.no_watch,
        stale_after=args.stale_after,
        job_files=args.job,
        bell=args.bell,
        problems_first=True,
        storage_options=storage_options(args),
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """``orcatui demo``."""
    from orcatui.demo import run_demo

    return run_demo(args.dir, sink=args.sink, speed=args.speed, ui=not args.no_ui)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``orcatui`` console script."""
    from orcatui.store.runtime import configure_process

    configure_process()  # before anything imports pyarrow
    parser = build_parser()
    args = parser.parse_args(_join_at(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return exitcodes.USAGE
    from orcatui.cmd_export import cmd_export
    from orcatui.cmd_report import cmd_report
    from orcatui.cmd_wait import cmd_wait
    from orcatui.store.store import RootError

    handlers = {
        "summary": cmd_summary,
        "watch": cmd_watch,
        "demo": cmd_demo,
        "report": cmd_report,
        "export": cmd_export,
        "wait": cmd_wait,
    }
    collecting = gc.isenabled()  # ``summary`` turns the collector off for its own process
    try:
        code = handlers[args.command](args)
    except RootError as exc:
        return _fail(str(exc))
    except (OSError, ValueError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    finally:
        if collecting and argv is not None:  # called from Python: leave the collector as found
            gc.enable()
    if argv is None and args.command in _ONE_SHOT:
        _leave(code)
    return code


#: Commands that read, print and end: the process leaves without the interpreter's teardown.
_ONE_SHOT = frozenset({"summary", "report", "export", "wait"})


def _leave(code: int) -> NoReturn:
    """End the process now with ``code``, once what was printed is flushed.

    A one-shot command's objects are all garbage at this point: the interpreter's teardown
    would only free them one by one (tens of ms after a 2 M-event load, some 15 ms of module
    teardown on a small store) before the process ends anyway. Only the console script and
    ``python -m orcatui`` come here (``main(argv)`` called from Python returns as usual).
    """
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (``| head``): nothing more can be shown
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
