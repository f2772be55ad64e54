"""A sessions.db without tables is not the application's database: that part fails and keeps the old backups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import backups_of, describe, run_cli, stderr_errors

pytestmark = pytest.mark.mariadb


@pytest.mark.parametrize("how", ["an empty file", "a database without tables"])
def test_a_sessions_file_without_tables_fails_that_part_and_prune_keeps_the_real_backups(
    backup_env: dict[str, str], tmp_path: Path, how: str
) -> None:
    backup_env.update(BACKUP_MYSQL_ENABLED="false", BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")
    assert run_cli(backup_env).returncode == 0  # one good backup of the real sessions.db
    backup_dir = Path(backup_env["BACKUP_DIR"])
    [real] = backups_of(backup_dir, "sessions")
    empty = tmp_path / "mounted-over" / "sessions.db"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    if how == "a database without tables":
        sqlite3.connect(empty).execute("PRAGMA journal_mode=WAL").close()
    backup_env["SESSIONS_DB_PATH"] = str(empty)

    for _ in range(2):  # more runs than BACKUP_KEEP_LAST
        result = run_cli(backup_env)
        assert result.returncode == 1, describe(result)
        [error] = stderr_errors(result)
        assert error == (
            f"error: sessions backup failed: {empty} holds no tables: is SESSIONS_DB_PATH the application's database?"
        )

    assert backups_of(backup_dir, "sessions") == [real]
