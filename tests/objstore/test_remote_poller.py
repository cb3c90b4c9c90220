"""The remote poll cadence (orcatui/watching/remote_poller.py), on a fake clock: no sleeping,
no server (the probe and the feed's async loop are driven directly), except the sweep's budget,
checked against moto on loopback."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import PurePosixPath
from types import SimpleNamespace

import pytest

from orcatui.store.discovery import TableKind, TableRef
from orcatui.watching.remote_poller import (
    ObservedStore,
    PollCadence,
    RemoteFeed,
    probe_new_nodes,
    sweep_listing,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ref(pipeline: str, node: str, kind: TableKind = TableKind.STATUS) -> TableRef:
    section = "_status" if kind is TableKind.STATUS else "_log"
    path = PurePosixPath(pipeline, section, node, "v0")
    return TableRef(kind, (pipeline,), (node, "v0"), path)  # type: ignore[arg-type]


def root(pipelines: int, nodes: int) -> list[TableRef]:
    return [ref(f"p{p}", f"n{n}") for p in range(pipelines) for n in range(nodes)]


def run(
    cadence: PollCadence,
    clock: Clock,
    tables: list[TableRef],
    seconds: float,
    *,
    active: set = frozenset(),
    step: float = 0.5,
) -> dict[object, int]:
    """Step the clock; at each tick 'poll' what is due (the ``active`` tables always have
    something new). Returns how often each table was polled."""
    polls: dict[object, int] = {}
    end = clock.now + seconds
    while clock.now < end:
        clock.now += step
        tick = cadence.tick()
        if not tick.tables and not tick.rescan:
            continue
        for key in tick.tables:
            polls[key] = polls.get(key, 0) + 1
        cadence.observe(
            tables,
            polled=None if tick.rescan else tick.tables,
            changed=set(tick.tables) & set(active),
            rediscovered=tick.rescan,
        )
    return polls


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_cold_tables_back_off_by_doubling_to_the_idle_ceiling(clock: Clock) -> None:
    cadence = PollCadence(interval=2, max_idle=60, rescan_every=1e9, sweep_every=None, clock=clock)
    tables = root(1, 3)
    cadence.observe(tables, polled=None, changed={t.path for t in tables})  # the cold load
    polled_at = []
    for _ in range(400):  # 200 s in half seconds
        clock.now += 0.5
        tick = cadence.tick()
        if tables[0].path in tick.tables:
            polled_at.append(clock.now - 1000.0)
            cadence.observe(tables, polled=tick.tables, changed=set())
    gaps = [b - a for a, b in itertools.pairwise(polled_at)]
    assert polled_at[0] == 2.0  # the first look comes one interval after the cold load
    assert gaps[:5] == [4.0, 8.0, 16.0, 32.0, 60.0]
    assert set(gaps[5:]) == {60.0}  # never longer than the ceiling


def test_a_table_that_changes_stays_at_the_interval_and_cools_after_hot_for(clock: Clock) -> None:
    cadence = PollCadence(interval=2, hot_for=30, rescan_every=1e9, sweep_every=None, clock=clock)
    tables = root(1, 2)
    busy = tables[0].path
    cadence.observe(tables, polled=None, changed=set())
    polls = run(cadence, clock, tables, 60, active={busy})
    assert polls[busy] == 30  # every 2 s for a minute
    assert polls[tables[1].path] <= 5  # the quiet one backed off: 2, 6, 14, 30, 62
    # the busy table goes quiet: it keeps the interval for hot_for, then backs off
    quiet = run(cadence, clock, tables, 30)
    assert quiet[busy] == 15
    later = run(cadence, clock, tables, 60)
    assert later[busy] <= 4
    assert cadence.gaps()[busy] > 2


def test_a_change_on_a_backed_off_table_brings_it_back_to_the_interval(clock: Clock) -> None:
    cadence = PollCadence(interval=2, max_idle=60, rescan_every=1e9, sweep_every=None, clock=clock)
    tables = root(1, 1)
    key = tables[0].path
    cadence.observe(tables, polled=None, changed=set())
    run(cadence, clock, tables, 300)
    assert cadence.gaps()[key] == 60
    run(cadence, clock, tables, 61, active={key})  # its next look finds something new
    assert cadence.gaps()[key] == 2
    assert run(cadence, clock, tables, 10, active={key})[key] == 5


def test_new_tables_start_hot_and_the_rescan_reads_everything(clock: Clock) -> None:
    cadence = PollCadence(interval=2, rescan_every=60, sweep_every=None, clock=clock)
    tables = root(2, 2)
    cadence.observe(tables, polled=None, changed=set())
    grown = [*tables, ref("p0", "late")]
    cadence.observe(grown, polled=set(), changed={grown[-1].path})  # found by a rediscovery
    polls = run(cadence, clock, grown, 20)
    assert polls[grown[-1].path] == 10
    ticks = []
    for _ in range(200):
        clock.now += 0.5
        tick = cadence.tick()
        if tick.rescan:
            ticks.append(tick)
            cadence.observe(grown, polled=None, changed=set(), rediscovered=True)
    assert len(ticks) == 2  # once a minute over 100 s
    assert all(t.tables == {g.path for g in grown} for t in ticks)


def test_a_table_the_store_lost_is_forgotten(clock: Clock) -> None:
    cadence = PollCadence(interval=2, sweep_every=None, clock=clock)
    tables = root(1, 2)
    cadence.observe(tables, polled=None, changed=set())
    cadence.observe(tables[:1], polled=None, changed=set())
    clock.now += 100
    assert cadence.tick().tables == {tables[0].path}


def test_idle_request_budget_1000_tables_one_active_pipeline(clock: Clock) -> None:
    """50 pipelines × 20 tables, one pipeline writing: after the start-up minute, table polls
    plus one rediscovery a minute stay well under the 2,000 requests a minute of issue 12."""
    cadence = PollCadence(interval=2, sweep_every=None, clock=clock)
    tables = root(50, 20)
    active = {t.path for t in tables if t.pipeline == ("p0",)}
    cadence.observe(tables, polled=None, changed=set())
    run(cadence, clock, tables, 120, active=active)
    polls = run(cadence, clock, tables, 60, active=active)
    per_active = [polls.get(k, 0) for k in active]
    per_idle = [polls.get(t.path, 0) for t in tables if t.path not in active]
    assert min(per_active) >= 29  # every 2 s
    assert max(per_idle) <= 2  # the rediscovery's read (once a minute)
    assert sum(polls.values()) <= 1000 + 20 * 31
    assert cadence.active_pipelines() == {("p0",)}


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PollCadence(interval=0)


def test_probe_asks_for_a_rescan_when_an_active_pipeline_grows_a_node(clock: Clock) -> None:
    cadence = PollCadence(interval=2, rescan_every=1e9, sweep_every=None, clock=clock)
    tables = [ref("p0", "a"), ref("p0", "a", TableKind.LOG), ref("p1", "b")]
    cadence.observe(tables, polled=None, changed=set())
    cadence.observe(tables, polled={tables[0].path}, changed={tables[0].path})
    listed: list[str] = []
    folders = {"db/p0/_status": ["db/p0/_status/a/"], "db/p0/_log": ["db/p0/_log/a/"]}

    def list_dirs(prefix: str) -> tuple[list[str], list[dict]]:
        listed.append(prefix)
        return folders.get(prefix, []), []

    def key_of(*parts: str) -> str:
        return "/".join(("db", *parts))

    assert probe_new_nodes(cadence, list_dirs, key_of) is False
    assert listed == ["db/p0/_status", "db/p0/_log"]  # only the active pipeline, one LIST each
    assert not cadence.tick().rescan
    folders["db/p0/_status"].append("db/p0/_status/b/")
    assert probe_new_nodes(cadence, list_dirs, key_of) is True
    assert cadence.tick().rescan


def test_observed_store_reports_consumed_and_new_tables(clock: Clock) -> None:
    tables = root(1, 3)

    class FakeStore:
        """Stands in for the store's bookkeeping only; the cadence under test is real."""

        broken: dict[str, str] = {}  # noqa: RUF012

        def __init__(self) -> None:
            self.tables = tables[:2]
            self.grow = False

        def poll(self, *, rediscover, only, consume):
            new = []
            if rediscover and self.grow:
                self.tables = tables
                new = [tables[2]]
            consume(tables[0], "rows")
            return SimpleNamespace(status=[], logs=[], new_tables=new)

    cadence = PollCadence(interval=2, hot_for=30, sweep_every=None, clock=clock)
    store = FakeStore()
    observed = ObservedStore(store, cadence)
    consumed = []
    observed.poll(rediscover=True, only=None, consume=lambda r, rows: consumed.append(r))
    assert consumed == [tables[0]]  # rows still reach the model
    assert set(cadence.gaps()) == {t.path for t in tables[:2]}
    clock.now += 2
    observed.poll(rediscover=False, only={tables[0].path, tables[1].path}, consume=lambda *a: None)
    assert cadence.active_pipelines() == {("p0",)}
    clock.now += 40
    observed.poll(rediscover=False, only={tables[1].path}, consume=lambda *a: None)
    assert cadence.gaps()[tables[1].path] == 8  # quiet at both looks: 2 → 4 → 8
    store.grow = True
    observed.poll(rediscover=True, only=None, consume=lambda *a: None)
    assert tables[2].path in cadence.gaps()
    assert observed.broken == {}


