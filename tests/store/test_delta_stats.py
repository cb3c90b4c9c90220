"""Rows rebuilt from Delta statistics equal the rows in the files (the fast path is exact)."""

from __future__ import annotations

from deltalake import DeltaTable
from support.events import T0, delta_append, event, table_dir

from orcatui.store.delta_table import DeltaTableReader, _split_by_stats
from orcatui.store.discovery import TableKind
from orcatui.store.files import read_files

VALUES = [
    "plain",
    "Zoë Müller",
    "患者 7",
    "emoji 🧪 test",
    "two  spaces ",
    "x" * 63,  # just under the 64-byte cut
    "é" * 32,  # 64 bytes: may be cut, must come from the file
    "y" * 200,
    "",
]


def comparable(table):
    cols = [c for c in table.column_names if c != "id"]
    return sorted(tuple(r[c] for c in cols) for r in table.select(cols).to_pylist())


def test_stats_rows_match_file_rows(tmp_path):
    d = table_dir(tmp_path, "etl", ("node",))
    for i, value in enumerate(VALUES):
        delta_append(d, [event("RUNNING", T0 + i, subject=value, session=str(i))])
        error = None if i % 3 else f"boom {value}\nsecond line"
        state = "FAILED" if error else "SUCCESS"
        delta_append(d, [event(state, T0 + i + 0.5, error=error, subject=value, session=str(i))])
    reader = DeltaTableReader(d, TableKind.STATUS)
    fast = reader.read_new().table
    files = [str(d / p) for p in DeltaTable(str(d)).file_uris()]
    slow = read_files(files, TableKind.STATUS, str(d)).table
    assert comparable(fast) == comparable(slow)
    assert fast.num_rows == 2 * len(VALUES)


def test_short_values_come_from_statistics_and_long_ones_from_files(tmp_path):
    import pyarrow as pa

    d = table_dir(tmp_path, "etl", ("node",))
    delta_append(d, [event("RUNNING", T0, subject="short")])
    delta_append(d, [event("RUNNING", T0, subject="z" * 100)])
    actions = pa.RecordBatchReader.from_stream(
        DeltaTable(str(d)).get_add_actions(flatten=True)
    ).read_all()
    by_stats, by_file = _split_by_stats(actions, TableKind.STATUS)
    assert len(by_stats) == 1 and len(by_file) == 1
    assert "short" in str(actions.slice(by_stats[0], 1).to_pylist())
