"""Export: one row per packet, streamed node by node to CSV, JSON Lines or Parquet.

Columns: :data:`FIXED_COLUMNS`, then one column per user tag under the tag's own name (a tag
named like a fixed column gets `` (tag)`` appended, as in the table). The rows are those of the
monitor's views (the same rules as ``summary`` and the app: LOST derived, durations, reasons).

**Schema across nodes.** Nodes carry different tags, yet a file has one schema: the export plan
(:func:`plan_export`) first collects the union of the tag names of every node exported, in the
order nodes are exported and tags first appear, and every batch is conformed to that schema (a
node without a tag has nulls there). Tag columns are strings. So CSV has one header, JSON Lines
objects all have the same keys (``null`` for absent tags) and the Parquet file one schema —
``started``/``ended`` there are ``timestamp[us, UTC]``, ``duration_s`` float64.

**Streaming.** Rows are produced per node (each node's rows, then dropped) in batches of at most
:data:`BATCH_ROWS`, and each writer writes a batch before the next is made: memory is the
model's plus one node's rows, whatever the export's size.

**CSV and spreadsheets.** A CSV cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR would be
run as a formula by spreadsheet programs (CSV injection): such string cells get a leading ``'``
(the OWASP remedy) unless ``formula_guard=False``. JSON Lines and Parquet keep values exact.
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.monitor import Monitor, NodeKey, Pipeline
from orcatui.model.naming import node_name
from orcatui.model.states import SHOWN_STATES
from orcatui.model.views import View, display_tag_name

FIXED_COLUMNS = (
    "pipeline",
    "node",
    "run_id",
    "state",
    "started",
    "ended",
    "duration_s",
    "error",
    "lost_reason",
)
FORMATS = ("csv", "jsonl", "parquet")
BATCH_ROWS = 65_536
#: Nodes whose rows are made ahead of the one being written (and worker threads).
AHEAD = 2
_TS = pa.timestamp("us", tz="UTC")
FIXED_SCHEMA = pa.schema(
    [
        ("pipeline", pa.string()),
        ("node", pa.string()),
        ("run_id", pa.string()),
        ("state", pa.string()),
        ("started", _TS),
        ("ended", _TS),
        ("duration_s", pa.float64()),
        ("error", pa.string()),
        ("lost_reason", pa.string()),
    ]
)


def export_tag_name(tag: str, taken: Iterable[str] = FIXED_COLUMNS) -> str:
    """The export column of user tag ``tag``: its name, `` (tag)`` appended on a clash."""
    taken = set(taken)
    name = tag
    while name in taken:
        name = f"{name} (tag)"
    return name


@dataclass(frozen=True)
class ExportNode:
    """One node to export: where it is, its shown name, its view, its tags (raw → column)."""

    key: NodeKey
    title: str
    view: View
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExportPlan:
    """What an export writes: the unified schema and the nodes, in order."""

    schema: pa.Schema
    nodes: tuple[ExportNode, ...]
    states: tuple[str, ...] | None
    now: float


def _titles(monitor: Monitor, pipeline: Pipeline) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each node's (shown name, label, function); the shown name is made unique if needed."""
    labels = monitor.labels(pipeline)
    names = {i: node_name(i, labels) for i in monitor.pipelines[pipeline].nodes}
    seen: dict[str, int] = {}
    for n in names.values():
        seen[n.title] = seen.get(n.title, 0) + 1
    return {
        i: (n.title if seen[n.title] == 1 else n.full, n.label or "", n.function)
        for i, n in names.items()
    }