def test_feed_yields_the_cadence_and_says_what_it_does(clock: Clock) -> None:
    cadence = PollCadence(
        interval=0.01, rescan_every=1e9, probe_every=0.5, sweep_every=None, clock=clock
    )
    tables = root(1, 1)
    cadence.observe(tables, polled=None, changed=set())
    probes = []
    feed = RemoteFeed("s3://bucket/db", cadence, probe=lambda: probes.append(1) or False)
    assert feed.backend == "polling s3 every 0.01s"

    async def first() -> object:
        async for changes in feed.changes():
            feed.stop()
            return changes
        return None

    clock.now += 1
    changes = asyncio.run(first())
    assert changes is not None and changes.tables == {tables[0].path} and not changes.rescan
    assert probes == [1]


# -- the sweep: one recursive listing of the root instead of per-table idle checks ----------


def listing(tables: list[TableRef], stamp: dict[object, int], records: dict[str, str]) -> list:
    """A root listing as ``Bucket.list`` yields it (keys under ``db/``): one object per table
    (its name from ``stamp``), and run records with the given ETags."""
    objs = [
        {"path": f"db/{t.path}/{stamp.get(t.path, 0):013d}-w-1.parquet", "e_tag": "x"}
        for t in tables
    ]
    objs += [{"path": f"db/{p}/_runs/r1/w.json", "e_tag": tag} for p, tag in records.items()]
    return objs


