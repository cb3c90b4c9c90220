"""One packet across every run of its pipeline, and which packets are flaky.

A packet is followed across runs by its run-independent key (its tag values,
``keys.packet_keys(..., with_run=False)``). Its history has one entry per run of the pipeline,
newest first: its state there (LOST when RUNNING in a run that is no longer live; None when the
run did not reach it) and its duration; plus the newest run where it succeeded (SUCCESS or
CACHED, as the diff counts success) and a duration sparkline aligned with the entries.

**Flaky**: over the pipeline's last :data:`FLAKY_WINDOW` runs, take the packet's computed
outcomes (SUCCESS or FAILED; runs where it was CACHED, LOST, RUNNING or absent are skipped: a
crash or the cache says nothing about the packet's own code), newest first; the packet is flaky
when that sequence changes between SUCCESS and FAILED at least :data:`FLAKY_MIN_FLIPS` times.
S F S is flaky; F S (a fix) and S F (a regression) are not; S S F F S is flaky (two changes).
:func:`flaky_keys` applies the rule to a whole node at once (one sort, one bincount).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.grid import NodeInput
from orcatui.model.keys import packet_keys
from orcatui.model.states import State
from orcatui.model.views import display_tag_name
from orcatui.store.schema import TAG_PREFIX

#: Flakiness is judged over the pipeline's last this many runs …
FLAKY_WINDOW = 10
#: … as at least this many changes between SUCCESS and FAILED.
FLAKY_MIN_FLIPS = 2
#: Sparkline levels, lowest first.
SPARK = "▁▂▃▄▅▆▇█"
_SUCCESS_LIKE = ("SUCCESS", "CACHED")
_NAMES = [s.name for s in sorted(State)]


@dataclass(frozen=True)
class HistoryEntry:
    """The packet in one run: its state (None: not in this run), duration and error."""

    run_id: str
    state: str | None
    duration_s: float | None
    error: str | None  # FAILED: the error; LOST: why the run is not live


@dataclass(frozen=True)
class PacketHistory:
    """A packet across the runs of its pipeline, newest first."""

    identity: tuple[str, ...]
    tags: dict[str, str]
    entries: tuple[HistoryEntry, ...]
    last_success: str | None  # the newest run where it was SUCCESS or CACHED
    flaky: bool
    sparkline: str  # one character per entry (a space where no duration is known)


class _KeyCache:
    """Run-independent keys of a node's packets, kept per (node, version)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._data: OrderedDict[tuple, pa.Array] = OrderedDict()

    def get(self, node: NodeInput) -> pa.Array:
        tag = (node.identity, node.version, node.packets.num_rows)
        hit = self._data.get(tag)
        if hit is None:
            hit = packet_keys(node.packets, with_run=False)
            self._data[tag] = hit
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        else:
            self._data.move_to_end(tag)
        return hit


_KEYS = _KeyCache()


def run_free_key(packets: pa.Table, tags: Mapping[str, str | None]) -> str:
    """The run-independent key of the packet with these tag values, as the node's rows key."""
    cols = [c for c in packets.column_names if c.startswith(TAG_PREFIX)]
    one = pa.table(
        {c: pa.array([tags.get(c[len(TAG_PREFIX) :])], pa.string()) for c in cols}
        or {"run_id": pa.array([""], pa.string())}
    )
    return packet_keys(one, with_run=False)[0].as_py()


def sparkline(values: Sequence[float | None]) -> str:
    """One block per value, scaled from 0 to the largest; a space for a missing value."""
    known = [v for v in values if v is not None and math.isfinite(v) and v >= 0]
    top = max(known, default=0.0)
    out = []
    for v in values:
        if v is None or not math.isfinite(v) or v < 0:
            out.append(" ")
        elif top <= 0:
            out.append(SPARK[0])
        else:
            level = math.ceil(v / top * len(SPARK)) - 1
            out.append(SPARK[min(max(level, 0), len(SPARK) - 1)])
    return "".join(out)


def flips(states: Sequence[str | None]) -> int:
    """Changes between SUCCESS and FAILED in a sequence of states, others skipped."""
    seq = [s for s in states if s in ("SUCCESS", "FAILED")]
    return sum(1 for x, y in itertools.pairwise(seq) if x != y)


