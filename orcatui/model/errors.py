"""Error groups: FAILED packets grouped by a signature (issue 10, item 2).

A signature is the exception type and the last frame in user code (file name and function, no
line number) when the packet's log row has a traceback, plus the error message with its variable
parts masked (numbers, hex, UUIDs, paths, quoted strings, host names, URLs). orcapod's status rows
carry only ``str(error)``, so without a traceback the exception is unknown (``None``) and the
masked message alone decides.

"User code" is any frame outside the standard library, site-packages / dist-packages, orcapod and
our observers. The file is named by its base name, so the same code run from two checkouts or
hosts groups together.

Messages are passed through :func:`orcatui.text.strip_escapes` before masking, so a signature is
inert text and an escape sequence cannot split (or merge) groups. Masks and parsed tracebacks are
cached per distinct text: a root has far fewer distinct messages than failed packets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.views import ROW_COLUMNS
from orcatui.text import strip_escapes

#: Example packets kept per group.
EXAMPLES_PER_GROUP = 3
#: Only this many characters of a message or traceback are read to build a signature.
SIGNATURE_TEXT_LIMIT = 4096
#: A cache is emptied when it holds more entries than this (bounded memory on long watches).
CACHE_LIMIT = 200_000

_HOST_TLDS = (
    "com|net|org|io|edu|gov|dev|ai|cloud|local|localdomain|internal|lan|intra|corp|arpa|"
    "svc|cluster|home|example|test|invalid|localhost"
)
# Order matters: wider patterns first, so a UUID inside a path is masked as part of the path.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Quoted strings (single, double, backtick); a quote never spans lines.
    (re.compile(r"'[^'\n]{0,2000}'|\"[^\"\n]{0,2000}\"|`[^`\n]{0,2000}`"), "<str>"),
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s'\"<>]{1,2000}"), "<url>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
            r"[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    # POSIX paths (/a/b, ~/a, ./a, ../a, a/b/c.ext) and Windows paths (C:\a\b).
    (
        re.compile(
            r"(?:(?<![\w/])(?:~|\.{1,2})?/[\w.@%+=:,~-]{0,255}(?:/[\w.@%+=:,~-]{0,255}){0,64}"
            r"|\b[\w.-]{1,255}(?:/[\w.@%+=:,~-]{1,255}){1,64}"
            r"|\b[A-Za-z]:\\[^\s'\"]{0,2000})"
        ),
        "<path>",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"), "<host>"),
    (
        re.compile(
            rf"\b[a-zA-Z0-9](?:[a-zA-Z0-9-]{{0,62}}\.){{1,10}}(?:{_HOST_TLDS})(?::\d{{1,5}})?\b"
        ),
        "<host>",
    ),
    (re.compile(r"\b[a-zA-Z0-9][a-zA-Z0-9.-]{0,253}:\d{2,5}\b"), "<host>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b"), "<hex>"),
    (re.compile(r"\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?"), "<num>"),
)
_SPACES = re.compile(r"[ \t]+")

_FRAME = re.compile(r'^\s*File "([^"\n]{1,4096})", line \d+(?:, in (.{1,512}))?$')
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]{0,200})(?::(?: (.*))?)?$")
_NOT_USER = re.compile(
    r"(?:^<frozen |^<string>$|[/\\](?:site|dist)-packages[/\\]|[/\\]lib[/\\]python\d[\d.]*[/\\]"
    r"|[/\\]Lib[/\\]|(?:^|[/\\])orcapod[/\\]|(?:^|[/\\])observers[/\\])"
)


def mask_message(text: str) -> str:
    """The message with its variable parts replaced by ``<str>``, ``<path>``, ``<num>``, ….

    Escapes and control characters are removed first (the result is inert); runs of spaces
    become one space and blank lines are dropped, so only the wording decides.
    """
    text = strip_escapes(text[:SIGNATURE_TEXT_LIMIT])
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def is_user_frame(filename: str) -> bool:
    """Whether a traceback frame's file is user code (not stdlib, site-packages, orcapod…)."""
    return not _NOT_USER.search(filename)


@dataclass(frozen=True)
class TracebackInfo:
    """What a traceback tells about an error: the exception type and the last user frame."""

    exception: str | None
    frame: str | None  # "file.py:function" of the last frame in user code


