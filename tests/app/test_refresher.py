"""The refresher without the app: coalescing, ordering, errors, one model thread, real roots."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from support.app import CLOCK
from support.builders import IDENTITY, status_dir, write_run_record, write_status

from orcatui.app.refresher import (
    Frame,
    FrameGate,
    MonitorSource,
    ReadRequest,
    Refresher,
    ViewState,
    shown_rows,
)
from orcatui.model.monitor import Monitor
from orcatui.model.runs import DEFAULT_STALE_AFTER_S
from orcatui.model.views import View

PIPE = ("pipe",)
A, B = Path("/r/a"), Path("/r/b")


class Recorder:
    """A frame source that records what it is asked, on which thread, and can be held."""

    def __init__(self) -> None:
        self.reads: list[ReadRequest] = []
        self.frames: list[tuple[int, ViewState]] = []
        self.threads: set[int] = set()
        self.inside = 0
        self.max_inside = 0
        self.hold = threading.Event()
        self.hold.set()
        self.reading = threading.Event()
        self.fail_next = False
        self.changed = False  # what judgement_changed answers
        self.judged = 0

    def _enter(self) -> None:
        self.threads.add(threading.get_ident())
        self.inside += 1
        self.max_inside = max(self.max_inside, self.inside)

    def read(self, request: ReadRequest) -> None:
        self._enter()
        try:
            self.reads.append(request)
            self.reading.set()
            assert self.hold.wait(10)
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk on fire")
        finally:
            self.inside -= 1

    def frame(self, seq: int, view: ViewState) -> tuple[int, ViewState]:
        self._enter()
        self.inside -= 1
        self.frames.append((seq, view))
        return seq, view

    def judgement_changed(self) -> bool:
        self._enter()
        self.inside -= 1
        self.judged += 1
        return self.changed


def _refresher(src: Recorder) -> tuple[Refresher, list, list]:
    got: list = []
    errors: list = []
    r = Refresher(src, got.append, errors.append)
    r.start()
    return r, got, errors


def _wait_idle(r: Refresher) -> None:
    deadline = time.monotonic() + 10
    while not r.idle:
        assert time.monotonic() < deadline, "refresher never went idle"
        time.sleep(0.005)


def test_requests_during_a_read_coalesce_into_one_read_and_one_frame() -> None:
    src = Recorder()
    r, got, errors = _refresher(src)
    src.hold.clear()
    r.submit(read=ReadRequest(only=frozenset({A})), view=ViewState(filter="all"))
    assert src.reading.wait(5)
    # arrive while the first read runs
    r.submit(read=ReadRequest(only=frozenset({A})))
    r.submit(read=ReadRequest(only=frozenset({B})), view=ViewState(filter="failed"))
    r.submit(view=ViewState(filter="lost"))
    src.hold.set()
    _wait_idle(r)
    r.stop(5)
    assert src.reads == [ReadRequest(only=frozenset({A})), ReadRequest(only=frozenset({A, B}))]
    # one frame for the first wake-up, one for the merged second: the newest view only
    assert [v.filter for _, v in got] == ["all", "lost"]
    assert [s for s, _ in got] == [1, 2]
    assert errors == []


def test_read_everything_wins_over_some_tables() -> None:
    assert ReadRequest(only=frozenset({A})).merge(ReadRequest()) == ReadRequest()
    both = ReadRequest(rediscover=True, only=frozenset({A})).merge(ReadRequest(only=frozenset({B})))
    assert both == ReadRequest(rediscover=True, only=frozenset({A, B}))


def test_an_error_in_a_read_is_reported_and_the_next_frame_still_comes() -> None:
    src = Recorder()
    r, got, errors = _refresher(src)
    src.fail_next = True
    r.submit(read=ReadRequest(), view=ViewState(search="x"))
    _wait_idle(r)
    assert [type(e) for e in errors] == [OSError]
    assert [v.search for _, v in got] == ["x"]  # the last data is still shown
    r.submit(read=ReadRequest())
    _wait_idle(r)
    r.stop(5)
    assert len(src.reads) == 2 and len(errors) == 1 and len(got) == 2


def test_asks_and_reads_run_on_one_thread_one_at_a_time() -> None:
    src = Recorder()
    r, got, _ = _refresher(src)
    answers = []
    for i in range(20):
        r.submit(read=ReadRequest(only=frozenset({Path(f"/t/{i}")})))
        answers.append(r.ask(lambda i=i: (i, threading.get_ident())))
    results = [f.result(5) for f in answers]
    _wait_idle(r)
    r.stop(5)
    assert [i for i, _ in results] == list(range(20))  # in the order asked
    assert {t for _, t in results} == src.threads  # the same single thread
    assert len(src.threads) == 1 and threading.get_ident() not in src.threads
    assert src.max_inside == 1
    assert got  # frames came


def test_a_failing_ask_gives_its_error_to_the_asker_only() -> None:
    src = Recorder()
    r, got, errors = _refresher(src)

    def boom() -> None:
        raise ValueError("no such packet")

    fut = r.ask(boom)
    try:
        fut.result(5)
    except ValueError as exc:
        assert "no such packet" in str(exc)
    else:
        raise AssertionError("the ask did not fail")
    r.submit(view=ViewState())
    _wait_idle(r)
    r.stop(5)
    assert errors == [] and len(got) == 1


def test_gate_drops_frames_for_a_view_left_and_frames_out_of_order() -> None:
    gate = FrameGate()
    a, b = ViewState(filter="all"), ViewState(filter="failed")
    assert gate.accepts(1, a, a)
    assert not gate.accepts(2, a, b)  # computed for the view the user left
    assert gate.accepts(4, b, b)
    assert not gate.accepts(3, b, b)  # completed after a newer one was applied
    assert not gate.accepts(4, b, b)  # the same frame twice
    assert gate.accepts(5, b, b)


def _events(run: str, n: int, t0: float, state: str = "SUCCESS") -> list[dict]:
    out = []
    for i in range(n):
        sid = f"sub-{i:02d}"
        out.append({"run": run, "state": "RUNNING", "ts": t0 + i, "subject_id": sid})
        if state != "RUNNING":
            out.append({"run": run, "state": state, "ts": t0 + i + 0.5, "subject_id": sid})
    return out


def _source(root: Path) -> MonitorSource:
    return MonitorSource(lambda: Monitor(root, clock=lambda: CLOCK), lambda: CLOCK)


def test_monitor_source_frames_echo_the_view_and_filter_rows(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 4, CLOCK - 100, "FAILED"))
    src = _source(root)
    src.read(ReadRequest(rediscover=True))
    key = src.monitor.snapshot().pipelines[0].nodes[0].key
    view = ViewState(pipeline=PIPE, node=key, filter="failed", search="sub-0")
    frame = src.frame(7, view)
    assert isinstance(frame, Frame)
    assert frame.seq == 7 and frame.view is view
    assert frame.total == 4 and frame.rows is not None and frame.rows.num_rows == 4
    assert src.frame(8, ViewState(node=key, filter="success")).rows.num_rows == 0  # type: ignore[union-attr]
    assert src.frame(9, ViewState(node=key, search="sub-03")).rows.num_rows == 1  # type: ignore[union-attr]


def test_sort_orders_rows_by_a_column(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 5, CLOCK - 100))
    src = _source(root)
    src.read(ReadRequest(rediscover=True))
    key = src.monitor.snapshot().pipelines[0].nodes[0].key
    raw = src.monitor.packet_rows(key, View(), CLOCK)
    down = shown_rows(raw, ViewState(node=key, sort=("subject_id", True)))
    assert down.column("subject_id").to_pylist() == [f"sub-{i:02d}" for i in range(4, -1, -1)]


def test_a_root_deleted_and_recreated_between_reads_is_read_afresh(tmp_path: Path) -> None:
    """Same file names, new content, no read in between: the new root is read, not the old."""
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 3, CLOCK - 100))
    src = _source(root)
    src.read(ReadRequest(rediscover=True))
    key = src.monitor.snapshot().pipelines[0].nodes[0].key
    assert src.frame(1, ViewState(node=key)).total == 3
    shutil.rmtree(root)
    write_status(status_dir(root, PIPE, IDENTITY), _events("r2", 5, CLOCK - 50, "FAILED"))
    src.read(ReadRequest(only=frozenset({status_dir(root, PIPE, IDENTITY)})))
    frame = src.frame(2, ViewState(node=key))
    assert frame.root_error is None
    assert frame.rows is not None
    assert set(frame.rows.column("run_id").to_pylist()) == {"r2"}
    assert frame.total == 5


def test_a_vanished_root_keeps_the_last_data_and_says_why(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 3, CLOCK - 100))
    src = _source(root)
    src.read(ReadRequest(rediscover=True))
    shutil.rmtree(root)
    src.read(ReadRequest(rediscover=True))
    frame = src.frame(1, ViewState())
    assert frame.root_error is not None and "no such directory" in frame.root_error
    assert frame.snapshot.pipelines  # still showing the last data read


def test_a_rejudge_makes_a_frame_only_when_the_source_says_a_verdict_changed() -> None:
    src = Recorder()
    r, got, errors = _refresher(src)
    r.submit(rejudge=True)
    _wait_idle(r)
    assert got == [] and src.judged == 1
    src.changed = True
    r.submit(rejudge=True)
    _wait_idle(r)
    assert len(got) == 1 and src.judged == 2
    # merged with a frame asked for anyway: that frame serves it, no judgement of its own
    src.hold.clear()
    r.submit(read=ReadRequest())
    assert src.reading.wait(5)
    r.submit(rejudge=True)
    r.submit(view=ViewState(filter="failed"))
    src.hold.set()
    _wait_idle(r)
    r.stop(5)
    assert [v.filter for _, v in got] == ["all", "all", "failed"]
    assert src.judged == 2 and errors == []


def _clocked_source(root: Path, clock: list[float]) -> MonitorSource:
    return MonitorSource(lambda: Monitor(root, clock=lambda: clock[0]), lambda: clock[0])


def test_rejudging_a_real_root_frames_only_a_changed_verdict(tmp_path: Path) -> None:
    """No new data, the clock moves: a run judged by its events goes over once it is quiet for
    longer than stale-after, and only that makes a frame."""
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 2, CLOCK - 10, "RUNNING"))
    clock = [CLOCK]
    src = _clocked_source(root, clock)
    got: list[Frame] = []
    errors: list[BaseException] = []
    r = Refresher(src, got.append, errors.append)
    r.start()
    r.submit(read=ReadRequest(rediscover=True))
    _wait_idle(r)
    assert len(got) == 1 and got[0].snapshot.pipelines[0].run.verdict.live  # type: ignore[union-attr]
    r.submit(rejudge=True)  # same clock, same data
    _wait_idle(r)
    assert len(got) == 1
    clock[0] += 2 * DEFAULT_STALE_AFTER_S
    r.submit(rejudge=True)
    _wait_idle(r)
    r.stop(5)
    assert len(got) == 2 and errors == []
    run = got[1].snapshot.pipelines[0].run
    assert run is not None and not run.verdict.live
    assert got[1].snapshot.pipelines[0].counts["LOST"] == 2  # its RUNNING packets are LOST now


def test_rejudging_sees_a_heartbeat_go_stale(tmp_path: Path) -> None:
    """A run record from another host: live while its heartbeat is fresh, dead once it is not;
    re-judging in between makes no frame."""
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), _events("r1", 2, CLOCK - 10, "RUNNING"))
    write_run_record(
        root,
        PIPE,
        {
            "run_id": "r1",
            "pipeline_uri": "pipe@0123456789abcdef",
            "host": "another-host",
            "pid": 4242,
            "started_at": CLOCK - 20,
            "heartbeat_at": CLOCK - 1,
            "heartbeat_interval_s": 10.0,
            "ended_at": None,
            "outcome": None,
            "nodes": {},
        },
    )
    clock = [CLOCK]
    src = _clocked_source(root, clock)
    src.read(ReadRequest(rediscover=True))
    first = src.frame(1, ViewState())
    assert first.snapshot.pipelines[0].run.verdict.reason == "heartbeat fresh"  # type: ignore[union-attr]
    clock[0] += 5
    assert not src.judgement_changed()
    clock[0] += 3600
    assert src.judgement_changed()
    second = src.frame(2, ViewState())
    assert not second.snapshot.pipelines[0].run.verdict.live  # type: ignore[union-attr]
    assert not src.judgement_changed()
