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
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.store import schema as s
from orcatui.store.discovery import TableKind
from orcatui.store.files import FileBatch, concat_normalised, normaliser, one_line, read_files
from orcatui.store.parquet_table import BROKEN_AFTER_S

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
    """Reads the rows of a Delta table once each; new commits are folded in on each call.

    A commit file that is empty or not complete JSON (a writer still writing it, or a crash on a
    filesystem without atomic renames) is not read yet: the commits before it are, and it is
    retried on each call. If it stays incomplete for ``grace_s`` it is named in ``broken`` and
    the commits after it are read; should it be completed later, its rows are read then.
    """

    def __init__(
        self,
        path: Path,
        kind: TableKind,
        *,
        grace_s: float = BROKEN_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.kind = kind
        self.version = -1
        self._files: set[str] = set()
        self.broken: dict[str, str] = {}
        self.grace_s = grace_s
        self._clock = clock
        self._incomplete_since: dict[int, float] = {}  # commit version -> first seen incomplete
        self._skipped: dict[int, str] = {}  # incomplete commits given up on (read past them)
        self._removed_since_skip: set[str] = set()
        self._retry: dict[str, dict] = {}  # data files that failed to read: tried again each call

    # -- first load -------------------------------------------------------------------------
    def _load_snapshot(self) -> FileBatch:
        from deltalake import DeltaTable  # imported only when a Delta table is opened

        newest = self._newest_commit()
        usable = newest
        while usable >= 0 and _read_commit(self._commit_path(usable)) is None:
            usable -= 1  # the newest commit(s) are not complete yet: load the version before
        for v in range(usable + 1, newest + 1):
            self._incomplete(v)
        if newest >= 0 and usable < 0:
            return FileBatch(None)
        if usable < newest:
            dt = DeltaTable(str(self.path), version=usable)
        else:
            dt = DeltaTable(str(self.path))
        version = dt.version()
        # Through the Arrow C stream: pa.table() on a foreign object would import pandas (0.2 s).
        actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
        paths = [unquote(p) for p in actions.column("path").to_pylist()]
        new_idx = [i for i, p in enumerate(paths) if p not in self._files]
        batch = self._rows_for(
            actions.take(pa.array(new_idx, pa.int64())), [paths[i] for i in new_idx]
        )
        self._forget_broken_files(set(paths))
        unread = self._unread(batch)
        self._files = set(paths) - unread
        self._retry = {p: {"path": quote(p)} for p in unread}  # read from the file next time
        self.version = version
        return batch

    def _newest_commit(self) -> int:
        """The highest commit version in the log's listing (-1 if none)."""
        newest = -1
        try:
            with os.scandir(self.path / "_delta_log") as it:
                for e in it:
                    n = e.name
                    if len(n) == 25 and n.endswith(".json") and n[:20].isdigit():
                        newest = max(newest, int(n[:20]))
        except OSError:
            return -1
        return newest

    def _commit_path(self, version: int) -> str:
        return str(self.path / "_delta_log" / f"{version:020d}.json")

    def _incomplete(self, version: int) -> bool:
        """Note an incomplete commit; True once it has been so for longer than the grace."""
        now = self._clock()
        first = self._incomplete_since.setdefault(version, now)
        if now - first < self.grace_s and _written_within(self._commit_path(version), self.grace_s):
            return False
        self.broken[f"_delta_log/{version:020d}.json"] = (
            f"commit {version} is empty or incomplete since {now - first:.0f}s: "
            "its rows are not shown"
        )
        return True

    def _complete(self, version: int) -> None:
        self._incomplete_since.pop(version, None)
        self._skipped.pop(version, None)
        self.broken.pop(f"_delta_log/{version:020d}.json", None)

    def _unread(self, batch: FileBatch) -> set[str]:
        """Table-relative paths of the data files that failed to read in ``batch``."""
        base = str(self.path) + os.sep
        return {f[len(base) :] for f in batch.failed if f.startswith(base)}

    def _forget_broken_files(self, current: set[str]) -> None:
        """A data file that failed but is no longer part of the table (compacted away) is no
        longer a problem."""
        for name in [n for n in self.broken if "/" not in n and n != "_delta_log"]:
            if not any(p == name or p.endswith("/" + name) for p in current):
                del self.broken[name]

    # -- tailing the log ----------------------------------------------------------------------
    def _pending_commits(self) -> list[tuple[int, str]]:
        """Commit files after ``self.version``, probed one version at a time.

        Commits are numbered without gaps, so probing the next names costs O(new commits),
        not a listing of a ``_delta_log`` that grows by one file per event.
        """
        out = []
        version = self.version + 1
        while True:
            path = self._commit_path(version)
            if not os.path.exists(path):
                break
            out.append((version, path))
            version += 1
        return out

    def _log_moved_on(self) -> bool:
        """True if the log has commits past ours that probing cannot reach (a gap)."""
        log = self.path / "_delta_log"
        last = log / "_last_checkpoint"
        try:
            data = json.loads(last.read_text(encoding="utf-8"))
            return int(data.get("version", -1)) > self.version
        except (OSError, ValueError, TypeError, AttributeError):
            return False

    def _tail(self) -> FileBatch | None:
        """Fold commits after ``self.version``; None if the log cannot be tailed (gap, protocol).

        The adds and removes of all new commits are applied together before any file is read:
        a file added and then removed by a later commit of the batch (OPTIMIZE + VACUUM since the
        last call) is never read, and a compacted file whose rows were all read already is not
        read again.
        """
        commits = [(v, p) for v, p in sorted(self._skipped.items())] + self._pending_commits()
        if not commits:
            if self._log_moved_on():
                return None
            if not self._retry:
                return FileBatch(None)
        read_before = set(self._files)
        pending: dict[str, dict] = {}  # path -> add action, in commit order
        last = self.version
        for version, path in commits:
            actions = _read_commit(path)
            recovered = version in self._skipped
            if actions is None:
                if recovered:
                    continue  # still incomplete: it stays named in ``broken``
                if self._incomplete(version):
                    self._skipped[version] = path  # given up waiting: read past it
                    last = version
                    continue
                break  # not complete yet: read up to the commit before it, retry it next call
            self._complete(version)
            removed = fold_actions(
                actions,
                pending,
                self._files,
                read_before,
                skip=self._removed_since_skip if recovered else frozenset(),
            )
            if removed is None:
                return None
            for p in removed:
                self._retry.pop(p, None)
                if self._skipped:
                    self._removed_since_skip.add(p)
            if not recovered:
                last = version
        if not self._skipped:
            self._removed_since_skip.clear()
        for p, a in self._retry.items():
            pending.setdefault(p, a)
        fresh = [a for p, a in pending.items() if p not in self._files]
        batch = self._rows_for(_adds_table(fresh), [unquote(a["path"]) for a in fresh])
        unread = self._unread(batch)
        self._retry = {unquote(a["path"]): a for a in fresh if unquote(a["path"]) in unread}
        self._files.update(p for p in (unquote(a["path"]) for a in fresh) if p not in unread)
        self.version = max(self.version, last)
        self._forget_broken_files(self._files | self._retry.keys())
        return batch

    def read_new(self) -> FileBatch:
        """Rows added since the last call (all rows on the first call), normalised."""
        if not (self.path / "_delta_log").is_dir():
            return FileBatch(None)
        if self.version >= 0:
            try:
                batch = self._tail()
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                batch = None
                self.broken["_delta_log"] = one_line(exc)
            if batch is not None:
                self.broken.pop("_delta_log", None)
                return batch
        try:
            batch = self._load_snapshot()
            self.broken.pop("_delta_log", None)
            return batch
        except Exception as exc:  # a broken log is reported for this table, never fatal
            self.broken["_delta_log"] = _delta_error(exc, self.path)
            return FileBatch(None, {str(self.path / "_delta_log"): self.broken["_delta_log"]})

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
            for f in files:
                if f in failed:
                    self.broken[Path(f).name] = failed[f]
                else:
                    self.broken.pop(Path(f).name, None)
        return FileBatch(concat_normalised(parts), failed, problems)


def _read_commit(path: str) -> list[dict] | None:
    """The actions of a commit file; None if it is empty or not complete JSON lines."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None
    return parse_commit(data)


def parse_commit(data: bytes) -> list[dict] | None:
    """The actions of a commit's bytes; None if empty or not complete JSON lines (objects)."""
    actions = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError:
            return None
        if not isinstance(action, dict):
            return None
        actions.append(action)
    return actions or None


def fold_actions(
    actions: list[dict],
    pending: dict[str, dict],
    files: set[str],
    read_before: set[str],
    *,
    skip: set[str] | frozenset[str] = frozenset(),
) -> set[str] | None:
    """Apply one commit's actions to the adds not read yet (the one folding rule of a Delta log,
    local and remote alike).

    ``pending``: table-relative path → add action still to read, in commit order (updated);
    ``files``: paths whose rows are known (a removed one is discarded; updated);
    ``read_before``: paths whose rows were known before this batch of commits. A rewrite
    (``dataChange: false`` adds) whose removed files were all read before adds nothing; else its
    adds are read. Adds of paths in ``skip`` are ignored. Returns the removed paths, or None
    when the commit needs a reader protocol above 3 (tail no further: reload the snapshot). A
    malformed action raises (``KeyError``/``TypeError``/``AttributeError``).
    """
    removed: set[str] = set()
    compacted: list[dict] = []
    for action in actions:
        if "add" in action:
            add = action["add"]
            p = unquote(add["path"])
            if p in skip:
                continue  # removed by a later commit already folded
            if add.get("dataChange") is False:
                compacted.append(add)
            else:
                pending[p] = add
        elif "remove" in action:
            p = unquote(action["remove"]["path"])
            removed.add(p)
            pending.pop(p, None)
            files.discard(p)
        elif "protocol" in action and action["protocol"].get("minReaderVersion", 1) > 3:
            return None
    # Rows of a rewrite (OPTIMIZE) are already known if every file it replaced was read.
    if compacted and removed and removed <= read_before:
        files.update(unquote(a["path"]) for a in compacted)
    else:
        for a in compacted:
            pending[unquote(a["path"])] = a
    return removed


def _written_within(path: str, seconds: float) -> bool:
    """Whether a file was modified in the last ``seconds`` (a writer may still be at it)."""
    try:
        return time.time() - os.stat(path).st_mtime < seconds
    except OSError:
        return True


def _delta_error(exc: BaseException, path: Path) -> str:
    """delta-rs' error as one line; a path it cannot take (not UTF-8) said in words."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return "cannot open: the table's path is not valid UTF-8, which delta-rs requires"
    return one_line(exc)


def _adds_table(adds: list[dict]) -> pa.Table:
    """Add actions from JSON commits, flattened like ``get_add_actions(flatten=True)``."""
    n = len(adds)
    paths: list = []
    num_records: list = []
    names = (("min", "minValues"), ("max", "maxValues"), ("null_count", "nullCount"))
    cols: dict[str, list] = {}  # "<short>.<column>" -> one value per add (None when absent)
    for i, a in enumerate(adds):
        try:
            st = json.loads(a.get("stats") or "{}")
        except ValueError:
            st = {}
        paths.append(a["path"])
        num_records.append(st.get("numRecords"))
        for short, part in names:
            for k, v in (st.get(part) or {}).items():
                if not isinstance(v, dict):
                    col = cols.get(f"{short}.{k}")
                    if col is None:
                        col = cols[f"{short}.{k}"] = [None] * n
                    col[i] = v
    arrays = {
        "path": pa.array(paths, pa.string()),
        "num_records": pa.array(num_records, pa.int64()),
    }
    for k, v in cols.items():
        if k.startswith("null_count."):
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