def parse_traceback(text: str) -> TracebackInfo:
    """The exception type and the last user frame of a ``traceback.format_exc()`` text.

    With chained exceptions the last traceback (the one that was raised) counts. Text that is
    not a traceback gives ``TracebackInfo(None, None)``.
    """
    if len(text) > 4 * SIGNATURE_TEXT_LIMIT:
        # Keep the end, where the raised exception and its frames are.
        text = text[-4 * SIGNATURE_TEXT_LIMIT :]
    lines = strip_escapes(text).splitlines()
    start = 0
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            start = i + 1
    frame: str | None = None
    last_frame_at = -1
    for i in range(start, len(lines)):
        m = _FRAME.match(lines[i])
        if m is None:
            continue
        last_frame_at = i
        path, func = m.group(1), m.group(2)
        if is_user_frame(path):
            base = re.split(r"[/\\]", path)[-1]
            frame = f"{base}:{(func or '?').strip()}"
    if last_frame_at < 0:
        return TracebackInfo(None, None)
    exception = None
    for line in lines[last_frame_at + 1 :]:
        if not line or line[0].isspace():
            continue  # source lines and carets of the last frame are indented
        m = _EXC_LINE.match(line)
        if m:
            exception = m.group(1)
        break
    return TracebackInfo(exception, frame)


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


@dataclass
class ErrorGroup:
    """FAILED packets sharing one signature, with where and when they happened."""

    exception: str | None
    frame: str | None
    message: str  # masked
    count: int = 0
    nodes: dict[str, int] = field(default_factory=dict)
    first_seen_us: int | None = None
    last_seen_us: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str | None, str]:
        """What makes two errors the same."""
        return (self.exception, self.frame, self.message)

    @property
    def signature(self) -> str:
        """One readable line: ``ValueError: value <num> out of range  (in fit.py:fit)``."""
        first = self.message.split("\n", 1)
        text = first[0] + (" …" if len(first) > 1 else "")
        if self.exception:
            text = f"{self.exception}: {text}" if text else self.exception
        if self.frame:
            text += f"  (in {self.frame})"
        return text

    def to_json(self) -> dict[str, Any]:
        """The group as ``summary --json`` shows it."""
        return {
            "signature": self.signature,
            "exception": self.exception,
            "frame": self.frame,
            "message": self.message,
            "count": self.count,
            "nodes": dict(self.nodes),
            "first_seen": _iso(self.first_seen_us),
            "last_seen": _iso(self.last_seen_us),
            "examples": self.examples,
        }


@dataclass(frozen=True)
class NodeFailures:
    """One node's input to grouping: its name, display rows and (optional) log rows.

    ``logs`` needs the columns ``key`` (as in the display rows) and ``traceback``; a ``ts``
    column, when present, picks the newest log row of a packet written twice.
    """

    name: str
    rows: pa.Table
    logs: pa.Table | None = None


