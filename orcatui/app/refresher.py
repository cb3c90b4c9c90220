"""The refresher: one model thread that reads, folds and computes frames for the app.

Textual-free (see docs/design.md, "7 The app"). The app hands it *read requests* (which tables
changed, or everything) and *view states* (what the screen shows); it coalesces what arrived
while it was busy into one read and one frame for the newest view state, runs everything on its
own thread, and hands back immutable frames that carry the view state and a sequence number. The
app applies a frame only if it is for the view the user is looking at and newer than the last one
applied (:class:`FrameGate`). Exactly one thread ever touches the model: the refresher's.

Questions that need the model (a packet's details) are asked with :meth:`Refresher.ask`; they run
on the same thread, in order, between reads.

Run verdicts depend on the clock (a heartbeat going stale, a writer's process ending) as well as
on the disk. A *re-judge* request (``submit(rejudge=True)``) judges the runs again on the model
thread and makes a frame only when some verdict differs from the last frame's: at idle the app
re-judges every few seconds for the cost of the judgement alone, not of a frame.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from observers.objstore import is_url
from orcatui.app.filters import BY_NAME
from orcatui.model.monitor import (
    Monitor,
    NodeKey,
    PacketDetails,
    PipelineInfo,
    Snapshot,
    filter_rows,
)
from orcatui.model.runs import Verdict
from orcatui.model.views import View
from orcatui.store.store import RootError

Pipeline = tuple[str, ...]
T = TypeVar("T")
F = TypeVar("F")


@dataclass(frozen=True)
class ViewState:
    """What the monitor screen shows: an immutable value the screen owns and replaces."""

    pipeline: Pipeline | None = None  # the pipeline the cursor is in
    node: NodeKey | None = None  # the node whose packets are shown
    views: tuple[tuple[Pipeline, View], ...] = ()  # the run shown per pipeline (default newest)
    filter: str = "all"  # a state filter's name (orcatui.app.filters)
    search: str = ""
    sort: tuple[str, bool] | None = None  # (display-row column, descending); None = model order

    def view_of(self, pipeline: Pipeline) -> View:
        """The run view of a pipeline (the newest run unless one was picked)."""
        return dict(self.views).get(pipeline, View())

    def with_view(self, pipeline: Pipeline, view: View) -> ViewState:
        """This state with ``pipeline`` shown by ``view``."""
        views = {**dict(self.views), pipeline: view}
        return replace(self, views=tuple(sorted(views.items(), key=lambda kv: kv[0])))


@dataclass(frozen=True)
class ReadRequest:
    """Read the disk: every table (``only`` None) or some table directories; maybe rediscover."""

    rediscover: bool = False
    only: frozenset[Path] | None = None

    def merge(self, other: ReadRequest) -> ReadRequest:
        """One request that covers both."""
        only = None if self.only is None or other.only is None else self.only | other.only
        return ReadRequest(self.rediscover or other.rediscover, only)


@dataclass(frozen=True)
class Frame:
    """Everything the screen shows at one moment, for one view state."""

    seq: int  # increases with every frame the refresher makes
    view: ViewState  # the view state it was computed for
    snapshot: Snapshot
    now: float
    read_at: float | None  # when the disk was last read successfully (None before any read)
    rows: pa.Table | None  # the node's display rows after filter, search and sort
    total: int  # rows of the node in its run view before filtering
    root_error: str | None = None  # the root cannot be read (deleted, unreadable)
    problems: tuple[str, ...] = ()  # problems reported by this read

    def pipeline(self, name: Pipeline | None) -> PipelineInfo | None:
        """A pipeline of the snapshot by name (the first when ``name`` is None or unknown)."""
        for p in self.snapshot.pipelines:
            if name is None or p.name == name:
                return p
        return None


class FrameSource(Protocol[F]):
    """What the refresher drives: reads the disk, then makes a frame for a view state."""

    def read(self, request: ReadRequest) -> None:
        """Read and fold what the request asks for (may raise: reported, then carried on)."""

    def frame(self, seq: int, view: ViewState) -> F:
        """A frame for ``view`` from the current model."""

    def judgement_changed(self) -> bool:
        """True when judging the runs now gives another verdict than the last frame shows."""


@dataclass
class _Work:
    """What one wake-up of the model thread does (everything that queued up, merged)."""

    read: ReadRequest | None = None
    view: ViewState | None = None
    frame: bool = False
    rejudge: bool = False
    asks: list[tuple[Callable[[], Any], Future[Any]]] = field(default_factory=list)
    stop: bool = False


_STOP = object()


class Refresher(Generic[F]):
    """Coalesces requests; reads, folds and makes frames on one thread; delivers frames.

    ``deliver`` and ``on_error`` are called on the model thread: they must only hand the value
    over (the app posts a message). Requests made while a read runs are merged and served by one
    read and one frame afterwards.
    """

    def __init__(
        self,
        source: FrameSource[F],
        deliver: Callable[[F], None],
        on_error: Callable[[BaseException], None],
        *,
        view: ViewState | None = None,
        name: str = "orcatui-model",
    ) -> None:
        self.source = source
        self._deliver = deliver
        self._on_error = on_error
        self._queue: queue.Queue[object] = queue.Queue()
        self._view = view or ViewState()
        self._seq = 0
        self._settled = False  # whether the heap was settled after the first read
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def start(self) -> None:
        """Start the model thread."""
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the current step, then end the thread (pending asks are cancelled)."""
        self._queue.put(_STOP)
        if self._started and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def idle(self) -> bool:
        """True when nothing is queued or running."""
        return self._queue.unfinished_tasks == 0

    def submit(
        self,
        *,
        view: ViewState | None = None,
        read: ReadRequest | None = None,
        frame: bool = True,
        rejudge: bool = False,
    ) -> None:
        """Ask for a read (if ``read``) and a frame for ``view`` (else the last view given).

        ``rejudge=True`` (with nothing else asked) makes a frame only if a run's verdict changed.
        """
        if rejudge and view is None and read is None:
            frame = False
        self._queue.put(("submit", view, read, frame, rejudge))

    def ask(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the model thread (between reads); its result or error in a future."""
        fut: Future[T] = Future()
        self._queue.put(("ask", fn, fut))
        return fut

    # -- the model thread --------------------------------------------------------------------
    def _take(self) -> tuple[_Work, int]:
        """Block for one item, then take everything else queued, merged into one piece of work."""
        items = [self._queue.get()]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        work = _Work()
        for item in items:
            if item is _STOP:
                work.stop = True
                continue
            assert isinstance(item, tuple)
            if item[0] == "ask":
                work.asks.append((item[1], item[2]))
                continue
            _, view, read, frame, rejudge = item
            work.rejudge = work.rejudge or rejudge
            if view is not None:
                work.view = view
            if read is not None:
                work.read = read if work.read is None else work.read.merge(read)
            work.frame = work.frame or frame or view is not None or read is not None
        return work, len(items)

    def _run(self) -> None:
        while True:
            work, n = self._take()
            try:
                self._step(work)
            finally:
                for _ in range(n):
                    self._queue.task_done()
            if work.stop:
                return

    def _step(self, work: _Work) -> None:
        if work.stop:
            for _, fut in work.asks:
                fut.cancel()
            return
        for fn, fut in work.asks:
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # the asker gets it
                    fut.set_exception(exc)
        if work.view is not None:
            self._view = work.view
        if work.read is not None:
            try:
                self.source.read(work.read)
            except Exception as exc:
                self._on_error(exc)
            else:
                if not self._settled:
                    self._settled = True
                    settle_heap()
        if not work.frame and work.rejudge:
            try:
                work.frame = self.source.judgement_changed()
            except Exception as exc:
                self._on_error(exc)
                return
        if work.frame:
            self._seq += 1
            try:
                made = self.source.frame(self._seq, self._view)
            except Exception as exc:
                self._on_error(exc)
                return
            self._deliver(made)


def settle_heap() -> None:
    """After a big build (the first load, a time cursor): the objects alive now are kept out of
    the cyclic collector's full passes (``gc.freeze``).

    A full pass walks every container object alive; after a 2 M-event load those are many, and
    a pass every few hundred frames took 45-110 ms on whichever thread triggered it — a key
    press in history took 120 ms instead of 25. Frozen objects are still freed when their last
    reference goes; only cycles among them wait for the process to end.
    """
    gc.freeze()


class FrameGate:
    """Which frames the screen may apply: for its current view state, and newer than the last."""

    def __init__(self) -> None:
        self.applied = 0

    def accepts(self, frame_seq: int, frame_view: ViewState, current: ViewState) -> bool:
        """True when a frame is for ``current`` and newer than every frame applied; records it."""
        if frame_view != current or frame_seq <= self.applied:
            return False
        self.applied = frame_seq
        return True


class MonitorSource:
    """The model side of the refresher: a :class:`Monitor` read and viewed on the model thread.

    A root that cannot be read is remembered (``root_error``) and the last model is shown; once the
    root is back the model starts afresh (a re-created root is a new store).
    """

    def __init__(self, factory: Callable[[], Monitor], clock: Callable[[], float]) -> None:
        self.factory = factory
        self.clock = clock
        self.monitor = factory()
        self.root = self.monitor.root
        self.read_at: float | None = None
        self.root_error: str | None = None
        self._pin: _RootPin | None = None  # opened by the first read, on the model thread
        self._reset = False
        self._problems: tuple[str, ...] = ()
        self._judged: dict[Pipeline, Mapping[str, Verdict]] = {}  # verdicts in the last frame

    def read(self, request: ReadRequest) -> None:
        """Read the root (a new model when the root came back or was replaced)."""
        now = self.clock()
        self._problems = ()
        try:
            if is_url(self.root):  # object storage: no directory to pin; RootError if down
                result = self.monitor.refresh(
                    only=None if request.rediscover or request.only is None else set(request.only),
                    rediscover=request.rediscover,
                )
                self._problems = tuple(result.problems)
                self.read_at = now
                self.root_error = None
                return
            if not os.path.isdir(self.root):
                self.root.stat()  # raises the reason it cannot be read
                raise RootError(f"{self.root}: not a directory")
            if self._pin is None or self._reset or not self._pin.same():
                if self._pin is not None or self._reset:  # replaced or back: start afresh
                    self.monitor = self.factory()
                    if self._pin is not None:
                        self._pin.close()
                    request = ReadRequest(rediscover=True)
                self._pin = _RootPin(self.root)
                self._reset = False
            result = self.monitor.refresh(
                only=None if request.rediscover or request.only is None else set(request.only),
                rediscover=request.rediscover,
            )
        except (RootError, OSError) as exc:
            self.root_error = _describe(exc, self.root)
            self._reset = True
            return
        self._problems = tuple(result.problems)
        self.read_at = now
        self.root_error = None

    def close(self) -> None:
        """Release the root (call once the model thread has stopped)."""
        if self._pin is not None:
            self._pin.close()

    def frame(self, seq: int, view: ViewState) -> Frame:
        """A frame for ``view`` at the clock's now."""
        now = self.clock()
        monitor = self.monitor
        snapshot = monitor.snapshot(dict(view.views), now)
        rows = None
        total = 0
        known = {n.key for p in snapshot.pipelines for n in p.nodes}
        if view.node is not None and view.node in known:
            raw = monitor.packet_rows(view.node, view.view_of(view.node[0]), now)
            total = raw.num_rows
            rows = shown_rows(raw, view)
        problems, self._problems = self._problems, ()
        self._judged = {p.name: p.verdicts for p in snapshot.pipelines}
        return Frame(seq, view, snapshot, now, self.read_at, rows, total, self.root_error, problems)

    def judgement_changed(self) -> bool:
        """True when a run's verdict now differs from the last frame's (or no frame was made).

        Judges every pipeline's runs (process checks of this host's writers included) without
        making a snapshot: what a frame would show only changes if a verdict does.
        """
        if not self._judged:
            return bool(self.monitor.pipelines)
        now = self.clock()
        monitor = self.monitor
        if monitor.pipelines.keys() != self._judged.keys():
            return True
        return any(monitor.verdicts(name, now) != self._judged[name] for name in monitor.pipelines)

    def details(
        self, key: NodeKey, view: View, packet: str, row: Mapping[str, Any]
    ) -> PacketDetails:
        """A packet's current display row (found by packet key) and its log row.

        ``row`` is the display row the packet was last seen with, used when it is not shown in
        ``view`` any more (or its node is gone).
        """
        monitor = self.monitor
        pipeline, identity = key
        model = monitor.pipelines.get(pipeline)
        if model is None or identity not in model.nodes:
            return PacketDetails(key, dict(row), None)
        rows = monitor.packet_rows(key, view, self.clock())
        index = pc.index(rows.column("key"), packet).as_py() if rows.num_rows else -1
        if index is not None and index >= 0:
            row = rows.slice(index, 1).to_pylist()[0]
        return monitor.details(key, row)


def shown_rows(rows: pa.Table, view: ViewState) -> pa.Table:
    """Display rows after the view's state filter, search and sort."""
    chosen = BY_NAME.get(view.filter)
    states = chosen.states if chosen is not None else None
    if states is not None or view.search:
        rows = filter_rows(rows, states, view.search)
    if view.sort is not None and view.sort[0] in rows.column_names and rows.num_rows:
        column, descending = view.sort
        order = pc.sort_indices(
            rows,
            sort_keys=[(column, "descending" if descending else "ascending")],
        )
        rows = rows.take(order)
    return rows


class _RootPin:
    """An open descriptor of the root directory, to tell when the root was replaced.

    While it is open the old directory's inode cannot be reused, so a root deleted and created
    again (even between two reads, with the same file names) has another (device, inode).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            self.fd: int | None = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            self.fd = None

    def same(self) -> bool:
        """True when the root is still the directory pinned (False when none was pinned)."""
        if self.fd is None:
            return False
        try:
            pinned, now = os.fstat(self.fd), os.stat(self.root)
        except OSError:
            return False
        return pinned.st_nlink > 0 and (pinned.st_dev, pinned.st_ino) == (now.st_dev, now.st_ino)

    def close(self) -> None:
        """Let the directory go."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _describe(exc: BaseException, root: Path) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{root}: no such directory"
    if isinstance(exc, PermissionError):
        return f"{root}: permission denied"
    return str(exc) or f"{root}: cannot be read"
