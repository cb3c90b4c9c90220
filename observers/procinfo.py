"""What ``/proc`` says about a process: its start time and its state (Linux; ``None`` elsewhere).

One parser, used by the writers (to stamp a run record with the process that wrote it) and by the
reader (to tell whether that process still runs).
"""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3… of ``/proc/<pid>/stat`` (after the command name, which may hold ``)``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
        return stat[stat.rindex(")") + 2 :].split()
    except (OSError, ValueError):
        return None


def start_ticks(pid: int) -> int | None:
    """The process's ``starttime`` (field 22): clock ticks after boot, exact; None if unknown."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def state(pid: int) -> str | None:
    """The state letter (field 3: ``R``, ``S``, ``Z`` for a zombie, …); None if unknown."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def boot_time() -> float | None:
    """Seconds since the epoch at which this host booted (``btime`` in ``/proc/stat``)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def process_start(pid: int) -> tuple[float | None, int | None]:
    """``(seconds since the epoch, raw starttime ticks)`` of process ``pid`` from /proc."""
    ticks = start_ticks(pid)
    if ticks is None:
        return None, None
    btime = boot_time()
    if btime is None:
        return None, ticks
    return btime + ticks / os.sysconf("SC_CLK_TCK"), ticks
