"""Unusable S3 roots: ``summary`` says so in one line and exits 2; a denied sub-prefix is named
in a warning, the rest is shown, exit 4; a bad ``--storage-option`` is a usage error."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_remote_summary import orcatui

import observers


def _store(url: str) -> None:
    for pipeline in ("open", "secret"):
        run = observers.run(url, pipeline=pipeline, run_id="r1", flush_interval=0.05)
        with run, run.node("work") as node:
            for i in range(4):
                with node.packet(suppress=True, subject=f"s{i}"):
                    pass


def _one_line_exit_2(r: Any) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("orcatui: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_missing_bucket(s3_bucket: str, child_env: dict[str, str]) -> None:
    line = _one_line_exit_2(orcatui("summary", "s3://no-such-bucket-here/db", env=child_env))
    assert "no-such-bucket-here" in line and "does not exist" in line


@pytest.mark.parametrize("which", ["unknown-key", "wrong-secret"])
def test_bad_credentials(s3_server: Any, s3_bucket: str, child_env: dict, which: str) -> None:
    env = dict(child_env)
    if which == "unknown-key":
        env["AWS_ACCESS_KEY_ID"] = "AKIANOSUCHKEY0000000"
    else:
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    line = _one_line_exit_2(orcatui("summary", f"s3://{s3_bucket}/db", "--json", env=env))
    assert "bad credentials" in line


def test_unreachable_endpoint(s3_bucket: str, child_env: dict[str, str]) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        env = {**child_env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        line = _one_line_exit_2(orcatui("summary", f"s3://{s3_bucket}/db", env=env))
    assert f"127.0.0.1:{port}" in line and "cannot reach" in line


def test_denied_on_the_whole_root(s3_server: Any, s3_bucket: str, child_env: dict) -> None:
    _store(f"s3://{s3_bucket}/db")
    key, secret = s3_server.denied
    env = {**child_env, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    line = _one_line_exit_2(orcatui("summary", f"s3://{s3_bucket}/db", env=env))
    assert "access denied" in line


def test_empty_prefix_has_no_tables(s3_bucket: str, child_env: dict[str, str]) -> None:
    line = _one_line_exit_2(orcatui("summary", f"s3://{s3_bucket}/nothing", env=child_env))
    assert "no status tables found" in line


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_denied_sub_prefix_is_named_and_the_rest_shown(
    s3_bucket: str, child_env: dict[str, str], s3_keys_denied_below: Any, sink: str
) -> None:
    url = f"s3://{s3_bucket}/db"
    for pipeline in ("open", "secret"):
        run = observers.run(url, pipeline=pipeline, run_id="r1", flush_interval=0.05, sink=sink)
        with run, run.node("work") as node:
            for i in range(4):
                with node.packet(suppress=True, subject=f"s{i}"):
                    pass
    key, secret = s3_keys_denied_below(f"{s3_bucket}/db/secret/")
    env = {**child_env, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    r = orcatui("summary", url, "--json", env=env)
    assert r.returncode == 4, r.stderr
    data = json.loads(r.stdout)
    shown = {tuple(p["name"]): p["counts"] for p in data["pipelines"]}
    assert shown[("open",)]["SUCCESS"] == 4
    assert data["errors"] and all("secret" in e for e in data["errors"])
    assert any("access denied" in e for e in data["errors"])
    warned = [line for line in r.stderr.splitlines() if line.startswith("orcatui: warning:")]
    assert warned and all("/db/secret/" in line for line in warned)
    text = orcatui("summary", url, env=env)
    assert text.returncode == 4 and "warning:" in text.stdout and "/db/secret/" in text.stdout


@pytest.mark.parametrize("option", ["no-equals-sign", "=value-without-key"])
def test_bad_storage_option_is_a_usage_error(
    s3_bucket: str, child_env: dict[str, str], option: str
) -> None:
    for command in ("summary", "report", "export", "wait"):
        r = orcatui(command, f"s3://{s3_bucket}/db", "--storage-option", option, env=child_env)
        line = _one_line_exit_2(r)
        assert "storage option" in line and "KEY=VALUE" in line


def test_storage_option_the_client_refuses(s3_bucket: str, child_env: dict[str, str]) -> None:
    r = orcatui(
        "summary",
        f"s3://{s3_bucket}/db",
        "--storage-option",
        "AWS_ENDPOINT_URL=::not a url::",
        env=child_env,
    )
    assert "not an http(s) URL" in _one_line_exit_2(r)


def test_unknown_url_scheme(tmp_path: Path, child_env: dict[str, str]) -> None:
    line = _one_line_exit_2(orcatui("summary", "ftp://host/db", env=child_env))
    assert "unsupported URL scheme" in line


@pytest.mark.parametrize("root", ["s3://", "s3:///", "gs://", "az:///db"])
def test_url_without_a_bucket(root: str, child_env: dict[str, str]) -> None:
    for command in ("summary", "watch"):
        line = _one_line_exit_2(orcatui(command, root, env=child_env))
        assert "no bucket" in line


def test_file_url_is_a_local_root(tmp_path: Path, child_env: dict[str, str]) -> None:
    _store(str(tmp_path / "db"))
    plain = orcatui("summary", str(tmp_path / "db"), "--json", env=child_env)
    as_url = orcatui("summary", (tmp_path / "db").as_uri(), "--json", env=child_env)
    assert plain.returncode == as_url.returncode == 0, as_url.stderr
    assert json.loads(plain.stdout)["pipelines"] == json.loads(as_url.stdout)["pipelines"]


def test_at_takes_storage_options_on_s3(s3_bucket: str, child_env: dict[str, str]) -> None:
    """``--at`` reads the store with the settings given by ``--storage-option`` (here the
    endpoint is only given that way: without it the client would go to AWS)."""
    _store(f"s3://{s3_bucket}/db")
    env = {k: v for k, v in child_env.items() if k != "AWS_ENDPOINT_URL"}
    endpoint = child_env["AWS_ENDPOINT_URL"]
    r = orcatui(
        "summary",
        f"s3://{s3_bucket}/db",
        "--json",
        "--at",
        datetime.now(UTC).isoformat(),
        "--storage-option",
        f"AWS_ENDPOINT_URL={endpoint}",
        env=env,
    )
    assert r.returncode in (0, 1, 3), r.stderr
    data = json.loads(r.stdout)
    assert data["pipelines"] and data["errors"] == []
