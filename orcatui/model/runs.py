"""Runs: what the events say about them, their run records, and whether they are still live.

Run records are untrusted input: every field is validated, a bad one is named in
:attr:`RunRecord.problems` and treated as unknown. Liveness is decided here, once
(:func:`judge_run` for one writer's record, :func:`judge_writers` for a run's writers), and
which packets that makes LOST is decided by :func:`lost_reasons`.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from orcatui.model.durations import format_age

#: A run of orcapod data (no run record) is presumed over after this long without an event.
#: The one definition of the ``--stale-after`` default.
DEFAULT_STALE_AFTER_S = 600.0
#: A run record's heartbeat older than this many intervals means the writer is gone.
HEARTBEAT_GRACE = 3.0
#: The heartbeat interval assumed when a record gives none.
DEFAULT_HEARTBEAT_S = 5.0
#: The largest heartbeat interval believed (a day); beyond it the heartbeat is unknown.
MAX_HEARTBEAT_S = 86_400.0
#: Record times outside [2000-01-01, 2100-01-01) are not believed.
TIME_MIN, TIME_MAX = 946_684_800.0, 4_102_444_800.0
#: A heartbeat more than this far ahead of the reader's clock is not believed.
FUTURE_SLACK_S = 86_400.0
#: Linux pids are at most 2**22.
MAX_PID = 4_194_304
#: A writer clock further than this from the object store's (Last-Modified) is warned about.
CLOCK_WARN_S = 5.0
#: Outcomes a writer may record, mildest first; a run's outcome is its writers' worst.
OUTCOMES = ("completed", "interrupted", "failed")


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
    #: For a run that is not live, when it stopped: its last sign of life (newest event,
    #: heartbeat or recorded end, whichever is latest; never after the clock). A LOST packet's
    #: duration runs until then. None for a live run, or where it was not worked out.
    stopped_at: float | None = None

    @property
    def live(self) -> bool:
        """True while the run may still write events."""
        return self.liveness is Liveness.LIVE

    @property
    def shown_reason(self) -> str:
        """The reason as shown next to the liveness word (:func:`shown_reason`)."""
        return shown_reason(self.liveness, self.reason)


#: The words an ended run's reason starts with (``run ended (completed)``).
_ENDED = "run ended"


def shown_reason(liveness: Liveness, reason: str) -> str:
    """A verdict's reason as shown next to its liveness word, without repeating it.

    The model's reasons read as sentences, as LOST packets' reasons use them: ``run ended
    (interrupted)`` is shown as ``interrupted`` next to ``ended``, and a bare ``run ended`` as
    nothing. The app's header and the summary show a run's verdict this way.
    """
    if liveness is Liveness.ENDED:
        if reason.startswith(_ENDED + " (") and reason.endswith(")"):
            return reason[len(_ENDED) + 2 : -1]
        if reason == _ENDED:
            return ""
    return reason


@dataclass
class RunRecord:
    """One writer's run record (``_runs/<run_id>/<writer_id>.json``, or the older
    ``_runs/<run_id>.json``), validated; or several writers' records merged
    (:func:`merge_records`).

    A field that is missing or out of range is None (and named in ``problems``).
    """

    run_id: str
    pipeline_uri: str = ""
    host: str = ""
    pid: int | None = None
    pid_start_time: float | None = None
    started_at: float | None = None
    heartbeat_at: float | None = None
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_S
    ended_at: float | None = None
    outcome: str | None = None
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pid_start_ticks: int | None = None
    writer_id: str = ""
    #: Where the record was read from (relative to the root), "" if not known.
    source: str = ""
    #: False when the record's heartbeat interval was unusable: its heartbeat cannot be judged.
    interval_ok: bool = True
    #: One line per bad field (the field is treated as unknown).
    problems: tuple[str, ...] = ()
    #: How many writers' records this one merges (1 for a single record).
    writers: int = 1
    #: Object storage only (added by the reader, design.md §9): the reader's clock when it last
    #: saw ``heartbeat_at`` change (or first saw the record); None for a local record.
    seen_change_at: float | None = None
    #: Whether the reader has seen ``heartbeat_at`` change between two of its reads; until it
    #: has, liveness is judged post-mortem from the writer's heartbeat time.
    heartbeat_watched: bool = False
    #: The store's Last-Modified minus the written ``heartbeat_at`` (seconds; > 0: the writer's
    #: clock is behind the store's); None when unknown.
    clock_offset_s: float | None = None

    @classmethod
    def from_json(cls, data: Any, *, source: str | None = None) -> RunRecord:
        """Validate a run record's JSON; raises ``ValueError`` only when it has no run id.

        Times may be ISO strings or epoch seconds. ``source`` (else ``data["_record_path"]``)
        names the file in problems.
        """
        if not isinstance(data, dict):
            raise ValueError("not a run record (not a JSON object)")
        run_id = data.get("run_id")
        if isinstance(run_id, bool) or not isinstance(run_id, str | int) or str(run_id) == "":
            raise ValueError("not a run record (no run_id)")
        if source is None:
            source = str(data.get("_record_path") or "")
        bad: list[str] = []

        def note(name: str, value: Any) -> None:
            shown = repr(value)
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            bad.append(f"field {name} = {shown} is not valid; treated as unknown")

        def text(name: str) -> str:
            v = data.get(name)
            if v is None:
                return ""
            if isinstance(v, str):
                return v
            note(name, v)
            return ""

        pid = data.get("pid")
        if pid is not None and not _int_in(pid, 1, MAX_PID):
            note("pid", pid)
            pid = None
        ticks = data.get("pid_start_ticks")
        if ticks is not None and not _int_in(ticks, 0, 2**62):
            note("pid_start_ticks", ticks)
            ticks = None
        start_time = data.get("pid_start_time")
        if start_time is not None:
            start_time = _finite(start_time)
            if start_time is None or not 0 <= start_time < TIME_MAX:
                note("pid_start_time", data.get("pid_start_time"))
                start_time = None
        times = {}
        for name in ("started_at", "heartbeat_at", "ended_at"):
            raw = data.get(name)
            times[name] = _epoch(raw)
            if raw is not None and times[name] is None:
                note(name, raw)
        interval = data.get("heartbeat_interval_s")
        interval_ok = True
        if interval is None:
            interval = DEFAULT_HEARTBEAT_S
        else:
            value = _finite(interval)
            if value is None or not 0 < value <= MAX_HEARTBEAT_S:
                note("heartbeat_interval_s", interval)
                interval, interval_ok = DEFAULT_HEARTBEAT_S, False
            else:
                interval = value
        outcome = data.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            note("outcome", outcome)
            outcome = None
        nodes: dict[str, dict[str, Any]] = {}
        raw_nodes = data.get("nodes")
        if isinstance(raw_nodes, dict):
            for ident, info in raw_nodes.items():
                if isinstance(info, dict):
                    nodes[str(ident)] = _node_info(str(ident), info, bad)
                else:
                    note(f"nodes[{ident!r}]", info)
        elif raw_nodes is not None:
            note("nodes", raw_nodes)
        writer = data.get("writer_id")
        seen = _finite(data.get("_seen_change_at"))
        offset = _finite(data.get("_clock_offset_s"))
        rec = cls(
            run_id=str(run_id),
            pipeline_uri=text("pipeline_uri"),
            host=text("host"),
            pid=int(pid) if pid is not None else None,
            pid_start_time=start_time,
            started_at=times["started_at"],
            heartbeat_at=times["heartbeat_at"],
            heartbeat_interval_s=float(interval),
            ended_at=times["ended_at"],
            outcome=outcome,
            nodes=nodes,
            pid_start_ticks=int(ticks) if ticks is not None else None,
            writer_id=writer if isinstance(writer, str) else "",
            source=source,
            interval_ok=interval_ok,
            seen_change_at=seen,
            heartbeat_watched=data.get("_heartbeat_watched") is True,
            clock_offset_s=offset if offset is not None and abs(offset) < 1e9 else None,
        )
        where = source or f"run record of {rec.run_id}"
        rec.problems = tuple(f"{where}: {b}" for b in bad)
        return rec

    @property
    def writer_key(self) -> str:
        """What tells this writer's record apart from the other writers' of the run."""
        return self.source or self.writer_id or ""


def _int_in(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        f = float(v)
    except OverflowError:  # an int too large for a float
        return None
    return f if math.isfinite(f) else None


def _epoch(v: Any) -> float | None:
    """Epoch seconds from a number or an ISO string, within [TIME_MIN, TIME_MAX); else None."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        f = _finite(v)
    elif isinstance(v, str) and len(v) <= 64:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            f = dt.timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    else:
        return None
    return f if f is not None and TIME_MIN <= f < TIME_MAX else None


