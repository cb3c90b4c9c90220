"""The Textual app. Import :func:`run_app` lazily: the CLI imports this only for ``watch``."""

from __future__ import annotations

from pathlib import Path


def run_app(
    root: Path | str,
    *,
    poll: float | None,
    static: bool,
    stale_after: float,
    job_files: list[Path],
    bell: bool = False,
    problems_first: bool = False,
    storage_options: dict[str, str] | None = None,
) -> int:
    """Run the monitor on ``root`` until the user quits; returns the exit code.

    ``bell``: ring the terminal bell on run events; ``problems_first``: open on the problems
    view when the shown runs have problems.
    """
    from orcatui.app.main import OrcaApp

    app = OrcaApp(
        root,
        poll=poll,
        static=static,
        stale_after=stale_after,
        job_files=job_files,
        bell=bell,
        problems_first=problems_first,
        storage_options=storage_options,
    )
    result = app.run()
    return int(result or 0)
