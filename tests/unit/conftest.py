"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def backup_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty BACKUP_DIR and settings that point at it (no .env, no real mysqldump needed)."""
    directory = tmp_path / "backups"
    directory.mkdir()
    empty = tmp_path / "empty.env"
    empty.write_text("")
    for name, value in {
        "BACKUP_DIR": str(directory),
        "BACKUP_ENV_FILE": str(empty),
        "SESSIONS_DB_PATH": str(tmp_path / "sessions.db"),
        "MYSQLDUMP_BIN": "/bin/true",
        "BACKUP_MAX_AGE_HOURS": "7",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "BACKUP_MYSQL_ENABLED",
        "BACKUP_SESSIONS_ENABLED",
        "BACKUP_LOG_FILE",
        "MYSQL_PASSWORD_FILE",
        "BACKUP_SCHEDULE",
        "BACKUP_SESSIONS_SCHEDULE",
    ):
        monkeypatch.delenv(name, raising=False)
    return directory
