"""Cheap identifiers: UUIDv7 event ids built from a nanosecond timestamp, and writer ids."""

from __future__ import annotations

import os
import random
import re
import socket

_getrandbits = random.getrandbits  # the module-level generator is re-seeded after fork
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)


def uuid7_from_ns(ns: int) -> bytes:
    """A UUIDv7 (RFC 9562) for the wall-clock time ``ns`` (nanoseconds since the epoch).

    48-bit millisecond timestamp, 12 bits of sub-millisecond fraction (method 3, so ids
    of one process sort by time), 62 random bits. Returns the 16 raw bytes.
    """
    ms, rem = divmod(ns, 1_000_000)
    sub = (rem * 4096) // 1_000_000
    value = (ms << 80) | (sub << 64) | _VERSION_VARIANT | _getrandbits(62)
    return value.to_bytes(16, "big")


def uuid7_hex(ns: int) -> str:
    """The canonical 36-character string form of :func:`uuid7_from_ns`."""
    h = uuid7_from_ns(ns).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def host_name() -> str:
    """This host's name, reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def new_writer_id() -> str:
    """A writer id unique across processes and hosts: ``<host>-<pid>-<8 random hex>``.

    Safe as a file name: only ``[A-Za-z0-9_.-]``, and never starting with ``.`` or ``_``
    (readers ignore such names), so a host called ``.local`` gives ``h.local-…``.
    """
    host = host_name()
    if host.startswith((".", "_")):
        host = "h" + host
    return f"{host}-{os.getpid()}-{os.urandom(4).hex()}"


def new_run_id() -> str:
    """A run id like orcapod's: 16 lowercase hex characters."""
    return os.urandom(8).hex()
