"""Error groups (issue 10, item 2): signatures, masking, tracebacks, groups over real tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
from support.events import T0, log_row, packet, table_dir, write_parquet, write_status

from orcatui.model.errors import (
    ErrorGrouper,
    NodeFailures,
    error_groups,
    is_user_frame,
    log_rows,
    mask_message,
    parse_traceback,
)
from orcatui.model.monitor import Monitor
from orcatui.model.views import ROW_COLUMNS
from orcatui.text import strip_escapes

ORCAPOD_SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "orcapod"


def rows(*failures: tuple[str, float], state: str = "FAILED", run: str = "r1") -> pa.Table:
    """Display rows (the shape Monitor.packet_rows returns) of packets with these errors."""
    n = len(failures)
    subjects = [f"s{i}" for i in range(n)]
    return pa.table(
        {
            "key": [f"{run}\x1fsubject={s}" for s in subjects],
            "run_id": [run] * n,
            "state": [state] * n,
            "started_us": [int(at * 1e6) - 1_000_000 for _, at in failures],
            "ts_us": [int(at * 1e6) for _, at in failures],
            "duration_s": [1.0] * n,
            "error": [e for e, _ in failures],
            "lost_reason": pa.nulls(n, pa.string()),
            "subject": subjects,
        }
    )


def tb(exc: str, message: str, func: str = "load", file: str = "/home/ana/proj/etl.py") -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.12/site-packages/orcapod/core/executors/local.py", '
        "line 46, in execute_callable\n"
        "    raw_result = fn(**kwargs)\n"
        "                 ^^^^^^^^^^^^\n"
        f'  File "{file}", line 88, in {func}\n'
        "    return read(path)\n"
        '  File "/usr/lib/python3.12/pathlib.py", line 1013, in open\n'
        "    return io.open(self, mode, buffering, encoding, errors, newline)\n"
        f"{exc}: {message}\n"
    )


def logs_for(table: pa.Table, tracebacks: list[str | None]) -> pa.Table:
    return pa.table(
        {
            "key": table.column("key"),
            "ts": table.column("ts_us"),
            "traceback": pa.array(tracebacks, pa.string()),
        }
    )


def test_same_error_with_different_numbers_paths_uuids_quotes_is_one_group():
    messages = [
        "[Errno 2] No such file or directory: '/data/sub-01/raw/scan_0001.nii.gz'",
        "[Errno 2] No such file or directory: '/mnt/other/sub-17/raw/scan_0099.nii.gz'",
        "could not open run 3f2a1c9e-1b2c-4d5e-8f90-1234567890ab at /data/x/y.parquet (7 tries)",
        "could not open run 0c8e1f2a-aaaa-4bbb-8ccc-0123456789ab at /scratch/z.parquet (12 tries)",
        "timeout after 30.5s talking to db-07.cluster.local:5432",
        "timeout after 2s talking to db-12.cluster.local:6543",
        "checksum 0xdeadbeef != 9f86d081884c7d65",
        "checksum 0x00c0ffee != 2c26b46b68ffc68f",
        "GET https://api.example.com/v1/items?id=7 returned 503",
        "GET https://api.example.com/v2/items?id=1234 returned 502",
    ]
    groups = error_groups(
        [NodeFailures("load", rows(*[(m, T0 + i) for i, m in enumerate(messages)]))],
        ErrorGrouper(),
    )
    assert sorted(g.count for g in groups) == [2, 2, 2, 2, 2]
    by_message = {g.message: g for g in groups}
    assert "[Errno <num>] No such file or directory: <str>" in by_message
    assert "could not open run <uuid> at <path> (<num> tries)" in by_message
    assert "timeout after <num>s talking to <host>" in by_message
    assert "checksum <hex> != <hex>" in by_message
    assert "GET <url> returned <num>" in by_message
    g = by_message["timeout after <num>s talking to <host>"]
    assert g.first_seen_us == int((T0 + 4) * 1e6) and g.last_seen_us == int((T0 + 5) * 1e6)
    assert g.nodes == {"load": 2}
    assert [e["tags"] for e in g.examples] == [{"subject": "s4"}, {"subject": "s5"}]


def test_different_exceptions_with_similar_text_are_different_groups():
    t = rows(("value 3 out of range", T0), ("value 4 out of range", T0 + 1))
    logs = logs_for(
        t,
        [tb("ValueError", "value 3 out of range"), tb("IndexError", "value 4 out of range")],
    )
    groups = error_groups([NodeFailures("fit", t, logs)], ErrorGrouper())
    assert sorted(g.exception for g in groups) == ["IndexError", "ValueError"]
    assert all(g.count == 1 and g.message == "value <num> out of range" for g in groups)
    assert {g.signature for g in groups} == {
        "IndexError: value <num> out of range  (in etl.py:load)",
        "ValueError: value <num> out of range  (in etl.py:load)",
    }


def test_user_frame_splits_groups_raised_from_different_functions_but_not_line_numbers():
    t = rows(*[("bad header", T0 + i) for i in range(4)])
    logs = logs_for(
        t,
        [
            tb("OSError", "bad header", func="load"),
            tb("OSError", "bad header", func="load").replace("line 88", "line 91"),
            tb("OSError", "bad header", func="load", file="/other/checkout/etl.py"),
            tb("OSError", "bad header", func="save"),
        ],
    )
    groups = error_groups([NodeFailures("io", t, logs)], ErrorGrouper())
    assert [(g.frame, g.count) for g in groups] == [("etl.py:load", 3), ("etl.py:save", 1)]


def test_without_traceback_the_message_alone_decides_and_exception_is_unknown():
    t = rows(("boom 1", T0), ("boom 2", T0 + 1))
    logs = logs_for(t, [tb("RuntimeError", "boom 1"), None])
    groups = error_groups([NodeFailures("n", t, logs)], ErrorGrouper())
    assert sorted((g.exception or "", g.count) for g in groups) == [("", 1), ("RuntimeError", 1)]
    (g,) = error_groups([NodeFailures("n", t)], ErrorGrouper())
    assert g.exception is None and g.count == 2 and g.signature == "boom <num>"


def test_groups_merge_across_nodes_with_counts_per_node_largest_first():
    a = rows(*[(f"disk full on /dev/sd{c}", T0 + i) for i, c in enumerate("abc")])
    b = rows(("disk full on /dev/sdq", T0 + 10), ("other thing", T0 + 11), run="r2")
    groups = error_groups([NodeFailures("a", a), NodeFailures("b", b)], ErrorGrouper())
    assert [(g.message, g.count, g.nodes) for g in groups] == [
        ("disk full on <path>", 4, {"a": 3, "b": 1}),
        ("other thing", 1, {"b": 1}),
    ]
    js = groups[0].to_json()
    assert js["first_seen"].startswith("2026-11-28") and len(js["examples"]) == 3
    assert set(js) >= {
        "signature",
        "exception",
        "message",
        "count",
        "nodes",
        "first_seen",
        "last_seen",
        "examples",
    }


def test_only_failed_rows_are_grouped():
    t = rows(("x 1", T0), ("x 2", T0 + 1), state="SUCCESS")
    assert error_groups([NodeFailures("n", t)], ErrorGrouper()) == []


def test_multiline_and_unicode_messages():
    m1 = "z_value 40.512 is outside [-5.0, 5.0]\n  detail: patient Zoë Müller 患者 7\n\n  hint: QC"
    m2 = "z_value 3.1 is outside [-5.0, 5.0]\n  detail: patient Zoë Müller 患者 12\n  hint: QC"
    (g,) = error_groups([NodeFailures("n", rows((m1, T0), (m2, T0 + 1)))], ErrorGrouper())
    assert g.count == 2
    assert g.message == (
        "z_value <num> is outside [-<num>, <num>]\ndetail: patient Zoë Müller 患者 <num>\nhint: QC"
    )
    assert g.signature == "z_value <num> is outside [-<num>, <num>] …"


def test_hostile_text_stays_data():
    evil = "\x1b]52;c;aGk=\x07\x1b[31mfail 12\x1b[0m \u202etxt.exe\x00 '\x1b[2J'"
    evil2 = "fail 99 \u202etxt.exe '\x1b[H'"
    tbt = tb("Value\x1b[2JError", "x")  # the escape is removed before parsing
    t = rows((evil, T0), (evil2, T0 + 1), ("A" * 100_000 + "/" * 50_000, T0 + 2))
    groups = error_groups(
        [NodeFailures("n", t, logs_for(t, [tbt, tbt, "not a traceback"]))], ErrorGrouper()
    )
    for g in groups:
        for text in (g.signature, g.message, g.exception or "", g.frame or ""):
            assert text == strip_escapes(text)
    assert sum(g.count for g in groups) == 3
    (g1,) = [g for g in groups if g.message.startswith("fail")]
    assert g1.count == 2 and g1.message == "fail <num> txt.exe <str>"
    assert g1.exception == "ValueError"


def test_mask_message_parts():
    assert mask_message("ip 10.0.3.17:8080 refused") == "ip <host> refused"
    assert mask_message("host worker-3.example.com down") == "host <host> down"
    assert mask_message("KeyError 'subject_id'") == "KeyError <str>"
    assert mask_message(r"C:\Users\ana\data.csv missing") == "<path> missing"
    assert mask_message("~/data/a.csv and ./rel/b.csv") == "<path> and <path>"


def test_parse_traceback_chained_and_frames():
    text = (
        tb("KeyError", "'x'", func="first")
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + tb("pkg.errors.LoadError", "cannot load\n  second line", func="second")
    )
    info = parse_traceback(text)
    assert info.exception == "pkg.errors.LoadError" and info.frame == "etl.py:second"
    assert parse_traceback("hello\nworld").exception is None
    assert not is_user_frame("/usr/lib/python3.12/json/decoder.py")
    assert not is_user_frame("/x/venv/lib/python3.11/site-packages/numpy/core.py")
    assert not is_user_frame("<frozen importlib._bootstrap>")
    assert not is_user_frame("/work/wt/x/observers/plain.py")
    assert is_user_frame("/home/ana/proj/pipeline/steps.py")


def test_orcapod_sample_through_monitor(tmp_path):
    """The real orcapod failures sample: 3 FAILED packets, one ValueError group, frame known."""
    root = tmp_path / "failures"
    shutil.copytree(ORCAPOD_SAMPLES / "failures", root)
    m = Monitor(root)
    m.refresh()
    inputs = []
    for pipeline, model in m.pipelines.items():
        for identity, node in model.nodes.items():
            key = (pipeline, identity)
            inputs.append(NodeFailures(identity[0], m.packet_rows(key), log_rows(node.logs)))
    (g,) = error_groups(inputs, ErrorGrouper())
    assert g.count == 3 and g.nodes == {"compute_score": 3}
    assert g.exception == "ValueError" and g.frame == "make_orcapod_dbs.py:compute_score"
    assert g.signature.startswith("ValueError: z_value <num> is outside the allowed range")
    assert set(g.examples[0]["tags"]) == {"subject_id"}


def test_plain_writer_tables_through_monitor(tmp_path):
    """Real Parquet status and log tables: the traceback splits two functions' errors."""
    fails = []
    logs = []
    for i, func in enumerate(["load", "load", "load", "parse"]):
        at = T0 + i
        fails += packet("r1", at, at + 0.5, "FAILED", f"bad row {i * 7}", subject=f"s{i}")
        logs.append(
            log_row(
                "r1",
                at + 0.4,
                tb=tb("ValueError", f"bad row {i}", func=func),
                ok=False,
                subject=f"s{i}",
            )
        )
    write_status(tmp_path, "etl", ("clean",), fails)
    write_parquet(table_dir(tmp_path, "etl", ("clean",), kind="log"), logs)
    m = Monitor(tmp_path)
    m.refresh()
    node = m.pipelines[("etl",)].nodes[("clean",)]
    rows_ = m.packet_rows((("etl",), ("clean",)))
    assert set(ROW_COLUMNS) <= set(rows_.column_names)
    groups = error_groups([NodeFailures("clean", rows_, log_rows(node.logs))], ErrorGrouper())
    assert [(g.frame, g.count) for g in groups] == [("etl.py:load", 3), ("etl.py:parse", 1)]
    assert groups[0].examples[0]["tags"] == {"subject": "s0"}


