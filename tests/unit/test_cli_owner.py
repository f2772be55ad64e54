"""A root run on a BACKUP_DIR that belongs to the service user works as that user (`docker exec` as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
# The test Python may live under /root (pyenv), where another user cannot read it; Debian's python3 can.
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def public_dir():
    path = Path(tempfile.mkdtemp(prefix="afirgen-owner-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a directory to another user")
def test_root_creates_nothing_root_owned_in_a_backup_dir_of_another_user(public_dir):
    backup_dir = public_dir / "backups"
    backup_dir.mkdir(mode=0o700)
    os.chown(backup_dir, NOBODY, NOBODY)
    env_file = public_dir / "empty.env"
    env_file.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "BACKUP_ENV_FILE": str(env_file),
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_SESSIONS_ENABLED": "false",
        "MYSQLDUMP_BIN": "/bin/true",
    }
    result = subprocess.run(
        [SYSTEM_PYTHON, str(REPO / "backup_database.py"), "prune"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    owners = {p.name: p.stat().st_uid for p in backup_dir.iterdir()}
    assert {".afirgen-backup.lock", "backup.log"} <= set(owners)
    assert set(owners.values()) == {NOBODY}
