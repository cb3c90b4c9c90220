"""Roots on object storage (``s3://``, ``gs://``, ``az://``, ``abfs://``, ``file://``).

The one place that turns a root URL plus storage options into an object-store client. The
client is **obstore** (the Python binding of Rust's ``object_store`` crate, the same crate
delta-rs uses), so listing/reading Parquet and delta-rs see one configuration: each cloud's
standard environment variables (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``…) read by the
Rust clients themselves, plus explicit storage options ``KEY=VALUE`` (delta-rs spelling, e.g.
``AWS_ENDPOINT_URL=http://…`` or ``aws_endpoint=…``; case does not matter).

Errors are turned into one line by :func:`describe_error` (bad credentials, missing bucket,
unreachable endpoint, access denied). Used by the observers (writing) and by
``orcatui.store.objstore`` (reading); imports neither orcatui nor Textual.
"""

from __future__ import annotations

import datetime
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

#: URL schemes served by object storage (``file://`` is a local path).
REMOTE_SCHEMES = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gs",
    "gcs": "gs",
    "az": "az",
    "azure": "az",
    "abfs": "az",
    "abfss": "az",
}
_CONFIG_PREFIX = {"s3": "aws_", "gs": "google_", "az": "azure_"}
_CLIENT_KEYS = {
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_content_type",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_ca_certificate",
    "proxy_excludes",
    "proxy_url",
    "randomize_addresses",
    "read_timeout",
    "root_certificate",
    "timeout",
    "user_agent",
}
_ALIASES = {
    "endpoint_url": "endpoint",
    "aws_endpoint_url": "aws_endpoint",
    "aws_default_region": "aws_region",
    "aws_token": "aws_session_token",
    "google_service_account_path": "google_service_account",
    "azure_storage_account_name": "azure_account_name",
    "azure_storage_account_key": "azure_account_key",
}
#: Keys only delta-rs understands (locking, unsafe rename…); obstore never sees them.
_DELTA_ONLY = re.compile(r"^(aws_s3_|aws_dynamo|dynamo|aws_lock|aws_force_credential|delta)")
#: Storage options the parser knows but obstore's Python binding does not.
_S3_KEYS = {
    "access_key_id",
    "bucket",
    "checksum_algorithm",
    "conditional_put",
    "container_credentials_relative_uri",
    "copy_if_not_exists",
    "disable_tagging",
    "endpoint",
    "imdsv1_fallback",
    "metadata_endpoint",
    "region",
    "request_payer",
    "s3_express",
    "secret_access_key",
    "server_side_encryption",
    "session_token",
    "skip_signature",
    "sse_kms_key_id",
    "unsigned_payload",
    "virtual_hosted_style_request",
    "role_arn",
    "role_session_name",
    "sts_endpoint",
    "web_identity_token_file",
}


