"""Every status event a node has folded, kept compact for the app's time cursor (issue 13).

A :class:`~orcatui.model.packets.NodePackets` keeps only each packet's latest event; the state as
of an earlier moment needs the events themselves. When a monitor keeps history
(``Monitor.keep_history``, set by the app), each node's packets hand every batch they fold to an
:class:`EventHistory`, which keeps its packet-row columns without the tag values (a packet's tags
never change, so the time cursor takes them from the live packet table by key). Adding costs no
computation but dictionary-encoding the key and run id of each batch (a key per packet is
stored once per batch, a code per event). Entering history therefore needs no second
read of the store (design.md §7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The packet-row columns kept per event (``packets.PACKET_SCHEMA`` minus ``running_ts``,
#: which the time cursor recomputes as of its moment, and minus the tags).
COLUMNS = ("key", "run_id", "ts", "prio", "id", "state", "error")


_CODED = pa.dictionary(pa.int32(), pa.string())


def codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """A dictionary-encoded (or plain string) column as (int codes, the values they index)."""
    if pa.types.is_dictionary(column.type):
        if column.num_chunks == 1:
            chunk = column.chunk(0)
            return chunk.indices.to_numpy(zero_copy_only=False), chunk.dictionary
        column = pc.cast(column, pa.string())  # one dictionary per fold: encode them as one
    enc = pc.dictionary_encode(column).combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary


class EventHistory:
    """A node's folded events as packet rows (:data:`COLUMNS`), appended as they are folded."""

    def __init__(self) -> None:
        self._chunks: list[pa.Table] = []
        self.rows = 0
        #: Bumped on every add: what a cache of the sorted events is keyed by.
        self.version = 0
        #: The time cursor's sorted form of these events, with the version it was built for.
        self.cache: tuple[int, Any] | None = None

    def add(self, rows: pa.Table) -> None:
        """Keep a folded batch (packet rows from ``events_to_packet_rows``)."""
        if rows.num_rows == 0:
            return
        kept = rows.select(list(COLUMNS))
        for name in ("key", "run_id"):  # one key per packet, a few runs: codes are far smaller
            i = kept.schema.get_field_index(name)
            kept = kept.set_column(i, name, pc.dictionary_encode(kept.column(name)))
        self._chunks.append(kept)
        self.rows += rows.num_rows
        self.version += 1

    def table(self) -> pa.Table:
        """Every event kept, as one table of :data:`COLUMNS` (in the order folded; ``key`` and
        ``run_id`` dictionary-encoded, one dictionary per chunk: see :func:`codes`)."""
        if not self._chunks:
            return pa.schema(
                [
                    ("key", _CODED),
                    ("run_id", _CODED),
                    ("ts", pa.int64()),
                    ("prio", pa.int8()),
                    ("id", pa.binary()),
                    ("state", pa.int8()),
                    ("error", pa.string()),
                ]
            ).empty_table()
        if len(self._chunks) > 1:
            self._chunks = [pa.concat_tables(self._chunks, promote_options="default")]
        return self._chunks[0]
