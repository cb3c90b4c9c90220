"""``orcatui watch s3://…``: the app on a root on a real S3 server (moto, loopback).

Pilot tests with generous timeouts and no timing assertions (the latency is a benchmark
figure: benchmarks/bench_s3_latency.py). Data is written by our observers to the server.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support.app import sync, wait_for

import observers
from orcatui.app.main import OrcaApp

pytestmark = pytest.mark.usefixtures("s3_bucket")

TIMEOUT = 60.0


def _nodes(app: OrcaApp) -> dict[str, int]:
    """Node name → packets shown (all states) in the main screen's frame."""
    screen = app.main
    if screen is None or screen.frame is None:
        return {}
    return {
        n.key[1][0]: sum(n.counts.values())
        for p in screen.frame.snapshot.pipelines
        for n in p.nodes
    }


def _root_error(app: OrcaApp) -> str | None:
    screen = app.main
    return None if screen is None or screen.frame is None else screen.frame.root_error


def _banner(app: OrcaApp) -> str:
    screen = app.main
    return "" if screen is None else str(screen.query_one("#banner").render())


def _live_app(url: str, **kw: Any) -> OrcaApp:
    app = OrcaApp(url, poll=0.2, **kw)
    assert app.cadence is not None
    app.cadence.probe_every = 0.5  # new nodes of the running pipeline looked for often
    return app


@sync
async def test_watch_shows_a_new_event_and_a_table_added_mid_run(s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/db"
    run = observers.run(url, pipeline="lab", flush_interval=0.1, heartbeat_interval=0.5)
    with run, run.node("clean") as clean:
        for i in range(3):
            with clean.packet(subject=f"s{i}"):
                pass
        time.sleep(0.5)  # flushed to the server
        app = _live_app(url)
        async with app.run_test(size=(120, 36)) as pilot:
            assert await wait_for(pilot, lambda: _nodes(app).get("clean") == 3, TIMEOUT)
            assert app.feed_backend == "polling s3 every 0.2s"
            header = str(app.main.query_one("#header").render())  # type: ignore[union-attr]
            assert "polling s3 every 0.2s" in header
            with clean.packet(subject="s3"):
                pass
            assert await wait_for(pilot, lambda: _nodes(app).get("clean") == 4, TIMEOUT)
            with run.node("late") as late, late.packet(subject="s0"):
                pass
            assert await wait_for(pilot, lambda: _nodes(app).get("late") == 1, TIMEOUT), _nodes(app)
            assert _nodes(app)["clean"] == 4
            assert _root_error(app) is None


def _write_finished_run(url: str, packets: int = 2) -> None:
    with observers.run(url, pipeline="lab", flush_interval=0.1) as run, run.node("clean") as n:
        for i in range(packets):
            with n.packet(subject=f"s{i}"):
                pass


@sync
async def test_an_endpoint_that_stops_answering_shows_a_banner_and_keeps_the_data(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server goes away (connection refused): the last data stays shown under a banner
    naming the endpoint; when it is back on the same port the banner goes and reading goes on."""
    from moto.server import ThreadedMotoServer

    own = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    own.start()
    host, port = own.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    s3_server_client = _client(f"http://{host}:{port}", s3_server)
    s3_server_client.create_bucket(Bucket="outage")
    url = "s3://outage/db"
    _write_finished_run(url)
    app = _live_app(url)
    stopped = False
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            assert await wait_for(pilot, lambda: _nodes(app).get("clean") == 2, TIMEOUT)
            own.stop()
            stopped = True
            app.action_refresh()
            assert await wait_for(pilot, lambda: _root_error(app) is not None, TIMEOUT)
            assert "cannot reach" in (_root_error(app) or "")
            assert await wait_for(pilot, lambda: "cannot read the root" in _banner(app), TIMEOUT)
            assert _nodes(app).get("clean") == 2  # the last data read is kept
            # back on the same port (moto keeps its buckets in the process): reading resumes
            own = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            own.start()
            stopped = False
            assert await wait_for(pilot, lambda: _root_error(app) is None, TIMEOUT)
            assert _nodes(app).get("clean") == 2
    finally:
        if not stopped:
            own.stop()


def _client(endpoint: str, s3_server: Any) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=s3_server.admin[0],
        aws_secret_access_key=s3_server.admin[1],
    )


@sync
async def test_credentials_revoked_while_watching_show_a_banner_and_keep_the_data(
    s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watching user's key is deleted mid-run: one line about bad credentials in the
    banner, the last data stays."""
    iam = s3_server.client("iam")
    user = f"watcher-{s3_bucket}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    url = f"s3://{s3_bucket}/db"
    _write_finished_run(url, packets=3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    app = _live_app(url)
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(pilot, lambda: _nodes(app).get("clean") == 3, TIMEOUT)
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        app.action_refresh()
        assert await wait_for(pilot, lambda: _root_error(app) is not None, TIMEOUT)
        error = _root_error(app) or ""
        assert "bad credentials" in error and "\n" not in error
        assert await wait_for(pilot, lambda: "cannot read the root" in _banner(app), TIMEOUT)
        assert _nodes(app).get("clean") == 3
