"""Turn raw status/log rows (as orcapod or our observers wrote them) into normalised Arrow tables.

Normalisation covers what real files vary in: ``string_view``/``binary_view`` types, ids stored as
16-byte binary or as 36-character UUID strings, ISO-8601 timestamps with and without a fraction,
missing columns, and user tag columns (renamed ``tag:<name>`` so they can never collide with ours).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store import schema as s

KNOWN_STATES = ("RUNNING", "SUCCESS", "FAILED", "CACHED")


@dataclass
class Normalised:
    """A normalised batch and the problems met while normalising it (one line each)."""

    table: pa.Table
    problems: list[str] = field(default_factory=list)


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(t) or pa.types.is_large_string(t):
        return pa.string()
    if (
        pa.types.is_binary_view(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return pa.binary()
    return t


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    if name not in table.column_names:
        return None
    col = table.column(name)
    plain = _plain_type(col.type)
    if plain != col.type:
        col = col.cast(plain)
    return col


def _as_string(col: pa.ChunkedArray | None, n: int) -> pa.Array:
    if col is None:
        return pa.nulls(n, pa.string())
    if pa.types.is_string(col.type):
        return col.combine_chunks()
    if pa.types.is_binary(col.type):
        # Text stored as bytes: decode, replacing what is not UTF-8.
        return pa.array(
            [None if v is None else v.decode("utf-8", "replace") for v in col.to_pylist()],
            pa.string(),
        )
    try:
        return pc.cast(col, pa.string()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def _uuid_bytes(value: str) -> bytes | None:
    try:
        return uuid.UUID(value).bytes
    except (ValueError, AttributeError, TypeError):
        return value.encode("utf-8", "replace") if value else None


def normalise_ids(col: pa.ChunkedArray | None, n: int) -> pa.Array:
    """Event ids as binary: 16-byte UUIDs stay, 36-char UUID strings are parsed to their bytes."""
    if col is None:
        return pa.nulls(n, pa.binary())
    if pa.types.is_binary(col.type):
        return col.combine_chunks()
    return pa.array(
        [None if v is None else _uuid_bytes(str(v)) for v in col.to_pylist()], pa.binary()
    )


def _parse_one(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)


def parse_timestamps(col: pa.ChunkedArray | pa.Array | None, n: int) -> pa.Array:
    """ISO-8601 strings (with or without fraction, offset or ``Z``) → int64 µs UTC; bad → null."""
    if col is None:
        return pa.nulls(n, pa.int64())
    if pa.types.is_timestamp(col.type):
        ts = col if col.type.tz else pc.assume_timezone(col, "UTC")
        return pc.cast(pc.cast(ts, pa.timestamp("us", tz="UTC")), pa.int64()).combine_chunks()
    strings = _as_string(col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col]), n)
    try:
        parsed = pc.cast(strings, pa.timestamp("us", tz="UTC"))
        return pc.cast(parsed, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Some value is not zone-aware ISO: fall back to Python's parser, row by row.
        return pa.array([_parse_one(v) for v in strings.to_pylist()], pa.int64())


def _tag_columns(table: pa.Table, n: int) -> tuple[list[str], list[pa.Array]]:
    names, arrays = [], []
    for name in table.column_names:
        if s.is_user_tag(name):
            names.append(s.tag_column(name))
            arrays.append(_as_string(_column(table, name), n))
    return names, arrays


def normalise_status(table: pa.Table, source: str = "") -> Normalised:
    """Raw status rows → ``EVENT_SCHEMA`` columns plus ``tag:<name>`` columns.

    Rows with an unknown state or an unreadable timestamp are dropped and reported.
    """
    n = table.num_rows
    problems: list[str] = []
    missing = [c for c in (s.S_RUN, s.S_STATE, s.S_TS) if c not in table.column_names]
    if missing and n:
        return Normalised(_empty_events(), [f"{source}: missing column(s) {', '.join(missing)}"])
    state = pc.utf8_upper(_as_string(_column(table, s.S_STATE), n))
    ts = parse_timestamps(_column(table, s.S_TS), n)
    tag_names, tag_arrays = _tag_columns(table, n)
    out = pa.table(
        [
            normalise_ids(_column(table, s.S_ID), n),
            _as_string(_column(table, s.S_RUN), n),
            _as_string(_column(table, s.S_URI), n),
            state,
            ts,
            _as_string(_column(table, s.S_ERROR), n),
            *tag_arrays,
        ],
        names=[*s.EVENT_SCHEMA.names, *tag_names],
    )
    known = pc.is_in(state, pa.array(KNOWN_STATES))
    good = pc.and_(pc.fill_null(known, False), pc.is_valid(ts))
    good = pc.and_(good, pc.is_valid(out.column("run_id")))
    bad = n - pc.sum(pc.cast(good, pa.int64())).as_py() if n else 0
    if bad:
        odd = pc.unique(pc.filter(state, pc.invert(pc.fill_null(known, False)))).to_pylist()[:3]
        detail = f" (states {odd})" if odd else ""
        problems.append(
            f"{source}: skipped {bad} event(s) with unknown state or bad timestamp{detail}"
        )
        out = out.filter(good)
    return Normalised(out, problems)


def normalise_logs(table: pa.Table, source: str = "") -> Normalised:
    """Raw log rows → ``LOG_SCHEMA`` columns plus ``tag:<name>`` columns."""
    n = table.num_rows
    if s.L_RUN not in table.column_names and n:
        return Normalised(_empty_logs(), [f"{source}: missing column {s.L_RUN}"])
    success = _column(table, s.L_SUCCESS)
    if success is None or not pa.types.is_boolean(success.type):
        success_arr = pa.nulls(n, pa.bool_())
    else:
        success_arr = success.combine_chunks()
    tag_names, tag_arrays = _tag_columns(table, n)
    out = pa.table(
        [
            normalise_ids(_column(table, s.L_ID), n),
            _as_string(_column(table, s.L_RUN), n),
            parse_timestamps(_column(table, s.L_TS), n),
            _as_string(_column(table, s.L_STDOUT), n),
            _as_string(_column(table, s.L_STDERR), n),
            _as_string(_column(table, s.L_PYLOGS), n),
            _as_string(_column(table, s.L_TRACEBACK), n),
            success_arr,
            *tag_arrays,
        ],
        names=[*s.LOG_SCHEMA.names, *tag_names],
    )
    return Normalised(out.filter(pc.is_valid(out.column("run_id"))), [])


def _empty_events() -> pa.Table:
    return s.EVENT_SCHEMA.empty_table()


def _empty_logs() -> pa.Table:
    return s.LOG_SCHEMA.empty_table()
