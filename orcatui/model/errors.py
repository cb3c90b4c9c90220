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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.logs import NodeLogs
from orcatui.model.packets import bools, from_numpy
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
    if _NOT_PLAIN.search(text) is None:
        return _parse_plain(text)
    return _parse_lines(strip_escapes(text).splitlines())


# A text without these is left as is by ``strip_escapes`` and splits into lines only at "\n"
# (``str.splitlines`` also splits at U+2028 / U+2029, which ``strip_escapes`` keeps).
_NOT_PLAIN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ud800-\udfff]"
)
_HEADER = "Traceback (most recent call last):"
# ``_FRAME`` over a whole text from its literal start (found fast), the line's start checked
# apart: a match ends at its line's end, so matches never span or share lines.
_FRAME_LINES = re.compile(r'File "([^"\n]{1,4096})", line \d+(?:, in (.{1,512}))?$', re.MULTILINE)
# The first line that is not empty and does not start with whitespace.
_UNINDENTED = re.compile(r"^\S.*$", re.MULTILINE)
# (file, function) of a frame line → "file.py:function" when it is user code, else "".
_FRAMES: dict[tuple[str, str | None], str] = {}


def _user_frame(path: str, func: str | None) -> str:
    """``base:function`` of a frame in user code, ``""`` otherwise (cached: a root has few
    distinct frames)."""
    out = _FRAMES.get((path, func))
    if out is None:
        if len(_FRAMES) > CACHE_LIMIT:
            _FRAMES.clear()
        out = ""
        if is_user_frame(path):
            base = re.split(r"[/\\]", path)[-1]
            out = f"{base}:{(func or '?').strip()}"  # never empty: it has a ":"
        _FRAMES[(path, func)] = out
    return out


def _parse_plain(text: str) -> TracebackInfo:
    """:func:`parse_traceback` of a text that ``strip_escapes`` leaves as is and that breaks
    lines only at ``\n``: the same rule as :func:`_parse_lines`, by a few passes over the
    whole text instead of Python work per line."""
    start = 0
    at = text.rfind("\n" + _HEADER)
    if at >= 0:
        start = at + 1
    elif not text.startswith(_HEADER):
        start = -1
    if start >= 0:  # the lines after the last header line
        end = text.find("\n", start)
        start = len(text) if end < 0 else end + 1
    else:
        start = 0
    frame: str | None = None
    last = None
    for m in _FRAME_LINES.finditer(text, start):
        at = m.start()
        indent = text[text.rfind("\n", 0, at) + 1 : at]
        if indent and not indent.isspace():
            continue  # not at the start of its line (after whitespace)
        last = m
        frame = _user_frame(*m.groups()) or frame
    if last is None:
        return TracebackInfo(None, None)
    exception = None
    line = _UNINDENTED.search(text, last.end())
    if line is not None:
        m = _EXC_LINE.match(line.group(0))
        if m:
            exception = m.group(1)
    return TracebackInfo(exception, frame)


def _parse_lines(lines: list[str]) -> TracebackInfo:
    """:func:`parse_traceback` of a text already made inert and split into lines."""
    start = 0
    for i, line in enumerate(lines):
        if line.startswith(_HEADER):
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


# --- Many tracebacks at once -------------------------------------------------------------------
# ``_NOT_PLAIN`` in RE2 (Arrow's regex engine): texts with one of these go to the Python parse.
_NOT_PLAIN_RE2 = (
    "[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\x{061c}\\x{200e}\\x{200f}\\x{202a}-\\x{202e}"
    "\\x{2066}-\\x{2069}\\x{2028}\\x{2029}]"
)
_EXC_NAME = re.compile(r"[A-Za-z_][\w.]{0,200}")


def _last_per_group(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per group 0..size-1, the value of its last member (``group`` sorted ascending), -1 if
    none."""
    out = np.full(size, -1, np.int64)
    if len(group):
        last = np.append(group[1:] != group[:-1], True)
        out[group[last]] = values[last]
    return out


def _first_per_group(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per group, the value of its first member (``group`` sorted ascending), -1 if none."""
    out = np.full(size, -1, np.int64)
    if len(group):
        first = np.insert(group[1:] != group[:-1], 0, True)
        out[group[first]] = values[first]
    return out


def _per_distinct(values: pa.Array, fn: Callable[[str], Any]) -> tuple[list[Any], np.ndarray]:
    """``fn`` of each distinct value of a string array (called once per distinct value), and
    per value the index of its result."""
    enc = pc.dictionary_encode(values)
    results = [fn(v) for v in enc.dictionary.to_pylist()]
    return results, enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _frame_of_line(line: str) -> str | None:
    """A frame line's ``file.py:function`` when it is user code, ``""`` when not; None: the
    line is no frame line (:data:`_FRAME`, as :func:`_parse_lines` reads a line)."""
    m = _FRAME.match(line[:-1] if line.endswith("\n") else line)
    return None if m is None else _user_frame(m.group(1), m.group(2))


def _exception_of_head(head: str) -> str | None:
    return head if _EXC_NAME.fullmatch(head) else None


def parse_tracebacks(texts: pa.Array) -> list[TracebackInfo]:
    """:func:`parse_traceback` of each text of a string array (null: no traceback)."""
    infos, code = parse_traceback_codes(texts)
    return [infos[c] for c in code.tolist()]


def parse_traceback_codes(texts: pa.Array) -> tuple[list[TracebackInfo], np.ndarray]:
    """:func:`parse_traceback` of each text of a string array (null: ``TracebackInfo(None,
    None)``) as the distinct results and, per text, the index of its own.

    The same results by Arrow passes over all texts' lines together instead of Python work
    per text: plain texts (nothing for ``strip_escapes`` to do, lines broken only at ``\\n``,
    not longer than the parse reads) are split into lines at once, and Python looks only at
    the distinct frame lines, first characters and exception names (a root has few of those).
    Other texts are parsed one by one.
    """
    texts = texts.cast(pa.string()) if texts.type != pa.string() else texts
    n = len(texts)
    infos = [_NO_INFO]
    code = np.zeros(n, np.int64)
    if n == 0 or texts.null_count == n:
        return infos, code
    odd = _not_plain(texts)
    valid = pc.is_valid(texts).to_numpy(zero_copy_only=False)
    slow = np.flatnonzero(odd & valid)
    fast = ~odd & valid
    seen: dict[TracebackInfo, int] = {_NO_INFO: 0}
    if fast.any():
        # Every text is split (no copy of the plain ones): the results of the others (nulls,
        # texts parsed one by one) are not used.
        got, got_code = _parse_plain_many(texts)
        remap = np.array([seen.setdefault(i, len(seen)) for i in got], np.int64)
        code[fast] = remap[got_code[fast]]
    for i, text in zip(slow.tolist(), texts.take(from_numpy(slow)).to_pylist(), strict=True):
        code[i] = seen.setdefault(parse_traceback(text), len(seen))
    return list(seen), code


_NO_INFO = TracebackInfo(None, None)


def _not_plain(texts: pa.Array) -> np.ndarray:
    """Per text of a string array (null: False), whether :func:`parse_traceback` would not
    take its plain path: longer than it reads, or a character of :data:`_NOT_PLAIN`."""
    n = len(texts)
    out = pc.fill_null(pc.greater(pc.binary_length(texts), 4 * SIGNATURE_TEXT_LIMIT), False)
    out = out.to_numpy(zero_copy_only=False).copy()
    ascii_ = pc.fill_null(pc.string_is_ascii(texts), True).to_numpy(zero_copy_only=False)
    if not ascii_.all():  # the non-ASCII texts: the whole class, by RE2 on them alone
        other = np.flatnonzero(~ascii_)
        hit = pc.match_substring_regex(texts.take(from_numpy(other)), _NOT_PLAIN_RE2)
        out[other] |= pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    # ASCII texts: a byte below 0x20 other than \t and \n, or DEL (on the bytes: fast).
    _, offsets, data = texts.buffers()
    if data is None:
        return out
    offs = np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + n + 1]
    raw = np.frombuffer(data, np.uint8)
    step = 1 << 18  # blocks that stay in the CPU cache: a few cheap passes over each
    for at in range(int(offs[0]), int(offs[-1]), step):
        block = raw[at : min(at + step, int(offs[-1]))]
        low = block < 0x20
        if (
            np.count_nonzero(low)
            == np.count_nonzero(block == 0x0A) + np.count_nonzero(block == 0x09)
            and not (block == 0x7F).any()
        ):
            continue
        bad = (low & (block != 0x09) & (block != 0x0A)) | (block == 0x7F)
        rows = np.searchsorted(offs, np.flatnonzero(bad) + at, side="right") - 1
        out[rows] = True
    return out


