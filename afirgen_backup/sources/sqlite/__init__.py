"""sessions.db, the application's SQLite database: kind `sessions` (sources/base.py says what a source provides)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check
from afirgen_backup.config import Settings
from afirgen_backup.sources.base import BackupJob, PartResult, Watch


class SqliteSource:
    kind = "sessions"

    def activity(self, settings: Settings) -> Watch | None:
        from afirgen_backup.sources.sqlite.copy import FileWatch

        return FileWatch(settings.sessions_db_path) if settings.sessions_db_path is not None else None

    def back_up(self, job: BackupJob) -> PartResult:
        from afirgen_backup.sources.sqlite.backup import back_up

        return back_up(job)

    def check_file(self, entry: BackupEntry, *, statements: bool = True, copy_to: Path | None = None) -> list[Check]:
        from afirgen_backup.sources.sqlite.verify import check_file

        return check_file(entry, copy_to=copy_to)

    def restore_tester(self, settings: Settings) -> Callable[[BackupEntry], Check] | None:
        return None  # check_file already opens the decompressed copy and runs PRAGMA integrity_check on it

    def owns_leftover(self, name: str) -> bool:
        from afirgen_backup.sources.sqlite.backup import COPY_PREFIX

        return name.startswith(COPY_PREFIX)

    def remove_leftover(self, path: Path) -> None:
        from afirgen_backup.sources.sqlite.backup import remove_copy_directory

        if path.is_dir() and not path.is_symlink():
            remove_copy_directory(path)
        else:
            path.unlink()  # a copy of an earlier version, named .sessions-copy-*.db


SOURCE = SqliteSource()
