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
    mask_message,
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
