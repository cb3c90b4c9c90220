"""``orcatui demo``: write a realistic pipeline's status in child processes and watch it.

The pipeline (:mod:`orcatui.demo_pipeline`) runs three times, each in its own process written by
our own observers: run 1 with failures, run 2 hitting the cache, run 3 SIGKILLed partway so its
packets are LOST. With the UI, the monitor opens as soon as run 1 has written its first table
and run 3 runs live beside it; quitting the UI stops the child (SIGTERM, then SIGKILL).

The directory: none given → a new ``orcatui-demo-*`` temporary directory, kept. Given, it must be
new, empty, or an earlier demo directory — one holding only the demo's marker directory
(``.orcatui-demo/demo.json``) and the demo pipeline's directory; those two are removed and
written afresh. Anything else is refused (exit 2): the demo never deletes other data.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from orcatui import exitcodes
from orcatui.demo_pipeline import PIPELINE, STATE_DIR

MARKER = "demo.json"
#: Seconds (at speed 1) between runs, and that run 3 stays hung on screen before the kill.
GAP_S = 1.5
HOLD_S = 6.0
#: Seconds a terminated child gets to close its run before it is killed.
TERM_TIMEOUT_S = 5.0


class DemoError(Exception):
    """A one-line problem reported on stderr with exit code 2."""


def prepare_dir(target: Path | None) -> Path:
    """The directory to write to, created or cleared as the module docstring says."""
    if target is None:
        try:
            root = Path(tempfile.mkdtemp(prefix="orcatui-demo-"))
        except OSError as exc:
            raise DemoError(f"cannot create a temporary directory: {exc.strerror or exc}") from None
    else:
        root = target
        if root.exists() and not root.is_dir():
            raise DemoError(f"{root}: not a directory")
        if root.is_dir():
            _clear_earlier_demo(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"{root}: cannot create directory: {exc.strerror or exc}") from None
    state = root / STATE_DIR
    try:
        state.mkdir(exist_ok=True)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        (state / MARKER).write_text(json.dumps({"created": created, "pipeline": PIPELINE}) + "\n")
    except OSError as exc:
        raise DemoError(f"{root}: cannot write: {exc.strerror or exc}") from None
    return root


def _clear_earlier_demo(root: Path) -> None:
    try:
        entries = {p.name for p in root.iterdir()}
    except OSError as exc:
        raise DemoError(f"{root}: cannot read directory: {exc.strerror or exc}") from None
    if not entries:
        return
    ours = {STATE_DIR, PIPELINE}
    if not (root / STATE_DIR / MARKER).is_file() or not entries <= ours:
        raise DemoError(
            f"{root}: directory is not empty and not an earlier demo directory; "
            "give a new or empty directory (or none)"
        )
    try:
        for name in sorted(entries):
            shutil.rmtree(root / name)
    except OSError as exc:
        raise DemoError(f"{root}: cannot clear the earlier demo: {exc.strerror or exc}") from None


class DemoRunner:
    """Starts the three runs one after another; :meth:`stop` ends the current child at once."""

    def __init__(self, root: Path, *, sink: str, speed: float, hold: float) -> None:
        self.root = root
        self.sink = sink
        self.speed = speed
        self.hold = hold
        self.error: str | None = None
        self.finished = threading.Event()
        self._stopping = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self, run: int) -> subprocess.Popen[bytes]:
        log_path = self.root / STATE_DIR / f"run-{run}.log"
        cmd = [sys.executable, "-m", "orcatui.demo_pipeline", str(self.root), "--run", str(run)]
        cmd += ["--sink", self.sink, "--speed", repr(self.speed), "--heartbeat", "1.0"]
        with self._lock:
            if self._stopping.is_set():
                raise _Stopped
            with open(log_path, "wb") as log:
                # own session: a Ctrl-C in the terminal reaches us, and we stop the child
                self._child = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
                )
            return self._child

    def _wait(self, child: subprocess.Popen[bytes], run: int, until: Path | None = None) -> None:
        """Wait for the child to exit (or for ``until`` to appear); errors as DemoError."""
        deadline = time.monotonic() + 120.0 / self.speed + 60.0
        while time.monotonic() < deadline:
            if self._stopping.is_set():
                raise _Stopped
            code = child.poll()
            if until is not None and until.exists():
                return
            if code is not None:
                if code == 0 and until is None:
                    return
                log = self.root / STATE_DIR / f"run-{run}.log"
                raise DemoError(f"demo pipeline run {run} exited with code {code} (see {log})")
            time.sleep(0.05)
        raise DemoError(f"demo pipeline run {run} did not finish in time")

    def _pause(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise _Stopped

    def run(self) -> None:
        """All three runs; run 3 is SIGKILLed once it hangs (after ``hold`` s).

        Problems end up in :attr:`error`; only KeyboardInterrupt propagates (child stopped).
        """
        try:
            for run in (1, 2):
                self._wait(self._start(run), run)
                self._pause(GAP_S / self.speed)
            stalled = self.root / STATE_DIR / "stalled-3"
            child = self._start(3)
            self._wait(child, 3, until=stalled)
            self._pause(self.hold)
            with self._lock:
                child.send_signal(signal.SIGKILL)
                child.wait()  # reap it, or its pid would still look alive (a zombie)
        except _Stopped:
            pass
        except DemoError as exc:
            self.error = str(exc)
        except OSError as exc:
            self.error = f"cannot run the demo pipeline: {exc.strerror or exc}"
        finally:
            self.stop()
            self.finished.set()

    def first_table(self, timeout: float) -> bool:
        """Wait until the pipeline has written a status file (or the runner ended)."""
        status = self.root / PIPELINE / "_status"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.finished.is_set():
            try:
                if any(p.is_file() for p in status.rglob("*") if "execution_status" in p.parts):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return self.finished.is_set() and self.error is None

    def stop(self) -> None:
        """Stop the current child: SIGTERM (it closes its run), SIGKILL after a timeout."""
        with self._lock:
            self._stopping.set()
            child = self._child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(TERM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class _Stopped(Exception):
    """The runner was asked to stop."""


def run_demo(dir: Path | None, *, sink: str, speed: float, ui: bool) -> int:
    """``orcatui demo``: write the demo's three runs under ``dir`` and (``ui``) watch them."""
    try:
        root = prepare_dir(dir)
    except DemoError as exc:
        sys.stderr.write(f"orcatui: {exc}\n")
        return exitcodes.USAGE
    runner = DemoRunner(root, sink=sink, speed=speed, hold=HOLD_S / speed if ui else 0.0)
    code = exitcodes.OK
    try:
        if not ui:
            try:
                runner.run()
            finally:
                runner.stop()
        else:
            thread = threading.Thread(target=runner.run, name="orcatui-demo", daemon=True)
            thread.start()
            try:
                if runner.first_table(timeout=30.0):
                    from orcatui.app import run_app

                    code = run_app(root, poll=None, static=False, stale_after=600.0, job_files=[])
            finally:
                runner.stop()
                thread.join(TERM_TIMEOUT_S + 5.0)
    except KeyboardInterrupt:
        code = exitcodes.INTERRUPTED
    if runner.error is not None:
        sys.stderr.write(f"orcatui: {runner.error}\n")
        code = code or exitcodes.USAGE
    where = shlex.quote(str(root))
    sys.stdout.write(f"demo data in {root}\nreopen with: {orcatui_command()} watch {where}\n")
    return code


def orcatui_command() -> str:
    """How the user can run orcatui again: ``orcatui`` if it is on PATH, else its full path."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("orcatui")
    if on_path and (script is None or Path(on_path).resolve() == script.resolve()):
        return "orcatui"
    if script is not None and script.name == "orcatui" and script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m orcatui"
