"""Cold loads of many Parquet files read with forked helper processes (``store/fork_read.py``):
the same model as an in-process read, whatever happens to the helpers."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from support.events import T0, log_row, packet, table_dir, write_parquet

from orcatui.model.monitor import Monitor
from orcatui.model.report import build_report
from orcatui.store import fork_read
from orcatui.store.discovery import TableKind
from orcatui.store.files import read_files
from orcatui.store.store import Store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="helpers are forked processes")

NODES = 12
FILES = 9  # per node: 108 status files, below the real threshold; tests lower it


def _root(tmp_path, broken: bool = False):
    """12 nodes × 9 status files (3 packets each, mixed states and runs) and log files."""
    states = ("SUCCESS", "FAILED", "CACHED")
    for n in range(NODES):
        d = table_dir(tmp_path, "etl", (f"node{n:02d}", "v1"))
        for f in range(FILES):
            rows = []
            for k in range(3):
                i = f * 3 + k
                t = T0 + n * 100 + i
                end = None if (n, i) == (3, 7) else t + 0.5 + i / 7  # one left RUNNING
                err = f"ValueError: bad value {i}" if states[i % 3] == "FAILED" else None
                rows += packet(f"run{f % 2}", t, end, states[i % 3], err, sample=f"s{i}")
            write_parquet(d, rows)
        logs = table_dir(tmp_path, "etl", (f"node{n:02d}", "v1"), kind="log")
        write_parquet(logs, [log_row("run0", T0 + n * 100, stdout=f"out {n}", sample="s0")])
    if broken:
        bad = table_dir(tmp_path, "etl", ("node05", "v1")) / "zz-broken.parquet"
        bad.write_bytes(b"PAR1 not parquet at all")
        os.utime(bad, (T0, T0))  # old: not a file still being written
        # a name that is not UTF-8 (its error crosses the helpers' JSON header)
        odd = os.path.join(os.fsencode(bad.parent), b"zz-\xff-broken.parquet")
        with open(odd, "wb") as fh:
            fh.write(b"PAR1 junk")
        os.utime(odd, (T0, T0))
    return tmp_path


def _report(
    root, now: float = T0 + 10_000, history: bool = False
) -> tuple[str, dict[str, str], list[str]]:
    m = Monitor(root, clock=lambda: now)
    m.keep_history = history  # the app's monitor: helpers send rows, not prepared packets
    result = m.refresh()
    report = build_report(m, now=now)
    return json.dumps(report, sort_keys=True, default=str), dict(m.store.broken), result.problems


@pytest.fixture
def few_files_suffice(monkeypatch):
    """The threshold lowered so the test roots take the helpers' path."""
    monkeypatch.setattr(fork_read, "MIN_FILES", 10)
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 2)


def _in_process(monkeypatch):
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 0)


@pytest.mark.parametrize("history", [False, True])
def test_helpers_give_the_same_model_as_an_in_process_read(tmp_path, monkeypatch, history):
    root = _root(tmp_path, broken=True)
    _in_process(monkeypatch)
    expected = _report(root, history=history)
    monkeypatch.setattr(fork_read, "MIN_FILES", 10)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 2)
    prepared_here: list[str] = []
    real_prepare = Monitor._prepare

    def counting_prepare(self, ref, rows):
        prepared_here.append(ref.kind)
        return real_prepare(self, ref, rows)

    monkeypatch.setattr(Monitor, "_prepare", counting_prepare)
    got = _report(root, history=history)
    assert forks == [1, 1]  # the path under test was taken
    # without history, the helpers' tables arrive prepared: this process prepared only its own
    assert (0 < len(prepared_here) < 2 * NODES) if not history else not prepared_here
    assert got[0] == expected[0]
    assert got[1] == expected[1] and any("zz-broken.parquet" in v for v in got[1].values())
    assert sorted(got[2]) == sorted(expected[2])


