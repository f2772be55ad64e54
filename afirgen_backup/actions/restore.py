"""restore: put a backup back, after checking it, without surprises, and leave an audit event in backup.log.

Both restores run under the BACKUP_DIR lock (a backup must not dump a database that is being loaded, and the
safety backup writes into BACKUP_DIR/safety). Whatever can be checked without touching the target is checked
first: the target's name or path, the mysql client, the backup file. A damaged file is refused before the
target is touched. A target that holds anything is replaced only with --yes (a refusal is exit 2: the command
asked for something unsafe). A file system or server error on the way ends the restore with one line (exit 1)
that names the target, never with a traceback.

MySQL: a non-empty target is first saved with the engine into BACKUP_DIR/safety (same names and manifests as
regular backups; never `latest`, never pruned), then dropped and created again (same character set and
collation), so that afterwards it holds exactly what the backup holds, nothing left over. Once it was emptied,
a failed or interrupted load says where its earlier content is.

Sessions: a symlinked target is followed, so that the database it points to is replaced, not the link. The old
file is kept as `<target>.before-restore-<UTC stamp>` (with `-2`, `-3`, ... when that name is taken) together
with its -wal/-journal (which belong to it), the -shm is removed, and only then does the restored file take the
target's name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from afirgen_backup import catalog
from afirgen_backup.actions import verify
from afirgen_backup.actions.listing import safety_dir
from afirgen_backup.actions.progress import ProgressReporter
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, Interrupted, UsageError, VerificationFailed
from afirgen_backup.lock import backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.sources import mysql, mysql_restore, sqlite_restore


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def refuse_damaged(entry: BackupEntry, checks: list[verify.Check], target: str) -> None:
    """Record the failed checks and raise: nothing has been touched yet."""
    verification = verify.Verification(entry, checks)
    verify.record_result(verification)
    if not verification.ok:
        raise VerificationFailed(
            f"{entry.name} failed its checks ({'; '.join(verification.failures)}): "
            f"refusing to restore it; {target} was not touched"
        )


@contextlib.contextmanager
def audited(what: str, entry: BackupEntry, target: str, **fields: Any) -> Any:
    """Log restore_started, then restore_finished or restore_failed, with what, from where, into what, when."""
    log = get_logger(what=what, source_file=str(entry.path), target=target)
    facts: dict[str, Any] = dict(fields, started_at=iso_now())
    log.info("restore_started", **facts)
    try:
        yield facts
    except BaseException as error:
        log.error(
            "restore_failed", outcome="failed", error=str(error) or type(error).__name__, finished_at=iso_now(), **facts
        )
        raise
    log.info("restore_finished", outcome="success", finished_at=iso_now(), **facts)


@contextlib.contextmanager
def one_line_errors(target: str) -> Iterator[None]:
    """An OSError or a driver error inside a restore becomes a BackupError (exit 1) naming the target.

    cli.main prints a BackupError as one line; anything else would end the restore in a traceback, which
    hides the one thing the operator needs to know: in what state the target was left.
    """
    try:
        yield
    except (OSError, pymysql.MySQLError) as error:
        raise BackupError(f"restore into {target} failed: {mysql_restore.describe_failure(error)}") from None


def take_safety_backup(settings: Settings, database: str, run_id: str) -> str:
    from afirgen_backup.actions.backup import backup_mysql, unused_stamp

    directory = safety_dir(settings.backup_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    safety = dataclasses.replace(settings, mysql_db=database, backup_dir=directory)
    stamp = unused_stamp(directory)
    while (settings.backup_dir / catalog.backup_name("mysql", stamp)).exists():  # one name, one file
        time.sleep(0.2)
        stamp = unused_stamp(directory)
    part = backup_mysql(safety, stamp, run_id)
    assert part.file is not None
    return str(directory / part.file)


def partly_loaded(where: str, objects: int, safety_backup: str | None) -> str:
    """What the operator must know when a load stopped half-way: the target's content is gone, and where it is."""
    if not objects:
        before = "it was empty before"
    else:
        before = f"its earlier content is in {safety_backup or 'no safety backup (skipped)'}"
    return f"{where} is now partly loaded ({before})"


