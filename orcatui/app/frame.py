"""What one background refresh hands to the UI thread: a snapshot and the selected node's rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from orcatui.model.monitor import NodeKey, PipelineInfo, Snapshot


@dataclass(frozen=True)
class Frame:
    """Everything the screen shows at one moment, computed off the UI thread."""

    snapshot: Snapshot
    now: float
    read_at: float | None  # when the disk was last read (injected clock), None before any read
    node: NodeKey | None  # the node the rows belong to
    rows: pa.Table | None  # display rows after the state filter and search
    total: int  # rows of the node in the view before filtering
    root_error: str | None = None  # the root cannot be read (deleted, unreadable)
    problems: list[str] = field(default_factory=list)  # new problems from this read

    def pipeline(self, name: tuple[str, ...] | None) -> PipelineInfo | None:
        """A pipeline of the snapshot by name (or the first, when ``name`` is None)."""
        for p in self.snapshot.pipelines:
            if name is None or p.name == name:
                return p
        return None