def _node_info(ident: str, info: dict[str, Any], bad: list[str]) -> dict[str, Any]:
    out = dict(info)
    label = info.get("label")
    if label is not None and not isinstance(label, str):
        bad.append(f"field nodes[{ident!r}].label is not text; ignored")
        out.pop("label")
    if "total" in info:
        total = info["total"]
        if isinstance(total, float) and math.isfinite(total) and total.is_integer():
            total = int(total)
        if not _int_in(total, 0, 2**53):
            bad.append(f"field nodes[{ident!r}].total = {total!r:.40} is not valid; ignored")
            out.pop("total")
        else:
            out["total"] = total
    return out


def _outcome_rank(outcome: str | None) -> int:
    return OUTCOMES.index(outcome) + 1 if outcome in OUTCOMES else 0


def merge_records(records: Sequence[RunRecord]) -> RunRecord:
    """The writers of one run as one record (per the run-record contract).

    started_at the earliest; heartbeat_at the latest; ended_at the latest and outcome the worst
    (failed > interrupted > completed) once every writer has ended, else None; node labels
    merged; a node's ``total`` the largest declaration.
    """
    if len(records) == 1:
        return records[0]
    first = records[0]
    starts = [r.started_at for r in records if r.started_at is not None]
    beats = [r.heartbeat_at for r in records if r.heartbeat_at is not None]
    all_ended = all(r.ended_at is not None for r in records)
    nodes: dict[str, dict[str, Any]] = {}
    for r in records:
        for ident, info in r.nodes.items():
            merged = nodes.setdefault(ident, {})
            for k, v in info.items():
                if k == "total":
                    merged["total"] = max(merged.get("total", v), v)
                elif k == "label" and v:
                    merged.setdefault("label", v)
                else:
                    merged.setdefault(k, v)
    return RunRecord(
        run_id=first.run_id,
        pipeline_uri=next((r.pipeline_uri for r in records if r.pipeline_uri), ""),
        host=first.host if all(r.host == first.host for r in records) else "",
        started_at=min(starts) if starts else None,
        heartbeat_at=max(beats) if beats else None,
        ended_at=max(r.ended_at for r in records) if all_ended else None,  # type: ignore[type-var]
        outcome=max((r.outcome for r in records), key=_outcome_rank) if all_ended else None,
        nodes=nodes,
        problems=tuple(p for r in records for p in r.problems),
        writers=len(records),
    )


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


