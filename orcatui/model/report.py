"""The summary report: per pipeline, node counts, durations, FAILED and LOST packets.

This is the data behind ``orcatui summary`` (text and ``--json``); its shape is documented in the
README. It is built from :class:`~orcatui.model.monitor.Monitor` views only, like the TUI.
"""

from __future__ import annotations

import codecs
import functools
import gc
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui import exitcodes
from orcatui.model.monitor import Monitor, PipelineInfo, RunInfo
from orcatui.model.packets import bools, from_numpy
from orcatui.model.progress import NodeTimes, node_times
from orcatui.model.slow import slow_packets
from orcatui.model.views import (
    ROW_COLUMNS,
    View,
    duration_stats,
    order_rows,
    row_order,
    row_orders,
)


def iso(epoch: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC (seconds precision); None if unknown or unrepresentable."""
    if epoch is None or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return None


def _moment(epoch: float | None) -> str | None:
    """Like :func:`iso`, to the microsecond when the moment has a fraction."""
    if epoch is None or epoch == int(epoch):
        return iso(epoch)
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def first_line(text: str | None) -> str | None:
    """The first non-empty line of a message (errors may be multi-line or empty)."""
    if text is None:
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def run_dict(run: RunInfo | None) -> dict[str, Any] | None:
    """A run as JSON-able data."""
    if run is None:
        return None
    return {
        "run_id": run.run_id,
        "liveness": run.verdict.liveness.value,
        "reason": run.verdict.reason,
        "certainty": run.verdict.certainty.value,
        "started": iso(run.started),
        "last_event": iso(run.last_event),
        "ended": iso(run.ended),
        "outcome": run.outcome,
        "has_run_record": run.has_record,
        "counts": run.counts,
    }


def _tags(row: dict[str, Any], tag_names: tuple[str, ...]) -> dict[str, Any]:
    return {t: row.get(t) for t in tag_names}


def _listed(
    rows: pa.Table, state: str, columns: list[str], tags: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The rows in ``state``, in THE packet order, as dicts of ``columns`` and the tags only
    (converting the other columns to Python objects would be wasted)."""
    names = rows.column_names
    wanted = [*columns, *(t for t in tags if t in names)]
    if names[: len(ROW_COLUMNS)] != list(ROW_COLUMNS):  # not display rows: the general path
        chosen = rows.filter(pc.equal(rows.column("state"), state))
        return order_rows(chosen).select(wanted).to_pylist() if chosen.num_rows else []
    mask = pc.fill_null(pc.equal(rows.column("state"), state), False)
    picked = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if not len(picked):
        return []
    # Only the columns listed and ordered by are taken (filtering and reordering every column
    # of every node's rows was a fifth of the summary's report).
    tag_cols = names[len(ROW_COLUMNS) :]
    chosen = rows.select(list(dict.fromkeys([*wanted, *tag_cols, "run_id"])))
    chosen = chosen.take(from_numpy(picked))
    order = row_order(chosen, tag_cols)
    if not (order == np.arange(len(order))).all():
        chosen = chosen.take(from_numpy(order))
    return chosen.select(wanted).to_pylist()


_LISTED_STATES = pa.array(["FAILED", "LOST"], pa.string())


def _listed_codes(rows: pa.Table) -> np.ndarray:
    """Per display row, 0 if FAILED, 1 if LOST, else -1 (one pass for both lists)."""
    if not rows.num_rows:
        return np.zeros(0, np.int64)
    codes = pc.index_in(rows.column("state"), value_set=_LISTED_STATES)
    codes = codes.combine_chunks() if isinstance(codes, pa.ChunkedArray) else codes
    return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False)


def _listed_codes_many(tables: list[pa.Table]) -> list[np.ndarray]:
    """:func:`_listed_codes` of many tables' rows by one Arrow call over all of them."""
    states = [t.column("state") for t in tables if t.num_rows]
    if len({c.type for c in states}) != 1:
        return [_listed_codes(t) for t in tables]
    joined = pa.chunked_array([c for col in states for c in col.chunks], states[0].type)
    codes = pc.index_in(joined, value_set=_LISTED_STATES)
    codes = pc.fill_null(codes, -1).to_numpy().astype(np.int64)
    ends = np.cumsum([t.num_rows for t in tables]).tolist()
    return [codes[end - t.num_rows : end] for t, end in zip(tables, ends, strict=True)]


