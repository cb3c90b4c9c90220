"""``wait`` (issue 10, item 6): real writer processes, live → ended / killed, and timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from orcatui import exitcodes
from orcatui.model.monitor import Monitor
from orcatui.store.store import RootError
from orcatui.waiting import wait_until_done

REPO = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import sys
    import observers

    root, mode = sys.argv[1], sys.argv[2]
    with observers.run(root, "etl", capture=False, flush_interval=0.02,
                       heartbeat_interval=0.1) as run:
        with run.node("clean") as node:
            with node.packet(subject="a"):
                pass
            if mode == "fail":
                with node.packet(subject="b", suppress=True):
                    raise ValueError("bad value 1")
            if mode != "quick":
                held = node.packet(subject="c")
                held.__enter__()
                print("ready", flush=True)
                sys.stdin.readline()
                held.__exit__(None, None, None)
    """
)


def start_writer(root: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    if mode != "quick":
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def running_on_disk(root: Path) -> None:
    """Poll until a reader sees the held packet RUNNING (its event is flushed)."""
    for _ in range(400):
        m = Monitor(root)
        m.refresh()
        if any(p.counts["RUNNING"] for p in m.snapshot().pipelines):
            return
        threading.Event().wait(0.025)
    raise AssertionError("the RUNNING event never reached the disk")


class Waiter:
    """``wait_until_done`` in a thread; counts the progress lines it printed."""

    def __init__(self, root: Path, **kw) -> None:
        self.lines: list[str] = []
        self.polled = threading.Semaphore(0)
        self.result: int | None = None

        def progress(line: str) -> None:
            self.lines.append(line)
            self.polled.release()

        def target() -> None:
            self.result = wait_until_done(root, progress=progress, poll_s=0.05, **kw)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def saw_polls(self, n: int) -> None:
        for _ in range(n):
            assert self.polled.acquire(timeout=30), "wait never polled"

    def join(self) -> int:
        self.thread.join(60)
        assert not self.thread.is_alive()
        assert self.result is not None
        return self.result


@pytest.mark.parametrize(("mode", "code"), [("fail", exitcodes.FAILED), ("ok", exitcodes.OK)])
def test_live_then_ended(tmp_path, mode, code):
    writer = start_writer(tmp_path, mode)
    try:
        running_on_disk(tmp_path)
        w = Waiter(tmp_path, timeout_s=120)
        w.saw_polls(3)  # it keeps waiting while the run is live
        assert w.thread.is_alive() and w.result is None
        assert "live" in w.lines[-1] and "running" in w.lines[-1]
        writer.communicate("go\n", timeout=30)
        assert writer.returncode == 0
        assert w.join() == code
    finally:
        writer.kill()
        writer.wait()


def test_live_then_sigkill_is_lost(tmp_path):
    writer = start_writer(tmp_path, "fail")
    try:
        running_on_disk(tmp_path)
        w = Waiter(tmp_path, timeout_s=120)
        w.saw_polls(2)
        assert w.thread.is_alive()
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert w.join() == exitcodes.LOST  # LOST wins over the FAILED packet
    finally:
        writer.kill()
        writer.wait()


def test_sigkilled_zombie_is_judged_dead_by_its_heartbeat(tmp_path):
    """Killed but not reaped: the pid still exists, so the stopped heartbeat decides."""
    writer = start_writer(tmp_path, "ok")
    try:
        running_on_disk(tmp_path)
        os.kill(writer.pid, signal.SIGKILL)
        assert wait_until_done(tmp_path, timeout_s=60, poll_s=0.05) == exitcodes.LOST
    finally:
        writer.kill()
        writer.wait()


def test_timeout_while_live(tmp_path):
    writer = start_writer(tmp_path, "ok")
    try:
        running_on_disk(tmp_path)
        lines: list[str] = []
        code = wait_until_done(tmp_path, timeout_s=0.3, poll_s=0.05, progress=lines.append)
        assert code == exitcodes.TIMEOUT and lines and "live" in lines[-1]
    finally:
        writer.kill()
        writer.wait()


def test_empty_root_times_out(tmp_path):
    lines: list[str] = []
    assert wait_until_done(tmp_path, timeout_s=0.2, poll_s=0.05, progress=lines.append) == 124
    assert "no status tables yet" in lines[-1]


def test_empty_root_waits_for_tables_to_appear(tmp_path):
    w = Waiter(tmp_path, timeout_s=120)
    w.saw_polls(2)
    assert w.thread.is_alive()
    writer = start_writer(tmp_path, "quick")
    assert writer.wait(timeout=60) == 0
    assert w.join() == exitcodes.OK


def test_fake_clock_timeout_without_sleeping(tmp_path):
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    assert wait_until_done(tmp_path, timeout_s=5, clock=lambda: t[0], sleep=sleep) == 124
    assert t[0] >= 5


def test_unreadable_root_raises_root_error(tmp_path):
    with pytest.raises(RootError):
        wait_until_done(tmp_path / "missing", timeout_s=1)


def test_unreadable_table_gives_4(tmp_path):
    writer = start_writer(tmp_path, "fail")
    writer.communicate("go\n", timeout=30)
    table = next(tmp_path.rglob("execution_status"))
    broken = table / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    old = broken.stat().st_mtime - 3600  # not a file mid-write: reported broken at once
    os.utime(broken, (old, old))
    assert wait_until_done(tmp_path, timeout_s=60, poll_s=0.05) == exitcodes.UNREADABLE