def process_gone_reason(
    pid: int, pid_start_time: float | None = None, pid_start_ticks: int | None = None
) -> str | None:
    """Why ``pid`` on this host no longer runs the process that wrote a record; None if it may.

    Gone: no such process, a zombie (killed, not yet reaped), or the pid now belongs to a process
    that started at another time (exactly by ``pid_start_ticks``; else, to the second, by the
    epoch ``pid_start_time``; a small ``pid_start_time`` is taken as raw ticks, as old
    writers wrote it).
    """
    from observers import procinfo  # lazily: the observers package imports pyarrow

    if not _int_in(pid, 1, MAX_PID):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process gone (pid {pid})"
    except (PermissionError, OverflowError, OSError):
        pass  # another user's process: it exists
    if procinfo.state(pid) == "Z":
        return f"process gone (pid {pid} is a zombie)"
    ticks = procinfo.start_ticks(pid)
    if ticks is None:
        return None
    reused = f"process gone (pid {pid} now belongs to another process)"
    if pid_start_ticks is not None:
        return reused if pid_start_ticks != ticks else None
    if pid_start_time is None:
        return None
    boot = procinfo.boot_time()
    if pid_start_time > 1e8:
        if boot is None:
            return None
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        return reused if abs(started - pid_start_time) > 2.0 else None
    return reused if int(pid_start_time) != ticks else None


def process_gone(
    pid: int, pid_start_time: float | None, pid_start_ticks: int | None = None
) -> bool:
    """Whether ``pid`` on this host no longer runs the process that wrote the record."""
    return process_gone_reason(pid, pid_start_time, pid_start_ticks) is not None


