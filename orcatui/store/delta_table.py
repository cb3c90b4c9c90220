"""Incremental reader of a Delta table: delta-rs for the first load, then tail the ``_delta_log``.

The first load opens the table with delta-rs (log replay, checkpoints, protocol checks). After that
each call reads only the JSON commits written since the version last seen, as the Delta protocol
lets readers do, and reads only the data files those commits add.

orcapod writes one event per commit and per file; each commit carries per-file min/max statistics,
which for a one-row file *are* the row. Rows are taken from those statistics where every value is
present and short enough not to have been truncated, so a store of thousands of one-row files loads
without opening them; other files are read.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store import schema as s
from orcatui.store.discovery import TableKind
from orcatui.store.files import FileBatch, concat_normalised, normaliser, one_line, read_files

# delta-rs cuts string statistics to 64 bytes (min a prefix, max a prefix bumped up); a value
# shorter than that with min == max is exact.
_STAT_TRUST_BYTES = 64
_NEEDED = {
    TableKind.STATUS: (s.S_RUN, s.S_STATE, s.S_TS),
    TableKind.LOG: (s.L_RUN, s.L_TS),
}
# Columns whose value must come from the file if statistics cannot give it.
_OPTIONAL = {
    TableKind.STATUS: (s.S_URI, s.S_ERROR),
    TableKind.LOG: (s.L_STDOUT, s.L_STDERR, s.L_PYLOGS, s.L_TRACEBACK, s.L_SUCCESS),
}


class DeltaTableReader:
    """Reads the rows of a Delta table once each; new commits are folded in on each call."""

    def __init__(self, path: Path, kind: TableKind) -> None:
        self.path = path
        self.kind = kind
        self.version = -1
        self._files: set[str] = set()
        self.broken: dict[str, str] = {}

    # -- first load -------------------------------------------------------------------------
    def _load_snapshot(self) -> FileBatch:
        from deltalake import DeltaTable

        dt = DeltaTable(str(self.path))
        version = dt.version()
        # Through the Arrow C stream: pa.table() on a foreign object would import pandas (0.2 s).
        actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
        paths = [unquote(p) for p in actions.column("path").to_pylist()]
        new_idx = [i for i, p in enumerate(paths) if p not in self._files]
        batch = self._rows_for(
            actions.take(pa.array(new_idx, pa.int64())), [paths[i] for i in new_idx]
        )
        self._files = set(paths)
        self.version = version
        return batch

    # -- tailing the log ----------------------------------------------------------------------
    def _pending_commits(self) -> list[tuple[int, str]]:
        """Commit files after ``self.version``, probed one version at a time.

        Commits are numbered without gaps, so probing the next names costs O(new commits),
        not a listing of a ``_delta_log`` that grows by one file per event.
        """
        log = self.path / "_delta_log"
        out = []
        version = self.version + 1
        while True:
            path = log / f"{version:020d}.json"
            if not path.exists():
                break
            out.append((version, str(path)))
            version += 1
        return out

    def _log_moved_on(self) -> bool:
        """True if the log has commits past ours that probing cannot reach (a gap)."""
        log = self.path / "_delta_log"
        last = log / "_last_checkpoint"
        try:
            data = json.loads(last.read_text(encoding="utf-8"))
            return int(data.get("version", -1)) > self.version
        except (OSError, ValueError):
            return False

    def _tail(self) -> FileBatch | None:
        """Fold commits after ``self.version``; None if the log cannot be tailed (gap, protocol)."""
        commits = self._pending_commits()
        if not commits:
            return None if self._log_moved_on() else FileBatch(None)
        adds: list[dict] = []
        for _, path in commits:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    action = json.loads(line)
                    if "add" in action:
                        adds.append(action["add"])
                    elif "remove" in action:
                        self._files.discard(unquote(action["remove"]["path"]))
                    elif "protocol" in action and action["protocol"].get("minReaderVersion", 1) > 3:
                        return None
        fresh = [a for a in adds if unquote(a["path"]) not in self._files]
        batch = self._rows_for(_adds_table(fresh), [unquote(a["path"]) for a in fresh])
        self._files.update(unquote(a["path"]) for a in fresh)
        self.version = commits[-1][0]
        return batch

    def read_new(self) -> FileBatch:
        """Rows added since the last call (all rows on the first call), normalised."""
        if not (self.path / "_delta_log").is_dir():
            return FileBatch(None)
        if self.version >= 0:
            try:
                batch = self._tail()
            except (OSError, ValueError, KeyError) as exc:
                batch = None
                self.broken["_delta_log"] = one_line(exc)
            if batch is not None:
                return batch
        try:
            batch = self._load_snapshot()
            self.broken.pop("_delta_log", None)
            return batch
        except Exception as exc:  # a broken log is reported for this table, never fatal
            self.broken["_delta_log"] = one_line(exc)
            return FileBatch(None, {str(self.path / "_delta_log"): one_line(exc)})

    # -- rows from statistics or files --------------------------------------------------------
    def _rows_for(self, actions: pa.Table, paths: list[str]) -> FileBatch:
        if not paths:
            return FileBatch(None)
        from_stats, need_file = _split_by_stats(actions, self.kind)
        parts: list[pa.Table] = []
        problems: list[str] = []
        if len(from_stats):
            raw = _stats_rows(actions.take(pa.array(from_stats, pa.int64())), self.kind)
            result = normaliser(self.kind)(raw, str(self.path))
            parts.append(result.table)
            problems.extend(result.problems)
        failed: dict[str, str] = {}
        if need_file:
            files = [str(self.path / paths[i]) for i in need_file]
            got = read_files(files, self.kind, str(self.path))
            if got.table is not None:
                parts.append(got.table)
            problems.extend(got.problems)
            failed = got.failed
            for f, err in failed.items():
                self.broken[Path(f).name] = err
        return FileBatch(concat_normalised(parts), failed, problems)


def _adds_table(adds: list[dict]) -> pa.Table:
    """Add actions from JSON commits, flattened like ``get_add_actions(flatten=True)``."""
    cols: dict[str, list] = {"path": [], "num_records": []}
    rows = []
    for a in adds:
        try:
            stats = json.loads(a.get("stats") or "{}")
        except ValueError:
            stats = {}
        rows.append(stats)
    names = {"min": "minValues", "max": "maxValues", "null_count": "nullCount"}
    keys: set[str] = set()
    for st in rows:
        for short, part in names.items():
            for k, v in (st.get(part) or {}).items():
                if not isinstance(v, dict):
                    keys.add(f"{short}.{k}")
    for k in keys:
        cols[k] = []
    for a, st in zip(adds, rows, strict=True):
        cols["path"].append(a["path"])
        cols["num_records"].append(st.get("numRecords"))
        for k in keys:
            part, col = k.split(".", 1)
            v = (st.get(names[part]) or {}).get(col)
            cols[k].append(None if isinstance(v, dict) else v)
    arrays = {}
    for k, v in cols.items():
        if k.startswith("null_count.") or k == "num_records":
            arrays[k] = pa.array(v, pa.int64())
        else:
            arrays[k] = pa.array([None if x is None else str(x) for x in v], pa.string())
    return pa.table(arrays)


def _split_by_stats(actions: pa.Table, kind: TableKind) -> tuple[list[int], list[int]]:
    """Indices of actions whose row can be taken from statistics, and of those needing the file."""
    n = actions.num_rows
    names = set(actions.column_names)
    if "num_records" not in names:
        return [], list(range(n))
    ok = pc.fill_null(pc.equal(actions.column("num_records"), 1), False)
    user = [c[4:] for c in names if c.startswith("min.") and s.is_user_tag(c[4:])]
    for col in (*_NEEDED[kind], *_OPTIONAL[kind], *user):
        ok = pc.and_(ok, _stat_usable(actions, col, names))
    mask = ok.to_numpy(zero_copy_only=False)
    stats_idx = [i for i in range(n) if mask[i]]
    file_idx = [i for i in range(n) if not mask[i]]
    return stats_idx, file_idx


def _stat_usable(actions: pa.Table, col: str, names: set[str]) -> pa.Array:
    n = actions.num_rows
    nulls = actions.column(f"null_count.{col}") if f"null_count.{col}" in names else None
    is_null = pc.fill_null(pc.equal(nulls, 1), False) if nulls is not None else pa.repeat(False, n)
    if f"min.{col}" not in names:
        return is_null
    lo = actions.column(f"min.{col}")
    hi = actions.column(f"max.{col}") if f"max.{col}" in names else lo
    if not pa.types.is_string(lo.type):
        lo, hi = pc.cast(lo, pa.string()), pc.cast(hi, pa.string())
    exact = pc.and_(pc.equal(lo, hi), pc.less(pc.binary_length(lo), _STAT_TRUST_BYTES))
    return pc.or_(is_null, pc.fill_null(exact, False))


def _stats_rows(actions: pa.Table, kind: TableKind) -> pa.Table:
    """One raw row per action, rebuilt from its min statistics (nulls where null_count is 1)."""
    names = actions.column_names
    cols = {}
    for c in names:
        if c.startswith("min."):
            col = c[4:]
            if kind is TableKind.LOG and col == s.L_SUCCESS:
                cols[col] = pc.equal(pc.utf8_lower(pc.cast(actions.column(c), pa.string())), "true")
            else:
                cols[col] = actions.column(c)
    return pa.table(cols) if cols else pa.table({s.S_RUN: pa.nulls(actions.num_rows, pa.string())})
