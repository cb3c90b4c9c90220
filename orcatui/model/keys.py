"""How a packet is identified: its run id and user tag values (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store.schema import TAG_PREFIX

SEP = "\x1f"


def packet_keys(table: pa.Table, *, with_run: bool = True) -> pa.Array:
    """One key string per row: run id, then ``name=value`` for each non-null tag, by tag name.

    Null tags are left out, so a row written before a tag column existed keys like one where the
    tag is null: keys stay stable under schema drift.
    """
    n = table.num_rows
    parts: list[pa.Array | str] = []
    if with_run:
        parts.append(pc.fill_null(table.column("run_id"), ""))
    for name in sorted(c for c in table.column_names if c.startswith(TAG_PREFIX)):
        label = name[len(TAG_PREFIX) :] + "="
        parts.append(pc.binary_join_element_wise(label, table.column(name), ""))
    if not parts:
        return pa.repeat("", n).cast(pa.string())
    if len(parts) == 1 and not with_run:
        return pc.fill_null(parts[0], "").combine_chunks()
    parts.append(SEP)
    joined = pc.binary_join_element_wise(*parts, null_handling="skip")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def key_of(run_id: str | None, tags: Mapping[str, str | None], *, with_run: bool = True) -> str:
    """The key of one packet, equal to what :func:`packet_keys` gives for its rows."""
    parts = [run_id or ""] if with_run else []
    parts += [f"{k}={v}" for k, v in sorted(tags.items()) if v is not None]
    return SEP.join(parts)
