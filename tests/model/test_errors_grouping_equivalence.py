"""The grouper's vectorised passes give each FAILED row the signature the one-by-one rule gives.

The reference takes, per FAILED row, the newest log row of its packet that has a traceback,
parses it with :func:`parse_traceback` and masks the message with :func:`mask_message`. The
grouper does it for all nodes at once (texts joined or taken, lines split by Arrow, messages
masked by RE2 passes): cold, warm (log row ids known) and with tables in several chunks.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.errors import (
    ErrorGrouper,
    NodeFailures,
    TracebackInfo,
    mask_message,
    parse_traceback,
)
from orcatui.model.views import ROW_COLUMNS

SITE = "/opt/venv/lib/python3.12/site-packages"


def tb(exc: str, message: str, func: str, tail: str = "") -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/orcapod/core/executors/local.py", line 46, in execute_callable\n'
        "    raw_result = fn(**kwargs)\n"
        f'  File "/home/ana/proj/etl.py", line 88, in {func}\n'
        "    return read(path)\n"
        f"{exc}: {message}\n{tail}"
    )


MESSAGES = st.sampled_from(
    [
        "bad value 3 at /data/sub-01/a.nii",
        "bad value 7 at /data/sub-02/a.nii",
        "KeyError 'col_3'",
        "host db-1.cluster.local:5432 down",
        "Zoë Müller has 2 sessions",
        "a\x1b[31mred\x1b[0m 0xdeadbeef",
        "x/a./'q' and x/a.//",
        "",
        "two\n\n  lines\t here ",
    ]
)
TRACEBACKS = st.one_of(
    st.none(),
    st.builds(
        tb,
        st.sampled_from(["ValueError", "KeyError", "pkg.Err", "3Bad"]),
        MESSAGES,
        st.sampled_from(["load", "parse", "é"]),
        st.sampled_from(
            ["", "\nDuring handling\n", "Traceback (most recent call last):\n", "\r\n"]
        ),
    ),
    st.text(max_size=40),
)


def failed_rows(errors: list[str | None], states: list[str] | None = None) -> pa.Table:
    """Display rows of one node, one packet per error (``subject=s<i>``), FAILED unless
    ``states`` says otherwise."""
    n = len(errors)
    return pa.table(
        {
            "key": [f"r\x1fsubject=s{i}" for i in range(n)],
            "run_id": ["r"] * n,
            "state": states if states is not None else ["FAILED"] * n,
            "started_us": [1_000_000 * i for i in range(n)],
            "ts_us": [1_000_000 * i + 5 for i in range(n)],
            "duration_s": [1.0] * n,
            "error": pa.array(errors, pa.string()),
            "lost_reason": pa.nulls(n, pa.string()),
            "subject": [f"s{i}" for i in range(n)],
        }
    )


@st.composite
def nodes(draw):
    n_rows = draw(st.integers(0, 8))
    states = draw(
        st.lists(st.sampled_from(["FAILED", "SUCCESS"]), min_size=n_rows, max_size=n_rows)
    )
    errors = draw(st.lists(st.one_of(st.none(), MESSAGES), min_size=n_rows, max_size=n_rows))
    rows = failed_rows(errors, states)
    keys = rows.column("key").to_pylist()
    logs = None
    if n_rows and draw(st.booleans()):
        n_logs = draw(st.integers(1, 10))
        log_keys = draw(st.lists(st.sampled_from(keys), min_size=n_logs, max_size=n_logs))
        texts = draw(st.lists(TRACEBACKS, min_size=n_logs, max_size=n_logs))
        texts = [t if t is None else t.encode("utf-8", "replace").decode() for t in texts]
        ts = draw(st.lists(st.integers(0, 3), min_size=n_logs, max_size=n_logs))
        columns = {"key": log_keys, "ts": ts, "traceback": pa.array(texts, pa.string())}
        if draw(st.booleans()):
            columns["id"] = [bytes([i + 1]) * 16 for i in range(n_logs)]
        if draw(st.booleans()):
            columns.pop("ts")
        logs = pa.table(columns)
        if draw(st.booleans()) and n_logs > 1:  # several chunks, as tables read from files
            logs = pa.concat_tables([logs.slice(0, n_logs // 2), logs.slice(n_logs // 2)])
    return rows, logs


def reference(rows: pa.Table, logs: pa.Table | None) -> list[tuple[str | None, str | None, str]]:
    """Per FAILED row, its signature key by the one-by-one rule."""
    entries = logs.to_pylist() if logs is not None else []
    out = []
    for r in rows.to_pylist():
        if r["state"] != "FAILED":
            continue
        mine = [
            (i, e)
            for i, e in enumerate(entries)
            if e["key"] == r["key"] and e["traceback"] is not None
        ]
        if mine and "ts" in logs.column_names:
            newest = max(e["ts"] for _, e in mine)
            mine = [(i, e) for i, e in mine if e["ts"] == newest]  # the first of the newest
        info = parse_traceback(mine[0][1]["traceback"]) if mine else TracebackInfo(None, None)
        out.append((info.exception, info.frame, mask_message(r["error"] or "")))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(nodes(), min_size=1, max_size=4))
def test_grouper_assigns_each_row_the_one_by_one_signature(given_nodes):
    grouper = ErrorGrouper()
    # Log row ids are unique (UUIDs): each node's ids made distinct from the others'.
    for i, (r, lg) in enumerate(given_nodes):
        if lg is not None and "id" in lg.column_names:
            ids = [bytes([i]) + v[1:] for v in lg.column("id").to_pylist()]
            lg = lg.set_column(lg.column_names.index("id"), "id", pa.array(ids))
            given_nodes[i] = (r, lg)
    node_list = [NodeFailures(f"n{i}", r, lg) for i, (r, lg) in enumerate(given_nodes)]
    want = [k for r, lg in given_nodes for k in reference(r, lg)]
    for _ in range(2):  # cold, then warm (kept per node)
        found = grouper.assign(node_list)
        assert [found.keys[g] for g in found.group.tolist()] == want
    # New tables with the same log rows (ids known): the warm lookup by id agrees too.
    copies = [
        NodeFailures(n.name, n.rows.slice(0), n.logs.slice(0) if n.logs is not None else None)
        for n in node_list
    ]
    found = grouper.assign(copies)
    assert [found.keys[g] for g in found.group.tolist()] == want
    assert set(ROW_COLUMNS) <= set(given_nodes[0][0].column_names)


# Tracebacks that end with their row's own error, as orcapod's do: the grouper parses each
# distinct rest once (``<rest>: M``); errors and rests that could change the parse are chosen
# on purpose (frame lines and headers in the error, a rest whose last line is a frame line or
# a header, control characters, non-ASCII, an empty error, an error ending the text).
ERRORS = st.one_of(
    st.none(),
    MESSAGES,
    st.sampled_from(
        [
            'oops\n  File "/home/ana/proj/x.py", line 3, in g\n    y()',
            'File "/home/ana/proj/x.py", line 3, in g',
            "x\nTraceback (most recent call last):\nmore",
            "Traceback (most recent call last):",
            "tab\there\x07bell",
            "Zoë\u2028sep",
            "\nstarts on a new line",
            "ValueError: bad\n  sessions: 1, 2",
            "two\n\nlines apart",
            "tab\n\tindented",
            "ends with a line break\n",
            "nbsp\n\u00a0line",
            "Zoë\nZ",
            "ends with a colon:",
            " ",
            "x" * 17_000,
        ]
    ),
    st.text(max_size=30),
)
RESTS = st.sampled_from(
    [
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/orcapod/core/executors/local.py", line 46, in execute_callable\n'
        "    raw_result = fn(**kwargs)\n"
        '  File "/home/ana/proj/etl.py", line 88, in load\n'
        "    return read(path)\nValueError",
        'Traceback (most recent call last):\n  File "/home/ana/proj/etl.py", line 8, in f\npkg.Err',
        'Traceback (most recent call last):\n  File "/home/ana/proj/etl.py", line 8, in f',
        '  File "/home/ana/proj/etl.py", line 8, in f\n    x()\n',
        'Traceback (most recent call last):\n  File "/home/ana/proj/etl.py", line 8, in f\n  x',
        'Traceback (most recent call last):\n  File "/a/b.py", line 1, in f\nKeyError:',
        'Traceback (most recent call last):\n  File "/a/b.py", line 1, in f\n'
        "Traceback (most recent call last)",
        'Traceback (most recent call last):\n  File "/a/b.py", line 1, in f\nA:B',
        'Traceback (most recent call last):\n  File "/a/b.py", line 1, in f\nZoë',
        'Traceback (most recent call last):\n  File "/a/\x1bb.py", line 1, in f\nE',
        "",
        "ValueError",
    ]
)


@st.composite
def suffixed_nodes(draw):
    n_rows = draw(st.integers(1, 8))
    errors = draw(st.lists(ERRORS, min_size=n_rows, max_size=n_rows))
    rows = failed_rows(errors)
    keys = rows.column("key").to_pylist()
    log_keys, texts = [], []
    for i, err in enumerate(errors):
        for _ in range(draw(st.integers(0, 2))):  # none, one, or two log rows of the packet
            rest = draw(RESTS)
            other = draw(ERRORS) if draw(st.booleans()) else err  # usually its own error
            end = draw(st.sampled_from(["\n", "\n", "", "\n\n"]))
            log_keys.append(keys[i])
            texts.append(None if other is None else f"{rest}: {other}{end}")
    if draw(st.booleans()) and texts:  # a log row shared by two packets' keys
        log_keys.append(keys[0])
        texts.append(texts[-1])
    texts = [t if t is None else t.encode("utf-8", "replace").decode() for t in texts]
    logs = None
    if texts:
        n = len(texts)
        logs = pa.table(
            {
                "key": log_keys,
                "ts": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                "traceback": pa.array(texts, pa.string()),
            }
        )
        if n > 1 and draw(st.booleans()):
            logs = pa.concat_tables([logs.slice(0, n // 2), logs.slice(n // 2)])
    return rows, logs


@settings(max_examples=400, deadline=None)
@given(st.lists(suffixed_nodes(), min_size=1, max_size=3))
def test_grouper_by_suffix_assigns_the_one_by_one_signature(given_nodes):
    node_list = [NodeFailures(f"n{i}", r, lg) for i, (r, lg) in enumerate(given_nodes)]
    want = [k for r, lg in given_nodes for k in reference(r, lg)]
    found = ErrorGrouper().assign(node_list)
    assert [found.keys[g] for g in found.group.tolist()] == want


def test_grouper_by_suffix_error_with_a_line_of_its_own():
    """An error whose second line starts unindented is that traceback's exception line when
    the rest's last line is indented (found by the test above): not parsed as ``<rest>: M``."""
    rest = 'Traceback (most recent call last):\n  File "/home/ana/proj/etl.py", line 8, in f\n  x'
    rows = failed_rows(["\nA"])
    logs = pa.table({"key": ["r\x1fsubject=s0"], "ts": [0], "traceback": [f"{rest}: \nA\n"]})
    want = reference(rows, logs)
    assert want[0][0] == "A"
    found = ErrorGrouper().assign([NodeFailures("n0", rows, logs)])
    assert [found.keys[g] for g in found.group.tolist()] == want