def test_sweep_listing_groups_tables_records_and_delta_logs() -> None:
    objs = [
        {"path": "db/p/_status/a/v0/0000000000001-w-1.parquet", "e_tag": "1"},
        {"path": "db/p/_status/a/v0/.tmp-0000000000002.parquet", "e_tag": "2"},
        {"path": "db/p/_status/d/v0/_delta_log/00000000000000000000.json", "e_tag": "3"},
        {"path": "db/p/_status/d/v0/_delta_log/00000000000000000001.json", "e_tag": "4"},
        {"path": "db/p/_status/d/v0/part-0001.parquet", "e_tag": "5"},
        {"path": "db/p/_runs/r1/host-1-ab.json", "e_tag": "6"},
        {"path": "db/p/_runs/r0.json", "e_tag": "7"},
        {"path": "db/p/_runs/r1/.host-1-ab.json.tmp", "e_tag": "8"},
    ]
    sweep = sweep_listing(objs, "db")
    assert set(sweep.tables) == {"p/_status/a/v0", "p/_status/d/v0"}  # data files belong to d
    assert sweep.tables["p/_status/d/v0"] == ("delta", "00000000000000000001.json")
    assert set(sweep.records) == {("p",)}
    hidden_changed = sweep_listing([*objs[:1], {**objs[1], "e_tag": "9"}, *objs[2:]], "db")
    assert hidden_changed.tables == sweep.tables  # a writer's temporary file is not a change
    rewritten = sweep_listing([*objs[:5], {**objs[5], "e_tag": "new"}, *objs[6:]], "db")
    assert rewritten.records != sweep.records


