"""A real S3-compatible server on loopback for the object-storage tests.

moto's server mode (``ThreadedMotoServer``, not ``mock_aws``: the Rust clients of obstore
and delta-rs talk HTTP and never see an in-process mock) on 127.0.0.1 with a free port,
with IAM authentication switched on so that bad credentials and access denied are real
server answers. Each test gets its own bucket and the standard ``AWS_*`` environment
(``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, ``AWS_REGION``, keys), which child processes
inherit.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (the test extra)")
boto3 = pytest.importorskip("boto3")

REGION = "us-east-1"
_ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass
class S3Server:
    """The running server: its endpoint and two users' keys (``admin`` may do anything,
    ``denied`` has no policy at all)."""

    endpoint: str
    admin: tuple[str, str]
    denied: tuple[str, str]

    def env(self, keys: tuple[str, str] | None = None) -> dict[str, str]:
        """The ``AWS_*`` variables a client of this server needs."""
        key_id, secret = keys or self.admin
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
        }

    def client(self, service: str = "s3"):
        """A boto3 client signed with the admin keys."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.admin[0],
            aws_secret_access_key=self.admin[1],
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto server per test process (xdist workers each start their own)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    keys = {}
    for user, policy in (("admin", _ALLOW_ALL), ("denied", None)):
        iam.create_user(UserName=user)
        if policy is not None:
            iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    # From here on every request is authenticated and authorised as on AWS.
    old = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield S3Server(endpoint, keys["admin"], keys["denied"])
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = old
        server.stop()


_names = itertools.count()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty bucket (its name), with the ``AWS_*`` environment pointing at the server."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    bucket = f"t{os.getpid()}-{next(_names)}"
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (children use it too)."""
    return sys.executable


@pytest.fixture
def child_env(s3_bucket: str) -> dict[str, str]:
    """Environment for child processes: the repository on ``PYTHONPATH``, the S3 env."""
    from support.observers import REPO

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def s3_keys_denied_below(s3_server: S3Server) -> Callable[[str], tuple[str, str]]:
    """Keys of a new IAM user who may do anything except read objects below one prefix:
    ``make(prefix)`` denies ``s3:GetObject`` on ``arn:aws:s3:::<prefix>*`` (``prefix`` given
    as ``bucket/key-prefix/``). The user can still list the whole bucket, as on AWS with an
    object-level deny: the keys are visible, their bytes are not."""
    iam = s3_server.client("iam")

    def make(prefix: str) -> tuple[str, str]:
        user = f"partial-{next(_names)}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{prefix}*",
                },
            ],
        }
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="partial", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    return make
