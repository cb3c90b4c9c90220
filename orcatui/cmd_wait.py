"""``orcatui wait ROOT [--timeout DURATION]``: the command around :mod:`orcatui.waiting`.

Blocks until no pipeline's newest run under ROOT is live, then exits like ``summary`` (0/1/3/4),
or 124 when ``--timeout`` runs out first. On a terminal, stderr shows one progress line, redrawn
in place; elsewhere (CI logs, pipes) nothing is printed while waiting, and one final line says
how it ended. Textual-free and Rich-free: it starts as fast as ``summary``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from orcatui import exitcodes

_OUTCOME = {
    exitcodes.OK: "all runs over: all good",
    exitcodes.FAILED: "all runs over: FAILED packets present",
    exitcodes.LOST: "all runs over: LOST packets present",
    exitcodes.UNREADABLE: "all runs over: some data could not be read",
    exitcodes.TIMEOUT: "timed out while a run was still live",
}


class TtyLine:
    """One status line on a terminal, redrawn in place (``\\r`` + erase line)."""

    def __init__(self, stream: TextIO, width: int = 200) -> None:
        self.stream = stream
        self.width = width
        self.drawn = False

    def __call__(self, line: str) -> None:
        """Replace the line shown with ``line`` (sanitised, cut to the width)."""
        from orcatui.text import inert

        text = inert(line)
        if len(text) > self.width:
            text = text[: self.width - 1] + "…"
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the line (the next output starts on a fresh line)."""
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.drawn = False


def _width(stream: TextIO) -> int:
    import shutil

    return max(shutil.get_terminal_size((120, 24)).columns - 1, 20)


def cmd_wait(args: argparse.Namespace) -> int:
    """``orcatui wait``: wait, then exit with the summary's code (124 on timeout)."""
    from orcatui.cli import _arrow_without_pandas, storage_options
    from orcatui.waiting import wait_until_done

    _arrow_without_pandas()
    timeout = args.timeout
    if timeout is not None and timeout < 0:
        sys.stderr.write("orcatui: --timeout must be >= 0\n")
        return exitcodes.USAGE
    line = TtyLine(sys.stderr, _width(sys.stderr)) if sys.stderr.isatty() else None
    try:
        code = wait_until_done(
            args.root,
            timeout,
            stale_after=args.stale_after,
            progress=line,
            job_files=tuple(args.job),
            storage_options=storage_options(args),
        )
    finally:
        if line is not None:
            line.finish()
    sys.stderr.write(f"orcatui wait: {_OUTCOME.get(code, f'exit {code}')}\n")
    return code