def test_with_the_sweep_quiet_tables_cost_nothing_until_the_sweep_sees_them_move(
    clock: Clock,
) -> None:
    cadence = PollCadence(interval=2, hot_for=30, clock=clock)
    tables = root(2, 3)
    cadence.observe(tables, polled=None, changed=set())  # cold load
    stamp: dict[object, int] = {}
    cadence.apply_sweep(sweep_listing(listing(tables, stamp, {}), "db"))
    assert run(cadence, clock, tables, 120) == {}  # nothing moved: no table polled at all
    stamp[tables[4].path] = 5  # one table got a new object
    cadence.apply_sweep(sweep_listing(listing(tables, stamp, {}), "db"))
    clock.now += 0.5
    assert cadence.tick().tables == {tables[4].path}
    cadence.observe(tables, polled={tables[4].path}, changed={tables[4].path})
    polls = run(cadence, clock, tables, 20, active={tables[4].path})
    assert polls == {tables[4].path: 10}  # hot now: every interval


def test_the_sweep_runs_soon_after_start_then_doubles_to_its_period(clock: Clock) -> None:
    cadence = PollCadence(interval=2, sweep_every=60, clock=clock)
    start, times = clock.now, []
    for _ in range(600):
        clock.now += 0.5
        if cadence.due("sweep"):
            times.append(clock.now - start)
    assert times[:6] == [2.0, 6.0, 14.0, 30.0, 62.0, 122.0]
    assert times[-1] - times[-2] == 60.0


def test_a_new_table_in_the_sweep_asks_for_a_rediscovery(clock: Clock) -> None:
    cadence = PollCadence(interval=2, clock=clock)
    tables = root(1, 2)
    cadence.observe(tables, polled=None, changed=set())
    cadence.apply_sweep(sweep_listing(listing(tables, {}, {}), "db"))
    clock.now += 3
    assert not cadence.tick().rescan
    cadence.apply_sweep(sweep_listing(listing([*tables, ref("p0", "new")], {}, {}), "db"))
    tick = cadence.tick()
    assert tick.rescan and tick.tables == {t.path for t in tables}


def test_live_run_records_are_read_every_interval_then_back_off(clock: Clock) -> None:
    """A pipeline whose run record changed has one table polled every interval (the store
    reads the records of the pipelines it polls); once the record stops changing it backs off
    and is left to the sweep."""
    cadence = PollCadence(interval=2, hot_for=30, clock=clock)
    tables = root(2, 2)
    cadence.observe(tables, polled=None, changed=set())
    cadence.apply_sweep(sweep_listing(listing(tables, {}, {"p1": "a"}), "db"))
    cadence.apply_sweep(sweep_listing(listing(tables, {}, {"p1": "b"}), "db"))
    live = {"ended_at": None, "heartbeat_at": "…"}
    polls: dict[object, int] = {}
    for step in range(40):  # 20 s, the record rewritten at every read
        clock.now += 0.5
        tick = cadence.tick()
        for key in tick.tables:
            polls[key] = polls.get(key, 0) + 1
        if tick.tables:
            cadence.observe(
                tables, polled=tick.tables, changed=set(), records={("p1",): [live]} if step else {}
            )
    assert set(polls) == {ref("p1", "n0").path}  # one table of p1, none of p0
    assert polls[ref("p1", "n0").path] >= 9
    assert ("p1",) in cadence.active_pipelines()
    # the heartbeat stopped: every interval for hot_for (15 looks), then 4, 8, 16, 32 s, then
    # none (a dead writer is judged after 3 unchanged heartbeats, long before the back-off)
    quiet = run(cadence, clock, tables, 240)
    assert 15 <= sum(quiet.values()) <= 20
    assert run(cadence, clock, tables, 120) == {}
    assert ("p1",) not in cadence.active_pipelines()


def test_an_expensive_sweep_is_given_up_for_per_table_back_off(clock: Clock) -> None:
    cadence = PollCadence(interval=2, clock=clock)
    tables = root(1, 3)
    cadence.observe(tables, polled=None, changed=set())
    assert cadence.sweeping
    costly = sweep_listing(listing(tables, {}, {}), "db")
    costly.requests = 50  # more pages than tables (huge Delta logs)
    cadence.apply_sweep(costly)
    assert not cadence.sweeping
    polls = run(cadence, clock, tables, 130)
    assert all(3 <= n <= 8 for n in polls.values()) and len(polls) == 3
    assert cadence.tick().rescan is False
    assert run(cadence, clock, tables, 60).get(tables[0].path, 0) >= 1  # a rediscovery at least


