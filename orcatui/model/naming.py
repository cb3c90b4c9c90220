"""How a node is named: the label when one is known, else its function name (design.md §5)."""

from __future__ import annotations

import json
import os
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


@dataclass(frozen=True)
class JobFile:
    """Node labels from one orcapod job file, for the pipeline it names."""

    pipeline: tuple[str, ...]  # the pipeline's name parts (() when the file names none)
    labels: dict[tuple[str, ...], str]  # identity (or identity prefix) → label


def labels_from_job(path: Path) -> JobFile:
    """Node labels from an orcapod ``PipelineJob.save()`` JSON.

    A node is identified by its ``node_uri`` plus ``schema:<pipeline_hash>`` — the status
    table's path — so two nodes running one function get their own labels. The bare
    ``node_uri`` is also a key when only one node of the job has it (older layouts without the
    ``schema:`` folder). Raises ``ValueError`` with a readable message for a bad file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such job file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read job file ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    pipeline = data.get("pipeline") if isinstance(data, dict) else None
    nodes = pipeline.get("nodes") if isinstance(pipeline, dict) else None
    if not isinstance(nodes, dict):
        raise ValueError(f"{path}: not an orcapod job file (no pipeline.nodes)")
    meta = pipeline.get("pipeline")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(name, str):
        name = name.split("/")
    parts = tuple(str(p) for p in name) if isinstance(name, list) else ()
    labels: dict[tuple[str, ...], str] = {}
    by_uri: dict[tuple[str, ...], list[str]] = {}
    for node in nodes.values():
        if not isinstance(node, dict) or node.get("node_type") == "source":
            continue
        uri, label, phash = node.get("node_uri"), node.get("label"), node.get("pipeline_hash")
        if not (isinstance(uri, list) and uri and isinstance(label, str)):
            continue
        ident = tuple(str(p) for p in uri)
        by_uri.setdefault(ident, []).append(label)
        if isinstance(phash, str) and phash:
            labels[(*ident, f"schema:{phash}")] = label
    for ident, names in by_uri.items():
        if len(names) == 1:
            labels[ident] = names[0]
    return JobFile(parts, labels)


class JobLabels:
    """The ``--job`` files given, by pipeline: each labels only the pipeline it names."""

    def __init__(self) -> None:
        self.jobs: list[JobFile] = []

    def add(self, job: JobFile) -> None:
        """Add a job file's labels (a later file wins for the same node)."""
        self.jobs.append(job)

    def for_pipeline(self, title: tuple[str, ...]) -> dict[tuple[str, ...], str]:
        """Labels for the pipeline shown as ``title`` (a job naming no pipeline applies to all)."""
        out: dict[tuple[str, ...], str] = {}
        for job in self.jobs:
            if not job.pipeline or job.pipeline == tuple(title):
                out.update(job.labels)
        return out


def pipeline_name_parts(
    pipeline: tuple[str, ...], uri: str | None, root: str | os.PathLike[str]
) -> tuple[str, ...]:
    """THE name of a pipeline as shown, as parts (never empty).

    Its folder parts under the root; for a store whose status sits directly under the root
    (``pipeline == ()``), the name in its ``_status_pipeline_uri`` (the part before ``@``,
    split on ``/``), else the root folder's name.
    """
    if pipeline:
        return tuple(pipeline)
    if uri:
        head = str(uri).split("@", 1)[0]
        parts = tuple(p for p in head.split("/") if p.strip())
        if parts:
            return parts
    name = os.path.basename(os.path.abspath(os.fspath(root)).rstrip("/"))
    return (name or "/",)


def pipeline_display_name(
    pipeline: tuple[str, ...], uri: str | None, root: str | os.PathLike[str]
) -> str:
    """The pipeline's name as one string (:func:`pipeline_name_parts` joined by ``/``).

    Raw text: pass it through :func:`orcatui.text.inert` before it reaches a terminal.
    """
    return "/".join(pipeline_name_parts(pipeline, uri, root))


def labels_from_run_records(nodes: Iterable[Mapping[str, object]]) -> dict[tuple[str, ...], str]:
    """Node labels from run records' ``nodes`` maps (identity path joined by ``/`` → info)."""
    out: dict[tuple[str, ...], str] = {}
    for mapping in nodes:
        for ident, info in mapping.items():
            label = info.get("label") if isinstance(info, Mapping) else None
            if isinstance(label, str) and label:
                out[tuple(str(ident).split("/"))] = label
    return out
