"""Column names of the status and log tables (design.md §3) and the normalised event columns."""

from __future__ import annotations

import pyarrow as pa

# The writers' contract is the one source of the on-disk names (issue 9 item 5).
from observers.schema import (
    L_ID,
    L_PYLOGS,
    L_RUN,
    L_STDERR,
    L_STDOUT,
    L_SUCCESS,
    L_TRACEBACK,
    L_TS,
    LOG_COLUMNS,
    LOG_DIR,
    LOG_TABLE,
    RUNS_DIR,
    S_ERROR,
    S_ID,
    S_RUN,
    S_STATE,
    S_TS,
    S_URI,
    STATUS_COLUMNS,
    STATUS_DIR,
    STATUS_TABLE,
    SYSTEM_PREFIXES,
)

__all__ = [
    "EVENT_SCHEMA",
    "LOG_COLUMNS",
    "LOG_DIR",
    "LOG_SCHEMA",
    "LOG_TABLE",
    "L_ID",
    "L_PYLOGS",
    "L_RUN",
    "L_STDERR",
    "L_STDOUT",
    "L_SUCCESS",
    "L_TRACEBACK",
    "L_TS",
    "RUNS_DIR",
    "STATUS_COLUMNS",
    "STATUS_DIR",
    "STATUS_TABLE",
    "SYSTEM_PREFIXES",
    "S_ERROR",
    "S_ID",
    "S_RUN",
    "S_STATE",
    "S_TS",
    "S_URI",
    "TAG_PREFIX",
    "is_user_tag",
    "tag_column",
]

# Normalised event columns produced by the store (tag columns follow, as "tag:<name>").
EVENT_SCHEMA = pa.schema(
    [
        ("id", pa.binary()),
        ("run_id", pa.string()),
        ("pipeline_uri", pa.string()),
        ("state", pa.string()),
        ("ts", pa.int64()),  # microseconds since the epoch, UTC
        ("error", pa.string()),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("id", pa.binary()),
        ("run_id", pa.string()),
        ("ts", pa.int64()),
        ("stdout", pa.string()),
        ("stderr", pa.string()),
        ("python_logs", pa.string()),
        ("traceback", pa.string()),
        ("success", pa.bool_()),
    ]
)
TAG_PREFIX = "tag:"


def is_user_tag(column: str) -> bool:
    """Whether a raw table column holds a user tag (not a system column)."""
    return not column.startswith(SYSTEM_PREFIXES)


def tag_column(name: str) -> str:
    """Name of the normalised column that carries user tag ``name``."""
    return TAG_PREFIX + name
