"""The model on stores written by the real orcapod (tests/fixtures/orcapod, never edited)."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from orcatui.model.monitor import Monitor
from orcatui.model.views import View

LATER = 1_795_890_000.0  # long after the samples were written: their runs are over


def load(path, **kw) -> Monitor:
    m = Monitor(path, clock=lambda: LATER, **kw)
    assert m.refresh().problems == []
    return m


def counts_by_function(m: Monitor) -> dict[str, dict[str, int]]:
    (p,) = m.snapshot().pipelines
    return {n.name.function: n.counts for n in p.nodes}


def test_failures_exact_counts(orcapod_sample):
    m = load(orcapod_sample("failures"))
    counts = counts_by_function(m)
    zero = {"CACHED": 0, "RUNNING": 0, "LOST": 0}
    assert counts == {
        "normalize_signal": {"SUCCESS": 20, "FAILED": 0, **zero},
        "compute_score": {"SUCCESS": 17, "FAILED": 3, **zero},
        "summarize_signal": {"SUCCESS": 20, "FAILED": 0, **zero},
        "classify_score": {"SUCCESS": 17, "FAILED": 0, **zero},
    }
    (p,) = m.snapshot().pipelines
    assert p.name == ("failures_pipeline",)
    assert p.run is not None and p.run.run_id == "3f67d3df3e644760"
    assert p.run.verdict.liveness.value == "over"
    # Nodes come in the order the run reached them: normalize first.
    assert p.nodes[0].name.function == "normalize_signal"


def test_failures_three_failed_packets_with_messages(orcapod_sample):
    m = load(orcapod_sample("failures"))
    (p,) = m.snapshot().pipelines
    score = next(n for n in p.nodes if n.name.function == "compute_score")
    rows = m.packet_rows(score.key)
    failed = rows.filter(pc.equal(rows.column("state"), "FAILED")).sort_by("subject_id").to_pylist()
    assert [r["subject_id"] for r in failed] == ["sub-04", "sub-11", "sub-17"]
    for r in failed:
        assert r["error"].startswith("z_value ")
        assert "is outside the allowed range [-5.0, 5.0]" in r["error"]
        assert "\n  hint: re-run acquisition QC for this subject" in r["error"]
        assert r["duration_s"] > 0
    details = m.details(score.key, failed[0])
    assert details.log is not None and details.log.success is False
    assert "ValueError" in details.log.traceback


def test_ok_sample_all_success_with_logs(orcapod_sample):
    m = load(orcapod_sample("ok"))
    counts = counts_by_function(m)
    assert all(c["SUCCESS"] == 20 and sum(c.values()) == 20 for c in counts.values())
    (p,) = m.snapshot().pipelines
    node = p.nodes[0]
    row = m.packet_rows(node.key).to_pylist()[0]
    log = m.details(node.key, row).log
    assert log is not None and log.success is True and log.traceback is None
    assert log.stdout  # the sample's functions print


def test_multi_tag_two_part_name_and_unicode_tags(orcapod_sample):
    m = load(orcapod_sample("multi_tag"))
    (p,) = m.snapshot().pipelines
    assert p.name == ("lab_a", "multi_tag_pipeline")
    assert p.counts["FAILED"] == 1
    assert all(n.tags and set(n.tags) == {"subject_id", "session"} for n in p.nodes)
    values = set()
    for n in p.nodes:
        values |= set(m.packet_rows(n.key).column("subject_id").to_pylist())
    assert {"Zoë Müller", "患者 7", "two  spaces ", "emoji 🧪 test"} <= values
    failed = [
        r for n in p.nodes for r in m.packet_rows(n.key).to_pylist() if r["state"] == "FAILED"
    ]
    assert len(failed) == 1 and failed[0]["subject_id"] == "患者 7" and failed[0]["session"] == "2"
    assert "séance corrompue" in failed[0]["error"] and "\n" in failed[0]["error"]


@pytest.mark.parametrize("name", ["ok", "failures", "multi_tag"])
def test_labels_via_job_file(orcapod_sample, name):
    job = orcapod_sample(name).parent / f"{name}.job.json"
    m = load(orcapod_sample(name), job_files=[job])
    (p,) = m.snapshot().pipelines
    titles = {n.name.function: n.name.title for n in p.nodes}
    if name == "multi_tag":
        assert all(n.name.label for n in p.nodes)
    else:
        assert titles == {
            "normalize_signal": "normalize",
            "compute_score": "score",
            "classify_score": "classify",
            "summarize_signal": "summarize",
        }
    # Without the job file the function name is shown.
    plain = load(orcapod_sample(name))
    assert all(n.name.label is None for n in plain.snapshot().pipelines[0].nodes)


def test_all_runs_view_matches_single_run(orcapod_sample):
    m = load(orcapod_sample("failures"))
    (p,) = m.snapshot({("failures_pipeline",): View(all_runs=True)}).pipelines
    assert p.counts["FAILED"] == 3 and p.counts["SUCCESS"] == 74


def test_incremental_reread_finds_nothing_new(orcapod_sample):
    m = load(orcapod_sample("failures"))
    before = m.version
    result = m.refresh()
    assert not result.changed and m.version == before
