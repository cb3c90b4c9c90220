"""The fast ways of grouping give exactly what the line-by-line rule gives.

``parse_traceback`` parses a plain text (nothing for ``strip_escapes`` to remove, lines broken
only at ``\\n``) by a few passes over the whole text; ``ErrorGrouper`` masks each message once per
digit pattern. Both are checked against the reference rule on realistic and hostile texts.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.errors import (
    SIGNATURE_TEXT_LIMIT,
    ErrorGrouper,
    TracebackInfo,
    _parse_lines,
    _re2_maskable,
    mask_message,
    mask_messages,
    parse_traceback,
    parse_tracebacks,
)
from orcatui.text import strip_escapes

SITE = "/opt/conda/envs/lab/lib/python3.11/site-packages"
STDLIB = "/usr/lib/python3.11"


def reference(text: str):
    """The rule as written line by line (the parse before the fast path existed)."""
    if len(text) > 4 * SIGNATURE_TEXT_LIMIT:
        text = text[-4 * SIGNATURE_TEXT_LIMIT :]
    return _parse_lines(strip_escapes(text).splitlines())


PATHS = st.sampled_from(
    [
        "/home/lab/steps/load.py",
        "/home/lab/steps/load_v2.py",
        "/home/lab/steps/load_v3.py",
        f"{SITE}/orcapod/core/executors/local.py",
        f"{SITE}/numpy/core/fromnumeric.py",
        f"{STDLIB}/contextlib.py",
        "<frozen importlib._bootstrap>",
        "<string>",
        r"C:\Users\ana\proj\fit.py",
        "/work/observers/plain.py",
        "relative/steps.py",
        "weird \u00e9 path/ü.py",
    ]
)
FUNCS = st.sampled_from(["load_scan", "fit", "<module>", " spaced ", "f" * 600, "g\u00a0h", ""])
INDENT = st.sampled_from(["  ", "", "\t", "    ", "\u00a0 ", " \u3000"])
EXC = st.sampled_from(
    [
        "ValueError: bad value 3",
        "KeyError: 'col_7'",
        "pkg.errors.LoadError",
        "pkg.errors.LoadError:",
        "RuntimeError:x",
        "  IndentedError: no",
        "3Bad: no",
        "KeyboardInterrupt",
        "",
        "During handling of the above exception, another exception occurred:",
    ]
)
JUNK = st.sampled_from(
    [
        "    result = helper(data)",
        "             ^^^^^^^^^^^^",
        "",
        "INFO:steps:start",
        "Traceback (most recent call last):",
        "Traceback (most recent call last): trailing",
        " Traceback (most recent call last):",
        "\x1b[31mred\x1b[0m",
        "a\rb",
        "a\u2028b",
        "a\u2029b",
        "a\x85b",
        "a\x0bb\x0cc\x1cd\x1de\x1ef",
        "bidi \u202e txt",
        "tab\tline",
        "\ud800 lone",
    ]
)


@st.composite
def frame_lines(draw) -> str:
    indent = draw(INDENT)
    path = draw(PATHS)
    line = draw(st.integers(0, 99999))
    if draw(st.booleans()):
        return f'{indent}File "{path}", line {line}, in {draw(FUNCS)}'
    return f'{indent}File "{path}", line {line}'


@st.composite
def tracebacks(draw) -> str:
    parts = draw(
        st.lists(st.one_of(frame_lines(), EXC, JUNK, st.text(max_size=30)), min_size=0, max_size=14)
    )
    sep = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    text = sep.join(parts)
    if draw(st.booleans()):
        text = "Traceback (most recent call last):\n" + text
    if draw(st.booleans()):
        text += "\n"
    return text


@settings(max_examples=3000)
@given(tracebacks())
def test_parse_traceback_same_as_line_by_line(text):
    assert parse_traceback(text) == reference(text)


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_parse_traceback_same_on_any_text(text):
    assert parse_traceback(text) == reference(text)


def realistic(exc: str, file: str, func: str, message: str, chained: bool = False) -> str:
    body = (
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/orcapod/core/executors/local.py", line 46, in execute_callable\n'
        "    raw_result = fn(**kwargs)\n"
        "                 ^^^^^^^^^^^^\n"
        f'  File "/home/lab/pipelines/steps/{file}", line 12, in {func}\n'
        "    result = helper(data, **options)\n"
        f'  File "{STDLIB}/contextlib.py", line 81, in inner\n'
        "    return func(*args, **kwds)\n"
        f"{exc}: {message}\n"
    )
    if chained:
        body = (
            realistic("KeyError", "first.py", "first", "'x'")
            + "\nThe above exception was the direct cause of the following exception:\n\n"
            + body
        )
    return body


def test_parse_traceback_realistic_texts():
    cases = [
        realistic("FileNotFoundError", "io.py", "load_scan", "No such file: '/data/sub-01/a.nii'"),
        realistic("ValueError", "score.py", "compute", "z 31.2 out of range\n  detail: x"),
        realistic("json.decoder.JSONDecodeError", "meta.py", "read", "line 3 column 4", True),
        realistic("RuntimeError", "load_v2.py", "load_v2", "CUDA out of memory"),
        realistic("RuntimeError", "load_v3.py", "load_v3", "CUDA out of memory"),
        realistic("OSError", "io.py", "verify", "bad \x1b[31mred\x1b[0m checksum\r\nnext"),
        realistic("ValueError", "qc.py", "check", "subject Zoë Müller 患者 7\u2028second"),
        realistic("ValueError", "big.py", "big", "x" * (5 * SIGNATURE_TEXT_LIMIT)),
        "x" * (5 * SIGNATURE_TEXT_LIMIT) + realistic("KeyError", "tail.py", "tail", "'k'"),
    ]
    for text in cases:
        assert parse_traceback(text) == reference(text)
    v2, v3 = parse_traceback(cases[3]), parse_traceback(cases[4])
    assert (v2.frame, v3.frame) == ("load_v2.py:load_v2", "load_v3.py:load_v3")
    assert parse_traceback(cases[2]).exception == "json.decoder.JSONDecodeError"
    assert parse_traceback(cases[5]).exception == "OSError"
    assert parse_traceback(cases[8]).frame == "tail.py:tail"


MESSAGES = st.lists(
    st.sampled_from(
        [
            "kernel 3x3 failed",
            "kernel 0x3 failed",
            "addr 0x7fff5 bad",
            "shape 640x480",
            "load_v2 failed",
            "10.0.3.17:8080 refused",
            "z 31.25e-3 out of range",
            "id 123e4567-e89b-12d3-a456-426614174000",
            "sub-01/ses-2 missing",
            "a1b2c3d4 and 9x",
            "٣x٣ arabic digits",
        ]
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200)
@given(MESSAGES, st.lists(st.integers(0, 9), min_size=1, max_size=5))
def test_grouper_masks_like_mask_message(messages, digits):
    # The same messages with their digits changed: every variant is masked by the rule.
    variants = []
    for i, m in enumerate(messages):
        d = str(digits[i % len(digits)])
        variants += [m, "".join(d if c.isdigit() and c.isascii() else c for c in m)]
    got = ErrorGrouper()._masked(pa.chunked_array([pa.array(variants, pa.string())]))
    assert got.to_pylist() == [mask_message(v) for v in variants]


def test_grouper_masks_single_digit_times_digit():
    """``3x3`` is two numbers, ``0x3`` a hex literal: the grouper's shortcut keeps them apart."""
    got = ErrorGrouper()._masked(pa.chunked_array([pa.array(["k 3x3", "k 0x3"], pa.string())]))
    assert got.to_pylist() == ["k <num>x<num>", "k <hex>"]


