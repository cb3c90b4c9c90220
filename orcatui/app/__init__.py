"""The Textual app. Import :func:`run_app` lazily: the CLI imports this only for ``watch``."""

from __future__ import annotations

from pathlib import Path


def run_app(
    root: Path,
    *,
    poll: float | None,
    static: bool,
    stale_after: float,
    job_files: list[Path],
) -> int:
    """Run the monitor on ``root`` until the user quits; returns the exit code."""
    from orcatui.app.main import OrcaApp

    app = OrcaApp(root, poll=poll, static=static, stale_after=stale_after, job_files=job_files)
    result = app.run()
    return int(result or 0)
