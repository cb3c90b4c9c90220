"""Shared parts of the S3 benchmarks: a moto server on loopback in a child process (so its
CPU is not the reader's), request counting on the server side, and data writers."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: S3 list prices (us-east-1, Standard): $ per 1,000 requests.
PRICE_LIST = 0.005
PRICE_GET = 0.0004

_SERVER = r"""
import logging, sys, threading
from collections import Counter
from moto.server import ThreadedMotoServer
from werkzeug.serving import WSGIRequestHandler
counts, lock = Counter(), threading.Lock()
def count(self, *a, **k):
    # path-style requests: a GET of the bucket itself (no key) is a LIST
    path = self.path.split("?", 1)[0].strip("/")
    op = "LIST" if self.command == "GET" and "/" not in path else self.command
    with lock:
        counts[op] += 1
WSGIRequestHandler.log_request = count
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
for line in sys.stdin:  # "count" prints the counts so far; EOF stops
    with lock:
        print(dict(counts), flush=True)
server.stop()
"""


class Server:
    """A moto S3 server in a child process; :meth:`counts` = requests it answered, by method."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("moto server did not start (needs moto[server])")
        self.env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }

    def counts(self) -> dict[str, int]:
        """Requests answered so far, by HTTP method (a GET of a bucket counted as LIST)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline().replace("'", '"'))

    def cpu(self) -> float:
        """CPU seconds (user+sys) the server process has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def client(self):
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

    def stop(self) -> None:
        """Stop the server process."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def server() -> Iterator[Server]:
    """A running :class:`Server`, its ``AWS_*`` settings in ``os.environ`` meanwhile."""
    srv = Server()
    old = {k: os.environ.get(k) for k in srv.env}
    os.environ.update(srv.env)
    try:
        yield srv
    finally:
        srv.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_PROXY = r"""
import asyncio, sys
delay, target_port = float(sys.argv[1]), int(sys.argv[2])

async def pipe(reader, writer, wait):
    try:
        while data := await reader.read(1 << 16):
            if wait:
                await asyncio.sleep(wait)  # each request (one chunk) waits: a round trip
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()

async def handle(client_r, client_w):
    server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
    await asyncio.gather(pipe(client_r, server_w, delay), pipe(server_r, client_w, 0.0))

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # EOF stops

asyncio.run(main())
"""


@contextmanager
def latency_proxy(endpoint: str, delay_ms: float) -> Iterator[str]:
    """A TCP proxy (child process) in front of ``endpoint`` that holds each request chunk
    ``delay_ms`` before passing it on — object storage's round trip, with any number of
    requests in flight (as on S3). Yields the proxy's endpoint URL."""
    port = endpoint.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROXY, str(delay_ms / 1000), port],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: this repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def run_timed(
    cmd: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``cmd``; (wall seconds, child CPU seconds user+sys, the result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """``after - before`` per key (keys with a change only)."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def cost(lists: int, gets: int) -> float:
    """Dollars for ``lists`` LIST and ``gets`` GET requests at S3's list price."""
    return lists / 1000 * PRICE_LIST + gets / 1000 * PRICE_GET


def put_many(client, bucket: str, items: list[tuple[str, bytes]], threads: int = 16) -> None:
    """PUT ``(key, body)`` items concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda kv: client.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), items))
