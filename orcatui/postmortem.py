"""``orcatui report``: a self-contained post-mortem of runs, as Markdown or HTML, to paste.

For each pipeline's newest run (or the run asked for): the run (start; end, or moment of death
and why; outcome), counts per node, the FAILED packets (or error groups, see
:data:`GroupErrors`), every LOST packet with its tags, when it started and the last lines of its
captured stdout/stderr/logs, the slowest packets, and a small text timeline.

Untrusted text (tags, errors, node names, output) never becomes markup: it is first made inert
by :mod:`orcatui.text` (no escapes, control or bidi characters), then, in Markdown, put in code
spans or fenced blocks whose fences are longer than any backtick run in the text (no emphasis,
links, HTML, headings, mentions or autolinks inside code; ``|`` escaped in table cells, newlines
never inside a cell); in HTML, entity-escaped and served under a Content-Security-Policy that
allows no script. Pure functions over a :class:`Monitor` (or an as-of monitor for ``--at``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orcatui import exitcodes
from orcatui.model.durations import format_duration
from orcatui.model.logs import LogRow
from orcatui.model.monitor import Monitor, NodeKey, Pipeline, RunInfo
from orcatui.model.states import SHOWN_STATES
from orcatui.model.timeline import build_timeline, layout, moment_of_death, render_text
from orcatui.model.views import View, duration_stats
from orcatui.text import inert, strip_escapes

FORMATS = ("markdown", "html")
#: How many lines of each captured stream a LOST packet shows.
TAIL_LINES = 20
TAIL_CHARS = 4000
FAILED_SHOWN = 50
SLOWEST = 10
INLINE_LIMIT = 300
_FINISHED = pa.array(["SUCCESS", "FAILED"])
TIMELINE_WIDTH = 64


@dataclass(frozen=True)
class FailedPacket:
    """A FAILED packet of the run."""

    node: str
    run_id: str
    tags: dict[str, Any]
    error: str | None
    traceback: str | None = None  # from the packet's newest log row, for error grouping
    ts_us: int | None = None


@dataclass(frozen=True)
class ErrorGroup:
    """Packets failing the same way (from the error-triage rules, when they are given)."""

    signature: str
    count: int
    nodes: tuple[str, ...]
    example: FailedPacket


#: The seam for error triage (``orcatui/model/errors.py``): a function grouping FAILED packets.
#: Without one, the report lists the FAILED packets themselves.
GroupErrors = Callable[[Sequence[FailedPacket]], Sequence[ErrorGroup]]


@dataclass(frozen=True)
class LostPacket:
    """A LOST packet: where, its tags, since when, why, and its newest captured output."""

    node: str
    run_id: str
    tags: dict[str, Any]
    started: float | None
    reason: str | None
    log: LogRow | None


@dataclass(frozen=True)
class SlowPacket:
    """One of the slowest finished packets."""

    node: str
    tags: dict[str, Any]
    state: str
    duration_s: float


@dataclass(frozen=True)
class NodeLine:
    """A node's counts and durations in the run."""

    name: str
    counts: dict[str, int]
    median_s: float | None
    max_s: float | None


