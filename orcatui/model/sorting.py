"""Sorting and searching a node's packet table (issue 10, item 5), vectorised on Arrow.

* Sort by any display-row column, ascending or descending, stable, nulls always last:
  ``state`` by the one severity order (LOST first ascending; a RUNNING packet flagged slow ranks
  as ``slow``), times and durations as numbers, text columns (tags, run id, error) as numbers
  when every value is one, else in natural order (``s2`` < ``s10``, case-insensitive).
* "Running longest": RUNNING packets first, the longest running at the top.
* Search: every word must match (AND), case-insensitively, as a substring of a tag value, the
  error text or the state; ``"two words"`` in double quotes is one phrase.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.severity import SEVERITY_ORDER
from orcatui.model.views import ROW_COLUMNS

#: Digit runs compared numerically by natural order, per value (more are compared as text).
NATURAL_NUMBERS = 4
_WORDS = re.compile(r'"([^"]*)"|(\S+)')


def tag_columns(rows: pa.Table) -> list[str]:
    """The tag columns of display rows (every column after :data:`ROW_COLUMNS`)."""
    return [c for c in rows.column_names if c not in ROW_COLUMNS]


def _numbers(column: pa.ChunkedArray) -> pa.Array | None:
    """The column as float64 when every non-null value is a number (NaN → null), else None."""
    arr = column.combine_chunks()
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        out = pc.cast(arr, pa.float64())
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        if arr.null_count == len(arr):
            return None
        try:
            out = pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    else:
        return None
    return pc.if_else(pc.is_nan(out), pa.scalar(None, pa.float64()), out)


def _natural_keys(column: pa.ChunkedArray) -> list[tuple[str, pa.Array]]:
    """Sort-key columns giving natural order: text parts lower-cased, digit runs by value."""
    arr = pc.cast(column.combine_chunks(), pa.string())
    enc = pc.dictionary_encode(arr)
    # Keys are computed on the distinct values (far fewer than rows for most tags).
    values = enc.dictionary
    lowered = pc.utf8_lower(values)
    names = [f"p{i}" for i in range(2 * NATURAL_NUMBERS + 1)]
    pattern = "^" + "".join(
        f"(?P<{names[2 * i]}>\\D*)(?P<{names[2 * i + 1]}>\\d*)" for i in range(NATURAL_NUMBERS)
    )
    pattern += f"(?P<{names[-1]}>(?s:.*))$"
    parts = pc.extract_regex(lowered, pattern)
    keys: list[tuple[str, pa.Array]] = []
    for i, name in enumerate(names):
        field = pc.struct_field(parts, i)
        if i % 2 == 1:  # a digit run: by length (leading zeros dropped), then by its digits
            digits = pc.utf8_ltrim(field, "0")
            keys.append((f"{name}_len", pc.utf8_length(digits)))
            keys.append((f"{name}_digits", digits))
        else:
            keys.append((name, field))
    keys.append(("original", values))
    idx = enc.indices
    return [(name, pc.take(k, idx)) for name, k in keys]


def _state_rank(rows: pa.Table, slow: np.ndarray | None) -> pa.Array:
    rank = pc.index_in(rows.column("state"), value_set=pa.array(SEVERITY_ORDER, pa.string()))
    rank = rank.combine_chunks() if isinstance(rank, pa.ChunkedArray) else rank
    if slow is not None and slow.any():
        rank = pc.if_else(pa.array(slow), pa.scalar(SEVERITY_ORDER.index("slow"), rank.type), rank)
    return rank


def sort_indices(
    rows: pa.Table,
    column: str,
    *,
    descending: bool = False,
    slow: np.ndarray | None = None,
) -> pa.Array:
    """Row order for sorting display rows by ``column`` (stable, nulls last either way).

    ``slow`` (one bool per row, :func:`orcatui.model.slow.slow_mask`) ranks flagged packets as
    ``slow`` when sorting by state. Raises ``KeyError`` for an unknown column.
    """
    if column not in rows.column_names:
        raise KeyError(column)
    order = "descending" if descending else "ascending"
    if rows.num_rows == 0:
        return pa.array([], pa.uint64())
    numbers = None if column == "state" else _numbers(rows.column(column))
    if column == "state":
        keys = [("k", _state_rank(rows, slow))]
    elif numbers is not None:
        keys = [("k", numbers)]
    else:
        keys = _natural_keys(rows.column(column))
    table = pa.table(dict(keys))
    return pc.sort_indices(table, sort_keys=[(name, order, "at_end") for name, _ in keys])


def sort_rows(
    rows: pa.Table,
    column: str,
    *,
    descending: bool = False,
    slow: np.ndarray | None = None,
) -> pa.Table:
    """Display rows sorted by ``column`` (see :func:`sort_indices`)."""
    if rows.num_rows == 0:
        return rows
    return rows.take(sort_indices(rows, column, descending=descending, slow=slow))


def running_longest(rows: pa.Table) -> pa.Table:
    """RUNNING packets first, longest running (earliest start) at the top; the rest after, in
    their current order."""
    if rows.num_rows == 0:
        return rows
    running = pc.fill_null(pc.equal(rows.column("state"), "RUNNING"), False)
    key = pa.table(
        {
            "rest": pc.invert(running),
            "started": pc.if_else(running, rows.column("started_us"), None),
        }
    )
    order = pc.sort_indices(
        key, sort_keys=[("rest", "ascending", "at_end"), ("started", "ascending", "at_end")]
    )
    return rows.take(order)


def search_words(query: str) -> list[str]:
    """The words of a search (``"a phrase"`` in double quotes counts as one), lower-cased."""
    out = []
    for m in _WORDS.finditer(query):
        word = m.group(1) if m.group(1) is not None else m.group(2)
        if word:
            out.append(word.lower())
    return out


def search_mask(rows: pa.Table, query: str) -> pa.Array:
    """One bool per row: every word of ``query`` is in a tag value, the error or the state."""
    words = search_words(query)
    n = rows.num_rows
    if not words:
        return pa.array(np.ones(n, dtype=bool))
    columns = [c for c in ("state", "error", *tag_columns(rows)) if c in rows.column_names]
    texts = []
    for c in columns:
        col = rows.column(c)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        texts.append(col)
    mask = None
    for word in words:
        hit = None
        for col in texts:
            m = pc.fill_null(pc.match_substring(col, word, ignore_case=True), False)
            hit = m if hit is None else pc.or_(hit, m)
        if hit is None:
            return pa.array(np.zeros(n, dtype=bool))
        mask = hit if mask is None else pc.and_(mask, hit)
    assert mask is not None
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def search_rows(rows: pa.Table, query: str) -> pa.Table:
    """The display rows that match ``query`` (see :func:`search_mask`)."""
    if not search_words(query):
        return rows
    return rows.filter(search_mask(rows, query))