def _parse_plain_many(texts: pa.Array) -> tuple[list[TracebackInfo], np.ndarray]:
    """:func:`_parse_lines` of each plain text, vectorised over all their lines: the distinct
    results and, per text, the index of its own (of no meaning for a null or other text)."""
    n = len(texts)
    flat, parent, starts = _lines(texts)
    idx = np.arange(len(flat), dtype=np.int64)
    # The lines after the last header line of each text (all lines without one).
    hdr = np.flatnonzero(pc.starts_with(flat, _HEADER).to_numpy(zero_copy_only=False))
    last_hdr = _last_per_group(parent[hdr], hdr, n)
    begin = np.where(last_hdr >= 0, last_hdr + 1, starts)
    # Frame lines: each distinct line holding 'File "' is read by the one frame rule.
    cand = np.flatnonzero(pc.match_substring(flat, 'File "').to_numpy(zero_copy_only=False))
    cand = cand[cand >= begin[parent[cand]]]
    frame_of: list[str | None] = []
    which = np.zeros(0, np.int64)
    if len(cand):
        frame_of, which = _per_distinct(flat.take(from_numpy(cand)), _frame_of_line)
        is_frame = np.array([f is not None for f in frame_of], bool)[which]
        cand, which = cand[is_frame], which[is_frame]
    last_frame = _last_per_group(parent[cand], cand, n)
    user = np.array([bool(f) for f in frame_of], bool)[which] if len(cand) else np.zeros(0, bool)
    last_user = _last_per_group(parent[cand[user]], which[user], n)
    # The exception: the first unindented line after the last frame line.
    unindented = _unindented(flat)
    cand_exc = idx[unindented & (idx > last_frame[parent])]
    exc_line = _first_per_group(parent[cand_exc], cand_exc, n)
    has_exc = np.flatnonzero((exc_line >= 0) & (last_frame >= 0))
    exception = np.full(n, -1, np.int64)
    names: list[str | None] = []
    if len(has_exc):
        picked = flat.take(from_numpy(exc_line[has_exc]))
        parts = pc.extract_regex(picked, r"^(?P<head>[^:\n]*)(?P<rest>(?::[^\n]*)?)\n?$")
        rest = pc.struct_field(parts, "rest")
        ok = pc.or_(pc.equal(rest, ""), pc.or_(pc.equal(rest, ":"), pc.starts_with(rest, ": ")))
        names, of = _per_distinct(pc.struct_field(parts, "head"), _exception_of_head)
        ok_np = ok.to_numpy(zero_copy_only=False)
        exception[has_exc[ok_np]] = of[ok_np]
    # One code per (exception, frame) pair; texts without a frame line: neither.
    pair = (exception + 1) * (len(frame_of) + 1) + (last_user + 1)
    pair[last_frame < 0] = 0
    used, code = np.unique(pair, return_inverse=True)
    infos = []
    for p in used.tolist():
        ex, fr = divmod(p, len(frame_of) + 1)
        infos.append(TracebackInfo(names[ex - 1] if ex else None, frame_of[fr - 1] if fr else None))
    return infos, code.astype(np.int64)