class ObjectStoreError(Exception):
    """A failure talking to object storage, with a one-line message for users.

    ``kind`` is one of ``credentials``, ``no-bucket``, ``unreachable``, ``denied``,
    ``not-found``, ``config`` or ``error``.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def is_url(root: str | os.PathLike[str]) -> bool:
    """True when ``root`` names object storage (``s3://…`` and friends, not ``file://``)."""
    text = os.fspath(root)
    if not isinstance(text, str) or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in REMOTE_SCHEMES


def local_path(root: str | os.PathLike[str]) -> str:
    """A plain path for a local root (``file:///x`` becomes ``/x``); other roots unchanged."""
    text = os.fspath(root)
    if isinstance(text, str) and text.lower().startswith("file://"):
        return unquote(urlsplit(text).path) or "/"
    return str(text)


@dataclass(frozen=True)
class RootURL:
    """A parsed object-storage root: scheme family, bucket (or container) and key prefix.

    ``prefix`` has no leading or trailing ``/`` (empty for a bucket's root).
    """

    scheme: str
    bucket: str
    prefix: str
    original: str

    @property
    def bucket_url(self) -> str:
        """The URL of the bucket, as the client is built for it (an Azure
        ``container@account.dfs.core.windows.net`` keeps its account)."""
        scheme, rest = self.original.split("://", 1)
        authority = rest.split("/", 1)[0]
        return f"{scheme}://{authority if '@' in authority else self.bucket}"

    def url(self, key: str = "") -> str:
        """The full URL of ``key`` (a key relative to the bucket)."""
        return f"{self.bucket_url}/{key}" if key else self.bucket_url

    def key(self, *parts: str) -> str:
        """The bucket key of ``parts`` under the root prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p and p.strip("/"))


def parse_root(root: str) -> RootURL:
    """Parse ``s3://bucket/prefix`` (and ``gs://``, ``az://``, ``abfs[s]://container@acct…``).

    Raises :class:`ObjectStoreError` (kind ``config``) for a URL without a bucket.
    """
    if not is_url(root):
        raise ObjectStoreError("config", f"not an object-storage URL: {root!r}")
    parts = urlsplit(root)
    family = REMOTE_SCHEMES[parts.scheme.lower()]
    bucket = parts.netloc
    if family == "az" and "@" in bucket:
        bucket = bucket.split("@", 1)[0]  # abfss://container@account.dfs.core.windows.net
    if not bucket:
        raise ObjectStoreError("config", f"no bucket in {root!r} (expected {family}://bucket/…)")
    prefix = unquote(parts.path).strip("/")
    return RootURL(family, bucket, prefix, root.rstrip("/"))


def parse_storage_options(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["KEY=VALUE", …]`` (as given to ``--storage-option``) as a dict.

    Raises ``ValueError`` with a one-line message for an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"storage option {item!r} is not KEY=VALUE")
        out[key.strip()] = value
    return out


def delta_options(options: Mapping[str, str] | None) -> dict[str, str]:
    """Storage options for delta-rs (it reads the environment itself; keys as given)."""
    return {str(k): str(v) for k, v in (options or {}).items()}


def obstore_options(
    scheme: str, options: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Split storage options into obstore's ``config`` and ``client_options``.

    Keys are lower-cased, given the cloud's prefix (``aws_``, ``google_``, ``azure_``) and
    common aliases are resolved (``AWS_ENDPOINT_URL`` → ``aws_endpoint``); keys only
    delta-rs understands are left out.
    """
    prefix = _CONFIG_PREFIX[scheme]
    config: dict[str, str] = {}
    client: dict[str, Any] = {}
    for raw_key, value in (options or {}).items():
        key = _ALIASES.get(str(raw_key).lower(), str(raw_key).lower())
        bare = key.removeprefix(prefix)
        bare = _ALIASES.get(bare, bare)
        if bare in _CLIENT_KEYS:
            client[bare] = _client_value(bare, str(value))
            continue
        if _DELTA_ONLY.match(key):
            continue
        if scheme == "s3" and bare not in _S3_KEYS:
            continue  # an option the binding would panic on; delta-rs still gets it
        config[prefix + bare] = str(value)
    return config, client


def _client_value(key: str, value: str) -> Any:
    if key in {"allow_http", "allow_invalid_certificates", "randomize_addresses"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return value


#: Fail fast on an unreachable endpoint instead of object_store's 3-minute retry default.
RETRY = {
    "max_retries": 3,
    "retry_timeout": datetime.timedelta(seconds=8),
    "backoff": {
        "init_backoff": datetime.timedelta(milliseconds=100),
        "max_backoff": datetime.timedelta(seconds=2),
        "base": 2.0,
    },
}
_ENV_PREFIXES = ("AWS_", "GOOGLE_", "AZURE_", "OBJECT_STORE_")
_cache: dict[tuple[Any, ...], Any] = {}
_cache_lock = threading.Lock()


def open_bucket(root: RootURL, options: Mapping[str, str] | None = None) -> Any:
    """An obstore client for ``root``'s bucket (cached per bucket, options and environment).

    Raises :class:`ObjectStoreError` (kind ``config``) for options the client refuses.
    """
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))
    opts = tuple(sorted((str(k), str(v)) for k, v in (options or {}).items()))
    cache_key = (root.bucket_url, opts, env)
    with _cache_lock:
        store = _cache.get(cache_key)
        if store is not None:
            return store
    from obstore.store import from_url

    config, client = obstore_options(root.scheme, options)
    _check_endpoint(root, config)
    # Passing client options replaces the ones the client would read from the environment.
    env_http = os.environ.get(f"{_CONFIG_PREFIX[root.scheme].upper()}ALLOW_HTTP")
    if env_http is not None and "allow_http" not in client:
        client["allow_http"] = _client_value("allow_http", env_http)
    client.setdefault("connect_timeout", "5s")
    client.setdefault("timeout", "20s")  # a hung endpoint: the banner within ~20 s, not minutes
    try:
        store = from_url(root.bucket_url, config=config, client_options=client, retry_config=RETRY)
    except BaseException as exc:  # the Rust binding panics (BaseException) on some keys
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ObjectStoreError(
            "config", f"cannot configure {root.bucket_url}: {_first_line(exc)}"
        ) from None
    with _cache_lock:
        _cache[cache_key] = store
    return store