def plan_export(
    monitor: Monitor,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    nodes: Sequence[str] = (),
    states: Sequence[str] = (),
    now: float | None = None,
) -> ExportPlan:
    """Which nodes and columns an export has. ``ValueError`` (one line) for a run, node or
    state that does not exist.

    Scope: each pipeline's newest run (default), the run ``run_id`` (pipelines that have it),
    or ``all_runs`` (the latest of each packet across runs). ``nodes`` match a node's label,
    shown name or function name; ``states`` are shown states (LOST included), any case.
    """
    now = monitor.clock() if now is None else now
    wanted_states = None
    if states:
        wanted_states = tuple(dict.fromkeys(s.strip().upper() for s in states))
        bad = [s for s in wanted_states if s not in SHOWN_STATES]
        if bad:
            raise ValueError(f"unknown state {bad[0]!r} (states: {', '.join(SHOWN_STATES)})")
    if run_id is not None and not any(
        run_id in m.runs or run_id in m.records for m in monitor.pipelines.values()
    ):
        raise ValueError(f"no run {run_id!r}")
    chosen: list[ExportNode] = []
    matched: set[str] = set()
    known: list[str] = []
    tag_columns: dict[str, None] = {}
    for pipeline in sorted(monitor.pipelines):
        model = monitor.pipelines[pipeline]
        if run_id is not None and run_id not in model.runs and run_id not in model.records:
            continue
        view = View(run_id=run_id, all_runs=all_runs)
        titles = _titles(monitor, pipeline)
        order = sorted(
            model.nodes.values(),
            key=lambda n: (
                n.packets.first_us if n.packets.first_us is not None else 2**62,
                n.identity,
            ),
        )
        for node in order:
            title, label, function = titles[node.identity]
            known.append(title)
            if nodes:
                hits = [n for n in nodes if n in (title, label, function)]
                if not hits:
                    continue
                matched.update(hits)
            tags = []
            for tag in node.packets.tag_names:
                column = export_tag_name(tag)
                tags.append((tag, column))
                tag_columns.setdefault(column, None)
            chosen.append(ExportNode(node.key, title, view, tuple(tags)))
    missing = [n for n in nodes if n not in matched]
    if missing:
        names = ", ".join(dict.fromkeys(known)) or "none"
        raise ValueError(f"no node named {missing[0]!r} (nodes: {names})")
    schema = pa.schema([*FIXED_SCHEMA, *[(c, pa.string()) for c in tag_columns]])
    return ExportPlan(schema, tuple(chosen), wanted_states, now)


def export_batches(monitor: Monitor, plan: ExportPlan) -> Iterator[pa.RecordBatch]:
    """The plan's rows, node by node, as record batches of ``plan.schema``.

    The next :data:`AHEAD` nodes' rows are made on worker threads while a node's batches are
    written (ordering rows and writing Parquet spend most of their time in Arrow, outside the
    GIL); memory stays bounded by that window. Each node is worked on by one thread.
    """
    pipelines = dict.fromkeys(item.key[0] for item in plan.nodes)
    verdicts = {p: monitor.verdicts(p, plan.now) for p in pipelines}

    def node_rows(item: ExportNode) -> pa.Table | None:
        view = _single_run_view(monitor, item)
        rows = monitor.packet_rows(
            item.key, view, plan.now, verdicts[item.key[0]], states=plan.states
        )
        return export_rows(item, rows, plan.schema) if rows.num_rows else None

    with ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="orcatui-export") as pool:
        window: deque[Future[pa.Table | None]] = deque()
        try:
            for item in plan.nodes:
                window.append(pool.submit(node_rows, item))
                if len(window) > AHEAD:
                    table = window.popleft().result()
                    if table is not None:
                        yield from table.to_batches(max_chunksize=BATCH_ROWS)
            while window:
                table = window.popleft().result()
                if table is not None:
                    yield from table.to_batches(max_chunksize=BATCH_ROWS)
        finally:
            for pending in window:  # the consumer stopped early: do not make the rest
                pending.cancel()


def _single_run_view(monitor: Monitor, item: ExportNode) -> View:
    """``item.view``; but the all-runs view of a node whose packets are all of one run is that
    run's view: the same rows, without looking for the latest of each packet across runs."""
    if not item.view.all_runs:
        return item.view
    counts = monitor.pipelines[item.key[0]].nodes[item.key[1]].packets.counts
    runs = {run for (run, _state), n in counts.items() if n > 0}
    return View(run_id=runs.pop()) if len(runs) == 1 else item.view