#: A group's picked rows are taken from its nodes' rows joined when these are at most this many
#: times as many (joining copies every row of every node: cheap for the few problem rows of each
#: node, wasteful for every row of each node of the all-runs view).
_JOIN_RATIO = 4


def _listed_many(
    nodes: list[tuple[pa.Table, tuple[str, ...]]],
    state: str,
    columns: list[str],
    codes: list[np.ndarray],
) -> list[pa.Table]:
    """:func:`_listed` of many nodes' rows, as tables of the same columns: the rows of nodes
    whose columns agree taken at once, the orders computed together (:func:`views.row_orders`),
    reordered at once. ``codes``: per node, :func:`_listed_codes` of its rows."""
    code = _LISTED_STATES.to_pylist().index(state)
    out: list[pa.Table | None] = [None] * len(nodes)
    picks: dict[int, np.ndarray] = {}
    wants: dict[int, list[str]] = {}
    tag_cols_of: dict[int, list[str]] = {}
    groups: dict[tuple[Any, ...], list[int]] = {}
    row_columns = list(ROW_COLUMNS)
    for i, (rows, tags) in enumerate(nodes):
        names = rows.column_names
        wanted = [*columns, *(t for t in tags if t in names)]
        if names[: len(ROW_COLUMNS)] != row_columns:  # not display rows
            chosen = rows.filter(pc.equal(rows.column("state"), state))
            out[i] = order_rows(chosen).select(wanted)
            continue
        picked = np.flatnonzero(codes[i] == code)
        if not len(picked):
            out[i] = rows.select(wanted).slice(0, 0)
            continue
        # Only the columns listed and ordered by are taken (filtering and reordering every
        # column of every node's rows was a fifth of the summary's report).
        tag_cols = names[len(ROW_COLUMNS) :]
        selected = list(dict.fromkeys([*wanted, *tag_cols, "run_id"]))
        picks[i], wants[i], tag_cols_of[i] = picked, wanted, tag_cols
        schema = rows.schema
        key = (tuple(selected), tuple(schema.field(c).type for c in selected))
        groups.setdefault(key, []).append(i)
    for (selected, _), members in groups.items():
        # The rows of all nodes taken at once, in their final order (Arrow takes from the
        # nodes' chunks without joining them; no Arrow call per node): the tags and run ids
        # first, to order them, then the listed columns in that order.
        sizes = [len(picks[i]) for i in members]
        at_of = np.cumsum([0, *sizes])
        parts = [nodes[i][0].select(list(selected)) for i in members]
        total = sum(p.num_rows for p in parts)
        if total <= _JOIN_RATIO * int(at_of[-1]):
            # Few rows besides the picked ones: one take over all nodes' rows joined.
            ends = np.cumsum([p.num_rows for p in parts]) - [p.num_rows for p in parts]
            at = np.concatenate([picks[i] + end for i, end in zip(members, ends, strict=True)])
            joined = pa.concat_tables(parts).take(from_numpy(at)).combine_chunks()
        else:
            # Each node's picked rows first (Arrow's take over many chunks of strings joins
            # them all: a copy of every row of every node), then one small table of only those.
            taken = [p.take(from_numpy(picks[i])) for i, p in zip(members, parts, strict=True)]
            joined = pa.concat_tables(taken).combine_chunks()
        cols = [tag_cols_of[i] for i in members]
        by = list(dict.fromkeys([*(c for names in cols for c in names), "run_id"]))
        keys = joined.select(by)
        chosen = [keys.slice(at, n) for at, n in zip(at_of, sizes, strict=False)]
        orders = row_orders(chosen, cols)
        perm = np.concatenate([o + at for o, at in zip(orders, at_of, strict=False)])
        taken_all = joined.take(from_numpy(perm))
        selections: dict[tuple[str, ...], pa.Table] = {}
        for i, at, n in zip(members, at_of.tolist(), sizes, strict=False):
            wanted = tuple(wants[i])
            listed = selections.get(wanted)
            if listed is None:
                listed = selections[wanted] = taken_all.select(list(wanted))
            out[i] = listed.slice(at, n)
    return [t if t is not None else pa.table({}) for t in out]


