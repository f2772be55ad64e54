"""fir_db, the MySQL/MariaDB database: kind `mysql` (sources/base.py says what a source provides)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check
from afirgen_backup.config import Settings
from afirgen_backup.sources.base import BackupJob, PartResult, Watch


class MysqlSource:
    kind = "mysql"

    def activity(self, settings: Settings) -> Watch | None:
        from afirgen_backup.sources.mysql.server import ServerWrites, connect

        return ServerWrites(lambda: connect(settings, read_timeout=10))

    def back_up(self, job: BackupJob) -> PartResult:
        from afirgen_backup.sources.mysql.backup import back_up

        return back_up(job)

    def check_file(self, entry: BackupEntry, *, statements: bool = True, copy_to: Path | None = None) -> list[Check]:
        from afirgen_backup.sources.mysql.verify import check_file

        return check_file(entry, statements=statements)

    def restore_tester(self, settings: Settings) -> Callable[[BackupEntry], Check] | None:
        """Loads a dump into a scratch database (verify.run_restore_test) with the mysql client found once."""
        from afirgen_backup.sources.mysql.load import inspect_client
        from afirgen_backup.sources.mysql.verify import run_restore_test

        client = inspect_client(settings)
        return lambda entry: run_restore_test(settings, entry, client)

    def owns_leftover(self, name: str) -> bool:
        return False  # a killed dump leaves only its .partial, which every kind leaves alike

    def remove_leftover(self, path: Path) -> None:
        raise AssertionError(f"not a MySQL leftover: {path}")


SOURCE = MysqlSource()