def restore_mysql(
    settings: Settings, entry: BackupEntry, database: str, *, yes: bool, safety: bool, run_id: str
) -> dict[str, Any]:
    """Load a verified dump into `database`; return the audit facts."""
    mysql_restore.check_database_name(database, "database")
    mysql_restore.check_client(settings)
    where = f"database {database} on {settings.mysql_host}:{settings.mysql_port}"
    with (
        backup_dir_lock(settings.backup_dir),
        audited("mysql", entry, where, user=settings.mysql_user) as facts,
        one_line_errors(where),
    ):
        refuse_damaged(entry, verify.check_file(entry), where)
        with mysql.connect(settings) as connection:
            exists = mysql_restore.database_exists(connection, database)
            objects = mysql_restore.count_objects(connection, database) if exists else 0
        if objects and not yes:
            raise UsageError(
                f"{where} is not empty ({objects} tables, views, routines or events): refusing to replace it; "
                "run again with --yes to replace it (a safety backup of it is taken first)"
            )
        facts.update(replaced_objects=objects, safety_backup=None)
        if objects and safety:
            facts["safety_backup"] = take_safety_backup(settings, database, run_id)
            get_logger().info("safety_backup_taken", file=facts["safety_backup"], database=database)
        elif objects:
            get_logger().warning("safety_backup_skipped", database=database, reason="--no-safety-backup")
        progress = ProgressReporter(f"loading {entry.name}", (entry.manifest or {}).get("uncompressed_size"))
        try:
            with mysql.connect(settings) as connection:
                if objects:
                    mysql_restore.empty_database(connection, database)  # a signal meanwhile is raised right after
                elif not exists:
                    charset = mysql_restore.charset_for_copy(connection, entry.manifest or {})
                    mysql_restore.create_database(connection, database, charset)
            mysql_restore.load_dump(settings, entry.path, database, progress, source=verify.source_database(entry))
        except CommandFailed as error:
            raise CommandFailed(
                f"{error}; {partly_loaded(where, objects, facts['safety_backup'])}",
                returncode=error.returncode,
                stderr_tail=error.stderr_tail,
            ) from None
        except Interrupted as error:
            # the same words as a failed load: restore_failed carries them into the log and onto stderr
            error.args = (f"{error}; {partly_loaded(where, objects, facts['safety_backup'])}",)
            raise
        facts.update(progress.finish())
        with mysql.connect(settings) as connection:
            differences = mysql_restore.differences_from_manifest(
                mysql.take_inventory(connection, database), entry.manifest or {}
            )
        if differences:
            raise VerificationFailed(
                f"{entry.name} was loaded into {where}, but it differs from the manifest: " + "; ".join(differences)
            )
    return facts


def copy_ownership(old: os.stat_result | None, path: Path) -> None:
    """The restored file gets the old file's mode and owner, so that the application can still open it."""
    if old is None:
        os.chmod(path, 0o644)
        return
    os.chmod(path, old.st_mode & 0o7777)
    try:
        os.chown(path, old.st_uid, old.st_gid)
    except PermissionError:
        get_logger().warning("cannot_keep_owner", file=str(path), uid=old.st_uid, gid=old.st_gid)


def restore_sessions(settings: Settings, entry: BackupEntry, target: Path, *, yes: bool) -> dict[str, Any]:
    """Swap a checked copy of the sessions backup in for `target`; return the audit facts."""
    target = sqlite_restore.check_target(target)
    with (
        backup_dir_lock(settings.backup_dir),
        audited("sessions", entry, str(target)) as facts,
        one_line_errors(str(target)),
    ):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.restore-", dir=target.parent)
        os.close(fd)
        temp = Path(name)
        try:
            refuse_damaged(entry, verify.check_file(entry, copy_to=temp), str(target))
            holders = sqlite_restore.find_lock_holders(target)
            if holders and not yes:
                raise UsageError(
                    f"{target} is in use ({'; '.join(holders)}): stop the application first, "
                    "or run again with --yes to replace it anyway"
                )
            if holders:
                get_logger().warning("restore_over_open_database", target=str(target), holders=holders)
            kept = sqlite_restore.unused_kept_name(target, catalog.format_stamp(datetime.now(UTC)))
            copy_ownership(target.stat() if target.exists() else None, temp)
            replacement = sqlite_restore.replace_database(temp, target, kept)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        facts["kept"] = str(replacement.kept) if replacement.kept else None
        facts["moved_journals"] = [str(p) for p in replacement.moved]
        facts["removed"] = [str(p) for p in replacement.removed]
    return facts
