"""A backup goes to the disk while it is written, and leaves the page cache to the application when it is done.

Measured on a real disk file system: delayed allocation (ext4, XFS) shows which blocks the kernel has started
to write (`filefrag`: extents still flagged `delalloc` have not been handed to writeback), and `fincore` shows
which pages of a file are in the page cache. The kernel itself writes dirty pages back only after 30 s
(vm.dirty_expire_centisecs) or above a share of RAM, which a test of a few MB never reaches.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from infrastructure import unavailable

from afirgen_backup.publish import WRITEBACK_WINDOW, GzipPublisher

DISK_FILESYSTEMS = ("ext2/ext3", "xfs")  # `stat -f -c %T` names ext4 ext2/ext3


@pytest.fixture
def disk_dir(tmp_path: Path) -> Path:
    for tool in ("filefrag", "fincore"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            unavailable(f"{tool} is not installed (e2fsprogs, util-linux)")
    kind = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True).stdout.strip()
    if kind not in DISK_FILESYSTEMS:
        unavailable(f"{tmp_path} is on {kind}, not on a disk file system with delayed allocation (ext4, XFS)")
    return tmp_path


def delalloc_blocks(path: Path) -> list[tuple[int, int]]:
    """(first, last) logical 4 KiB blocks of the extents that the kernel has not started to write yet."""
    filefrag = shutil.which("filefrag") or "/usr/sbin/filefrag"
    out = subprocess.run([filefrag, "-v", "-b4096", str(path)], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        match = re.match(r"\s*\d+:\s+(\d+)\.\.\s*(\d+):.*\bdelalloc\b", line)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return found


def cached_pages(path: Path) -> int:
    out = subprocess.run(["fincore", "--noheadings", "--output", "PAGES", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def write_incompressible(publisher: GzipPublisher, size: int) -> None:
    for _ in range(size // (1 << 20)):
        publisher.write(os.urandom(1 << 20))


def test_each_window_is_handed_to_the_disk_while_the_backup_goes_on(disk_dir: Path) -> None:
    final = disk_dir / "mysql_backup_20261126_000000.sql.gz"
    with GzipPublisher(final, level=0, threads=1) as publisher:
        write_incompressible(publisher, 4 * WRITEBACK_WINDOW)
        early = 2 * WRITEBACK_WINDOW // 4096  # the first two windows, in blocks
        deadline = time.monotonic() + 10
        while pending := [extent for extent in delalloc_blocks(publisher.partial) if extent[0] < early]:
            assert time.monotonic() < deadline, f"still waiting for writeback after 10 s: {pending}"
            time.sleep(0.1)
        publisher.publish()


def test_a_published_backup_leaves_none_of_its_pages_in_the_page_cache(disk_dir: Path) -> None:
    final = disk_dir / "mysql_backup_20261126_000000.sql.gz"
    with GzipPublisher(final, level=0, threads=1) as publisher:
        write_incompressible(publisher, 3 * WRITEBACK_WINDOW)
        publisher.publish()

    assert final.stat().st_size > 3 * WRITEBACK_WINDOW
    assert cached_pages(final) == 0