def test_broken_files_named_by_helpers_as_here(tmp_path, monkeypatch, helper_pids):
    """Both broken files of a table a helper read (one with a name that is not UTF-8, whose
    error crosses the helper's JSON header) are known to the table's reader by their names."""
    root = _root(tmp_path, broken=True)
    monkeypatch.setattr(fork_read, "MIN_FILES", 10)
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 1)
    # every table the helper's: this process reads only what the helper did not deliver
    monkeypatch.setattr(fork_read, "_shares", lambda sizes, helpers: [[], list(range(len(sizes)))])
    parent, real = os.getpid(), fork_read.read_files

    def after_the_helper(paths, kind, source):
        if os.getpid() == parent:  # let the helper finish first (its exit is not reaped here)
            os.waitid(os.P_PID, helper_pids[0], os.WEXITED | os.WNOWAIT)
        return real(paths, kind, source)

    monkeypatch.setattr(fork_read, "read_files", after_the_helper)
    store = Store(root)
    store.poll()
    (reader,) = [
        r for p, (_, r) in store.readers.items() if "node05" in str(p) and "_status" in str(p)
    ]
    assert set(reader.broken) == {"zz-broken.parquet", os.fsdecode(b"zz-\xff-broken.parquet")}


def test_a_second_poll_reads_only_new_files_in_process(tmp_path, monkeypatch, few_files_suffice):
    root = _root(tmp_path)
    store = Store(root)
    first = store.poll()
    assert sum(t.num_rows for _, t in first.status) == NODES * FILES * 6 - 1
    d = table_dir(root, "etl", ("node00", "v1"))
    write_parquet(d, packet("run9", T0 + 5000, T0 + 5001, "SUCCESS", sample="new"))
    forks = []
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or pytest.fail("forked"))
    second = store.poll()
    assert [t.num_rows for _, t in second.status] == [2]
    assert forks == []


def _read_all(jobs, helpers):
    got: dict[int, list] = {}

    def deliver(index, batch):
        assert index not in got  # once per job
        got[index] = (batch.table.to_pylist() if batch.table is not None else None, batch.failed)

    fork_read.read_jobs(jobs, deliver, helpers)
    return got


def _jobs(root):
    dirs = sorted(p for p in root.rglob("execution_status") if p.is_dir())
    return [
        fork_read.FileJob(sorted(map(str, d.glob("*.parquet"))), TableKind.STATUS, str(d))
        for d in dirs
    ]


