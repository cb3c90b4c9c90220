"""Interpreter-exit and SIGTERM handling for open observers.

Every open observer registers here. At exit (``atexit``) each one flushes, compacts and
closes its open run records. The outcome of a run still open at that moment is
``interrupted`` after a KeyboardInterrupt or SIGTERM, ``failed`` after another uncaught
exception, and ``interrupted`` otherwise (the process ended before the run did).

A SIGTERM handler is installed only from the main thread and only when SIGTERM has its
default disposition (no handler of the application's); it finalises the observers, puts
the default disposition back and re-sends SIGTERM, so the process still dies of it.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from typing import Protocol

log = logging.getLogger("observers")


class Finalizable(Protocol):
    """Anything that can be finalised at exit with the outcome for its open runs."""

    def _shutdown(self, outcome: str) -> None: ...


_open: dict[int, Finalizable] = {}
_lock = threading.Lock()
_atexit_done = False
_sigterm_installed = False
_sigterm_seen = False


def register(obj: Finalizable) -> None:
    """Keep ``obj`` to finalise at exit (and install the SIGTERM handler if possible)."""
    with _lock:
        _open[id(obj)] = obj
    _maybe_install_sigterm()


def unregister(obj: Finalizable) -> None:
    """Forget ``obj`` (it was closed)."""
    with _lock:
        _open.pop(id(obj), None)


def exit_outcome() -> str:
    """The outcome to give runs still open when the interpreter stops."""
    if _sigterm_seen:
        return "interrupted"
    last = getattr(sys, "last_type", None)
    if last is not None and issubclass(last, KeyboardInterrupt):
        return "interrupted"
    if last is not None and not issubclass(last, SystemExit):
        return "failed"
    return "interrupted"


def finalize_all(outcome: str | None = None) -> None:
    """Finalise every registered observer (never raises)."""
    chosen = outcome or exit_outcome()
    with _lock:
        objs = list(_open.values())
        _open.clear()
    for obj in objs:
        try:
            obj._shutdown(chosen)
        except Exception:
            log.exception("observers: finalising %r at exit failed", obj)


def _at_exit() -> None:
    global _atexit_done
    if _atexit_done:
        return
    _atexit_done = True
    finalize_all()


def _on_sigterm(signum: int, frame: object) -> None:
    global _sigterm_seen
    _sigterm_seen = True
    try:
        finalize_all("interrupted")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _maybe_install_sigterm() -> None:
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _sigterm_installed = True
    except (ValueError, OSError):  # not the main interpreter / no signals here
        pass


atexit.register(_at_exit)