def one(text: str | None) -> TracebackInfo:
    return parse_traceback(text) if text is not None else TracebackInfo(None, None)


@settings(max_examples=400)
@given(st.lists(st.one_of(tracebacks(), st.none(), st.text(max_size=60)), max_size=12))
def test_parse_tracebacks_of_many_same_as_one_by_one(texts):
    """All texts parsed together (split into lines by Arrow) give each text's own parse."""
    # Arrow holds UTF-8: a lone surrogate (hypothesis makes some) cannot be in a column.
    texts = [t if t is None else t.encode("utf-8", "replace").decode() for t in texts]
    got = parse_tracebacks(pa.array(texts, pa.string()))
    assert got == [one(t) for t in texts]


def test_parse_tracebacks_realistic_and_sliced():
    texts = [
        realistic("FileNotFoundError", "io.py", "load_scan", "No such file: '/data/a.nii'"),
        None,
        realistic("ValueError", "qc.py", "check", "subject Zoë Müller 患者 7\u2028second"),
        realistic("json.decoder.JSONDecodeError", "meta.py", "read", "line 3 column 4", True),
        "x" * (5 * SIGNATURE_TEXT_LIMIT) + realistic("KeyError", "tail.py", "tail", "'k'"),
        realistic("OSError", "io.py", "verify", "bad \x1b[31mred\x1b[0m checksum\r\nnext"),
        realistic("ValueError", "score.py", "compute", "z 31.2 out of range\n  detail: x"),
        "",
        '\u3000File "/home/u/a.py", line 3, in f\n\u3000x\nE: m',
    ]
    arr = pa.array(texts * 3, pa.string()).slice(2, 20)  # an offset into the buffers
    want = [one(t) for t in (texts * 3)[2:22]]
    assert parse_tracebacks(arr) == want
    assert want[1] == TracebackInfo("json.decoder.JSONDecodeError", "meta.py:read")