def _column_lists(tables: list[pa.Table]) -> list[dict[str, list[Any]]]:
    """Each table's columns as Python lists, converted once for all tables of one schema."""
    out: list[dict[str, list[Any]]] = [{} for _ in tables]
    groups: dict[Any, list[int]] = {}
    for i, t in enumerate(tables):
        if t.num_rows:
            key = (tuple(t.column_names), tuple(t.schema.types))
            groups.setdefault(key, []).append(i)
    for (names, _), members in groups.items():
        joined = pa.concat_tables([tables[i] for i in members])
        at = 0
        lists = {c: joined.column(k).to_pylist() for k, c in enumerate(names)}
        for i in members:
            n = tables[i].num_rows
            out[i] = {c: v[at : at + n] for c, v in lists.items()}
            at += n
    return out


def _values(table: pa.Table, name: str, lists: dict[str, list[Any]]) -> list[Any]:
    """A column as Python values (from ``lists``: :func:`_column_lists` of the table); all
    None when the table has no such column."""
    if name in lists:
        return lists[name]
    return [None] * table.num_rows


def first_lines(errors: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """:func:`first_line` of each text of a string column, by a few Arrow passes where that is
    exact: texts of printable ASCII, ``\\t`` and ``\\n`` (``splitlines`` then breaks only at
    ``\\n`` and ``strip`` removes only spaces and tabs); the others one by one."""
    arr = errors.combine_chunks() if isinstance(errors, pa.ChunkedArray) else errors
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return [first_line(t) for t in arr.to_pylist()]
    if len(arr) == 0:
        return []
    values, other = _first_lines_plain(arr)
    out = values.to_pylist()
    if len(other):
        texts = arr.take(from_numpy(other)).to_pylist()
        for i, text in zip(other.tolist(), texts, strict=True):
            out[i] = first_line(text)
    return out


def first_lines_array(errors: pa.ChunkedArray | pa.Array) -> pa.Array:
    """:func:`first_lines` as a string array (the same values). A text of printable ASCII
    without a line break and without a space at either end is its own first line (kept as it
    is, not copied); the others go through :func:`first_lines`'s passes."""
    arr = errors.combine_chunks() if isinstance(errors, pa.ChunkedArray) else errors
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or not len(arr):
        return pa.array(first_lines(arr), pa.string())
    arr = arr.cast(pa.string())
    _, offsets, data = arr.buffers()
    if data is None:  # nulls and empty texts only: each is its own first line
        return arr
    offs = np.frombuffer(offsets, np.int32)[arr.offset : arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, np.uint8)
    # Blanks at either end (a text's first and last bytes), or a byte other than printable ASCII.
    filled = offs[1:] > offs[:-1]
    edge = np.zeros(len(arr), bool)
    edge[filled] = (raw[offs[:-1][filled]] == 0x20) | (raw[offs[1:][filled] - 1] == 0x20)
    other = np.zeros(len(arr), bool)
    other[_rows_with_bytes(arr, lambda b: (b < 0x20) | (b >= 0x7F))] = True
    special = np.flatnonzero(edge | other)
    if not len(special):
        return arr
    values = pa.array(first_lines(arr.take(from_numpy(special))), pa.string())
    mask = np.zeros(len(arr), bool)
    mask[special] = True
    return pc.replace_with_mask(arr, bools(mask), values)


def _first_lines_plain(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`first_lines` of the plain texts of a string array by Arrow passes (the values of
    the others are of no meaning), and the indices of the others."""
    plain = pc.and_(
        pc.string_is_ascii(arr),
        pc.invert(pc.match_substring_regex(arr, r"[\x00-\x08\x0b-\x1f\x7f]")),
    )
    # Blank lines and the first line's leading blanks skipped, then that line, its trailing
    # blanks cut (a text without a non-blank character: "").
    head = pc.utf8_ltrim(arr, characters=" \t\n")
    line = pc.list_element(pc.split_pattern(head, "\n", max_splits=1), 0)
    values = pc.utf8_rtrim(line, characters=" \t")
    other = np.flatnonzero(~pc.fill_null(plain, True).to_numpy(zero_copy_only=False))
    return values, other


def _first_lines_arrays(tables: list[pa.Table]) -> list[pa.Array]:
    """:func:`first_lines_array` of the ``error`` column of each table, in one pass over all."""
    text = [t for t in tables if t.num_rows and "error" in t.column_names]
    kinds = {t.column("error").type for t in text}
    if len(kinds) != 1 or not all(
        pa.types.is_string(k) or pa.types.is_large_string(k) for k in kinds
    ):  # no rows, or not one text type: each on its own
        return [
            first_lines_array(t.column("error"))
            if t.num_rows and "error" in t.column_names
            else pa.nulls(t.num_rows, pa.string())
            for t in tables
        ]
    joined = pa.chunked_array([c for t in text for c in t.column("error").chunks], kinds.pop())
    found = first_lines_array(joined)
    out: list[pa.Array] = []
    at = 0
    for t in tables:
        if t.num_rows and "error" in t.column_names:
            out.append(found.slice(at, t.num_rows))
            at += t.num_rows
        else:
            out.append(pa.nulls(t.num_rows, pa.string()))
    return out


def _first_lines_of(tables: list[pa.Table]) -> list[list[str | None]]:
    """:func:`first_lines` of the ``error`` column of each table, in one pass over all."""
    text = [t for t in tables if t.num_rows and "error" in t.column_names]
    kinds = {t.column("error").type for t in text}
    if len(kinds) != 1 or not all(
        pa.types.is_string(k) or pa.types.is_large_string(k) for k in kinds
    ):  # no rows, or not one text type: each on its own
        return [first_lines(t.column("error")) if t.num_rows else [] for t in tables]
    kind = kinds.pop()
    joined = pa.chunked_array([c for t in text for c in t.column("error").chunks], kind)
    found = first_lines(joined)
    out: list[list[str | None]] = []
    at = 0
    for t in tables:
        if t.num_rows and "error" in t.column_names:
            out.append(found[at : at + t.num_rows])
            at += t.num_rows
        else:
            out.append([])
    return out


def _error_groups(failures: list[tuple[str, pa.Table, Any]]) -> list[dict[str, Any]]:
    """``"error_groups"`` of the nodes' rows (imported here: a run without a FAILED packet
    has no groups, and ``summary`` starts faster without the grouping module)."""
    from orcatui.model.errors import NodeFailures, error_groups, groups_json, log_rows

    return groups_json(
        error_groups(NodeFailures(name, rows, log_rows(n.logs)) for name, rows, n in failures)
    )


def _triage_times(monitor: Monitor, info: PipelineInfo, now: float) -> dict[Any, NodeTimes]:
    """Per node, the :class:`NodeTimes` the snapshot's triage computed from the very rows the
    report lists (its shown run), so they are not extracted again; empty in the all-runs view."""
    if info.view.all_runs or info.run is None:
        return {}
    triage = monitor.triage(info.name, info.run.run_id, info.verdicts, now)
    return {key: t.times for key, t in triage.items()}


def sorted_duration_stats(durations: np.ndarray) -> tuple[float | None, float | None]:
    """:func:`views.duration_stats` of a node from its sorted finished durations
    (``NodeTimes.durations``): the same median and maximum, without filtering and sorting."""
    n = len(durations)
    if n == 0:
        return None, None
    k = n // 2
    median = durations[k] if n % 2 else durations[k - 1 : k + 1].mean()
    return float(median), float(durations[-1])


def _failed_json(
    failed: pa.Table, tags: tuple[str, ...], firsts: list[str | None], lists: dict[str, list[Any]]
) -> list[dict[str, Any]]:
    """A node's ``"failed"`` entries from its listed FAILED rows (``firsts``: the first line of
    each one's error; ``lists``: :func:`_column_lists` of the rows)."""
    if not failed.num_rows:
        return []
    tag_dicts = _tag_dicts(tags, [_values(failed, t, lists) for t in tags], failed.num_rows)
    return [
        {"run_id": run_id, "tags": t, "error": e, "error_first_line": f}
        for run_id, e, f, t in zip(
            _values(failed, "run_id", lists),
            _values(failed, "error", lists),
            firsts,
            tag_dicts,
            strict=True,
        )
    ]


class EncodedList:
    """A list already encoded as compact JSON (``summary --json``'s per-node ``"failed"``, see
    :func:`report_json`): ``items`` is the UTF-8 text of its entries joined by ``,`` (a view of
    the Arrow buffer it was made in, not copied), ``len()`` its number of entries."""

    __slots__ = ("count", "items")

    def __init__(self, items: bytes | memoryview, count: int) -> None:
        self.items = items
        self.count = count

    def __len__(self) -> int:
        return self.count

    @property
    def text(self) -> str:
        """The JSON text of the list."""
        return "[" + bytes(self.items).decode("utf-8") + "]"

    def to_list(self) -> list[Any]:
        """The entries as ``json.loads`` reads them (the very list the text was made of)."""
        return json.loads(self.text)


_dumps = functools.partial(
    json.dumps, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def report_json_parts(report: dict[str, Any]) -> list[bytes | memoryview]:
    """The UTF-8 text of ``json.dumps(report, separators=(",", ":"), ensure_ascii=False)``, in
    parts, for a report whose nodes' ``"failed"`` lists may be :class:`EncodedList` (their
    text put in as it is, not copied)."""
    pipelines: list[bytes | memoryview] = []  # the parts of the text of ``"pipelines"``
    for k, p in enumerate(report["pipelines"]):
        nodes: list[bytes | memoryview] = []
        for j, n in enumerate(p["nodes"]):
            if j:
                nodes.append(b",")
            failed = n.get("failed")
            if isinstance(failed, EncodedList):
                _object(n, {"failed": [b"[", failed.items, b"]"]}, nodes)
            else:
                nodes.append(_dumps(n).encode())
        if k:
            pipelines.append(b",")
        _object(p, {"nodes": [b"[", *nodes, b"]"]}, pipelines)
    parts: list[bytes | memoryview] = []
    _object(report, {"pipelines": [b"[", *pipelines, b"]"]}, parts)
    return parts


def report_json(report: dict[str, Any]) -> str:
    """:func:`report_json_parts` as one text."""
    return b"".join(report_json_parts(report)).decode("utf-8")


def write_report_json(report: dict[str, Any], stream: TextIO) -> None:
    """:func:`report_json` and a newline to a text stream: the parts straight to its bytes
    when it writes UTF-8 (no text made and encoded again), else as text."""
    out = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None) or ""
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if out is None or not utf8:
        stream.write(report_json(report) + "\n")
        return
    stream.flush()
    for part in report_json_parts(report):
        out.write(part)
    out.write(b"\n")


def _object(
    value: dict[str, Any], given: dict[str, list[bytes | memoryview]], out: list[Any]
) -> None:
    """The compact JSON of a dict, into ``out`` (UTF-8 parts), with the values of the keys in
    ``given`` already encoded (as parts)."""
    out.append(b"{")
    run: dict[str, Any] = {}
    first = True
    for key, v in value.items():
        if key not in given:
            run[key] = v
            continue
        if run:
            out.append(_dumps(run)[1:-1].encode())
            run = {}
            first = False
        out.append((("" if first else ",") + encode_basestring(key) + ":").encode())
        out += given[key]
        first = False
    if run:
        out.append((("" if first else ",") + _dumps(run)[1:-1]).encode())
    out.append(b"}")


def _json_values(arr: pa.Array) -> tuple[pa.Array, bool]:
    """The compact JSON text of each value of an array, as ``json.dumps`` writes the Python
    value, and whether the quotes of strings are left out (a string column without nulls:
    each text with JSON's escapes applied, to be put between quotes by the caller; else
    ``null`` for nulls and strings quoted). Strings by Arrow passes (the texts holding a
    character JSON escapes escaped by Python), integers and booleans by Arrow, any other
    type value by value."""
    t = arr.type
    if pa.types.is_large_string(t):
        arr, t = arr.cast(pa.string()), pa.string()
    if pa.types.is_string(t):
        bare = arr.null_count == 0
        out = arr if bare else pc.binary_join_element_wise('"', arr, '"', "")
        escaped = _rows_with_bytes(arr, lambda raw: (raw < 0x20) | (raw == 0x22) | (raw == 0x5C))
        if len(escaped):
            texts = arr.take(from_numpy(escaped)).to_pylist()
            ones = [encode_basestring(v) for v in texts]
            mask = np.zeros(len(arr), bool)
            mask[escaped] = True
            out = pc.replace_with_mask(
                out, bools(mask), pa.array([v[1:-1] for v in ones] if bare else ones)
            )
        return (out, False) if bare else (pc.fill_null(out, "null"), True)
    if pa.types.is_integer(t):
        return pc.fill_null(pc.cast(arr, pa.string()), "null"), True
    if pa.types.is_boolean(t):
        return pc.fill_null(pc.if_else(arr, "true", "false"), "null"), True
    return pa.array([_dumps(v) for v in arr.to_pylist()], pa.string()), True


def _rows_with_bytes(arr: pa.Array, test: Any) -> np.ndarray:
    """The indices of the texts of a string array (int32 offsets) holding a byte for which
    ``test`` (numpy, on the bytes) is true: one look at the bytes of all texts."""
    _, offsets, data = arr.buffers()
    if data is None or not len(arr):
        return np.zeros(0, np.int64)
    offs = np.frombuffer(offsets, np.int32)[arr.offset : arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, np.uint8)[offs[0] : offs[-1]]
    at = np.flatnonzero(test(raw)) + offs[0]
    if not len(at):
        return at
    rows = np.zeros(len(arr), bool)
    rows[np.searchsorted(offs, at, side="right") - 1] = True
    return np.flatnonzero(rows)


def _failed_encoded(
    failed_of: list[pa.Table], tags_of: list[tuple[str, ...]], firsts: list[pa.Array]
) -> list[EncodedList]:
    """Each node's ``"failed"`` entries (as :func:`_failed_json` makes them) encoded as JSON
    by Arrow passes over the rows of all nodes whose columns agree (``firsts``: per node, the
    first line of each row's error, :func:`first_lines_array`). Each entry is written once,
    with a ``,`` before it, into one buffer: a node's list is a view of that buffer."""
    out: list[EncodedList | None] = [None] * len(failed_of)
    groups: dict[Any, list[int]] = {}
    for i, (t, tags) in enumerate(zip(failed_of, tags_of, strict=True)):
        if not t.num_rows:
            out[i] = EncodedList(b"", 0)
            continue
        key = (tuple(t.column_names), tuple(t.schema.types), tags)
        groups.setdefault(key, []).append(i)
    for (_, _, tags), members in groups.items():
        joined = pa.concat_tables([failed_of[i] for i in members]).combine_chunks()
        first = pa.concat_arrays([firsts[i] for i in members])
        names = joined.column_names
        # Literal texts, and the values of a column (by name) or of an array.
        items: list[tuple[bool, Any]] = [(True, ',{"run_id":'), (False, "run_id")]
        items.append((True, ',"tags":{'))
        for k, tag in enumerate(tags):
            items += [(True, ("," if k else "") + encode_basestring(tag) + ":"), (False, tag)]
        items += [(True, '},"error":'), (False, "error"), (True, ',"error_first_line":')]
        items += [(False, first), (True, "}")]
        parts: list[Any] = []
        for literal, item in items:
            if literal:
                parts.append(item)
                continue
            if isinstance(item, str):
                if item not in names:
                    parts.append("null")
                    continue
                item = joined.column(item).chunk(0)  # one chunk: combined
            values, quoted = _json_values(item)
            if not quoted:  # the quotes go into the literals around
                parts += ['"', values, '"']
            else:
                parts.append(values)
        merged: list[Any] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            else:
                merged.append(part)
        entries = pc.binary_join_element_wise(*merged, "")
        _, offsets, data = entries.buffers()
        offs = np.frombuffer(offsets, np.int32)[entries.offset : entries.offset + len(entries) + 1]
        view = memoryview(data)
        at = 0
        for i in members:
            n = failed_of[i].num_rows
            out[i] = EncodedList(view[int(offs[at]) + 1 : int(offs[at + n])], n)
            at += n
    return [e if e is not None else EncodedList(b"", 0) for e in out]


def _tag_dicts(tags: tuple[str, ...], values: list[list[Any]], n: int) -> list[dict[str, Any]]:
    """Per row, ``{tag: value}`` (as ``dict(zip(tags, row values))``; dict displays for one or
    two tags, the usual case, are twice as fast)."""
    if len(tags) == 1:
        (t0,) = tags
        return [{t0: a} for a in values[0]]
    if len(tags) == 2:
        t0, t1 = tags
        return [{t0: a, t1: b} for a, b in zip(values[0], values[1], strict=True)]
    if not tags:
        return [{} for _ in range(n)]
    return [dict(zip(tags, row, strict=True)) for row in zip(*values, strict=True)]


def _lost_json(
    lost: pa.Table, tags: tuple[str, ...], lists: dict[str, list[Any]]
) -> list[dict[str, Any]]:
    """A node's ``"lost"`` entries from its listed LOST rows (``lists``: as for
    :func:`_failed_json`)."""
    if not lost.num_rows:
        return []
    tag_dicts = _tag_dicts(tags, [_values(lost, t, lists) for t in tags], lost.num_rows)
    return [
        {
            "run_id": run_id,
            "tags": t,
            "reason": reason,
            "running_since": iso(started / 1e6 if started is not None else None),
        }
        for run_id, reason, started, t in zip(
            _values(lost, "run_id", lists),
            _values(lost, "lost_reason", lists),
            _values(lost, "started_us", lists),
            tag_dicts,
            strict=True,
        )
    ]


def pipeline_report(
    monitor: Monitor, info: PipelineInfo, now: float, encoded: bool = False
) -> dict[str, Any]:
    """One pipeline's part of the report (``encoded``: each node's ``"failed"`` as an
    :class:`EncodedList`, see :func:`build_report`)."""
    times = _triage_times(monitor, info, now)
    nodes = []
    failures = []
    any_failed = False
    titles: dict[str, int] = {}
    for node in info.nodes:
        titles[node.name.title] = titles.get(node.name.title, 0) + 1
    picked: list[tuple[Any, pa.Table, list[Any], Any, Any]] = []
    # With the triage's times, only the FAILED, LOST and RUNNING rows are needed (what is
    # listed, grouped and flagged slow); without (all runs), every row, for the durations.
    timed = [node.key for node in info.nodes if node.key in times]
    problems = dict(
        zip(timed, monitor.problem_rows_many(timed, info.view, now, info.verdicts), strict=True)
    )
    for node in info.nodes:
        known = times.get(node.key)
        rows = problems.get(node.key)
        if rows is None:
            rows = monitor.packet_rows(node.key, info.view, now, info.verdicts, ordered=False)
        group_name = node.name.title
        if titles[group_name] > 1 and node.name.detail:
            group_name += f" [{node.name.detail}]"
        failures.append((group_name, rows, monitor.pipelines[info.name].nodes[node.key[1]]))
        slow = (
            slow_packets(
                rows, known if known is not None else node_times(rows), now, node.slow_bound
            )
            if node.slow_bound is not None and node.counts.get("RUNNING")
            else []
        )
        median, longest = (
            sorted_duration_stats(known.durations) if known is not None else duration_stats(rows)
        )
        picked.append((node, rows, slow, median, longest))
    # The FAILED and LOST rows of every node, listed and ordered together.
    listing = [(rows, node.tags) for node, rows, *_ in picked]
    codes = _listed_codes_many([rows for rows, _ in listing])
    failed_of = _listed_many(listing, "FAILED", ["run_id", "error"], codes)
    lost_of = _listed_many(listing, "LOST", ["run_id", "lost_reason", "started_us"], codes)
    lost_lists = _column_lists(lost_of)
    failed_entries: list[Any]
    if encoded:
        failed_entries = _failed_encoded(
            failed_of, [node.tags for node, *_ in picked], _first_lines_arrays(failed_of)
        )
    else:
        firsts = _first_lines_of(failed_of)
        failed_entries = [
            _failed_json(failed, node.tags, first, f_lists)
            for (node, *_), failed, first, f_lists in zip(
                picked, failed_of, firsts, _column_lists(failed_of), strict=True
            )
        ]
    for (node, _rows, slow, median, longest), failed, lost, entries, l_lists in zip(
        picked, failed_of, lost_of, failed_entries, lost_lists, strict=True
    ):
        any_failed = any_failed or bool(failed.num_rows)
        nodes.append(
            {
                "name": node.name.title,
                "label": node.name.label,
                "function": node.name.function,
                "identity": list(node.key[1]),
                "short_identity": node.name.detail,
                "counts": node.counts,
                "duration_median_s": median,
                "duration_max_s": longest,
                "failed": entries,
                "lost": _lost_json(lost, node.tags, l_lists),
                "progress": node.progress.to_json() if node.progress is not None else None,
                "slow": [p.to_json() for p in slow],
            }
        )
    return {
        "name": list(info.title or info.name),
        "view": info.view.label,
        "run": run_dict(info.run),
        "runs": [run_dict(r) for r in info.runs],
        "counts": info.counts,
        "progress": info.progress.to_json() if info.progress is not None else None,
        "error_groups": _error_groups(failures) if any_failed else [],
        "nodes": nodes,
        "diff": None,  # summary --diff: RunDiff.to_json() (see build_report's ``diffs``)
    }


def build_report(
    monitor: Monitor,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    now: float | None = None,
    problems: list[str] | None = None,
    diffs: Mapping[tuple[str, ...], Any] | None = None,
    diff_views: Mapping[tuple[str, ...], str | None] | None = None,
    encoded: bool = False,
) -> dict[str, Any]:
    """The whole report. With ``run_id``, only pipelines that have that run are included.

    With ``diffs`` (pipeline → a ``RunDiff`` or None), only those pipelines are included, each
    with ``"diff"`` filled in and shown by the run ``diff_views`` names (None: newest run).
    With ``encoded``, each node's ``"failed"`` is an :class:`EncodedList` (its JSON text, made
    by Arrow passes instead of a dict per FAILED packet): for :func:`report_json`, which
    writes the same text ``json.dumps`` writes of the plain report.
    """
    # The report is tens of thousands of small dicts and lists, all kept: the cyclic garbage
    # collector would scan them some seventy times for nothing (30 ms of a 2 M-event summary).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_report(monitor, run_id, all_runs, now, problems, diffs, diff_views, encoded)
    finally:
        if collecting:
            gc.enable()


def _build_report(
    monitor: Monitor,
    run_id: str | None,
    all_runs: bool,
    now: float | None,
    problems: list[str] | None,
    diffs: Mapping[tuple[str, ...], Any] | None,
    diff_views: Mapping[tuple[str, ...], str | None] | None,
    encoded: bool = False,
) -> dict[str, Any]:
    now = monitor.clock() if now is None else now
    views = {}
    for name, model in monitor.pipelines.items():
        if diffs is not None:
            if name in diffs:
                shown = (diff_views or {}).get(name)
                views[name] = View(run_id=shown) if shown else View()
        elif all_runs:
            views[name] = View(all_runs=True)
        elif run_id is not None:
            if run_id in model.runs or run_id in model.records:
                views[name] = View(run_id=run_id)
        else:
            views[name] = View()
    snap = monitor.snapshot(views, now)
    pipelines = []
    for p in snap.pipelines:
        if p.name in views:
            entry = pipeline_report(monitor, p, now, encoded)
            d = (diffs or {}).get(p.name)
            entry["diff"] = d.to_json() if d is not None else None
            pipelines.append(entry)
    return {
        "root": str(monitor.root),
        "generated_at": iso(now),
        # The moment of a historical view (``summary --at``), else None: the live state.
        "as_of": _moment(getattr(monitor, "at", None)),
        "stale_after_s": monitor.stale_after,
        "pipelines": pipelines,
        "errors": sorted({*snap.broken.values(), *snap.warnings, *(problems or [])}),
    }


def exit_code(report: dict[str, Any]) -> int:
    """The exit code a report calls for (:func:`orcatui.exitcodes.worst`).

    3 LOST packets present > 4 some data could not be read (any entry in ``errors``: an
    unreadable table or file, a bad run record or field, skipped values) > 1 FAILED packets
    present > 0.
    """
    lost = failed = 0
    for p in report["pipelines"]:
        lost += p["counts"]["LOST"]
        failed += p["counts"]["FAILED"]
    return exitcodes.worst(lost=bool(lost), unreadable=bool(report["errors"]), failed=bool(failed))
