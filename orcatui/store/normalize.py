"""Turn raw status/log rows (as orcapod or our observers wrote them) into normalised Arrow tables.

Normalisation covers what real files vary in: ``string_view``/``binary_view`` types, ids stored as
16-byte binary or as 36-character UUID strings, ISO-8601 timestamps with and without a fraction,
missing columns, and user tag columns (renamed ``tag:<name>`` so they can never collide with ours).
"""

from __future__ import annotations

import binascii
import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store import schema as s

KNOWN_STATES = ("RUNNING", "SUCCESS", "FAILED", "CACHED")


@functools.cache
def _known_states() -> pa.Array:
    """:data:`KNOWN_STATES` as Arrow, built once (every batch looks them up) and on first use:
    an array built at import, before the ``orcatui`` command tells pyarrow there is no pandas,
    would import pandas."""
    return pa.array(KNOWN_STATES, pa.string())


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


def whole(col: pa.ChunkedArray) -> pa.Array:
    """A chunked column as one array: its only chunk as is (``combine_chunks`` copies even
    then: tens of ms for a 2 M-row string column), else the chunks concatenated."""
    if col.num_chunks == 1:
        return col.chunk(0)
    return col.combine_chunks()


def _as_string(col: pa.ChunkedArray | None, n: int) -> pa.Array:
    if col is None:
        return pa.nulls(n, pa.string())
    if pa.types.is_string(col.type):
        return whole(col)
    if pa.types.is_binary(col.type):
        # Text stored as bytes: decode, replacing what is not UTF-8.
        return pa.array(
            [None if v is None else v.decode("utf-8", "replace") for v in col.to_pylist()],
            pa.string(),
        )
    try:
        return whole(pc.cast(col, pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def _uuid_bytes(value: str) -> bytes | None:
    """One id as ``uuid.UUID`` reads it; a value that is no UUID is kept as its UTF-8 bytes."""
    try:
        return uuid.UUID(value).bytes
    except (ValueError, AttributeError, TypeError):
        return value.encode("utf-8", "replace") if value else None


_BLOCK = 16_384
_HYPHENS = [8, 13, 18, 23]
_HEX_COLS = np.array([k for k in range(36) if k not in _HYPHENS])
#: The runs of hex digits in a hyphenated UUID: (first column, column in the 32 digits, width).
_DIGIT_RUNS = ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12))