# Pieces that meet at the edges of the masks: quotes, path starts after ".", "~" and "@",
# schemes, Windows drives, hosts and ports, hex next to digits, runs at the length limits.
PIECES = st.sampled_from(
    [
        *("/", "//", "./", "../", "~/", "~", ".", "..", "a", "b.c", "x_y", "-", "@", "%", "+"),
        *("=", ":", ",", "'", '"', "`", "\\", "C:\\", "c:", "http://", "s3://", "://", " "),
        *("  ", "\t", "\n", "\n\n", "0", "7", "12", "0x", "0X1f", "deadbeef", "a1b2c3"),
        *("abcdef", "123456", "1.5", "2,3", "1e5", "3e-2", "10.0.0.1", ":8080", ":80", "host"),
        *("api-1.example.com", "db.cluster.local", "x.localdomain", ".com", ".dev", ".ai"),
        *("123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000", "<"),
        *(">", "<num>", "sub-01", "file.txt", "a/b", "a/b/", "x" * 70, "a." * 40, "-1", "_"),
        *("9x9", "0x3", "é", "\x1b[31m", "\r", "/a.", "a./", "./a/", ".@/", "Z"),
    ]
)


@settings(max_examples=1500)
@given(
    st.lists(
        st.one_of(
            st.lists(PIECES, max_size=25).map("".join),
            st.text(st.characters(min_codepoint=9, max_codepoint=126), max_size=80),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_mask_messages_by_re2_same_as_mask_message(texts):
    """Masking all messages by RE2 passes (where exact; Python for the rest) gives what
    ``mask_message`` gives each one."""
    assert mask_messages(pa.array(texts, pa.string())).to_pylist() == [
        mask_message(t) for t in texts
    ]


def test_mask_messages_at_the_repetition_limits():
    """Runs of path characters and ``/`` counts around the Python patterns' bounds (the RE2
    path is not taken where a bound could bind)."""
    cases = [
        *("a" * n + ":80" for n in range(250, 258)),
        *("/a" * n for n in range(60, 70)),
        *("x " + "b" * n + "/c" for n in range(250, 260)),
        "'" + "x" * 900 + "'",
        "C:\\" + "''" * 300,
        "x/a./'q' and x/a.//",
    ]
    got = mask_messages(pa.array(cases, pa.string())).to_pylist()
    assert got == [mask_message(t) for t in cases]
    assert _re2_maskable(pa.array(["a/b 0x1f 'q'", "é", "a" * 260])).tolist() == [
        True,
        False,
        False,
    ]


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.lists(PIECES, max_size=4).map("".join),
            st.integers(0, 3),
            st.integers(0, 3),
            st.sampled_from(["", "\x1b[31m", "é", "a./"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_mask_messages_made_distinct_between_passes(parts):
    """Texts that become alike in stages (their quoted strings, then their UUIDs, then their
    hex runs masked): the passes after each stage read only the distinct texts; each text
    still gets its own mask."""
    uuids = ["123e4567-e89b-12d3-a456-42661417400" + str(i) for i in range(4)]
    hexes = ["deadbeef" + str(i) for i in range(4)]
    texts = [
        f"q '{text}' u {uuids[u]} h {hexes[h]} {tail} {text if u == 3 else ''}"
        for text, u, h, tail in parts
    ]
    assert mask_messages(pa.array(texts, pa.string())).to_pylist() == [
        mask_message(t) for t in texts
    ]


def test_mask_messages_made_distinct_twice():
    """Two rounds of making the texts distinct (after the UUIDs, then after the hex runs)."""
    texts = [
        f"q '{i}' u 123e4567-e89b-12d3-a456-4266141740{i % 10:02d} h deadbeef{i % 7} / {i % 3}"
        for i in range(60)
    ]
    assert mask_messages(pa.array(texts, pa.string())).to_pylist() == [
        mask_message(t) for t in texts
    ]
