"""How a packet is identified: its run id and user tag values (docs/design.md §5).

A key is an injective encoding of (run id, {tag name: value} for the non-null tags):

    esc(run id) + for each non-null tag, by name: "\\x1f" + esc(name, "=" too) + "=" + esc(value)

where ``esc`` escapes ``\\`` as ``\\\\`` and ``\\x1f`` as ``\\s`` (and, in names, ``=`` as
``\\e``). The run part and every escaped text hold no ``\\x1f``, and escaped names hold no ``=``,
so a key splits back into exactly one (run id, tags): no text a pipeline writes (separators,
``=``, backslashes, empty strings) can make two packets share a key. A null tag and a missing tag
column are the same thing (schema drift): both are left out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store.schema import TAG_PREFIX

SEP = "\x1f"


def escape(text: str, *, name: bool = False) -> str:
    """``text`` with ``\\`` and the separator escaped (and ``=`` too for a tag name)."""
    out = text.replace("\\", "\\\\").replace(SEP, "\\s")
    return out.replace("=", "\\e") if name else out


def _escaped(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Arrow twin of :func:`escape` for values; costs two scans when there is nothing to escape."""
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    if _holds(col, b"\\"):
        col = pc.replace_substring(col, "\\", "\\\\")
    if _holds(col, SEP.encode()):
        col = pc.replace_substring(col, SEP, "\\s")
    return col


def _holds(col: pa.ChunkedArray | pa.Array, byte: bytes) -> bool:
    """Whether any value holds ``byte`` (an ASCII byte): a scan of the raw UTF-8 data buffers."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    code = byte[0]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk) + 1, chunk.offset * 4)
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
        # In blocks that stay in the CPU cache: a whole-column comparison writes a temporary
        # as large as the text (72 MB for 2 M run ids), twice as slow.
        for lo in range(0, raw.size, _SCAN_BLOCK):
            if (raw[lo : lo + _SCAN_BLOCK] == code).any():
                return True
    return False


_SCAN_BLOCK = 1 << 18


def packet_keys(table: pa.Table, *, with_run: bool = True, prefix: str = "") -> pa.Array:
    """One key string per row (see the module docstring); equal to :func:`key_of` of its row.

    ``prefix`` is put in front of every key: the escaped run id of rows all of one run, keyed
    ``with_run=False`` (one join instead of a join of the keys made).
    Every step is element-wise over all rows (no ``null_handling="skip"``, which returned fewer
    rows than given on some pyarrow versions): a null tag gives an empty piece.
    """
    n = table.num_rows
    parts: list[pa.ChunkedArray | pa.Array | pa.Scalar] = []
    if prefix:
        parts.append(pa.scalar(prefix))
    if with_run:
        parts.append(pc.fill_null(_escaped(table.column("run_id")), ""))
    tags = sorted(c for c in table.column_names if c.startswith(TAG_PREFIX))
    if tags and not any(table.column(c).null_count for c in tags):
        # No null tag (the usual case): labels and values in one join, no temporary per tag.
        for name in tags:
            parts.append(_label(name))
            parts.append(_escaped(_one_chunk(table.column(name))))
        tags = []
    for name in tags:
        piece = pc.binary_join_element_wise(_label(name), _escaped(table.column(name)), "")
        parts.append(pc.fill_null(piece, "") if piece.null_count else piece)
    if not any(isinstance(p, pa.ChunkedArray | pa.Array) for p in parts):
        return pa.array([prefix] * n, pa.string())
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "")
    out = _one_chunk(joined)
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if len(out) != n:  # a guard on Arrow itself: one key per row, always
        raise AssertionError(f"packet_keys: {len(out)} keys for {n} rows")
    return out


@functools.lru_cache(maxsize=256)
def _label(column: str) -> pa.Scalar:
    """The piece before a tag's value in a key: separator, escaped name, ``=``."""
    return pa.scalar(SEP + escape(column[len(TAG_PREFIX) :], name=True) + "=")


def _one_chunk(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A one-chunk column as its array (``combine_chunks`` would copy it)."""
    return col.chunk(0) if isinstance(col, pa.ChunkedArray) and col.num_chunks == 1 else col


def key_of(run_id: str | None, tags: Mapping[str, str | None], *, with_run: bool = True) -> str:
    """The key of one packet, equal to what :func:`packet_keys` gives for its row.

    ``tags`` maps plain tag names (without the ``tag:`` prefix) to values; None values are
    left out, like missing columns.
    """
    parts = [escape(run_id or "")] if with_run else []
    parts += [
        f"{SEP}{escape(k, name=True)}={escape(v)}" for k, v in sorted(tags.items()) if v is not None
    ]
    return "".join(parts)
