"""Capturing stdout, stderr and Python logging of one packet, as orcapod does.

Two mechanisms, both based on context variables so concurrent packets (threads, asyncio
tasks) never mix their output:

* our own tee streams and logging handler (:class:`PacketCapture`), used by the plain-Python
  API and, beside orcapod's, for the partial log rows of packets orcapod executes;
  ``install()``/``uninstall()`` are reference-counted and the last ``uninstall()`` takes our
  tees out of ``sys.stdout``/``sys.stderr`` and our handler off the root logger. Our tees go
  beneath orcapod's (each tee writes once to its own buffer, so both capture everything and
  neither twice);
* orcapod's own (``orcapod.pipeline.logging_capture``): inside an orcapod pipeline the
  executor captures each packet and calls ``logger.record(**captured)``; it only
  captures once orcapod's tee streams are installed, which :func:`install_orcapod` does
  (without importing orcapod if the application has not) and :func:`uninstall_orcapod`
  undoes if we were the ones who installed them.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

_stdout_buf: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar(
    "observers_stdout", default=None
)
_stderr_buf: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar(
    "observers_stderr", default=None
)
_log_buf: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "observers_logs", default=None
)


class TeeStream:
    """Writes to the original stream and to the current context's capture buffer."""

    def __init__(self, original: Any, var: contextvars.ContextVar[io.StringIO | None]):
        self._original = original
        self._var = var

    def write(self, s: str) -> int:
        """Write ``s`` to the capture buffer (if any) and the original stream."""
        buf = self._var.get()
        if buf is not None:
            buf.write(s)
        return self._original.write(s)

    def flush(self) -> None:
        """Flush the original stream."""
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class CaptureHandler(logging.Handler):
    """Appends ``LEVEL:logger:message`` lines to the current context's capture list."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Format and keep ``record`` when a capture is active in this context."""
        buf = _log_buf.get()
        if buf is not None:
            try:
                buf.append(self.format(record))
            except Exception:
                self.handleError(record)


_lock = threading.Lock()
_refs = 0
_handler: CaptureHandler | None = None
_stdout_tee: TeeStream | None = None
_stderr_tee: TeeStream | None = None


def _is_orcapod_tee(stream: Any) -> bool:
    return type(stream).__name__ == "ContextLocalTeeStream" and hasattr(stream, "_original")


def _tee_in(name: str, var: contextvars.ContextVar[io.StringIO | None]) -> TeeStream:
    """Install a tee on ``sys.<name>``, beneath orcapod's tees when they are on top.

    orcapod's ``install_capture_streams`` wraps ``sys.stdout`` again whenever the top stream
    is not its own tee; ours on top of one of its tees would make it wrap twice and capture
    every write twice. Beneath its tees, each tee writes once to its own buffer.
    """
    holder: Any = None
    stream = getattr(sys, name)
    while _is_orcapod_tee(stream):
        holder, stream = stream, stream._original
    tee = TeeStream(stream, var)
    if holder is None:
        setattr(sys, name, tee)
    else:
        holder._original = tee
    return tee


def _tee_out(name: str, tee: TeeStream | None) -> None:
    """Take ``tee`` out of the chain of tees on ``sys.<name>`` (wherever it is now)."""
    if tee is None:
        return
    holder: Any = None
    stream = getattr(sys, name)
    while stream is not tee and (_is_orcapod_tee(stream) or isinstance(stream, TeeStream)):
        holder, stream = stream, stream._original
    if stream is not tee:
        return  # replaced by someone else meanwhile: leave their stream alone
    if holder is None:
        setattr(sys, name, tee._original)
    else:
        holder._original = tee._original


def install() -> None:
    """Install our tee streams and logging handler (reference-counted)."""
    global _refs, _handler, _stdout_tee, _stderr_tee
    with _lock:
        _refs += 1
        if _refs > 1:
            return
        _stdout_tee = _tee_in("stdout", _stdout_buf)
        _stderr_tee = _tee_in("stderr", _stderr_buf)
        _handler = CaptureHandler()
        logging.getLogger().addHandler(_handler)


def uninstall() -> None:
    """Undo one :func:`install`; the last one restores streams and handlers."""
    global _refs, _handler, _stdout_tee, _stderr_tee
    with _lock:
        if _refs == 0:
            return
        _refs -= 1
        if _refs:
            return
        _tee_out("stdout", _stdout_tee)
        _tee_out("stderr", _stderr_tee)
        if _handler is not None:
            logging.getLogger().removeHandler(_handler)
        _handler = _stdout_tee = _stderr_tee = None


def installed() -> bool:
    """True while our capture streams are installed."""
    return _refs > 0


