"""A backup and its mysqldump run at a lower CPU priority than the application."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import dump_wrapper, run_cli

pytestmark = pytest.mark.mariadb


def niceness_recording_mysqldump(directory: Path) -> Path:
    return dump_wrapper(directory, "mysqldump-nice", f'cut -d" " -f19 /proc/$$/stat > {directory}/niceness')


@pytest.mark.parametrize("niceness", ["10", "3"])
def test_mysqldump_inherits_the_configured_niceness(fir_db, backup_env, tmp_path, niceness):
    env = dict(backup_env, MYSQLDUMP_BIN=str(niceness_recording_mysqldump(tmp_path)), BACKUP_NICE=niceness)
    result = run_cli(env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "niceness").read_text().strip() == str(max(int(niceness), os.getpriority(os.PRIO_PROCESS, 0)))