@pytest.fixture
def helper_pids(monkeypatch):
    """The pids of the helpers forked during the test."""
    pids: list[int] = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def _reaped(pid: int) -> bool:
    """True when ``pid`` is no child of this process any more (neither running nor a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("fate", ["sigkill", "garbage", "hang", "raises"])
def test_a_failing_helper_costs_time_never_a_result(tmp_path, monkeypatch, fate, helper_pids):
    """A helper killed by SIGKILL after one table, one that writes garbage, one that hangs
    forever and one whose reads raise: every table is still delivered once, as read here."""
    root = _root(tmp_path, broken=True)
    jobs = _jobs(root)
    expected = _read_all(jobs, 0)
    real_helper = fork_read._helper

    def failing_helper(jobs_, share, fd):
        if fate == "sigkill":
            real_helper(jobs_, share[:1], os.dup(fd))
            os.kill(os.getpid(), signal.SIGKILL)
        elif fate == "garbage":
            os.write(fd, fork_read._HEADER.pack(share[0], 5, 7) + b"{nope}garbage")
        elif fate == "hang":
            time.sleep(3600)
        else:
            monkeypatch.setattr(fork_read, "read_files", lambda *a: 1 / 0)
            real_helper(jobs_, share, fd)

    monkeypatch.setattr(fork_read, "_helper", failing_helper)

    def waited_for_a_helper(*_):
        raise AssertionError("read_jobs waited for a hung helper")

    previous = signal.signal(signal.SIGALRM, waited_for_a_helper)
    signal.alarm(120)  # the helpers read ~100 files: a bound no healthy read comes near
    try:
        got = _read_all(jobs, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert got == expected
    assert len(helper_pids) == 2 and all(map(_reaped, helper_pids))  # none running, no zombie


def test_helpers_results_arrive_and_are_used(tmp_path, monkeypatch, helper_pids):
    """Tables a helper delivered are not read again here."""
    root = _root(tmp_path)
    jobs = _jobs(root)
    here: list[str] = []
    real = fork_read.read_files

    def counting(paths, kind, source):
        here.append(source)
        return real(paths, kind, source)

    monkeypatch.setattr(fork_read, "read_files", counting)
    delivered = []

    def deliver(index, batch):
        if not delivered:  # let the helper finish its whole share first (no reaping here)
            os.waitid(os.P_PID, helper_pids[0], os.WEXITED | os.WNOWAIT)
        delivered.append(index)

    fork_read.read_jobs(jobs, deliver, 1)
    # counting ran in this process for its own share; the helper's calls happened in the fork
    assert sorted(delivered) == list(range(len(jobs)))
    assert len(here) < len(jobs) - 1
    assert all(map(_reaped, helper_pids))


def test_fork_refused_reads_everything_here(tmp_path, monkeypatch):
    root = _root(tmp_path)
    jobs = _jobs(root)
    expected = _read_all(jobs, 0)

    def no_fork():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    assert _read_all(jobs, 3) == expected


def test_shares_balance_files_largest_first():
    sizes = [100] * 20 + [5, 5, 60]
    shares = fork_read._shares(sizes, helpers=2)
    assert sorted(i for share in shares for i in share) == list(range(len(sizes)))
    loads = [sum(sizes[i] for i in share) for share in shares]
    assert max(loads) - min(loads) <= 100  # no process more than one table ahead
    assert all(share == sorted(share, key=lambda i: -sizes[i]) for share in shares)


def test_helper_batches_equal_read_files(tmp_path):
    """The IPC round trip keeps every column, type and value (dictionary tags included)."""
    root = _root(tmp_path, broken=True)
    jobs = _jobs(root)
    got: dict[int, object] = {}
    fork_read.read_jobs(jobs, lambda i, b: got.__setitem__(i, b), 1)
    for i, jb in enumerate(jobs):
        direct = read_files(jb.paths, jb.kind, jb.source)
        assert got[i].failed == direct.failed
        assert got[i].problems == direct.problems
        assert got[i].table.equals(direct.table, check_metadata=True)


def test_a_table_whose_read_raises_is_reported_and_the_rest_read(
    tmp_path, monkeypatch, few_files_suffice
):
    """As on threads: one table's failure (here its normalisation raising, in this process and
    in the helpers alike) marks that table broken, never stops the others."""
    root = _root(tmp_path)
    target = str(table_dir(root, "etl", ("node04", "v1")))
    real = fork_read.read_files

    def failing(paths, kind, source):
        if source == target:
            raise ValueError("normalisation failed")
        return real(paths, kind, source)

    monkeypatch.setattr(fork_read, "read_files", failing)
    update = Store(root).poll()
    read = {str(ref.path) for ref, _ in update.status}
    assert target not in read and len(read) == NODES - 1
    assert any("node04" in p and "normalisation failed" in p for p in update.problems)


def test_a_small_cold_load_lists_each_directory_once(tmp_path, monkeypatch):
    """Below the threshold the tables are read here, from the listing the check made."""
    from orcatui.store.parquet_table import ParquetTableReader

    root = _root(tmp_path)
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 1)
    monkeypatch.setattr(fork_read, "MIN_SMALL_TABLES", 2 * NODES + 1)  # below, by a table
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked below the threshold"))
    listings: list[str] = []
    real = ParquetTableReader._listing

    def counting(self):
        listings.append(str(self.path))
        return real(self)

    monkeypatch.setattr(ParquetTableReader, "_listing", counting)
    update = Store(root).poll()
    assert sum(t.num_rows for _, t in update.status) == NODES * FILES * 6 - 1
    assert len(listings) == len(set(listings)) == 2 * NODES


def test_many_small_tables_are_worth_helpers_few_or_big_ones_are_not(tmp_path):
    small = [str(tmp_path / f"s{i}.parquet") for i in range(16)]
    for p in small:
        with open(p, "wb") as fh:
            fh.write(b"x" * 1000)
    assert fork_read.worth_helpers(16, small)
    assert not fork_read.worth_helpers(15, small[:15])  # too few tables
    big = tmp_path / "big.parquet"
    with open(big, "wb") as fh:
        fh.truncate(16 * fork_read.SMALL_TABLE_BYTES)  # sparse: the size is what counts
    assert not fork_read.worth_helpers(16, [*small, str(big)])  # averaging above the bound
    assert fork_read.worth_helpers(16, [*small, str(tmp_path / "gone.parquet")])  # vanished
    many = small * (fork_read.MIN_FILES // len(small) + 1)
    assert fork_read.worth_helpers(1, [*many, str(big)])  # many files, whatever their size


def test_a_cold_load_of_many_small_tables_takes_the_helpers_path(tmp_path, monkeypatch):
    """With the thresholds as shipped (no file-count override): 24 small tables are read by a
    helper and this process, giving the model an in-process read gives."""
    root = _root(tmp_path, broken=True)
    _in_process(monkeypatch)
    expected = _report(root)
    monkeypatch.setattr(fork_read, "helpers_available", lambda: 1)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    got = _report(root)
    assert forks == [1]
    assert got == expected