def packet_history(
    node: NodeInput,
    tags: Mapping[str, str | None],
    runs: Sequence[str],
    lost: Mapping[str, str],
) -> PacketHistory:
    """The packet of ``node`` with these tag values in each of ``runs`` (newest first).

    ``lost``: runs that are not live → why (their RUNNING packets are LOST).
    """
    packets = node.packets
    key = run_free_key(packets, tags)
    rows = packets.filter(pc.equal(_KEYS.get(node), key)) if packets.num_rows else packets
    by_run: dict[str, dict] = {}
    for r in rows.select(["run_id", "state", "ts", "running_ts", "error"]).to_pylist():
        if r["run_id"] is not None:
            by_run[r["run_id"]] = r
    entries = []
    for run_id in runs:
        r = by_run.get(run_id)
        if r is None:
            entries.append(HistoryEntry(run_id, None, None, None))
            continue
        code = r["state"]
        state = _NAMES[code] if code is not None and 0 <= code < len(_NAMES) else None
        duration = None
        if state == "RUNNING" and run_id in lost:
            state = "LOST"
        elif state != "RUNNING" and r["running_ts"] is not None and r["ts"] >= r["running_ts"]:
            duration = (r["ts"] - r["running_ts"]) / 1e6
        error = lost.get(run_id) if state == "LOST" else r["error"] if state == "FAILED" else None
        entries.append(HistoryEntry(run_id, state, duration, error))
    last_success = next((e.run_id for e in entries if e.state in _SUCCESS_LIKE), None)
    window = [e.state for e in entries[:FLAKY_WINDOW]]
    return PacketHistory(
        node.identity,
        {k: v for k, v in tags.items() if v is not None},
        tuple(entries),
        last_success,
        flips(window) >= FLAKY_MIN_FLIPS,
        sparkline([e.duration_s for e in entries]),
    )


def flaky_keys(node: NodeInput, runs: Sequence[str], window: int = FLAKY_WINDOW) -> pa.Array:
    """Run-independent keys of the node's flaky packets over the last ``window`` of ``runs``.

    ``runs`` newest first (the pipeline's runs). Vectorised: one sort of the node's computed
    outcomes by (packet, run position), then the changes between neighbours are counted.
    """
    packets = node.packets
    recent = pa.array(list(runs[:window]), pa.string())
    if packets.num_rows == 0 or len(recent) == 0:
        return pa.array([], pa.string())
    pos = pc.index_in(packets.column("run_id"), value_set=recent)
    state = pc.fill_null(packets.column("state"), -1).to_numpy().astype(np.int64)
    computed = (state == int(State.SUCCESS)) | (state == int(State.FAILED))
    keep = computed & pos.is_valid().to_numpy(zero_copy_only=False)
    if keep.sum() < 2:
        return pa.array([], pa.string())
    # keys of the rows in the window only: a tenth of a node's rows at 100 runs
    keys = packet_keys(packets.filter(pa.array(keep)), with_run=False)
    enc = pc.dictionary_encode(keys)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    where = pc.fill_null(pos, 0).to_numpy(zero_copy_only=False)[keep]
    order = np.lexsort((where, codes))
    c, s = codes[order], state[keep][order]
    changed = (c[1:] == c[:-1]) & (s[1:] != s[:-1])
    counts = np.bincount(c[1:][changed], minlength=len(enc.dictionary))
    return enc.dictionary.take(pa.array(np.flatnonzero(counts >= FLAKY_MIN_FLIPS)))


def flaky_mask(packets: pa.Table, flaky: pa.Array) -> pa.Array:
    """For packet rows (``tag:<name>`` columns), whether each is a flaky packet."""
    if packets.num_rows == 0:
        return pa.array([], pa.bool_())
    keys = packet_keys(packets, with_run=False)
    return pc.fill_null(pc.is_in(keys, value_set=flaky), False)


def display_flaky_mask(rows: pa.Table, tag_names: Sequence[str], flaky: pa.Array) -> pa.Array:
    """For display rows (``views.ROW_COLUMNS`` + tags by display name), which are flaky.

    ``tag_names``: the node's tag names (``NodePackets.tag_names``).
    """
    cols = {
        TAG_PREFIX + t: rows.column(display_tag_name(t))
        for t in tag_names
        if display_tag_name(t) in rows.column_names
    }
    if not cols:
        return flaky_mask(pa.table({"run_id": rows.column("run_id")}), flaky)
    return flaky_mask(pa.table(cols), flaky)
