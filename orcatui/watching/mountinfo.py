"""Which filesystem a path is on (``/proc/self/mountinfo``): inotify is silent on network ones."""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"

# Filesystems where changes made by other hosts (or the host side of a VM) raise no inotify event.
_NETWORK = {
    "nfs",
    "nfs4",
    "lustre",
    "cifs",
    "smb",
    "smb3",
    "smbfs",
    "ceph",
    "gpfs",
    "beegfs",
    "9p",
    "afs",
    "glusterfs",
    "gfs2",
    "ocfs2",
    "pvfs2",
    "orangefs",
    "panfs",
    "virtiofs",
    "vboxsf",
    "davfs",
    "coda",
    "ncpfs",
    "fuse",  # FUSE without a subtype: cannot tell, polling is the safe choice
}
# FUSE filesystems that are purely local: every change passes through this kernel, inotify sees it.
_LOCAL_FUSE = {"fuse.fuse-overlayfs", "fuse.lxcfs", "fuse.squashfuse", "fuse.portal"}

_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 …)
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def _is_network(fstype: str) -> bool:
    if fstype in _NETWORK:
        return True
    return fstype.startswith("fuse.") and fstype not in _LOCAL_FUSE


def _mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, fs type) per line, in file order (later mounts are stacked on top)."""
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            out.append((_unescape(fields[4]), fields[sep + 1]))
        except (ValueError, IndexError):
            continue
    return out


def network_fs_type(path: Path, mountinfo: str | None = None) -> str | None:
    """The fs type of the mount holding ``path`` if it is a network/cluster/FUSE fs, else None.

    The mount is the one with the longest mount point that is a prefix of the resolved path (the
    last listed wins a tie: it is stacked on top). ``mountinfo`` is the text of
    ``/proc/self/mountinfo``; it is read when not given (None where it does not exist).
    """
    if mountinfo is None:
        try:
            with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as f:
                mountinfo = f.read()
        except OSError:
            return None
    try:
        target = os.path.normpath(str(Path(path).resolve()))
    except (OSError, RuntimeError):
        target = os.path.abspath(path)
    best: tuple[int, str] | None = None
    for point, fstype in _mounts(mountinfo):
        point = os.path.normpath(point)
        inside = point == "/" or target == point or target.startswith(point + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    if best is None:
        return None
    return best[1] if _is_network(best[1]) else None
