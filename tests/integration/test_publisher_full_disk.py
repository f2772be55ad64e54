"""GzipPublisher on a full disk: the gzip header is its first write, made while it is being entered.

Runs the publisher in its own process inside a private mount namespace whose tmpfs is filled up first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT, describe, small_tmpfs

ENTER_ON_A_FULL_DISK = """
import os, sys
from pathlib import Path
from afirgen_backup.publish import GzipPublisher

final = Path(sys.argv[1]) / "mysql_backup_20260101_000000.sql.gz"
open_fds = len(os.listdir("/proc/self/fd"))
try:
    with GzipPublisher(final, level=2, threads=2):
        print("entered")
except OSError as error:
    print("raised", error.strerror)
print("fds left open", len(os.listdir("/proc/self/fd")) - open_fds)
"""


def test_a_publisher_that_cannot_write_the_gzip_header_leaves_no_partial_file_and_no_open_fd(tmp_path: Path) -> None:
    disk = tmp_path / "full-disk"
    listing = tmp_path / "left-on-the-full-disk.txt"
    wrapper = small_tmpfs(disk, "128k", fill=True, listing=listing)

    result = subprocess.run(
        [*wrapper, sys.executable, "-c", ENTER_ON_A_FULL_DISK, str(disk)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, describe(result)
    assert result.stdout.splitlines() == ["raised No space left on device", "fds left open 0"], describe(result)
    assert listing.read_text().split() == ["filler"], "the empty .partial file is removed"
