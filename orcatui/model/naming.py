"""How a node is named: the label when one is known, else its function name (DESIGN §4)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_HEXISH = re.compile(r"^[0-9a-fA-F]{12,}$")
_TYPE_ID = re.compile(r"^[a-z_]+(\.[a-z_]+)*\.v\d+$")  # e.g. python.function.v0


@dataclass(frozen=True)
class NodeName:
    """The parts a node is shown by."""

    title: str  # label if known, else function name
    function: str  # first identity component
    label: str | None
    detail: str  # the rest of the identity, shortened

    @property
    def full(self) -> str:
        """Title and shortened identity on one line."""
        return f"{self.title} {self.detail}".strip()


def short_component(component: str) -> str:
    """One identity component, shortened: hashes to 6 characters, prefixes dropped."""
    c = component
    for prefix in ("schema:", "instance:"):
        if c.startswith(prefix):
            c = c[len(prefix) :]
    if ":" in c:
        c = c.rsplit(":", 1)[1]
    if _HEXISH.match(c):
        return c[:6]
    return c


def short_identity(identity: tuple[str, ...]) -> str:
    """The identity after the function name, shortened (``v0 3833c0 0ef271``)."""
    parts = [short_component(c) for c in identity[1:] if not _TYPE_ID.match(c)]
    return " ".join(p for p in parts if p)


def node_name(identity: tuple[str, ...], labels: Mapping[tuple[str, ...], str]) -> NodeName:
    """Name a node by its identity path and any labels known for identity prefixes."""
    function = identity[0] if identity else "?"
    label = None
    for n in range(len(identity), 0, -1):
        label = labels.get(identity[:n])
        if label:
            break
    return NodeName(label or function, function, label, short_identity(identity))


def labels_from_job(path: Path) -> dict[tuple[str, ...], str]:
    """Node labels from an orcapod ``PipelineJob.save()`` JSON: ``node_uri`` → ``label``.

    Raises ``OSError``/``ValueError`` with a readable message for a bad file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such job file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read job file ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    nodes = (data.get("pipeline") or {}).get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, dict):
        raise ValueError(f"{path}: not an orcapod job file (no pipeline.nodes)")
    out: dict[tuple[str, ...], str] = {}
    for node in nodes.values():
        if not isinstance(node, dict) or node.get("node_type") == "source":
            continue
        uri, label = node.get("node_uri"), node.get("label")
        if isinstance(uri, list) and uri and isinstance(label, str):
            out[tuple(str(p) for p in uri)] = label
    return out


def labels_from_run_records(nodes: Iterable[Mapping[str, object]]) -> dict[tuple[str, ...], str]:
    """Node labels from run records' ``nodes`` maps (identity path joined by ``/`` → info)."""
    out: dict[tuple[str, ...], str] = {}
    for mapping in nodes:
        for ident, info in mapping.items():
            label = info.get("label") if isinstance(info, Mapping) else None
            if isinstance(label, str) and label:
                out[tuple(str(ident).split("/"))] = label
    return out
