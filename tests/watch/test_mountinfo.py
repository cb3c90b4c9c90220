"""network_fs_type on literal /proc/self/mountinfo text."""

from __future__ import annotations

from pathlib import Path

import pytest

from orcatui.watch import network_fs_type

MOUNTINFO = "\n".join(
    [
        "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
        "40 22 0:35 / /home/nfs rw,relatime shared:30 - nfs4 srv:/export/home rw,vers=4.2",
        "41 22 0:36 / /mnt/remote rw,nosuid,nodev shared:31 - fuse.sshfs me@host:/data rw",
        "42 22 0:37 / /lustre/scratch rw shared:32 - lustre 10.0.0.1@o2ib:/scratch rw,flock",
        "43 22 0:38 / /mnt/share rw shared:33 - cifs //nas/share rw,vers=3.1.1",
        "44 22 259:3 / /data rw,relatime shared:34 - ext4 /dev/nvme1n1 rw",
        "45 22 0:39 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw,lowerdir=/a",
        "46 40 259:4 / /home/nfs/local rw,relatime shared:35 - xfs /dev/sdb1 rw",
        r"47 22 0:40 / /mnt/with\040space rw shared:36 - nfs srv:/x rw",
        "48 22 0:41 / /gpfs/fs1 rw shared:37 - gpfs fs1 rw",
        "49 22 0:42 / /mnt/beegfs rw shared:38 - beegfs beegfs_nodev rw",
        "50 22 0:43 / /mnt/ceph rw shared:39 - ceph 10.0.0.2:/ rw",
        "51 22 0:44 / /mnt/host rw shared:40 - 9p hostshare rw",
        "52 22 0:45 / /mnt/ovl rw shared:41 - fuse.fuse-overlayfs fuse-overlayfs rw",
    ]
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/home/nfs/alice/runs", "nfs4"),
        ("/home/nfs", "nfs4"),
        ("/mnt/remote/pipelines", "fuse.sshfs"),
        ("/lustre/scratch/u/root", "lustre"),
        ("/mnt/share/x", "cifs"),
        ("/data/runs", None),  # ext4
        ("/var/lib/docker/overlay2/x/merged/app", None),  # overlay
        ("/home/nfs/local/runs", None),  # a local disk mounted below an NFS mount
        ("/home/nfsother", None),  # a prefix of the string, not of the path
        ("/mnt/with space/runs", "nfs"),  # octal-escaped mount point
        ("/gpfs/fs1/p", "gpfs"),
        ("/mnt/beegfs/p", "beegfs"),
        ("/mnt/ceph/p", "ceph"),
        ("/mnt/host/p", "9p"),
        ("/mnt/ovl/p", None),  # local FUSE
        ("/", None),
    ],
)
def test_network_fs_type(path: str, expected: str | None) -> None:
    assert network_fs_type(Path(path), MOUNTINFO) == expected


def test_later_mount_on_same_point_wins() -> None:
    text = MOUNTINFO + "\n60 44 0:50 / /data rw shared:50 - nfs srv:/data rw"
    assert network_fs_type(Path("/data/x"), text) == "nfs"


def test_garbage_lines_are_skipped() -> None:
    assert network_fs_type(Path("/x"), "garbage\n\n1 2 3\n") is None


def test_reads_this_machine(tmp_path: Path) -> None:
    # whatever /tmp is on here, the call works and gives a string or None
    result = network_fs_type(tmp_path)
    assert result is None or isinstance(result, str)