@dataclass
class RunPostMortem:
    """Everything the report says about one run."""

    pipeline: Pipeline
    run: RunInfo
    death: float | None
    nodes: list[NodeLine] = field(default_factory=list)
    failed: list[FailedPacket] = field(default_factory=list)
    lost: list[LostPacket] = field(default_factory=list)
    slowest: list[SlowPacket] = field(default_factory=list)
    timeline: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Packets per state over all nodes."""
        return {s: sum(n.counts.get(s, 0) for n in self.nodes) for s in SHOWN_STATES}


def _tags(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {t: row.get(t) for t in names if row.get(t) is not None}


def _tracebacks(monitor: Monitor, key: NodeKey, failed: pa.Table) -> list[str | None]:
    """Per FAILED row, the traceback of its newest log row (None: none), in one lookup."""
    if failed.num_rows == 0:
        return []
    pipeline, identity = key
    logs = monitor.pipelines[pipeline].nodes[identity].logs
    table = logs.table()
    if table is None or table.num_rows == 0:
        return [None] * failed.num_rows
    table = table.filter(pc.is_valid(table.column("traceback")))
    if table.num_rows == 0:
        return [None] * failed.num_rows
    table = table.sort_by([("ts", "descending")])  # index_in picks the first: the newest
    where = pc.index_in(failed.column("key"), value_set=table.column("key").combine_chunks())
    return pc.take(table.column("traceback"), where).to_pylist()


def build_postmortem(
    monitor: Monitor, run_id: str | None = None, now: float | None = None
) -> list[RunPostMortem]:
    """The post-mortem of each pipeline's newest run, or of ``run_id`` where a pipeline has it."""
    now = monitor.clock() if now is None else now
    views: dict[Pipeline, View] = {}
    for name, model in monitor.pipelines.items():
        if run_id is None:
            views[name] = View()
        elif run_id in model.runs or run_id in model.records:
            views[name] = View(run_id=run_id)
    out = []
    for info in monitor.snapshot(views, now).pipelines:
        if info.name not in views or info.run is None:
            continue
        verdicts = monitor.verdicts(info.name, now)
        pm = RunPostMortem(
            info.name, info.run, moment_of_death(monitor, info.name, info.run.run_id)
        )
        slow: list[SlowPacket] = []
        for node in info.nodes:
            title = node.name.title
            rows = monitor.packet_rows(node.key, View(run_id=info.run.run_id), now, verdicts)
            median, longest = duration_stats(rows)
            pm.nodes.append(NodeLine(title, dict(node.counts), median, longest))
            state = rows.column("state")
            failed = rows.filter(pc.equal(state, "FAILED"))
            tracebacks = _tracebacks(monitor, node.key, failed)
            for r, tb in zip(failed.to_pylist(), tracebacks, strict=True):
                pm.failed.append(
                    FailedPacket(
                        title, r["run_id"], _tags(r, node.tags), r["error"], tb, r["ts_us"]
                    )
                )
            for r in rows.filter(pc.equal(state, "LOST")).to_pylist():
                log = monitor.details(node.key, r).log
                started = r["started_us"] / 1e6 if r["started_us"] is not None else None
                pm.lost.append(
                    LostPacket(
                        title, r["run_id"], _tags(r, node.tags), started, r["lost_reason"], log
                    )
                )
            finished = rows.filter(pc.is_in(state, _FINISHED))
            if finished.num_rows:
                durations = pc.fill_null(finished.column("duration_s"), -1.0)
                top = pc.select_k_unstable(
                    finished.append_column("_d", durations), SLOWEST, [("_d", "descending")]
                )
                for r in finished.take(top).to_pylist():
                    if r["duration_s"] is not None:
                        slow.append(
                            SlowPacket(title, _tags(r, node.tags), r["state"], r["duration_s"])
                        )
        pm.slowest = sorted(slow, key=lambda p: -p.duration_s)[:SLOWEST]
        tl = build_timeline(monitor, info.name, info.run.run_id, now)
        if tl is not None and tl.lanes:
            pm.timeline = render_text(layout(tl, TIMELINE_WIDTH))
        out.append(pm)
    return out


def report_exit_code(runs: Sequence[RunPostMortem], unreadable: bool) -> int:
    """The exit code, by the same precedence as ``summary`` (:func:`exitcodes.worst`)."""
    lost = any(r.counts["LOST"] for r in runs)
    failed = any(r.counts["FAILED"] for r in runs)
    return exitcodes.worst(lost=lost, unreadable=unreadable, failed=failed)