THIS_HOST = socket.gethostname()


def _by_events(
    stats: RunStats | None,
    *,
    now: float,
    stale_after: float,
    newer_run_start: float | None,
    prefix: str = "",
) -> Verdict:
    """A run judged by its events alone (no usable run record)."""
    if stats is None:
        return Verdict(Liveness.OVER, prefix + "no events", Certainty.PRESUMED)
    last = stats.last_us / 1e6
    idle = now - last
    if newer_run_start is not None and last <= newer_run_start:
        return Verdict(Liveness.OVER, prefix + "a newer run has started", Certainty.PRESUMED)
    if idle > stale_after:
        return Verdict(
            Liveness.OVER, f"{prefix}no event for {format_age(idle)}", Certainty.PRESUMED
        )
    return Verdict(
        Liveness.LIVE, f"{prefix}last event {format_age(max(idle, 0))} ago", Certainty.PRESUMED
    )


def judge_run(
    stats: RunStats | None,
    record: RunRecord | None,
    *,
    now: float,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    newer_run_started: bool = False,
    this_host: str = THIS_HOST,
    check_process: bool = True,
    newer_run_start: float | None = None,
) -> Verdict:
    """Liveness of a run from its events and one writer's record (docs/design.md §5).

    Without a record, or with a record whose heartbeat cannot be judged (both times missing or
    unbelievable, a bad interval), the run is judged by its events: over when a newer run
    started after its last event (``newer_run_start``; ``newer_run_started`` is the older
    form, meaning the newer run started after everything), or after ``stale_after`` without
    an event.
    """
    if newer_run_start is None and newer_run_started and stats is not None:
        newer_run_start = stats.last_us / 1e6
    events = dict(now=now, stale_after=stale_after, newer_run_start=newer_run_start)
    if record is None:
        return _by_events(stats, **events)  # type: ignore[arg-type]
    if record.ended_at is not None:
        outcome = record.outcome or "ended"
        return Verdict(Liveness.ENDED, f"{_ENDED} ({outcome})", Certainty.CERTAIN)
    if check_process and record.host == this_host and record.pid is not None:
        gone = process_gone_reason(record.pid, record.pid_start_time, record.pid_start_ticks)
        if gone:
            return Verdict(Liveness.DEAD, gone, Certainty.CERTAIN)
    if record.seen_change_at is not None:
        return _judge_watched(stats, record, now=now, this_host=this_host, events=events)
    beat = record.heartbeat_at if record.heartbeat_at is not None else record.started_at
    if beat is None or not record.interval_ok or beat > now + FUTURE_SLACK_S:
        return _by_events(stats, prefix="heartbeat unknown; ", **events)  # type: ignore[arg-type]
    if now - beat > HEARTBEAT_GRACE * record.heartbeat_interval_s:
        return Verdict(
            Liveness.DEAD,
            f"heartbeat stopped {format_age(now - beat)} ago",
            Certainty.LIKELY if record.host != this_host else Certainty.CERTAIN,
        )
    return Verdict(Liveness.LIVE, "heartbeat fresh", Certainty.CERTAIN)


def _judge_watched(
    stats: RunStats | None,
    record: RunRecord,
    *,
    now: float,
    this_host: str,
    events: dict[str, Any],
) -> Verdict:
    """An open record read from object storage: its heartbeat judged by the reader's clock.

    Once the reader has seen ``heartbeat_at`` change, the writer is dead when the reader has
    not seen it change for 3 intervals of its own clock (the writer's clock never enters).
    Before that (post-mortem: a first read, or a heartbeat that never moved while watched),
    the writer's heartbeat time is used, shifted by the writer's clock offset when the store
    gave one (that is the record's Last-Modified, on the store's clock), and the reason says so.
    """
    limit = HEARTBEAT_GRACE * record.heartbeat_interval_s
    certainty = Certainty.LIKELY if record.host != this_host else Certainty.CERTAIN
    if not record.interval_ok:
        return _by_events(stats, prefix="heartbeat unknown; ", **events)
    if record.heartbeat_watched and record.seen_change_at is not None:
        silent = now - record.seen_change_at
        if silent > limit:
            return Verdict(
                Liveness.DEAD,
                f"heartbeat not seen changing for {format_age(silent)} (this reader's clock)",
                certainty,
            )
        return Verdict(Liveness.LIVE, "heartbeat fresh", Certainty.CERTAIN)
    beat = record.heartbeat_at if record.heartbeat_at is not None else record.started_at
    if beat is None:
        return _by_events(stats, prefix="heartbeat unknown; ", **events)
    if record.clock_offset_s is not None:
        beat += record.clock_offset_s
        how = "the writer's heartbeat time, corrected by its clock offset"
    else:
        how = "the writer's clock"
    if beat > now + FUTURE_SLACK_S:
        return _by_events(stats, prefix="heartbeat unknown; ", **events)
    if now - beat > limit:
        return Verdict(
            Liveness.DEAD,
            f"heartbeat stopped {format_age(now - beat)} ago (post-mortem: by {how})",
            certainty,
        )
    return Verdict(Liveness.LIVE, f"heartbeat fresh (by {how})", Certainty.CERTAIN)


