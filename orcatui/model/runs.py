"""Runs: what the events say about them, their run records, and whether they are still live."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from orcatui.model.durations import format_age

#: A run of orcapod data (no run record) is presumed over after this long without an event.
DEFAULT_STALE_AFTER_S = 600.0
#: A run record's heartbeat older than this many intervals means the writer is gone.
HEARTBEAT_GRACE = 3.0


class Liveness(Enum):
    """Whether a run can still write events."""

    LIVE = "live"
    ENDED = "ended"
    DEAD = "dead"
    OVER = "over"


class Certainty(Enum):
    """How sure a liveness verdict is."""

    CERTAIN = "certain"  # the run said it ended, or its process is gone
    LIKELY = "likely"  # the heartbeat stopped
    PRESUMED = "presumed"  # no run record: judged from the age of its newest event


@dataclass(frozen=True)
class Verdict:
    """A run's liveness, why, and how sure that is."""

    liveness: Liveness
    reason: str
    certainty: Certainty

    @property
    def live(self) -> bool:
        """True while the run may still write events."""
        return self.liveness is Liveness.LIVE


@dataclass
class RunRecord:
    """A run record written by our observers (``_runs/<run_id>.json``, DESIGN §3)."""

    run_id: str
    pipeline_uri: str = ""
    host: str = ""
    pid: int | None = None
    pid_start_time: float | None = None
    started_at: float | None = None
    heartbeat_at: float | None = None
    heartbeat_interval_s: float = 5.0
    ended_at: float | None = None
    outcome: str | None = None
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """Parse a run record; timestamps may be ISO strings or epoch seconds."""
        if not isinstance(data, dict) or not data.get("run_id"):
            raise ValueError("not a run record (no run_id)")
        pid = data.get("pid")
        return cls(
            run_id=str(data["run_id"]),
            pipeline_uri=str(data.get("pipeline_uri") or ""),
            host=str(data.get("host") or ""),
            pid=int(pid) if isinstance(pid, int | float | str) and str(pid).isdigit() else None,
            pid_start_time=_num(data.get("pid_start_time")),
            started_at=_epoch(data.get("started_at")),
            heartbeat_at=_epoch(data.get("heartbeat_at")),
            heartbeat_interval_s=_num(data.get("heartbeat_interval_s")) or 5.0,
            ended_at=_epoch(data.get("ended_at")),
            outcome=data.get("outcome"),
            nodes=data.get("nodes") if isinstance(data.get("nodes"), dict) else {},
        )

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        """Read a run record file (raises ``OSError``/``ValueError`` on a bad file)."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _num(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _epoch(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        dt = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass
class RunStats:
    """What a pipeline's events say about one of its runs."""

    run_id: str
    first_us: int
    last_us: int
    events: int = 0
    pipeline_uri: str = ""

    def absorb(self, first_us: int, last_us: int, events: int) -> None:
        """Widen with another batch's figures."""
        self.first_us = min(self.first_us, first_us)
        self.last_us = max(self.last_us, last_us)
        self.events += events


def _proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime), counted after the ")" that ends the command name.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_gone(pid: int, pid_start_time: float | None) -> bool:
    """Whether ``pid`` on this host no longer runs the process that wrote the record."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    if pid_start_time is None:
        return False
    ticks = _proc_start_ticks(pid)
    if ticks is None:
        return False
    clk = os.sysconf("SC_CLK_TCK")
    boot = _boot_time()
    if pid_start_time > 1e8 and boot is not None:
        # Epoch seconds: compare with the process's start time, to the second.
        return abs((boot + ticks / clk) - pid_start_time) > 2.0
    return int(pid_start_time) != ticks  # raw ticks


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


THIS_HOST = socket.gethostname()


def judge_run(
    stats: RunStats | None,
    record: RunRecord | None,
    *,
    now: float,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    newer_run_started: bool = False,
    this_host: str = THIS_HOST,
    check_process: bool = True,
) -> Verdict:
    """Run liveness by DESIGN §4 — the one rule used by the summary and the monitor alike."""
    if record is not None:
        if record.ended_at is not None:
            outcome = record.outcome or "ended"
            return Verdict(Liveness.ENDED, f"run ended ({outcome})", Certainty.CERTAIN)
        local = check_process and record.host == this_host and record.pid is not None
        if local and process_gone(record.pid, record.pid_start_time):  # type: ignore[arg-type]
            return Verdict(Liveness.DEAD, f"process gone (pid {record.pid})", Certainty.CERTAIN)
        beat = record.heartbeat_at or record.started_at
        if beat is not None and now - beat > HEARTBEAT_GRACE * record.heartbeat_interval_s:
            return Verdict(
                Liveness.DEAD,
                f"heartbeat stopped {format_age(now - beat)} ago",
                Certainty.LIKELY if record.host != this_host else Certainty.CERTAIN,
            )
        return Verdict(Liveness.LIVE, "heartbeat fresh", Certainty.CERTAIN)
    if stats is None:
        return Verdict(Liveness.OVER, "no events", Certainty.PRESUMED)
    idle = now - stats.last_us / 1e6
    if newer_run_started:
        return Verdict(Liveness.OVER, "a newer run has started", Certainty.PRESUMED)
    if idle > stale_after:
        return Verdict(Liveness.OVER, f"no event for {format_age(idle)}", Certainty.PRESUMED)
    return Verdict(Liveness.LIVE, f"last event {format_age(max(idle, 0))} ago", Certainty.PRESUMED)