def _decode36(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Strings of 36 bytes each (no nulls) → (16 bytes per row, whether the row is a UUID).

    Done on the fixed-width character buffer with numpy, no Python object per value: hyphens at
    8, 13, 18, 23 and hex digits elsewhere (either case), exactly what ``uuid.UUID`` accepts for
    a 36-character value without braces or ``urn:``.
    """
    n = len(strings)
    bufs = strings.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[strings.offset : strings.offset + n + 1]
    start = int(offsets[0]) if n else 0
    chars = np.frombuffer(bufs[2], dtype=np.uint8)[start : start + 36 * n].reshape(n, 36)
    raw = np.empty((n, 16), dtype=np.uint8)
    valid = np.empty(n, dtype=bool)
    # In blocks that stay in the CPU cache: whole-array temporaries (hundreds of MB for 2 M ids)
    # cost more in page faults than the arithmetic.
    for lo in range(0, n, _BLOCK):
        block = chars[lo : lo + _BLOCK]
        digits = block[:, _HEX_COLS]
        lower = digits | 0x20
        is_hex = ((digits >= 48) & (digits <= 57)) | ((lower >= 97) & (lower <= 102))
        hyphens = (block[:, [8, 13, 18, 23]] == 45).all(axis=1)
        valid[lo : lo + _BLOCK] = hyphens & is_hex.all(axis=1)
        nibbles = (digits & 0x0F) + 9 * (digits >> 6)  # '0'-'9' → 0-9, 'a'/'A'-'f'/'F' → 10-15
        raw[lo : lo + _BLOCK] = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return raw, valid


def _all_36(strings: pa.Array) -> bool:
    """Whether every value of a string array without nulls is 36 bytes long (from its offsets:
    a few µs where three Arrow calls took 20)."""
    n = len(strings)
    offsets = np.frombuffer(strings.buffers()[1], np.int32, n + 1, strings.offset * 4)
    return bool((np.diff(offsets) == 36).all())


def _fromhex36(strings: pa.Array) -> pa.Array | None:
    """36-byte strings (no nulls) that are all hyphenated hex UUIDs → 16-byte binary; None if
    any is not (the caller then finds which, row by row in :func:`_decode36`).

    ``binascii.unhexlify`` decodes the 32 digits of each row in C, several times faster than
    numpy arithmetic on nibbles; any character that is not a hex digit makes it fail.
    """
    n = len(strings)
    bufs = strings.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[strings.offset : strings.offset + n + 1]
    start = int(offsets[0])
    chars = np.frombuffer(bufs[2], dtype=np.uint8)[start : start + 36 * n].reshape(n, 36)
    out = []
    step = 4 * _BLOCK  # bounded temporaries for a 2 M-row file
    digits = np.empty((min(n, step), 32), np.uint8)
    for lo in range(0, n, step):
        block = chars[lo : lo + step]
        hyphens = block[:, 8] == 45
        for col in _HYPHENS[1:]:
            hyphens &= block[:, col] == 45
        if not hyphens.all():
            return None
        # The 32 digits side by side: five slice copies (a gather by column index was twice
        # as slow); unhexlify reads that buffer as is.
        dig = digits[: len(block)]
        for src, dst, width in _DIGIT_RUNS:
            dig[:, dst : dst + width] = block[:, src : src + width]
        try:
            raw = binascii.unhexlify(dig)
        except ValueError:  # a non-hex character (binascii.Error is a ValueError)
            return None
        out.append(raw)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), n, [None, pa.py_buffer(out[0] if len(out) == 1 else b"".join(out))]
    )
    return fixed.cast(pa.binary())


def _fixed16(raw: np.ndarray) -> pa.Array:
    n = len(raw)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), n, [None, pa.py_buffer(np.ascontiguousarray(raw).tobytes())]
    )
    return fixed.cast(pa.binary())


def _python_ids(values: list[str | None]) -> pa.Array:
    return pa.array([None if v is None else _uuid_bytes(v) for v in values], pa.binary())


def uuid_strings_to_bytes(strings: pa.Array) -> pa.Array:
    """36-character UUID strings → 16-byte binary, vectorised; always equal to ``uuid.UUID``.

    The form every writer uses (36 characters, hyphenated) is checked and hex-decoded in bulk;
    every other value (no hyphens, braces, ``urn:uuid:``, junk, null) takes :func:`_uuid_bytes`
    one by one, so results never differ from the per-value path. A Python ``uuid.UUID`` per event
    made a 2 M-event load four times slower than with binary ids.
    """
    if strings.type != pa.string():
        strings = pc.cast(strings, pa.string())
    n = len(strings)
    if n == 0:
        return pa.array([], pa.binary())
    if strings.null_count == 0 and _all_36(strings):
        fast = _fromhex36(strings)
        if fast is not None:
            return fast
        raw, valid = _decode36(strings)
        if valid.all():
            return _fixed16(raw)
        decoded = _fixed16(raw)
        odd = pa.array(~valid)
    else:
        fits = pc.fill_null(pc.equal(pc.binary_length(strings), 36), False)
        odd = pc.invert(fits)
        some = pc.filter(strings, fits)
        raw, valid = _decode36(some)
        full = np.zeros((n, 16), dtype=np.uint8)
        idx = np.flatnonzero(fits.to_numpy(zero_copy_only=False))
        full[idx] = raw
        bad = np.ones(n, dtype=bool)
        bad[idx] = ~valid
        decoded, odd = _fixed16(full), pa.array(bad)
    others = _python_ids(pc.filter(strings, odd).to_pylist())
    return pc.replace_with_mask(decoded, odd, others)


def normalise_ids(col: pa.ChunkedArray | None, n: int) -> pa.Array:
    """Event ids as binary: 16-byte UUIDs stay, 36-char UUID strings are parsed to their bytes."""
    if col is None:
        return pa.nulls(n, pa.binary())
    if pa.types.is_binary(col.type):
        return whole(col)
    if pa.types.is_string(col.type):
        return uuid_strings_to_bytes(whole(col))
    return _python_ids([None if v is None else str(v) for v in col.to_pylist()])


def _parse_one(value: str | None) -> int | None:
    """One ISO-8601 text → µs since the epoch, or None; never raises, whatever the text."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return (dt - _EPOCH) // timedelta(microseconds=1)
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Timestamps outside [2000-01-01, reader's clock + 1 day] are not believed (issue 8 item 11):
# a year-1 or year-9999 stamp would break durations, a future one keep a run "live" for ever.
EARLIEST_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
AHEAD_MARGIN_S = 86_400.0


def parse_timestamps(col: pa.ChunkedArray | pa.Array | None, n: int) -> pa.Array:
    """ISO-8601 strings (with or without fraction, offset or ``Z``) → int64 µs UTC; bad → null."""
    if col is None:
        return pa.nulls(n, pa.int64())
    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    if pa.types.is_timestamp(col.type):
        try:
            ts = col if col.type.tz else pc.assume_timezone(col, "UTC")
            return whole(pc.cast(pc.cast(ts, pa.timestamp("us", tz="UTC")), pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = pc.cast(col, pa.string())
    strings = _as_string(col, n)
    try:
        parsed = pc.cast(strings, pa.timestamp("us", tz="UTC"))
        return pc.cast(parsed, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Some value is not zone-aware ISO: fall back to Python's parser, row by row.
        return pa.array([_parse_one(v) for v in strings.to_pylist()], pa.int64())


def _all_plausible(ts: pa.ChunkedArray | pa.Array, now: float | None) -> bool:
    """Whether every timestamp lies in the believed range (one min/max pass, the usual case)."""
    limit = int(((time.time() if now is None else now) + AHEAD_MARGIN_S) * 1_000_000)
    lo, hi = pc.min_max(ts).values()
    return lo.as_py() is None or (lo.as_py() >= EARLIEST_US and hi.as_py() <= limit)


def _implausible(ts: pa.Array, now: float | None) -> pa.Array:
    """Rows whose timestamp is before 2000 or more than a day ahead of ``now`` (nulls: False)."""
    limit = int(((time.time() if now is None else now) + AHEAD_MARGIN_S) * 1_000_000)
    bad = pc.or_(pc.less(ts, EARLIEST_US), pc.greater(ts, limit))
    return pc.fill_null(bad, False)


def _implausible_note(source: str, what: str, count: int, ts: pa.Array, bad: pa.Array) -> str:
    example = pc.filter(ts, bad)[0].as_py()
    try:
        shown = (_EPOCH + timedelta(microseconds=example)).isoformat()
    except OverflowError:
        shown = f"{example} µs"
    return (
        f"{source}: {what} {count} row(s) whose timestamp is before 2000-01-01 or more than a day"
        f" ahead of this machine's clock (e.g. {shown})"
    )


def _tag_columns(table: pa.Table, n: int) -> tuple[list[str], list[pa.Array]]:
    names, arrays = [], []
    for name in table.column_names:
        if s.is_user_tag(name):
            names.append(s.tag_column(name))
            arrays.append(_as_string(_column(table, name), n))
    return names, arrays


def normalise_status(table: pa.Table, source: str = "", now: float | None = None) -> Normalised:
    """Raw status rows → ``EVENT_SCHEMA`` columns plus ``tag:<name>`` columns.

    Rows with an unknown state or an unreadable timestamp are dropped and reported, and so are
    rows stamped before 2000-01-01 or more than a day ahead of ``now`` (the reader's clock,
    ``time.time()`` by default).
    """
    n = table.num_rows
    problems: list[str] = []
    missing = [c for c in (s.S_RUN, s.S_STATE, s.S_TS) if c not in table.column_names]
    if missing and n:
        return Normalised(_empty_events(), [f"{source}: missing column(s) {', '.join(missing)}"])
    now = time.time() if now is None else now  # one clock reading for the whole batch
    state = _as_string(_column(table, s.S_STATE), n)
    known_states = _known_states()
    known = pc.is_in(state, known_states)
    all_known = not known.null_count and pc.all(known).as_py() is not False
    if not all_known:  # some state not as writers spell it
        state = pc.utf8_upper(state)
        known = pc.is_in(state, known_states)
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
    if all_known and not ts.null_count and not out.column("run_id").null_count:
        bad = 0  # the usual batch: nothing to count
    else:
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
    if out.num_rows and not _all_plausible(out.column("ts"), now):
        ts_col = whole(out.column("ts"))
        implausible = _implausible(ts_col, now)
        far = pc.sum(pc.cast(implausible, pa.int64())).as_py() or 0
        if far:
            problems.append(_implausible_note(source, "skipped", far, ts_col, implausible))
            out = out.filter(pc.invert(implausible))
    return Normalised(out, problems)


def normalise_logs(table: pa.Table, source: str = "", now: float | None = None) -> Normalised:
    """Raw log rows → ``LOG_SCHEMA`` columns plus ``tag:<name>`` columns.

    A log row is kept whatever its timestamp (its traceback matters more), but a timestamp
    before 2000-01-01 or more than a day ahead of ``now`` is replaced by null and reported.
    """
    n = table.num_rows
    if s.L_RUN not in table.column_names and n:
        return Normalised(_empty_logs(), [f"{source}: missing column {s.L_RUN}"])
    problems: list[str] = []
    ts = parse_timestamps(_column(table, s.L_TS), n)
    if n:
        implausible = _implausible(ts, now)
        far = pc.sum(pc.cast(implausible, pa.int64())).as_py() or 0
        if far:
            problems.append(_implausible_note(source, "cleared the time of", far, ts, implausible))
            ts = pc.if_else(implausible, pa.scalar(None, pa.int64()), ts)
    success = _column(table, s.L_SUCCESS)
    if success is None or not pa.types.is_boolean(success.type):
        success_arr = pa.nulls(n, pa.bool_())
    else:
        success_arr = whole(success)
    tag_names, tag_arrays = _tag_columns(table, n)
    out = pa.table(
        [
            normalise_ids(_column(table, s.L_ID), n),
            _as_string(_column(table, s.L_RUN), n),
            ts,
            _as_string(_column(table, s.L_STDOUT), n),
            _as_string(_column(table, s.L_STDERR), n),
            _as_string(_column(table, s.L_PYLOGS), n),
            _as_string(_column(table, s.L_TRACEBACK), n),
            success_arr,
            *tag_arrays,
        ],
        names=[*s.LOG_SCHEMA.names, *tag_names],
    )
    return Normalised(out.filter(pc.is_valid(out.column("run_id"))), problems)


def _empty_events() -> pa.Table:
    return s.EVENT_SCHEMA.empty_table()


def _empty_logs() -> pa.Table:
    return s.LOG_SCHEMA.empty_table()