def export_rows(item: ExportNode, rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """A node's display rows (as the monitor's views give them) as export rows of ``schema``
    (also used by the app to save the table as shown)."""
    n = rows.num_rows
    pipeline = item.key[0]
    state = rows.column("state")
    terminal = pc.invert(pc.is_in(state, pa.array(["RUNNING", "LOST"])))
    ended = pc.if_else(terminal, rows.column("ts_us"), pa.scalar(None, pa.int64()))
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "pipeline": pa.repeat("/".join(pipeline), n).cast(pa.string()),
        "node": pa.repeat(item.title, n).cast(pa.string()),
        "run_id": rows.column("run_id"),
        "state": state,
        "started": pc.cast(rows.column("started_us"), pa.int64()).cast(_TS),
        "ended": pc.cast(ended, pa.int64()).cast(_TS),
        "duration_s": rows.column("duration_s"),
        "error": rows.column("error"),
        "lost_reason": rows.column("lost_reason"),
    }
    for tag, column in item.tags:
        columns[column] = rows.column(display_tag_name(tag))
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


# -- writers -----------------------------------------------------------------------------------
def _iso_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``started``/``ended`` as ISO-8601 strings (``…T15:13:37.610238Z``) for text formats."""
    arrays = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if f.type == _TS:
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
        arrays.append(col)
    names = batch.schema.names
    return pa.RecordBatch.from_arrays(arrays, names=names)


_FORMULA = r"^[=+\-@\t\r]"


def _guard(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = []
    for col in batch.columns:
        if pa.types.is_string(col.type):
            risky = pc.fill_null(pc.match_substring_regex(col, _FORMULA), False)
            col = pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([(f.name, pa.string() if f.type == _TS else f.type) for f in schema])


def write_csv(
    plan: ExportPlan,
    batches: Iterable[pa.RecordBatch],
    out: IO[bytes],
    *,
    formula_guard: bool = True,
) -> int:
    """Write CSV (header first, even with no rows) to a binary stream; returns rows written."""
    import pyarrow.csv as pacsv

    rows = 0
    with pacsv.CSVWriter(out, _text_schema(plan.schema)) as writer:
        for batch in batches:
            batch = _iso_columns(batch)
            writer.write_batch(_guard(batch) if formula_guard else batch)
            rows += batch.num_rows
    return rows


def write_jsonl(plan: ExportPlan, batches: Iterable[pa.RecordBatch], out: IO[bytes]) -> int:
    """Write one JSON object per line (UTF-8, every column present); returns rows written."""
    rows = 0
    names = plan.schema.names
    for batch in batches:
        batch = _iso_columns(batch)
        buf = io.StringIO()
        columns = [c.to_pylist() for c in batch.columns]
        for values in zip(*columns, strict=True):
            buf.write(json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False))
            buf.write("\n")
        out.write(buf.getvalue().encode("utf-8"))
        rows += batch.num_rows
    return rows


def write_parquet(
    plan: ExportPlan, batches: Iterable[pa.RecordBatch], out: IO[bytes] | str | Path
) -> int:
    """Write one Parquet file (schema ``plan.schema``, zstd); returns rows written.

    Small batches are gathered into row groups of about :data:`BATCH_ROWS` rows.
    """
    import pyarrow.parquet as pq

    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    where = str(out) if isinstance(out, Path) else out
    with pq.ParquetWriter(where, plan.schema, compression="zstd") as writer:
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= BATCH_ROWS:
                writer.write_table(pa.Table.from_batches(pending, plan.schema))
                pending, pending_rows = [], 0
        if pending or rows == 0:
            writer.write_table(pa.Table.from_batches(pending, plan.schema))
    return rows


def export(
    monitor: Monitor,
    fmt: str,
    out: IO[bytes] | str | Path,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    nodes: Sequence[str] = (),
    states: Sequence[str] = (),
    now: float | None = None,
) -> int:
    """Plan and write an export in ``fmt`` (``csv``, ``jsonl``, ``parquet``); returns rows.

    ``out`` is a binary stream or a path. ``ValueError`` (one line) for a bad format, run,
    node or state — raised before anything is written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    plan = plan_export(
        monitor, run_id=run_id, all_runs=all_runs, nodes=nodes, states=states, now=now
    )
    batches = export_batches(monitor, plan)
    if fmt == "parquet":
        return write_parquet(plan, batches, out)
    if isinstance(out, str | Path):
        with open(out, "wb") as fh:
            return export(
                monitor,
                fmt,
                fh,
                run_id=run_id,
                all_runs=all_runs,
                nodes=nodes,
                states=states,
                now=plan.now,
            )
    writer = write_csv if fmt == "csv" else write_jsonl
    return writer(plan, batches, out)