def test_idle_budget_with_the_sweep_1000_tables_one_active_pipeline(clock: Clock) -> None:
    """The issue's budget case: table polls in a steady minute are the active pipeline's 20
    tables every 2 s, and nothing else (the sweep and probes are a handful of LISTs)."""
    cadence = PollCadence(interval=2, clock=clock)
    tables = root(50, 20)
    active = {t.path for t in tables if t.pipeline == ("p0",)}
    cadence.observe(tables, polled=None, changed=set())
    stamp: dict[object, int] = {}
    sweeps = 0

    def minute() -> dict[object, int]:
        nonlocal sweeps
        polls: dict[object, int] = {}
        for _ in range(120):
            clock.now += 0.5
            for key in active:
                stamp[key] = int(clock.now * 1000)  # the writers flush all the time
            if cadence.due("sweep"):
                sweeps += 1
                cadence.apply_sweep(sweep_listing(listing(tables, stamp, {}), "db"))
            tick = cadence.tick()
            for key in tick.tables:
                polls[key] = polls.get(key, 0) + 1
            if tick.tables or tick.rescan:
                cadence.observe(tables, polled=tick.tables, changed=tick.tables & active)
        return polls

    minute()
    minute()
    sweeps = 0
    polls = minute()
    assert set(polls) == active
    assert all(n >= 29 for n in polls.values())
    assert sweeps == 1


def test_a_slow_read_does_not_stretch_the_period(clock: Clock) -> None:
    """The period counts from when the poll was asked for: a read taking 1.5 s of a 2 s
    interval still gives a poll every 2 s."""
    cadence = PollCadence(interval=2, sweep_every=None, clock=clock)
    tables = root(1, 1)
    key = tables[0].path
    cadence.observe(tables, polled=None, changed=set())
    asked = []
    for _ in range(40):  # 20 s
        clock.now += 0.5
        if key in cadence.tick().tables:
            asked.append(clock.now)
            clock.now += 1.5  # the read
            cadence.observe(tables, polled={key}, changed={key})
    assert [b - a for a, b in itertools.pairwise(asked)][1:] == [2.0] * (len(asked) - 2)


def test_a_cut_short_sweep_measures_cost_and_changes_nothing(clock: Clock) -> None:
    """A sweep stopped at the budget (more pages than tables) is not compared: it asks no
    rediscovery and moves no table, and the cadence stops relying on sweeps."""
    from orcatui.watching.remote_poller import Sweep

    cadence = PollCadence(interval=2, clock=clock)
    tables = root(1, 3)
    cadence.observe(tables, polled=None, changed=set())
    assert cadence.sweep_budget() == 4
    cadence.apply_sweep(sweep_listing(listing(tables, {}, {}), "db"))
    assert cadence.sweeping
    cadence.apply_sweep(Sweep(requests=4, complete=False))
    assert not cadence.sweeping and not cadence.tick().rescan
    # the next complete sweep is a new baseline, not compared with the cut one
    cadence.apply_sweep(sweep_listing(listing(tables, {}, {}), "db"))
    assert cadence.sweeping and not cadence.tick().rescan


def test_root_probes_stop_a_sweep_one_page_past_the_budget(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root whose listing needs more pages than there are tables (huge Delta logs) is not
    listed to its end every sweep: the sweep stops at the budget and says it was cut."""
    from observers.objstore import Bucket
    from orcatui.watching import remote_poller
    from orcatui.watching.remote_poller import RootProbes

    monkeypatch.setattr(remote_poller, "LIST_PAGE", 5)  # pages of 5 keys, as far as budgets go
    b = Bucket(f"s3://{s3_bucket}/db")
    for v in range(12):
        b.put(f"db/p/_status/n/execution_status/_delta_log/{v:020d}.json", b"{}")
    cadence = PollCadence(interval=2)
    cadence.observe(root(1, 1), polled=None, changed=set())  # one table: budget 2 pages
    probes = RootProbes(f"s3://{s3_bucket}/db", None, cadence)
    cut = probes.sweep()
    assert not cut.complete and cut.requests == 2 and not cut.tables
    cadence.apply_sweep(cut)
    assert not cadence.sweeping
    b.delete([f"db/p/_status/n/execution_status/_delta_log/{v:020d}.json" for v in range(4, 12)])
    whole = probes.sweep()
    assert whole.complete and set(whole.tables) == {"p/_status/n/execution_status"}