# -- text helpers --------------------------------------------------------------------------------
def _iso(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tail(text: str | None, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines (at most ``chars`` characters) of captured output, sanitised."""
    if not text:
        return ""
    clean = strip_escapes(text[-chars * 4 :]).rstrip("\n")
    kept = clean.split("\n")[-lines:]
    out = "\n".join(kept)
    return out[-chars:]


def _tag_text(tags: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags.items())


_BACKTICKS = re.compile(r"`+")


def md_code(value: Any, *, in_table: bool = False, limit: int = INLINE_LIMIT) -> str:
    """Untrusted text as one inert Markdown code span ("" for nothing).

    The delimiter is one backtick longer than the longest run inside; a space pads the ends
    when the text starts or ends with a backtick or a space (CommonMark strips one each side).
    In a table cell ``|`` is escaped (GFM splits cells before reading code spans).
    """
    if value is None:
        return ""
    text = _cut(inert(value), limit)
    if not text:
        return ""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def md_block(text: str) -> str:
    """Untrusted multi-line text as a fenced code block (the fence outruns any backticks)."""
    clean = strip_escapes(text)
    longest = max((len(m) for m in _BACKTICKS.findall(clean)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{clean}\n{fence}"


def _h(value: Any, limit: int = INLINE_LIMIT) -> str:
    return "" if value is None else html.escape(_cut(inert(value), limit), quote=True)


# -- Markdown ------------------------------------------------------------------------------------
def _run_facts(pm: RunPostMortem) -> list[tuple[str, str, bool]]:
    """(label, value, untrusted) lines describing the run."""
    run, v = pm.run, pm.run.verdict
    facts = [("run", run.run_id, True), ("started", _iso(run.started), False)]
    if run.ended is not None:
        facts.append(("ended", _iso(run.ended), False))
    elif pm.death is not None:
        facts.append(("moment of death", f"{_iso(pm.death)} (last sign of life)", False))
    else:
        facts.append(("ended", "not yet (the run is live)" if v.live else "—", False))
    why = f": {v.shown_reason}" if v.shown_reason else ""
    facts.append(("liveness", f"{v.liveness.value}{why} ({v.certainty.value})", True))
    facts.append(("outcome", run.outcome or _derived_outcome(pm), run.outcome is not None))
    return facts


def _derived_outcome(pm: RunPostMortem) -> str:
    counts = pm.counts
    if counts["LOST"]:
        return f"crashed: {counts['LOST']} packet(s) LOST"
    if counts["RUNNING"]:
        return "running"
    if counts["FAILED"]:
        return f"{counts['FAILED']} packet(s) FAILED"
    return "all packets succeeded or were cached"


def _md_run(pm: RunPostMortem, group_errors: GroupErrors | None) -> list[str]:
    out = [f"## Pipeline {md_code('/'.join(pm.pipeline))}", ""]
    for label, value, untrusted in _run_facts(pm):
        out.append(f"- **{label}:** {md_code(value) if untrusted else value}")
    out += ["", "### Packets per node", ""]
    out.append("| node | " + " | ".join(SHOWN_STATES) + " | median | max |")
    out.append("|---|" + "---:|" * (len(SHOWN_STATES) + 2))
    for n in pm.nodes:
        cells = [md_code(n.name, in_table=True), *(str(n.counts.get(s, 0)) for s in SHOWN_STATES)]
        cells += [format_duration(n.median_s) or "—", format_duration(n.max_s) or "—"]
        out.append("| " + " | ".join(cells) + " |")
    if pm.failed:
        out += ["", f"### Failed packets ({len(pm.failed)})", ""]
        if group_errors is not None:
            out.append("| error | packets | nodes | example |")
            out.append("|---|---:|---|---|")
            for g in group_errors(pm.failed):
                nodes = ", ".join(g.nodes)
                out.append(
                    f"| {md_code(g.signature, in_table=True)} | {g.count} | "
                    f"{md_code(nodes, in_table=True)} | "
                    f"{md_code(_tag_text(g.example.tags), in_table=True)} |"
                )
        else:
            out.append("| node | tags | error |")
            out.append("|---|---|---|")
            for f in pm.failed[:FAILED_SHOWN]:
                first = next((ln for ln in (f.error or "").splitlines() if ln.strip()), "")
                out.append(
                    f"| {md_code(f.node, in_table=True)} | "
                    f"{md_code(_tag_text(f.tags), in_table=True)} | "
                    f"{md_code(first, in_table=True)} |"
                )
            if len(pm.failed) > FAILED_SHOWN:
                out.append(f"\n… and {len(pm.failed) - FAILED_SHOWN} more FAILED packet(s).")
    if pm.lost:
        out += ["", f"### Lost packets ({len(pm.lost)})", ""]
        for p in pm.lost:
            out.append(
                f"- {md_code(p.node)} {md_code(_tag_text(p.tags))} — running since "
                f"{_iso(p.started)}; {md_code(p.reason)}"
            )
            out += _md_log(p.log)
    if pm.slowest:
        out += ["", "### Slowest packets", "", "| node | tags | state | duration |"]
        out.append("|---|---|---|---:|")
        for s in pm.slowest:
            out.append(
                f"| {md_code(s.node, in_table=True)} | "
                f"{md_code(_tag_text(s.tags), in_table=True)} | {s.state} | "
                f"{format_duration(s.duration_s)} |"
            )
    if pm.timeline:
        out += ["", "### Timeline", "", md_block(pm.timeline)]
    return out


def _streams(log: LogRow) -> list[tuple[str, str]]:
    parts = [("stdout", log.stdout), ("stderr", log.stderr), ("logs", log.python_logs)]
    parts.append(("traceback", log.traceback))
    return [(name, tail(text)) for name, text in parts if text and tail(text)]


def _log_note(log: LogRow | None) -> str:
    if log is None:
        return "no captured output on disk (nothing was written before it was lost)"
    at = _iso(log.ts_us / 1e6) if log.ts_us is not None else "—"
    if log.success is None:  # a partial row (design.md §3): the packet never wrote its final one
        return (
            f"PARTIAL captured output: what it had printed by {at}, its last flush before it "
            "was lost (anything printed after that was not written)"
        )
    return f"captured output, written {at}"


def _md_log(log: LogRow | None) -> list[str]:
    out = [f"  - {_log_note(log)}"]
    if log is None:
        return out
    for name, text in _streams(log):
        out.append(f"  - last lines of {name}:")
        out.append("")
        out += ["    " + line if line else "" for line in md_block(text).split("\n")]
        out.append("")
    return out


def render_markdown(
    runs: Sequence[RunPostMortem],
    *,
    root: str,
    now: float,
    problems: Sequence[str] = (),
    group_errors: GroupErrors | None = None,
) -> str:
    """The report as GitHub-flavoured Markdown."""
    out = ["# orcatui post-mortem", ""]
    out.append(f"- **root:** {md_code(root)}")
    out.append(f"- **as of:** {_iso(now)}")
    if not runs:
        out += ["", "No run to report on."]
    for pm in runs:
        out += ["", *_md_run(pm, group_errors)]
    if problems:
        out += ["", "## Could not read", ""]
        out += [f"- {md_code(p)}" for p in problems]
    return "\n".join(out) + "\n"


# -- HTML ----------------------------------------------------------------------------------------
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
    "td.n{text-align:right}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto}"
    "code{background:#f6f8fa}"
)


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in
                  enumerate(r))
        + "</tr>"
        for r in rows
    )  # fmt: skip
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html_run(pm: RunPostMortem, group_errors: GroupErrors | None) -> list[str]:
    out = [f"<h2>Pipeline <code>{_h('/'.join(pm.pipeline))}</code></h2>", "<ul>"]
    for label, value, untrusted in _run_facts(pm):
        shown = f"<code>{_h(value)}</code>" if untrusted else html.escape(value)
        out.append(f"<li><b>{label}:</b> {shown}</li>")
    out += ["</ul>", "<h3>Packets per node</h3>"]
    rows = [
        [
            f"<code>{_h(n.name)}</code>",
            *(str(n.counts.get(s, 0)) for s in SHOWN_STATES),
            format_duration(n.median_s) or "—",
            format_duration(n.max_s) or "—",
        ]
        for n in pm.nodes
    ]
    out.append(
        _html_table(
            ["node", *SHOWN_STATES, "median", "max"], rows, set(range(1, len(SHOWN_STATES) + 3))
        )
    )
    if pm.failed:
        out.append(f"<h3>Failed packets ({len(pm.failed)})</h3>")
        if group_errors is not None:
            rows = [
                [
                    f"<code>{_h(g.signature)}</code>",
                    str(g.count),
                    f"<code>{_h(', '.join(g.nodes))}</code>",
                    f"<code>{_h(_tag_text(g.example.tags))}</code>",
                ]
                for g in group_errors(pm.failed)
            ]
            out.append(_html_table(["error", "packets", "nodes", "example"], rows, {1}))
        else:
            rows = []
            for f in pm.failed[:FAILED_SHOWN]:
                first = next((ln for ln in (f.error or "").splitlines() if ln.strip()), "")
                rows.append(
                    [
                        f"<code>{_h(f.node)}</code>",
                        f"<code>{_h(_tag_text(f.tags))}</code>",
                        f"<code>{_h(first)}</code>",
                    ]
                )
            out.append(_html_table(["node", "tags", "error"], rows, set()))
            if len(pm.failed) > FAILED_SHOWN:
                out.append(f"<p>… and {len(pm.failed) - FAILED_SHOWN} more FAILED packet(s).</p>")
    if pm.lost:
        out.append(f"<h3>Lost packets ({len(pm.lost)})</h3><ul>")
        for p in pm.lost:
            out.append(
                f"<li><code>{_h(p.node)}</code> <code>{_h(_tag_text(p.tags))}</code> — running "
                f"since {html.escape(_iso(p.started))}; <code>{_h(p.reason)}</code>"
                f"<br>{html.escape(_log_note(p.log))}"
            )
            if p.log is not None:
                for name, text in _streams(p.log):
                    out.append(f"<br>last lines of {name}:<pre>{html.escape(text)}</pre>")
            out.append("</li>")
        out.append("</ul>")
    if pm.slowest:
        out.append("<h3>Slowest packets</h3>")
        rows = [
            [
                f"<code>{_h(s.node)}</code>",
                f"<code>{_h(_tag_text(s.tags))}</code>",
                s.state,
                format_duration(s.duration_s),
            ]
            for s in pm.slowest
        ]
        out.append(_html_table(["node", "tags", "state", "duration"], rows, {3}))
    if pm.timeline:
        out += ["<h3>Timeline</h3>", f"<pre>{html.escape(strip_escapes(pm.timeline))}</pre>"]
    return out


def render_html(
    runs: Sequence[RunPostMortem],
    *,
    root: str,
    now: float,
    problems: Sequence[str] = (),
    group_errors: GroupErrors | None = None,
) -> str:
    """The report as one self-contained HTML document (no script, no external resources)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        "<title>orcatui post-mortem</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>orcatui post-mortem</h1>",
        f"<ul><li><b>root:</b> <code>{_h(root)}</code></li>",
        f"<li><b>as of:</b> {html.escape(_iso(now))}</li></ul>",
    ]
    if not runs:
        out.append("<p>No run to report on.</p>")
    for pm in runs:
        out += _html_run(pm, group_errors)
    if problems:
        out.append("<h2>Could not read</h2><ul>")
        out += [f"<li><code>{_h(p)}</code></li>" for p in problems]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_report(
    monitor: Monitor,
    run_id: str | None = None,
    fmt: str = "markdown",
    now: float | None = None,
    *,
    problems: Sequence[str] = (),
    group_errors: GroupErrors | None = None,
) -> str:
    """The post-mortem of each pipeline's newest run (or of ``run_id``) in ``fmt``.

    ``problems`` (one line each, from reading) are listed at the end along with the store's
    broken tables. ``ValueError`` for an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    now = monitor.clock() if now is None else now
    runs = build_postmortem(monitor, run_id, now)
    errors = sorted({*monitor.store.broken.values(), *problems})
    render = render_markdown if fmt == "markdown" else render_html
    return render(runs, root=str(monitor.root), now=now, problems=errors, group_errors=group_errors)