class Bucket:
    """Object operations on one root (keys relative to the bucket), errors made one-line."""

    def __init__(self, root: str | RootURL, options: Mapping[str, str] | None = None):
        self.root = root if isinstance(root, RootURL) else parse_root(root)
        self.options = dict(options or {})
        self.store = open_bucket(self.root, self.options)
        #: Requests made through this object, by operation (for benchmarks and cost notes).
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, op: str, n: int = 1) -> None:
        with self._lock:
            self.requests[op] = self.requests.get(op, 0) + n

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        """Write one object (atomic on object storage); ``create_only`` fails if it exists."""
        import obstore

        self._count("PUT")
        try:
            obstore.put(self.store, key, data, mode="create" if create_only else "overwrite")
        except BaseException as exc:
            raise self.error(_not_exit(exc), key) from None

    def get(self, key: str) -> bytes:
        """The bytes of one object (``ObjectStoreError`` kind ``not-found`` when missing)."""
        import obstore

        self._count("GET")
        try:
            return bytes(obstore.get(self.store, key).bytes())
        except BaseException as exc:
            raise self.error(_not_exit(exc), key) from None

    def delete(self, keys: list[str]) -> None:
        """Delete objects (missing ones are fine)."""
        import obstore

        if not keys:
            return
        self._count("DELETE", 1 + (len(keys) - 1) // 1000)
        try:
            obstore.delete(self.store, keys)
        except BaseException as exc:
            err = self.error(_not_exit(exc), keys[0])
            if err.kind != "not-found":
                raise err from None

    def list(self, prefix: str, *, after: str | None = None) -> Iterator[dict[str, Any]]:
        """Objects under ``prefix`` (``path``, ``size``, ``last_modified``, ``e_tag``), in key
        order; ``after``: only keys sorting after it (S3's ``start-after``)."""
        import obstore

        prefix = prefix.rstrip("/") + "/" if prefix else ""
        try:
            stream = obstore.list(self.store, prefix or None, offset=after, chunk_size=1000)
            self._count("LIST")  # the first page is a request even when it comes back empty
            for i, chunk in enumerate(stream):
                if i:  # S3 pages hold 1,000 keys: each further chunk is one more request
                    self._count("LIST")
                yield from chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            raise self.error(_not_exit(exc), prefix) from None

    def list_dirs(self, prefix: str) -> tuple[list[str], list[dict[str, Any]]]:
        """Common prefixes (sub-"directories", no trailing ``/``) and objects directly under
        ``prefix`` (one delimiter listing)."""
        import obstore

        prefix = prefix.rstrip("/") + "/" if prefix else ""
        try:
            result = obstore.list_with_delimiter(self.store, prefix or None)
        except BaseException as exc:
            self._count("LIST")
            raise self.error(_not_exit(exc), prefix) from None
        # obstore fetches every page (S3 returns at most 1,000 entries per LIST request)
        entries = len(result["common_prefixes"]) + len(result["objects"])
        self._count("LIST", max(1, -(-entries // 1000)))
        return [p.rstrip("/") for p in result["common_prefixes"]], list(result["objects"])

    def error(self, exc: BaseException, key: str = "") -> ObjectStoreError:
        """``exc`` as an :class:`ObjectStoreError` naming this root."""
        return classify(exc, self.root, key)


def _not_exit(exc: BaseException) -> BaseException:
    """Re-raise interpreter exits; pass anything else on (the Rust binding may *panic*,
    which Python sees as a ``BaseException``)."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        raise exc
    return exc


def _check_endpoint(root: RootURL, config: Mapping[str, str]) -> None:
    name = f"{_CONFIG_PREFIX[root.scheme]}endpoint"
    endpoint = config.get(name)
    if endpoint is None and root.scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint is None:
        return
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.netloc or " " in endpoint:
        raise ObjectStoreError(
            "config", f"endpoint {endpoint!r} for {root.bucket_url} is not an http(s) URL"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")


def classify(exc: BaseException, root: RootURL, key: str = "") -> ObjectStoreError:
    """Map a client exception to an :class:`ObjectStoreError` with a one-line message."""
    if isinstance(exc, ObjectStoreError):
        return exc
    text = str(exc)
    name = type(exc).__name__
    code_match = _CODE.search(text)
    code = code_match.group(1) if code_match else ""
    where = root.url(key) if key else root.original
    if code == "NoSuchBucket" or "bucket does not exist" in text.lower():
        return ObjectStoreError("no-bucket", f"bucket {root.bucket!r} does not exist ({where})")
    if (
        code
        in {
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "AuthorizationHeaderMalformed",
        }
        or name == "UnauthenticatedError"
    ):
        detail = code or "unauthenticated"
        return ObjectStoreError(
            "credentials",
            f"bad credentials for {root.bucket_url} ({detail}): check AWS_* / "
            "--storage-option keys",
        )
    if "token request" in text.lower() or "169.254.169.254" in text:
        # No keys given, so the client asked the cloud's instance metadata service, which
        # answers only on a cloud machine: say what to set instead of the HTTP failure.
        env = {"s3": "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", "gs": "GOOGLE_*", "az": "AZURE_*"}
        return ObjectStoreError(
            "credentials",
            f"no credentials for {root.bucket_url}: set {env.get(root.scheme, 'credentials')} "
            "or give them with --storage-option",
        )
    if code in {"AccessDenied", "AllAccessDisabled"} or name == "PermissionDeniedError":
        return ObjectStoreError("denied", f"access denied to {where}")
    if name == "NotFoundError" or code in {"NoSuchKey", "NotFound"}:
        return ObjectStoreError("not-found", f"not found: {where}")
    lowered = text.lower()
    if any(
        s in lowered
        for s in (
            "error sending request",
            "connection refused",
            "dns error",
            "tcp connect",
            "timed out",
            "connection reset",
        )
    ):
        endpoint = _endpoint_of(text) or root.bucket_url
        return ObjectStoreError("unreachable", f"cannot reach {endpoint} (for {root.original})")
    if code:
        return ObjectStoreError("error", f"{code} from {where}")
    return ObjectStoreError("error", f"{where}: {_first_line(exc)}")


_URL = re.compile(r"(https?://[^/\s?]+)")


def _endpoint_of(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(1) if match else None


class BucketCache:
    """One :class:`Bucket` per (bucket URL, options) for writers that see many table URLs."""

    def __init__(self, options: Mapping[str, str] | None = None):
        self.options = dict(options or {})
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def locate(self, url: str) -> tuple[Bucket, str]:
        """The bucket object of ``url`` and the key ``url`` names in it."""
        root = parse_root(url)
        with self._lock:
            bucket = self._buckets.get(root.bucket_url)
            if bucket is None:
                bucket = Bucket(
                    RootURL(root.scheme, root.bucket, "", root.bucket_url), self.options
                )
                self._buckets[root.bucket_url] = bucket
        return bucket, root.prefix

    def requests(self) -> dict[str, int]:
        """Requests made through every bucket, by operation."""
        total: dict[str, int] = {}
        with self._lock:
            for b in self._buckets.values():
                for k, v in b.requests.items():
                    total[k] = total.get(k, 0) + v
        return total


_shared: dict[tuple[tuple[str, str], ...], BucketCache] = {}


def buckets_for(options: Mapping[str, str] | None = None) -> BucketCache:
    """The process-wide :class:`BucketCache` for ``options`` (one per distinct options)."""
    key = tuple(sorted((str(k), str(v)) for k, v in (options or {}).items()))
    with _cache_lock:
        cache = _shared.get(key)
        if cache is None:
            cache = _shared[key] = BucketCache(options)
        return cache
