"""Column names, directory names and naming rules of the on-disk contract (docs/design.md §2–3).

This module is **the** schema: the writers use it, and orcatui's reader
(``orcatui/store/schema.py``) imports its names from here. ``observers`` imports
neither ``orcatui`` nor Textual.
"""

from __future__ import annotations

from collections.abc import Iterable

STATUS_DIR = "_status"
LOG_DIR = "_log"
RUNS_DIR = "_runs"
#: Suffix of run record files: ``_runs/<run_id>/<writer_id>.json`` (legacy ``_runs/<run_id>.json``).
RUN_RECORD_SUFFIX = ".json"
#: Key of a node entry in a run record holding the packet count the writer declared.
NODE_TOTAL = "total"
STATUS_TABLE = "execution_status"
LOG_TABLE = "execution_logs"
DEFAULT_PIPELINE_NAME = "pipeline"

RECORD_ID = "__record_id"

S_ID = "_status_id"
S_RUN = "_status_run_id"
S_URI = "_status_pipeline_uri"
S_STATE = "_status_state"
S_TS = "_status_timestamp"
S_ERROR = "_status_error_summary"
STATUS_COLUMNS = (S_ID, S_RUN, S_URI, S_STATE, S_TS, S_ERROR)

L_ID = "_log_id"
L_RUN = "_log_run_id"
L_TS = "_log_timestamp"
L_STDOUT = "_log_stdout_log"
L_STDERR = "_log_stderr_log"
L_PYLOGS = "_log_python_logs"
L_TRACEBACK = "_log_traceback"
L_SUCCESS = "_log_success"
LOG_COLUMNS = (L_ID, L_RUN, L_TS, L_STDOUT, L_STDERR, L_PYLOGS, L_TRACEBACK, L_SUCCESS)
#: The ``record(**kwargs)`` fields orcapod passes, in column order (column = ``_log_<field>``).
LOG_FIELDS = ("stdout_log", "stderr_log", "python_logs", "traceback", "success")

RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
FAILED = "FAILED"
CACHED = "CACHED"
#: Every ``_status_state`` value a writer writes; the last three end a packet.
STATES = (RUNNING, SUCCESS, FAILED, CACHED)
TERMINAL_STATES = (SUCCESS, FAILED, CACHED)

#: Column-name prefixes that are never user tags.
SYSTEM_PREFIXES = ("__", "_status_", "_log_", "_tag_", "_tag::")
#: Prefix given to a user tag key that would otherwise look like a system column.
RENAMED_TAG_PREFIX = "tag:"

_renamed: dict[str, str] = {}


def stored_tag_name(key: object) -> str:
    """Return the column name under which the user tag ``key`` is stored.

    Keys that start with a reserved prefix (``__``, ``_status_``, ``_log_``, ``_tag_``,
    ``_tag::``) are stored as ``"tag:" + key`` (e.g. ``_status_state`` →
    ``tag:_status_state``), so a reader never mistakes them for system columns.
    Non-string keys are stringified; the empty key becomes ``tag:``.
    """
    try:
        return _renamed[key]  # type: ignore[index]
    except Exception:  # missing, unhashable, or a key whose __eq__/__hash__ raises
        pass
    if isinstance(key, str):
        name = str.__str__(key)
    else:
        from observers.textconv import tag_text

        name = tag_text(key) or ""
    if not name or name.startswith(SYSTEM_PREFIXES):
        name = RENAMED_TAG_PREFIX + name
    try:
        if len(_renamed) < 10_000:
            _renamed[key] = name  # type: ignore[index]
    except Exception:
        pass
    return name


def pipeline_name_parts(
    pipeline_uri: str | None, fallback: str = DEFAULT_PIPELINE_NAME
) -> tuple[str, ...]:
    """Directory levels of a pipeline from its URI (``"a/b@hash"`` → ``("a", "b")``).

    Everything after the last ``@`` is the version hash and is dropped; an empty URI
    (or one with no usable name) gives ``(fallback,)``.
    """
    name = pipeline_uri or ""
    if "@" in name:
        name = name.rsplit("@", 1)[0]
    parts = tuple(safe_component(p) for p in name.split("/") if p.strip())
    return parts or (fallback,)


def safe_component(part: object) -> str:
    """Make one path component safe for a directory name (no separators, no ``.``/``..``)."""
    text = str(part).replace("/", "_").replace("\\", "_").replace("\0", "_")
    if text in ("", ".", ".."):
        text = "_" + text
    return text


def safe_components(parts: Iterable[object]) -> tuple[str, ...]:
    """Apply :func:`safe_component` to each element."""
    return tuple(safe_component(p) for p in parts)


def is_user_tag(column: str) -> bool:
    """True when ``column`` is a user tag column (does not start with a reserved prefix)."""
    return not column.startswith(SYSTEM_PREFIXES)