def tail(text: str, max_chars: int) -> str:
    """``text``, or its last ``max_chars`` characters after a line saying how many are left out."""
    if len(text) <= max_chars:
        return text
    cut = len(text) - max_chars
    return f"[… {cut} earlier characters not in this partial row]\n" + text[cut:]


class PacketCapture:
    """Context manager capturing one packet's output in the current context.

    Needs :func:`install` to have been called for stdout/stderr/logging to reach it.
    After the block, :meth:`fields` gives the ``record(**kwargs)`` arguments orcapod
    uses: ``stdout_log, stderr_log, python_logs, traceback, success``.
    """

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._err = io.StringIO()
        self._logs: list[str] = []
        self._tokens: list[contextvars.Token[Any]] = []
        self.traceback: str | None = None
        self.success = True

    def __enter__(self) -> PacketCapture:
        self._tokens = [
            _stdout_buf.set(self._out),
            _stderr_buf.set(self._err),
            _log_buf.set(self._logs),
        ]
        return self

    def start(self) -> PacketCapture:
        """Start capturing in the current context, outside a ``with`` block (orcapod's
        executor runs the packet after the observer's hook returns); end with :meth:`stop`."""
        return self.__enter__()

    def stop(self) -> None:
        """Stop a :meth:`start`: restore the context's previous capture (idempotent)."""
        tokens, self._tokens = self._tokens, []
        for var, token in zip((_stdout_buf, _stderr_buf, _log_buf), tokens, strict=False):
            try:
                var.reset(token)  # type: ignore[attr-defined]
            except ValueError:  # stopped from another context: no capture there any more
                var.set(None)  # type: ignore[attr-defined]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for var, token in zip((_stdout_buf, _stderr_buf, _log_buf), self._tokens, strict=True):
            var.reset(token)  # type: ignore[attr-defined]
        if exc is not None:
            self.success = False
            self.traceback = "".join(traceback.format_exception(exc_type, exc, tb))

    def signature(self) -> tuple[int, int, int]:
        """Cheap change marker: characters written to stdout and stderr, log lines kept."""
        return (self._out.tell(), self._err.tell(), len(self._logs))

    def partial_fields(self, max_chars: int) -> dict[str, Any]:
        """What was captured so far, for a partial log row (``success``/``traceback`` null).

        Each text keeps at most its last ``max_chars`` characters, prefixed with a line
        saying how many earlier characters this partial row leaves out.
        """
        return {
            "stdout_log": tail(self._out.getvalue(), max_chars),
            "stderr_log": tail(self._err.getvalue(), max_chars),
            "python_logs": tail("\n".join(list(self._logs)), max_chars),
            "traceback": None,
            "success": None,
        }

    def fields(self) -> dict[str, Any]:
        """The captured output as ``record(**fields)`` keyword arguments."""
        return {
            "stdout_log": self._out.getvalue(),
            "stderr_log": self._err.getvalue(),
            "python_logs": "\n".join(self._logs),
            "traceback": self.traceback,
            "success": self.success,
        }


# -- orcapod's capture --------------------------------------------------------------

_orcapod_installed_by_us = 0


def install_orcapod() -> bool:
    """Install orcapod's capture streams if orcapod is imported; True when we did it."""
    global _orcapod_installed_by_us
    module = sys.modules.get("orcapod.pipeline.logging_capture")
    if module is None:
        if "orcapod" not in sys.modules:
            return False
        try:
            import orcapod.pipeline.logging_capture as module  # type: ignore[no-redef]
        except Exception:
            return False
    try:
        was_installed = bool(getattr(module, "_installed", False))
        module.install_capture_streams()
    except Exception:
        return False
    if not was_installed:
        with _lock:
            _orcapod_installed_by_us += 1
        return True
    return False


def uninstall_orcapod() -> None:
    """Undo orcapod's capture streams and handler that :func:`install_orcapod` installed."""
    global _orcapod_installed_by_us
    with _lock:
        if _orcapod_installed_by_us == 0:
            return
        _orcapod_installed_by_us -= 1
        if _orcapod_installed_by_us:
            return
    module = sys.modules.get("orcapod.pipeline.logging_capture")
    if module is None:
        return
    try:
        tee = module.ContextLocalTeeStream
        if isinstance(sys.stdout, tee):
            sys.stdout = sys.stdout._original
        if isinstance(sys.stderr, tee):
            sys.stderr = sys.stderr._original
        handler = getattr(module, "_logging_handler", None)
        if handler is not None:
            logging.getLogger().removeHandler(handler)
        module._logging_handler = None
        module._installed = False
    except Exception:
        pass