def _lines(texts: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The lines of string texts (a null's slot as it is; broken at ``\\n`` as ``str.split``,
    each line but a text's last keeping its ``\\n``) as one string array over the texts' own
    data (no copy); per line its text, and per text the index of its first line."""
    n = len(texts)
    _, offsets, data = texts.buffers()
    offs = np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + n + 1].astype(np.int64)
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    nl = np.flatnonzero(raw[offs[0] : offs[-1]] == 0x0A) + offs[0]
    counts = 1 + np.searchsorted(nl, offs[1:]) - np.searchsorted(nl, offs[:-1])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    # Each text's start, then the starts of its other lines (after each "\n"), in order.
    bounds = np.empty(len(nl) + n + 1, np.int64)
    first = np.zeros(len(bounds) - 1, bool)
    first[starts] = True
    bounds[:-1][first] = offs[:-1]
    bounds[:-1][~first] = nl + 1
    bounds[-1] = offs[-1]
    buffer = data if data is not None else pa.py_buffer(b"")
    lines = pa.Array.from_buffers(
        pa.string(), len(bounds) - 1, [None, pa.py_buffer(bounds.astype(np.int32)), buffer]
    )
    parent = np.repeat(np.arange(n, dtype=np.int64), counts)
    return lines, parent, starts


def _unindented(lines: pa.Array) -> np.ndarray:
    """Per line (no nulls), whether it is not empty and its first character is not
    whitespace (``str.isspace``: Python's ``\\s``, Unicode spaces included)."""
    _, offsets, data = lines.buffers()
    n = len(lines)
    offs = np.frombuffer(offsets, np.int32)[lines.offset : lines.offset + n + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    if not len(raw):
        return np.zeros(n, bool)
    nonempty = offs[1:] > offs[:-1]
    first = np.where(nonempty, raw[np.minimum(offs[:-1], len(raw) - 1)], 0)
    # ASCII whitespace: \t \n \v \f \r, \x1c-\x1f and space.
    out = nonempty & ~(((first >= 0x09) & (first <= 0x0D)) | ((first >= 0x1C) & (first <= 0x20)))
    wide = np.flatnonzero(nonempty & (first >= 0x80))
    if len(wide):  # a multi-byte first character: asked of Python, once per distinct one
        firsts = pc.utf8_slice_codeunits(lines.take(from_numpy(wide)), 0, 1)
        spaces, of = _per_distinct(firsts, str.isspace)
        out[wide] = ~np.asarray(spaces, bool)[of]
    return out


# --- Many messages at once ---------------------------------------------------------------------
# :data:`_MASKS` in RE2 (Arrow's regex engine), exact for the texts :func:`_re2_maskable` lets
# through: ASCII (``\w \d \s \b`` then mean the same in both engines), no control characters
# but ``\t`` and ``\n`` (``strip_escapes`` and ``splitlines`` then change nothing), at most
# :data:`_RE2_MAX_CHARS` characters, at most 64 ``/`` and no run of path characters longer
# than 253 (the bounded repetitions of the Python patterns then never bind, so they are
# unbounded here; RE2 allows at most 1000). Lookarounds, which RE2 lacks, are rewritten:
# the path's ``(?<![\w/])`` consumes the character before (put back by the replacement), and
# the hex run's "has a digit and a letter" is "has a digit next to a letter".
_RE2_MAX_CHARS = 800
_C = r"[\w.@%+=:,~-]"
_CS = r"[\w.@%+=:,~/-]"
_HX = "[0-9a-fA-F]"
_HEX_PAIR = "(?:[0-9][a-fA-F]|[a-fA-F][0-9])"
_A1 = rf"(?:~|\.{{1,2}})?/{_CS}*"
_RE2_MASKS: tuple[tuple[str, str], ...] = (
    (r"""'[^'\n]*'|"[^"\n]*"|`[^`\n]*`""", "<str>"),
    (r"""\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s'"<>]+""", "<url>"),
    (_MASKS[2][0].pattern, "<uuid>"),
    (
        rf"^{_A1}|\b[\w.-]+(?:/{_C}+)+|\b[A-Za-z]:\\[^\s'\"]*|([^\w/]){_A1}",
        r"\1<path>",
    ),
    (_MASKS[4][0].pattern, "<host>"),
    (_MASKS[5][0].pattern, "<host>"),
    (r"\b[a-zA-Z0-9][a-zA-Z0-9.-]*:\d{2,5}\b", "<host>"),
    (_MASKS[7][0].pattern, "<hex>"),
    (
        rf"\b(?:{_HX}{{4,}}{_HEX_PAIR}{_HX}*|{_HX}{{3}}{_HEX_PAIR}{_HX}+|{_HX}{{2}}{_HEX_PAIR}"
        rf"{_HX}{{2,}}|{_HX}{_HEX_PAIR}{_HX}{{3,}}|{_HEX_PAIR}{_HX}{{4,}})\b",
        "<hex>",
    ),
    (_MASKS[9][0].pattern, "<num>"),
)
# Where the path rewrite could differ: a path ending in one of ".@%+=:,~-" just before a "/"
# that the Python pattern would start a new path at (looking behind at that character).
_RE2_PATH_EDGE = r"[.@%+=:,~-]/(?:[^\w.@%+=:,~-]|$)"
#: After these passes (quoted strings, URLs, UUIDs; hex runs) many texts have become alike.
_RE2_DISTINCT_AFTER = (2, 8)


def _re2_maskable(texts: pa.Array) -> np.ndarray:
    """Per text (no nulls), whether :func:`mask_messages` may mask it by :data:`_RE2_MASKS`."""
    ok = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    ok &= pc.binary_length(texts).to_numpy(zero_copy_only=False) <= _RE2_MAX_CHARS
    ok &= pc.count_substring(texts, "/").to_numpy(zero_copy_only=False) <= 64
    ok &= ~pc.match_substring_regex(texts, _C + "{254}").to_numpy(zero_copy_only=False)
    ok &= ~_not_plain(texts)
    return ok


def _mask_re2(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`mask_message` of each :func:`_re2_maskable` text, by RE2 passes over them all;
    and per text whether the result holds (False: the path rewrite may differ, see
    :data:`_RE2_PATH_EDGE`)."""
    ok = np.ones(len(texts), bool)
    # Per given text, its row in ``texts``: after the passes that make most texts alike, the
    # texts are made distinct again, so the later passes read far fewer (each pass is a
    # function of the text alone: equal texts stay equal).
    row = np.arange(len(texts))
    for k, (pattern, token) in enumerate(_RE2_MASKS):
        if k == 3:
            edge = pc.match_substring_regex(texts, _RE2_PATH_EDGE)
            ok &= ~edge.to_numpy(zero_copy_only=False)[row]
        texts = pc.replace_substring_regex(texts, pattern, token)
        if k in _RE2_DISTINCT_AFTER:
            enc = pc.dictionary_encode(texts)
            if len(enc.dictionary) < 0.8 * len(texts):
                row = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)[row]
                texts = enc.dictionary
    # Per line: runs of spaces and tabs as one space, stripped; blank lines dropped.
    # (A lone space needs no replacing: only runs of two or more and tabs are rewritten.)
    texts = pc.replace_substring_regex(texts, r"[ \t]{2,}|\t", " ")
    texts = pc.replace_substring_regex(texts, r"(?m)^ | $", "")
    texts = pc.replace_substring_regex(texts, r"\n\n+", "\n")
    texts = pc.replace_substring_regex(texts, r"^\n|\n$", "")
    if len(row) != len(texts) or (row != np.arange(len(row))).any():
        texts = texts.take(from_numpy(row))
    return texts, ok


def mask_messages(texts: pa.Array, mask: Callable[[str], str] = mask_message) -> pa.Array:
    """:func:`mask_message` of each text of a string array without nulls, by RE2 passes over
    all of them where that is exact (:func:`_re2_maskable`); ``mask`` masks the others."""
    texts = texts.cast(pa.string()) if texts.type != pa.string() else texts
    fast = np.flatnonzero(_re2_maskable(texts)) if len(texts) else np.zeros(0, np.int64)
    done, ok = _mask_re2(texts.take(from_numpy(fast)))
    if not ok.all():
        fast, done = fast[ok], done.filter(bools(ok))
    if len(fast) == len(texts):
        return done
    slow = np.setdiff1d(np.arange(len(texts)), fast, assume_unique=True)
    others = pa.array([mask(t) for t in texts.take(from_numpy(slow)).to_pylist()], pa.string())
    where = np.empty(len(texts), np.int64)
    where[fast] = np.arange(len(fast))
    where[slow] = len(fast) + np.arange(len(slow))
    return pa.concat_arrays([done, others]).take(from_numpy(where))


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


@dataclass(frozen=True)
class ErrorAssignment:
    """The result of :meth:`ErrorGrouper.assign`: each FAILED row and its group.

    Rows are numbered over the concatenation of ``failed`` (one table per given node).
    """

    nodes: list[NodeFailures]
    #: Per given node, its FAILED rows (possibly empty).
    failed: list[pa.Table]
    #: Per row: index of its node in ``nodes`` / ``failed``.
    node: np.ndarray
    #: Per row: its index in its node's ``failed`` table.
    row: np.ndarray
    #: Per row: index of its group in ``keys``.
    group: np.ndarray
    #: Per group: (exception, last user frame, masked message), as :attr:`ErrorGroup.key`.
    keys: list[tuple[str | None, str | None, str]]

    def signature(self, group: int) -> str:
        """The readable one-line signature of a group (:attr:`ErrorGroup.signature`)."""
        return ErrorGroup(*self.keys[group]).signature


@dataclass(frozen=True)
class _NodePrep:
    """One node's input as given (``rows``, ``logs``) and what grouping derives from it."""

    rows: pa.Table
    logs: pa.Table | None
    failed: pa.Table
    masked: pa.Array | None = None  # per FAILED row, its masked message
    info: np.ndarray | None = None  # per FAILED row, its traceback's code (0: none)


class ErrorGrouper:
    """Groups FAILED packets; keeps masks and parsed tracebacks between calls (warm = fast).

    All nodes are grouped in one vectorised pass: one dictionary encoding of every error
    message, one lookup of every traceback by its log row id (log rows never change, so a
    traceback is parsed once per row id), one ``np.unique`` over the signature codes.
    """

    def __init__(self) -> None:
        self._masks: dict[str, str] = {}
        self._tracebacks: dict[str, int] = {}
        self._infos: list[TracebackInfo] = [TracebackInfo(None, None)]
        self._info_code: dict[TracebackInfo, int] = {self._infos[0]: 0}
        self._known_ids: list[pa.Array] = []
        self._known_codes: list[np.ndarray] = []
        self._logs: dict[int, tuple[pa.Table, pa.Table | None]] = {}
        self._nodes: dict[int, _NodePrep] = {}

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
        return self._infos[self._text_code(text)]

    def _text_code(self, text: str) -> int:
        code = self._tracebacks.get(text)
        if code is None:
            if len(self._tracebacks) > CACHE_LIMIT:
                self._tracebacks.clear()
            info = parse_traceback(text)
            code = self._info_code.setdefault(info, len(self._infos))
            if code == len(self._infos):
                self._infos.append(info)
            self._tracebacks[text] = code
        return code

    def assign(self, nodes: Iterable[NodeFailures]) -> ErrorAssignment:
        """Every FAILED row of some nodes with the error group it belongs to — the one grouping
        rule; :meth:`groups` and the problems view both build on it.

        The FAILED rows of each node are kept in :attr:`ErrorAssignment.failed` (one table per
        given node, in order); per row of their concatenation, ``group`` is an index into
        ``keys`` (exception, user frame, masked message).
        """
        nodes = list(nodes)
        kept: dict[int, tuple[pa.Table, pa.Table | None]] = {}
        kept_nodes: dict[int, _NodePrep] = {}
        preps: list[_NodePrep] = []
        fresh: list[int] = []
        new: list[int] = []
        for node in nodes:
            # Per node: its FAILED rows, their masked messages and traceback codes, reused
            # while the same tables are given (tables are replaced, never changed).
            prep = self._nodes.get(id(node.rows))
            if prep is None or prep.rows is not node.rows or prep.logs is not node.logs:
                new.append(len(preps))
            preps.append(prep)  # type: ignore[arg-type]  # the new ones are made below
        for i, failed in zip(new, _failed_rows([nodes[i].rows for i in new]), strict=True):
            preps[i] = _NodePrep(nodes[i].rows, nodes[i].logs, failed)
            if failed.num_rows:
                fresh.append(i)
        if fresh:
            # New nodes are prepared together: one masking pass, one traceback lookup.
            logs_of = [self._prepared_logs(preps[i].logs, kept) for i in fresh]
            tbs = [
                _tracebacks_of(preps[i].failed, lg) for i, lg in zip(fresh, logs_of, strict=True)
            ]
            errors = pa.chunked_array(
                [c for i in fresh for c in _strings(preps[i].failed.column("error")).chunks],
                pa.string(),
            )
            masked_all = self._masked(errors)
            wheres = [t[1] for t in tbs]
            sources = [preps[i].logs for i in fresh]

            def texts_of(mask: np.ndarray) -> tuple[pa.Array, np.ndarray]:
                # One take from every node's own traceback column (not copied before).
                chunks: list[pa.Array] = []
                picked: list[np.ndarray] = []
                at = base = with_text = 0
                for where, lg, src in zip(wheres, logs_of, sources, strict=True):
                    m = mask[at : at + len(where)]
                    at += len(where)
                    if lg is None or src is None or not m.any():
                        continue
                    rows = pc.take(lg.column("row"), where.filter(bools(m)))
                    picked.append(rows.to_numpy(zero_copy_only=False) + base)
                    column = src.column("traceback")
                    if column.type != pa.string():
                        column = column.cast(pa.string())
                    chunks += column.chunks
                    base += len(column)
                    with_text += len(lg)
                if not picked:
                    return pa.array([], pa.string()), np.zeros(0, np.int64)
                index = np.concatenate(picked)
                if len(index) >= 0.75 * with_text:  # most texts: joined (a copy) beats taken
                    return pa.concat_arrays(chunks), index
                taken = pa.chunked_array(chunks, pa.string()).take(from_numpy(index))
                return taken.combine_chunks(), np.arange(len(index))

            def codes_of(mask: np.ndarray) -> np.ndarray:
                # Most tracebacks end with ": <the row's error>\n": those are parsed once per
                # distinct rest (see _codes_by_suffix), the others as texts.
                codes = self._codes_by_suffix(mask, wheres, logs_of, sources, errors)
                rest = codes < 0
                if rest.any():
                    left = np.zeros(len(mask), bool)
                    left[np.flatnonzero(mask)[rest]] = True
                    codes[rest] = self._codes_of(*texts_of(left))
                return codes

            has_text = pa.concat_arrays(wheres).is_valid().to_numpy(zero_copy_only=False)
            info_all = self._codes(pa.concat_arrays([t[0] for t in tbs]), has_text, codes_of)
            at = 0
            for i in fresh:
                n = preps[i].failed.num_rows
                p = preps[i]
                preps[i] = _NodePrep(
                    p.rows, p.logs, p.failed, masked_all.slice(at, n), info_all[at : at + n]
                )
                at += n
        for prep in preps:
            if prep.logs is not None and prep.failed.num_rows:
                hit = self._logs.get(id(prep.logs))
                if hit is not None and hit[0] is prep.logs:
                    kept.setdefault(id(prep.logs), hit)
            kept_nodes[id(prep.rows)] = prep
        self._logs = kept
        self._nodes = kept_nodes
        tables = [p.failed for p in preps]
        sizes = [t.num_rows for t in tables]
        node_of = np.repeat(np.arange(len(tables), dtype=np.int64), sizes)
        row_of = (
            np.concatenate([np.arange(n, dtype=np.int64) for n in sizes])
            if tables
            else np.zeros(0, np.int64)
        )
        if not len(node_of):
            return ErrorAssignment(nodes, tables, node_of, row_of, np.zeros(0, np.int64), [])
        with_rows = [p for p in preps if p.failed.num_rows]
        menc = pc.dictionary_encode(
            pa.chunked_array([p.masked for p in with_rows], pa.string())
        ).combine_chunks()
        msg_code = menc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        masked = menc.dictionary.to_pylist()
        info_of_row = np.concatenate([p.info for p in with_rows])
        # Dense re-numbering of the traceback codes seen in this call.
        used, info_dense = _unique_small(info_of_row)
        combined = msg_code * len(used) + info_dense
        uniq, inverse = _unique_small(combined)
        keys = []
        for code in uniq.tolist():
            info = self._infos[int(used[code % len(used)])]
            keys.append((info.exception, info.frame, masked[code // len(used)]))
        return ErrorAssignment(nodes, tables, node_of, row_of, inverse.astype(np.int64), keys)

    def _masked(self, errors: pa.ChunkedArray) -> pa.Array:
        """The masked text of each error message (null: ``""``), each distinct text masked
        once."""
        # Every digit 1-9 becomes 1 first (length and zeros kept, so masking gives the same
        # result): most of the variation in messages is numbers, so far fewer distinct texts
        # reach Python.
        zeroed = _zero_digits(pc.fill_null(errors, "").combine_chunks())
        enc = pc.dictionary_encode(zeroed)
        return mask_messages(enc.dictionary, self.mask).take(enc.indices)

    def _prepared_logs(
        self, logs: pa.Table | None, kept: dict[int, tuple[pa.Table, pa.Table | None]]
    ) -> pa.Table | None:
        """A node's log rows with a traceback, newest first, reused while the same table is
        given (a node's log table is replaced, never changed, when rows arrive); ``kept``
        collects the ones of this call (only those are kept for the next)."""
        if logs is None:
            return None
        hit = self._logs.get(id(logs))
        if hit is None or hit[0] is not logs:
            hit = (logs, _with_tracebacks(logs))
        kept[id(logs)] = hit
        return hit[1]

    def groups(self, nodes: Iterable[NodeFailures]) -> list[ErrorGroup]:
        """Error groups over some nodes, largest first (then by first seen, then signature)."""
        found = self.assign(nodes)
        if not len(found.group):
            return []
        names: list[str] = []
        name_of_node = []
        for node in found.nodes:
            if node.name not in names:
                names.append(node.name)
            name_of_node.append(names.index(node.name))
        node_idx = np.asarray(name_of_node, np.int64)[found.node]
        tables = found.failed
        times = _floats_many([t.column("ts_us") for t in tables if t.num_rows])
        inverse = found.group
        counts = np.bincount(inverse, minlength=len(found.keys))
        order = np.lexsort((np.nan_to_num(times, nan=np.inf), inverse))
        starts = np.searchsorted(inverse[order], np.arange(len(found.keys)))
        ends = np.append(starts[1:], len(order))
        pair, pair_counts = np.unique(inverse * len(names) + node_idx, return_counts=True)
        nodes_of: dict[int, dict[str, int]] = {}
        for p, c in zip(pair.tolist(), pair_counts.tolist(), strict=True):
            nodes_of.setdefault(p // len(names), {})[names[p % len(names)]] = c
        out = []
        for g, (exception, frame, message) in enumerate(found.keys):
            span = order[starts[g] : ends[g]]
            finite = times[span][np.isfinite(times[span])]
            out.append(
                ErrorGroup(
                    exception=exception,
                    frame=frame,
                    message=message,
                    count=int(counts[g]),
                    nodes=nodes_of.get(g, {}),
                    first_seen_us=int(finite[0]) if len(finite) else None,
                    last_seen_us=int(finite[-1]) if len(finite) else None,
                    examples=[
                        _example(names[node_idx[i]], tables[found.node[i]], int(found.row[i]))
                        for i in span[:EXAMPLES_PER_GROUP]
                    ],
                )
            )
        return sorted(out, key=lambda g: (-g.count, g.first_seen_us or 0, g.signature))

    def _codes(
        self,
        ids: pa.Array,
        has_text: np.ndarray,
        codes_of: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Per failed row, the code of its parsed traceback (0 = none), by log row id.

        ``has_text``: which rows have a traceback; ``codes_of(mask)``: per row in ``mask`` (in
        row order), the code of its traceback's parse (asked only for rows whose log row id is
        not known yet).
        """
        n = len(ids)
        out = np.zeros(n, np.int64)
        if not has_text.any():
            return out
        by_id = has_text & pc.fill_null(pc.greater(pc.binary_length(ids), 0), False).to_numpy(
            zero_copy_only=False
        )
        if by_id.any():
            wanted = ids.filter(pa.array(by_id))
            known = pa.concat_arrays(self._known_ids) if self._known_ids else None
            codes = np.concatenate(self._known_codes) if self._known_codes else None
            if known is not None and len(self._known_ids) > 1:
                self._known_ids, self._known_codes = [known], [codes]  # type: ignore[list-item]
            hit = (
                pc.fill_null(pc.index_in(wanted, value_set=known), -1).to_numpy(
                    zero_copy_only=False
                )
                if known is not None
                else np.full(len(wanted), -1)
            )
            got = np.zeros(len(wanted), np.int64)
            if codes is not None:
                got[hit >= 0] = codes[hit[hit >= 0]]
            miss = np.flatnonzero(hit < 0)
            if len(miss):
                rows = np.flatnonzero(by_id)[miss]
                mask = np.zeros(n, dtype=bool)
                mask[rows] = True
                new = codes_of(mask)  # in row order, as ``rows`` (sorted)
                got[miss] = new
                self._known_ids.append(wanted.take(pa.array(miss)))
                self._known_codes.append(new)
                if sum(len(a) for a in self._known_ids) > CACHE_LIMIT:
                    self._known_ids, self._known_codes = [], []
            out[by_id] = got
        by_text = has_text & ~by_id
        if by_text.any():
            out[by_text] = codes_of(by_text)
        return out

    def _codes_by_suffix(
        self,
        mask: np.ndarray,
        wheres: list[pa.Array],
        logs_of: list[pa.Table | None],
        sources: list[pa.Table | None],
        errors: pa.ChunkedArray,
    ) -> np.ndarray:
        """Per row in ``mask`` (in row order), the code of its traceback's parse where the text
        is ``<rest>: <the row's error>\n`` and that error cannot change the parse; -1 for the
        other rows (they are parsed as texts).

        A traceback ends with the message its status row carries as the error, and the message
        is what varies from packet to packet: the rests are few (a root's 100,000 failures have
        a few dozen), and each distinct rest is parsed once, as ``<rest>: M\n`` (the same
        parse, see :func:`_suffix_parse`). The texts are not copied: each is cut in place into
        its rest and its tail, and one dictionary encoding of all rests, tails and the rows'
        ``": <error>\n"`` finds both the distinct rests and the tails that are the row's own.
        ``wheres``, ``logs_of``, ``sources``: per node, its rows' index among its log rows with
        a traceback, those rows, and its log table; ``errors``: every row's error (nodes one
        after the other).
        """
        rows = np.flatnonzero(mask)
        out = np.full(len(rows), -1, np.int64)
        if not len(rows):
            return out
        errs = errors if len(rows) == len(errors) else errors.take(from_numpy(rows))
        errs = errs.combine_chunks() if isinstance(errs, pa.ChunkedArray) else errs
        safe = _safe_suffixes(errs)
        if not safe.any():
            return out
        tail = pc.fill_null(pc.binary_length(errs), 0).to_numpy(zero_copy_only=False) + 3
        buffers: list[pa.Buffer] = []
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # rows, rests, messages
        at = 0
        for where, lg, src in zip(wheres, logs_of, sources, strict=True):
            lo, hi = np.searchsorted(rows, [at, at + len(where)])
            base, at = at, at + len(where)
            pick = np.arange(lo, hi)[safe[lo:hi]]
            if not len(pick) or lg is None or src is None:
                continue
            log_rows = pc.take(lg.column("row"), where.take(from_numpy(rows[pick] - base)))
            for data, mine, rest, message in _cut_texts(
                src.column("traceback"),
                log_rows.to_numpy(zero_copy_only=False).astype(np.int64),
                tail[pick],
                len(buffers),
            ):
                buffers.append(data)
                found.append((pick[mine], rest, message))
        if not found:
            return out
        # The rests, the texts' messages and the rows' own errors as views of the bytes where
        # they are (Arrow's binary views: nothing copied): a text ends with its row's error
        # where the two views are equal, and only the rests are hashed to find the distinct.
        _, offsets, data = errs.buffers()
        offs = np.frombuffer(offsets, np.int32)[errs.offset : errs.offset + len(errs) + 1]
        owner = np.concatenate([f[0] for f in found])
        buffers.append(data if data is not None else pa.py_buffer(b""))
        raw = np.frombuffer(buffers[-1], np.uint8)
        own = _views(raw, offs[owner], offs[owner + 1] - offs[owner], len(buffers) - 1)

        def viewed(views: np.ndarray) -> pa.Array:
            return pa.Array.from_buffers(
                pa.binary_view(), len(views), [None, pa.py_buffer(views), *buffers]
            )

        messages = viewed(np.concatenate([f[2] for f in found]))
        same = pc.equal(messages, viewed(own)).to_numpy(zero_copy_only=False)
        if not same.any():
            return out
        enc = pc.dictionary_encode(viewed(np.concatenate([f[1] for f in found])[same]))
        which = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        code_of = [self._suffix_code(r) for r in enc.dictionary.to_pylist()]
        out[owner[same]] = np.asarray(code_of, np.int64)[which]
        return out

    def _suffix_code(self, rest: bytes) -> int:
        """The code of :func:`_suffix_parse` of a rest (-1: it must be parsed as a text)."""
        info = _suffix_parse(rest)
        if info is None:
            return -1
        code = self._info_code.setdefault(info, len(self._infos))
        if code == len(self._infos):
            self._infos.append(info)
        return code

    def _codes_of(self, texts: pa.Array, index: np.ndarray) -> np.ndarray:
        """The code of the parse of the traceback texts ``texts[index]``
        (:func:`parse_traceback_codes`: all texts parsed together)."""
        infos, code = parse_traceback_codes(texts)
        codes = []
        for info in infos:
            c = self._info_code.setdefault(info, len(self._infos))
            if c == len(self._infos):
                self._infos.append(info)
            codes.append(c)
        return np.asarray(codes, np.int64)[code[index]]


def _unique_small(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of non-negative integers, by counting when
    their range is small (no sort of every value)."""
    if not len(values) or values.min() < 0 or values.max() > 4 * len(values) + 1_000_000:
        uniq, inverse = np.unique(values, return_inverse=True)
        return uniq, inverse.reshape(-1)
    present = np.bincount(values) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[values]


#: Tables' rows are joined before they are filtered when they are at most this many times the
#: rows kept: Arrow filters a table of many chunks chunk by chunk and column by column (a few
#: µs each: milliseconds for hundreds of nodes' few problem rows), while joining copies every
#: row (wasteful for every row of each node of the all-runs view).
_JOIN_RATIO = 4


def _failed_rows(tables: list[pa.Table]) -> list[pa.Table]:
    """Each table's FAILED rows (its ``state`` column), by one filter over the rows of all
    tables of the same columns (no Arrow call per table)."""
    out: list[pa.Table | None] = [None] * len(tables)
    groups: list[tuple[pa.Schema, list[int]]] = []
    for i, t in enumerate(tables):
        if not t.num_rows:
            out[i] = t
            continue
        schema = t.schema
        # Compared, not hashed: hashing a schema costs more than comparing it.
        for known, members in groups:
            if known == schema:
                members.append(i)
                break
        else:
            groups.append((schema, [i]))
    for _, members in groups:
        joined = pa.concat_tables([tables[i] for i in members])
        failed = pc.fill_null(pc.equal(joined.column("state"), "FAILED"), False)
        mask = failed.to_numpy()
        ends = np.cumsum([tables[i].num_rows for i in members])
        counts = np.cumsum(mask)[ends - 1]
        if joined.num_rows <= _JOIN_RATIO * int(counts[-1]):
            joined = joined.combine_chunks()
        kept = joined.filter(bools(mask))
        at = 0
        for i, end in zip(members, counts.tolist(), strict=True):
            out[i] = kept.slice(at, end - at)
            at = end
    return out  # type: ignore[return-value]


def _safe_suffixes(errors: pa.Array) -> np.ndarray:
    """Per error (a string array), whether a traceback ending ``: <error>\n`` parses as if the
    error were ``M`` (see :func:`_suffix_parse`): not null, no character that makes
    :func:`parse_traceback` read the text otherwise (:data:`_NOT_PLAIN`, or too long), no
    frame line or traceback header in it, and no line of its own that could be read as the
    exception line (``x: \nValueError``): each line break is followed by a space, a tab or
    another line break (an indented or empty line never is the exception line)."""
    if not len(errors):
        return np.zeros(0, bool)
    ok = pc.is_valid(errors).to_numpy(zero_copy_only=False) & ~_not_plain(errors)
    for part in (re.escape(b'File "'), re.escape(_HEADER.encode()), _OWN_LINE):
        ok[_holding(errors, part)] = False
    return ok


#: A line break that starts a line which could be an exception line (or ends all the texts).
_OWN_LINE = rb"\n(?:[^ \t\n]|\Z)"


def _holding(texts: pa.Array, pattern: bytes) -> np.ndarray:
    """The indices of the texts of a string array (int32 offsets) that hold a match of the
    regex ``pattern``, and maybe a few more (a match across two texts counts for both): one
    search of the bytes of all texts, not one per text."""
    _, offsets, data = texts.buffers()
    if data is None:
        return np.zeros(0, np.int64)
    offs = np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + len(texts) + 1]
    raw = memoryview(data)[int(offs[0]) : int(offs[-1])]
    spans = [m.span() for m in re.finditer(pattern, raw)]
    if not spans:
        return np.zeros(0, np.int64)
    at = np.asarray(spans, np.int64) + int(offs[0])
    first = np.searchsorted(offs, at[:, 0], side="right") - 1
    last = np.searchsorted(offs, np.maximum(at[:, 1] - 1, at[:, 0]), side="right") - 1
    return np.unique(np.concatenate([first, last]).clip(0, len(texts) - 1))


def _cut_texts(
    column: pa.ChunkedArray, rows: np.ndarray, tail: np.ndarray, buffer: int
) -> Iterator[tuple[pa.Buffer, np.ndarray, np.ndarray, np.ndarray]]:
    """The texts ``column[rows[i]]`` that end with ``": "``, then ``tail[i] - 3`` bytes, then
    ``"\\n"`` (and are not longer than :func:`parse_traceback` reads), cut in place: per chunk
    of the column, its bytes, which ``i`` are such texts, and the binary views (see
    :func:`_views`) of their rests before ``": "`` and of the bytes between; the chunks' bytes
    are numbered from ``buffer`` on."""
    if column.type not in (pa.string(), pa.binary()):
        column = column.cast(pa.string())
    start = 0
    for chunk in column.chunks:
        lo, hi = start, start + len(chunk)
        start = hi
        _, offsets, data = chunk.buffers()
        mine = np.flatnonzero((rows >= lo) & (rows < hi))
        if not len(mine) or data is None:
            continue
        local = rows[mine] - lo
        offs = np.frombuffer(offsets, np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        begin, end = offs[local].astype(np.int64), offs[local + 1].astype(np.int64)
        cut = end - tail[mine]
        ok = (tail[mine] >= 3) & (cut >= begin) & (end - begin <= 4 * SIGNATURE_TEXT_LIMIT)
        raw = np.frombuffer(data, np.uint8)
        at = np.flatnonzero(ok)
        ok[at] = (raw[cut[at]] == 0x3A) & (raw[cut[at] + 1] == 0x20) & (raw[end[at] - 1] == 0x0A)
        if not ok.any():
            continue
        mine, begin, end, cut = mine[ok], begin[ok], end[ok], cut[ok]
        yield (
            data,
            mine,
            _views(raw, begin, cut - begin, buffer),
            _views(raw, cut + 2, end - 1 - (cut + 2), buffer),
        )
        buffer += 1


def _views(raw: np.ndarray, start: np.ndarray, length: np.ndarray, buffer: int) -> np.ndarray:
    """Arrow binary views (16 bytes each) of ``raw[start : start + length]``, ``raw`` being
    the data buffer numbered ``buffer``: the length, then the bytes themselves when at most
    12, else their first 4, the buffer and the start."""
    out = np.zeros((len(start), 16), np.uint8)
    words = out.view(np.int32)
    words[:, 0] = length
    long = length > 12
    if long.any():
        first = start[long]
        out[long, 4:8] = raw[first[:, None] + np.arange(4)]
        words[long, 2] = buffer
        words[long, 3] = first
    short = np.flatnonzero(~long & (length > 0))
    if len(short):
        at = start[short][:, None] + np.arange(12)
        inside = np.arange(12) < length[short][:, None]
        out[short, 4:16] = np.where(inside, raw[np.minimum(at, len(raw) - 1)], 0)
    return out


def _suffix_parse(rest: bytes) -> TracebackInfo | None:
    """:func:`parse_traceback` of every text ``<rest>: <error>\n`` whose error is safe
    (:func:`_safe_suffixes`), or None when the rest does not allow it.

    It is the parse of ``<rest>: M\n``. The error holds no frame line, no header and no line
    that could be the exception line (its other lines are indented or empty), so the
    header and frame lines are the rest's own; the line where the error starts (the rest's
    last line, then ``": "``) is no frame line when the rest's last line holds no ``File "``,
    and is the exception line in both texts or in neither (its first character is the rest's,
    or ``:``); the exception name is read up to the first ``:``, within the rest or at the
    ``": "``. Both texts are plain (the rest is checked here, the error by
    :func:`_safe_suffixes`), so both are parsed by :func:`_parse_plain`.
    """
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if 'File "' in text[text.rfind("\n") + 1 :] or _NOT_PLAIN.search(text) is not None:
        return None
    return parse_traceback(text + ": M\n")


def _zero_digits(arr: pa.Array) -> pa.Array:
    """Every ASCII digit 1-9 of a string array replaced by ``1``, on the bytes (UTF-8 safe: digit
    bytes never occur inside a multi-byte character); a regex replace is ~40× slower."""
    arr = arr.cast(pa.string())
    validity, offsets, data = arr.buffers()
    if data is None:
        return arr
    raw = np.frombuffer(data, np.uint8).copy()
    # 1-9 become 1 and 0 stays: the masks tell only ``0x`` (a hex literal) by a digit's value,
    # so "3x3" (two numbers) and "0x3" (hex) must not become the same text.
    raw[(raw >= 0x31) & (raw <= 0x39)] = 0x31
    return pa.Array.from_buffers(
        pa.string(), len(arr), [validity, offsets, pa.py_buffer(raw)], offset=arr.offset
    )


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    arr = pc.cast(column, pa.float64())
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.to_numpy(zero_copy_only=False)


def _floats_many(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """``np.concatenate([_floats(c) for c in columns])``, by one cast when the columns are of
    one type."""
    kinds = {c.type for c in columns}
    if len(kinds) != 1:
        return np.concatenate([_floats(c) for c in columns])
    return _floats(pa.chunked_array([ch for c in columns for ch in c.chunks], kinds.pop()))


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as strings (itself when it is)."""
    return column if column.type == pa.string() else column.cast(pa.string())


def _example(node: str, failed: pa.Table, row: int) -> dict[str, Any]:
    r = failed.slice(row, 1).to_pylist()[0]
    tags = {c: r[c] for c in failed.column_names if c not in ROW_COLUMNS}
    return {"node": node, "run_id": r["run_id"], "tags": tags}


def _with_tracebacks(logs: pa.Table | None) -> pa.Table | None:
    """The log rows that carry a traceback, newest first (None: none): their ``key``, ``id``
    and ``row`` (their index in ``logs``, where the text is taken from when it is needed: the
    texts themselves are not copied)."""
    if logs is None or logs.num_rows == 0 or "traceback" not in logs.column_names:
        return None
    with_text = pc.is_valid(logs.column("traceback"))
    with_text = with_text.combine_chunks() if isinstance(with_text, pa.ChunkedArray) else with_text
    rows = np.flatnonzero(with_text.to_numpy(zero_copy_only=False))
    if not len(rows):
        return None
    # Only the columns used (a log table also holds stdout, stderr, …): cheaper to sort.
    small = logs.select([c for c in ("key", "id", "ts") if c in logs.column_names])
    small = small.take(from_numpy(rows)).append_column("row", from_numpy(rows))
    if "ts" in small.column_names:  # index_in picks the first = the newest (a stable sort)
        small = small.take(pc.sort_indices(small, sort_keys=[("ts", "descending")]))
    return small.combine_chunks()


def _tracebacks_of(failed: pa.Table, logs: pa.Table | None) -> tuple[pa.Array, pa.Array]:
    """Per failed row, the id of its newest log row with a traceback and that row's index in
    ``logs`` (as :func:`_with_tracebacks` gives them; nulls: none). The texts themselves are
    taken only for the rows whose traceback is not known yet (see :meth:`ErrorGrouper._codes`).
    """
    n = failed.num_rows
    if logs is None:
        return pa.nulls(n, pa.binary()), pa.nulls(n, pa.int32())
    where = pc.index_in(failed.column("key"), value_set=logs.column("key").combine_chunks())
    where = where.combine_chunks() if isinstance(where, pa.ChunkedArray) else where
    if "id" not in logs.column_names:
        return pa.nulls(n, pa.binary()), where
    ids = pc.take(logs.column("id"), where)
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    return pc.cast(ids, pa.binary()), where


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


def log_rows(logs: NodeLogs) -> pa.Table | None:
    """The log rows of a node as one table (or None)."""
    return logs.table()


def groups_json(groups: Iterable[ErrorGroup]) -> list[dict[str, Any]]:
    """``"error_groups"`` for ``summary --json``."""
    return [g.to_json() for g in groups]


__all__ = [
    "ErrorAssignment",
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
