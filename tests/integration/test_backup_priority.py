"""A backup and its mysqldump run at a lower CPU priority than the application."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mariadb_server import find_program

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def niceness_recording_mysqldump(directory: Path) -> Path:
    real = find_program(("mariadb-dump", "mysqldump"))
    script = directory / "mysqldump-nice"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" != "--version" ]; then cut -d" " -f19 /proc/$$/stat > {directory}/niceness; fi\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("niceness", ["10", "3"])
def test_mysqldump_inherits_the_configured_niceness(fir_db, backup_env, tmp_path, niceness):
    env = dict(backup_env, MYSQLDUMP_BIN=str(niceness_recording_mysqldump(tmp_path)), BACKUP_NICE=niceness)
    result = subprocess.run(
        [sys.executable, str(REPO / "backup_database.py")], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "niceness").read_text().strip() == str(max(int(niceness), os.getpriority(os.PRIO_PROCESS, 0)))
