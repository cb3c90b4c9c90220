"""Column names of the status and log tables (DESIGN §3) and the normalised event columns."""

from __future__ import annotations

import pyarrow as pa

STATUS_DIR = "_status"
LOG_DIR = "_log"
RUNS_DIR = "_runs"
STATUS_TABLE = "execution_status"
LOG_TABLE = "execution_logs"

S_ID = "_status_id"
S_RUN = "_status_run_id"
S_URI = "_status_pipeline_uri"
S_STATE = "_status_state"
S_TS = "_status_timestamp"
S_ERROR = "_status_error_summary"

L_ID = "_log_id"
L_RUN = "_log_run_id"
L_TS = "_log_timestamp"
L_STDOUT = "_log_stdout_log"
L_STDERR = "_log_stderr_log"
L_PYLOGS = "_log_python_logs"
L_TRACEBACK = "_log_traceback"
L_SUCCESS = "_log_success"

SYSTEM_PREFIXES = ("__", "_status_", "_log_", "_tag_", "_tag::")

STATUS_COLUMNS = (S_ID, S_RUN, S_URI, S_STATE, S_TS, S_ERROR)
LOG_COLUMNS = (L_ID, L_RUN, L_TS, L_STDOUT, L_STDERR, L_PYLOGS, L_TRACEBACK, L_SUCCESS)

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