def clock_warning(record: RunRecord) -> str | None:
    """A warning line when a writer's clock is off the object store's by more than
    :data:`CLOCK_WARN_S` (liveness is judged by the reader's clock regardless); else None."""
    offset = record.clock_offset_s
    if offset is None or abs(offset) <= CLOCK_WARN_S:
        return None
    where = record.source or f"run record of {record.run_id}"
    side = "behind" if offset > 0 else "ahead of"
    host = f" on {record.host}" if record.host else ""
    return (
        f"{where}: the writer's clock{host} is {abs(offset):.0f}s {side} the object store's; "
        "its timestamps are off by that much (liveness is judged by this reader's clock)"
    )


_RANK = {Liveness.LIVE: 0, Liveness.DEAD: 1, Liveness.OVER: 2, Liveness.ENDED: 3}


def judge_writers(
    stats: RunStats | None,
    records: Sequence[RunRecord],
    *,
    now: float,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    newer_run_start: float | None = None,
    this_host: str = THIS_HOST,
    check_process: bool = True,
) -> Verdict:
    """A run's liveness from all its writers' records (the run-record contract).

    LIVE while any writer is live; else DEAD if any writer is dead (with that writer's reason);
    else over (a writer judged by events); else ENDED with the worst outcome.
    """
    kw = dict(
        now=now,
        stale_after=stale_after,
        newer_run_start=newer_run_start,
        this_host=this_host,
        check_process=check_process,
    )
    if not records:
        return judge_run(stats, None, **kw)  # type: ignore[arg-type]
    verdicts = [judge_run(stats, r, **kw) for r in records]  # type: ignore[arg-type]
    best = min(verdicts, key=lambda v: _RANK[v.liveness])
    if len(records) > 1 and best.liveness is Liveness.LIVE:
        live = sum(v.live for v in verdicts)
        return Verdict(
            best.liveness, f"{best.reason} ({live} of {len(records)} writers live)", best.certainty
        )
    if best.liveness is Liveness.ENDED and len(records) > 1:
        worst = max((r.outcome for r in records), key=_outcome_rank) or "ended"
        return Verdict(Liveness.ENDED, f"{_ENDED} ({worst})", Certainty.CERTAIN)
    return best


def last_sign_of_life(stats: RunStats | None, record: RunRecord | None, now: float) -> float | None:
    """When a run last showed it was alive: its newest event, its record's heartbeat or its
    recorded end, whichever is latest, leaving out record times after ``now`` (a writer's clock
    ahead of the reader's); None with neither events nor record times."""
    signs = [stats.last_us / 1e6] if stats is not None else []
    if record is not None:
        signs += [t for t in (record.heartbeat_at, record.ended_at) if t is not None and t <= now]
    return max(signs) if signs else None


def lost_reasons(verdicts: Mapping[str, Verdict]) -> dict[str, str]:
    """THE rule for LOST: a RUNNING packet of a run that is not live is LOST, for this reason.

    Returns run id → the reason shown with its LOST packets (with the verdict's certainty).
    """
    return {r: f"{v.reason} ({v.certainty.value})" for r, v in verdicts.items() if not v.live}


def record_problems(records: Iterable[RunRecord]) -> list[str]:
    """Every problem of some records, one line each."""
    return [p for r in records for p in r.problems]