def test_warm_grouper_gives_the_same_groups_and_parses_new_log_rows():
    t = rows(("bad 1", T0), ("bad 2", T0 + 1))
    logs = logs_for(t, [tb("ValueError", "bad 1"), tb("ValueError", "bad 2")])
    logs = logs.append_column("id", pa.array([b"\x01" * 16, b"\x02" * 16]))
    g = ErrorGrouper()
    first = [x.to_json() for x in g.groups([NodeFailures("n", t, logs)])]
    assert first == [x.to_json() for x in g.groups([NodeFailures("n", t, logs)])]
    # A new failure arrives with a traceback from another function: parsed, its own group.
    t2 = rows(("bad 1", T0), ("bad 2", T0 + 1), ("bad 3", T0 + 2))
    logs2 = logs_for(
        t2,
        [
            tb("ValueError", "bad 1"),
            tb("ValueError", "bad 2"),
            tb("ValueError", "bad 3", func="other"),
        ],
    )
    logs2 = logs2.append_column("id", pa.array([b"\x01" * 16, b"\x02" * 16, b"\x03" * 16]))
    groups = g.groups([NodeFailures("n", t2, logs2)])
    assert [(x.frame, x.count) for x in groups] == [("etl.py:load", 2), ("etl.py:other", 1)]


def test_masking_does_not_depend_on_digit_values():
    """The grouper zeroes digits before masking (fewer distinct texts): that must not matter."""
    import re

    samples = [
        "ip 10.0.3.17:8080 refused",
        "run 3f2a1c9e-1b2c-4d5e-8f90-1234567890ab at /data/sub-17/x.parquet (7 tries)",
        "checksum 0xdeadbeef != 9f86d081884c7d65 at 2026-11-28T15:13:37.610238+00:00",
        "host db-12.cluster.local:5432 and https://api.example.com/v1/items?id=7",
        "Unable to allocate 7.5 GiB for shape (90000, 12) float64 a1b2c3",
    ]
    for text in samples:
        assert mask_message(re.sub(r"[0-9]", "0", text)) == mask_message(text)