class ErrorGrouper:
    """Groups FAILED packets; keeps masks and parsed tracebacks between calls (warm = fast)."""

    def __init__(self) -> None:
        self._masks: dict[str, str] = {}
        self._tracebacks: dict[str, TracebackInfo] = {}

    def mask(self, message: str) -> str:
        """:func:`mask_message`, cached."""
        out = self._masks.get(message)
        if out is None:
            if len(self._masks) > CACHE_LIMIT:
                self._masks.clear()
            out = self._masks[message] = mask_message(message)
        return out

    def traceback(self, text: str) -> TracebackInfo:
        """:func:`parse_traceback`, cached."""
        out = self._tracebacks.get(text)
        if out is None:
            if len(self._tracebacks) > CACHE_LIMIT:
                self._tracebacks.clear()
            out = self._tracebacks[text] = parse_traceback(text)
        return out

    def groups(self, nodes: Iterable[NodeFailures]) -> list[ErrorGroup]:
        """Error groups over some nodes, largest first (then by first seen, then signature)."""
        merged: dict[tuple[str | None, str | None, str], ErrorGroup] = {}
        for node in nodes:
            for group in self._node_groups(node):
                have = merged.get(group.key)
                if have is None:
                    merged[group.key] = group
                    continue
                have.count += group.count
                for name, n in group.nodes.items():
                    have.nodes[name] = have.nodes.get(name, 0) + n
                have.first_seen_us = _min(have.first_seen_us, group.first_seen_us)
                have.last_seen_us = _max(have.last_seen_us, group.last_seen_us)
                if len(have.examples) < EXAMPLES_PER_GROUP:
                    have.examples.extend(group.examples[: EXAMPLES_PER_GROUP - len(have.examples)])
        return sorted(
            merged.values(),
            key=lambda g: (-g.count, g.first_seen_us or 0, g.signature),
        )

    def _node_groups(self, node: NodeFailures) -> list[ErrorGroup]:
        rows = node.rows
        if rows.num_rows == 0:
            return []
        failed = rows.filter(pc.equal(rows.column("state"), "FAILED"))
        n = failed.num_rows
        if n == 0:
            return []
        # Message part: mask each distinct message once.
        enc = pc.dictionary_encode(pc.fill_null(failed.column("error"), "")).combine_chunks()
        msg_idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        masked = [self.mask(m) for m in enc.dictionary.to_pylist()]
        # Traceback part: exception type and user frame, one parse per distinct traceback.
        tb_info = self._traceback_codes(failed, node.logs)
        infos: list[TracebackInfo]
        if tb_info is None:
            infos, tb_idx = [TracebackInfo(None, None)], np.zeros(n, np.int64)
        else:
            infos, tb_idx = tb_info
        # One code per (masked message, exception, frame).
        sig_of_msg = {}
        msg_code = np.empty(len(masked), np.int64)
        for i, m in enumerate(masked):
            msg_code[i] = sig_of_msg.setdefault(m, len(sig_of_msg))
        msg_texts = list(sig_of_msg)
        info_of = {}
        info_code = np.empty(len(infos), np.int64)
        for i, info in enumerate(infos):
            info_code[i] = info_of.setdefault(info, len(info_of))
        info_list = list(info_of)
        combined = msg_code[msg_idx] * len(info_list) + info_code[tb_idx]
        uniq, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
        ts = failed.column("ts_us").to_numpy(zero_copy_only=False)
        ts = np.where(np.isnan(ts.astype(np.float64)), np.nan, ts).astype(np.float64)
        first = np.full(len(uniq), np.inf)
        last = np.full(len(uniq), -np.inf)
        np.fmin.at(first, inverse, ts)
        np.fmax.at(last, inverse, ts)
        # Examples: the earliest packets of each group.
        order = np.lexsort((np.nan_to_num(ts, nan=np.inf), inverse))
        starts = np.searchsorted(inverse[order], np.arange(len(uniq)))
        tag_cols = [c for c in failed.column_names if c not in ROW_COLUMNS]
        out = []
        for g, code in enumerate(uniq):
            info = info_list[int(code) % len(info_list)]
            message = msg_texts[int(code) // len(info_list)]
            take = order[starts[g] : starts[g] + min(int(counts[g]), EXAMPLES_PER_GROUP)]
            sample = failed.take(pa.array(take)).select(["run_id", *tag_cols]).to_pylist()
            examples = [
                {
                    "node": node.name,
                    "run_id": r["run_id"],
                    "tags": {c: r[c] for c in tag_cols},
                }
                for r in sample
            ]
            out.append(
                ErrorGroup(
                    exception=info.exception,
                    frame=info.frame,
                    message=message,
                    count=int(counts[g]),
                    nodes={node.name: int(counts[g])},
                    first_seen_us=int(first[g]) if np.isfinite(first[g]) else None,
                    last_seen_us=int(last[g]) if np.isfinite(last[g]) else None,
                    examples=examples,
                )
            )
        return out

    def _traceback_codes(
        self, failed: pa.Table, logs: pa.Table | None
    ) -> tuple[list[TracebackInfo], np.ndarray] | None:
        """Per failed row, an index into a list of parsed tracebacks (0 = none)."""
        if logs is None or logs.num_rows == 0 or "traceback" not in logs.column_names:
            return None
        logs = logs.filter(pc.is_valid(logs.column("traceback")))
        if logs.num_rows == 0:
            return None
        if "ts" in logs.column_names:
            logs = logs.sort_by([("ts", "descending")])  # index_in picks the first = newest
        where = pc.index_in(failed.column("key"), value_set=logs.column("key").combine_chunks())
        found = pc.fill_null(where, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        hit = found >= 0
        if not hit.any():
            return None
        texts = pc.take(logs.column("traceback"), pa.array(found[hit]))
        enc = pc.dictionary_encode(texts).combine_chunks()
        infos = [TracebackInfo(None, None)]
        infos += [self.traceback(t) for t in enc.dictionary.to_pylist()]
        idx = np.zeros(len(found), np.int64)
        idx[hit] = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) + 1
        return infos, idx


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


_DEFAULT = ErrorGrouper()


def error_groups(
    nodes: Iterable[NodeFailures], grouper: ErrorGrouper | None = None
) -> list[ErrorGroup]:
    """Error groups of the FAILED packets of some nodes (a shared cache unless one is given)."""
    return (grouper or _DEFAULT).groups(nodes)


def group_of(
    message: str | None, traceback: str | None = None, grouper: ErrorGrouper | None = None
) -> tuple[str | None, str | None, str]:
    """The signature key of one error (for the details screen / problems view lookups)."""
    g = grouper or _DEFAULT
    info = g.traceback(traceback) if traceback else TracebackInfo(None, None)
    return (info.exception, info.frame, g.mask(message or ""))


def log_rows(logs: object) -> pa.Table | None:
    """The log rows of a :class:`~orcatui.model.logs.NodeLogs` as one table (or None)."""
    table = getattr(logs, "table", None)
    if callable(table):
        return table()
    return logs._all()  # type: ignore[attr-defined]  # until NodeLogs has a public table()


def groups_json(groups: Iterable[ErrorGroup]) -> list[dict[str, Any]]:
    """``"error_groups"`` for ``summary --json``."""
    return [g.to_json() for g in groups]


__all__ = [
    "ErrorGroup",
    "ErrorGrouper",
    "NodeFailures",
    "TracebackInfo",
    "error_groups",
    "group_of",
    "groups_json",
    "is_user_frame",
    "log_rows",
    "mask_message",
    "parse_traceback",
]