def test_grouper_by_suffix_parses_each_rest_once(monkeypatch):
    """Many tracebacks ending with their own (different) errors: each distinct rest is parsed
    once, and the signatures are the one-by-one ones."""
    import orcatui.model.errors as errors_module

    calls: list[str] = []
    real = errors_module.parse_traceback

    def counting(text: str):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(errors_module, "parse_traceback", counting)
    n = 300
    errors = [f"bad value {i} at /data/sub-{i:03d}/a.nii" for i in range(n)]
    rows = failed_rows(errors)
    keys = rows.column("key").to_pylist()
    texts = [tb("ValueError", e, "load" if i % 2 else "parse") for i, e in enumerate(errors)]
    logs = pa.table({"key": keys, "traceback": texts})
    found = ErrorGrouper().assign([NodeFailures("n", rows, logs)])
    monkeypatch.setattr(errors_module, "parse_traceback", real)
    assert [found.keys[g] for g in found.group.tolist()] == reference(rows, logs)
    assert len(calls) == 2  # the two rests (``load``, ``parse``), not 300 texts
    assert {found.keys[g][1] for g in found.group.tolist()} == {"etl.py:load", "etl.py:parse"}


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=80), st.data())
def test_views_are_valid_binary_views_of_the_bytes(data, draw):
    """:func:`errors._views`: Arrow binary views (inline up to 12 bytes, else prefix, buffer and
    offset) of any slices of two buffers, in any order, repeated or empty."""
    import numpy as np

    from orcatui.model.errors import _views

    other = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2
    slices = draw.draw(
        st.lists(st.tuples(st.integers(0, 1), st.integers(0, 80), st.integers(0, 40)), max_size=12)
    )
    bufs = [data, other]
    picked = [(b, min(s, len(bufs[b])), n) for b, s, n in slices]
    picked = [(b, s, min(n, len(bufs[b]) - s)) for b, s, n in picked]
    views = [
        _views(
            np.frombuffer(bufs[b], np.uint8) if bufs[b] else np.zeros(0, np.uint8),
            np.array([s], np.int64),
            np.array([n], np.int64),
            b,
        )
        for b, s, n in picked
    ]
    stacked = np.concatenate(views) if views else np.zeros((0, 16), np.uint8)
    arr = pa.Array.from_buffers(
        pa.binary_view(),
        len(stacked),
        [None, pa.py_buffer(stacked), pa.py_buffer(data), pa.py_buffer(other)],
    )
    arr.validate(full=True)
    assert arr.to_pylist() == [bufs[b][s : s + n] for b, s, n in picked]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=40), st.sampled_from([1, 10**9]))
def test_unique_small_same_as_np_unique(values, scale):
    """Counting (small ranges) or sorting (large ones): what ``np.unique`` gives."""
    import numpy as np

    from orcatui.model.errors import _unique_small

    arr = np.asarray(values, np.int64) * scale
    uniq, inverse = _unique_small(arr)
    want_uniq, want_inverse = np.unique(arr, return_inverse=True)
    assert uniq.tolist() == want_uniq.tolist()
    assert inverse.tolist() == want_inverse.reshape(-1).tolist()
