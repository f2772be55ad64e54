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

from afirgen_backup import catalog, process
from afirgen_backup.actions import verify
from afirgen_backup.actions.listing import entry_for_path, safety_dir
from afirgen_backup.actions.progress import ProgressReporter
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, Interrupted, UsageError, VerificationFailed
from afirgen_backup.lock import backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.sources import mysql, mysql_load, mysql_restore, sqlite_restore
from afirgen_backup.sources.mysql_policy import DumpPolicy
from afirgen_backup.sources.mysql_script import ScriptRefused


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
    safety_dir(settings.backup_dir)  # once more: a link put there meanwhile is refused, never written through
    safety = dataclasses.replace(settings, mysql_db=database, backup_dir=directory)
    stamp = unused_stamp(directory)
    while (settings.backup_dir / catalog.backup_name("mysql", stamp)).exists():  # one name, one file
        time.sleep(0.2)
        stamp = unused_stamp(directory)
    part = backup_mysql(safety, stamp, run_id)
    assert part.file is not None
    return str(directory / part.file)


def take_checked_safety_backup(settings: Settings, database: str, run_id: str, where: str) -> str:
    """A safety backup of the database about to be replaced, checked like any backup (checksum, stream, trailer,
    every statement): nothing is dropped on the strength of a copy that could not be loaded back."""
    try:
        path = take_safety_backup(settings, database, run_id)
    except BackupError as error:
        error.args = (
            f"the safety backup of {where} failed: {error}; stopping before anything is dropped; {where} "
            "was not touched",
        )
        raise
    entry = entry_for_path(Path(path))
    if entry is None:
        raise BackupError(f"the safety backup {path} of {where} is gone; stopping before anything is dropped")
    verification = verify.Verification(entry, verify.check_file(entry))
    verify.record_result(verification)
    if not verification.ok:
        raise BackupError(
            f"the safety backup {entry.name} of {where} failed its checks ({'; '.join(verification.failures)}): "
            f"stopping before anything is dropped; {where} was not touched"
        )
    get_logger().info("safety_backup_taken", file=path, database=database)
    return path


def partly_loaded(where: str, objects: int, safety_backup: str | None) -> str:
    """What the operator must know when a restore stopped half-way: the target's content is gone, and where it is."""
    if not objects:
        before = "it was empty before"
    else:
        before = f"its earlier content is in {safety_backup or 'no safety backup (skipped)'}"
    return f"{where} is now partly loaded ({before})"


def restore_mysql(
    settings: Settings, entry: BackupEntry, database: str, *, yes: bool, safety: bool, run_id: str
) -> dict[str, Any]:
    """Load a checked dump into a staging database, compare it with the manifest, then move it into `database`;
    return the audit facts. Until the move, `database` is not touched."""
    mysql_restore.check_database_name(database, "database")
    client = mysql_load.inspect_client(settings)
    where = f"database {database} on {settings.mysql_host}:{settings.mysql_port}"
    with (
        backup_dir_lock(settings.backup_dir),
        audited("mysql", entry, where, user=settings.mysql_user) as facts,
        one_line_errors(where),
    ):
        refuse_damaged(entry, verify.check_file(entry, statements=False), where)
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
            facts["safety_backup"] = take_checked_safety_backup(settings, database, run_id, where)
        elif objects:
            get_logger().warning("safety_backup_skipped", database=database, reason="--no-safety-backup")
        staging, captured = load_into_staging(settings, entry, database, client, where, facts)
        move_into_place(settings, entry, staging, database, client, captured, exists=exists, facts=facts, where=where)
        with mysql.connect(settings) as connection:
            differences = mysql_restore.differences_from_manifest(
                mysql.take_inventory(connection, database), entry.manifest or {}
            )
        if differences:
            raise VerificationFailed(
                f"{entry.name} was loaded into {where}, but it differs from the manifest: " + "; ".join(differences)
            )
    return facts


def load_into_staging(
    settings: Settings,
    entry: BackupEntry,
    target: str,
    client: mysql_load.LoadClient,
    where: str,
    facts: dict[str, Any],
) -> tuple[str, bytes | None]:
    """Create a staging database, load the dump into it (events disabled) and compare it with the manifest.

    Returns the staging database's name and the dump's statements other than rows (to create the objects in the
    target without reading the dump again; None when they were too many to keep). On any failure the staging
    database is dropped and the error says that the target was not touched."""
    manifest = entry.manifest or {}
    with mysql.connect(settings) as connection:
        stamp = catalog.format_stamp(datetime.now(UTC))
        staging = mysql_load.staging_name(target, stamp, lambda name: mysql_restore.database_exists(connection, name))
        with process.signals_deferred():
            mysql_restore.create_database(connection, staging, mysql_restore.charset_for_copy(connection, manifest))
    facts["staging_database"] = staging
    untouched = f"{where} was not touched (the staging database {staging} was dropped)"
    policy = DumpPolicy(
        source=verify.source_database(entry),
        target=staging,
        disable_events=True,
        keep_sandbox_marker=client.reads_sandbox_marker,
        capture=True,
    )
    progress = ProgressReporter(f"loading {entry.name}", manifest.get("uncompressed_size"))
    try:
        mysql_load.load_dump(settings, entry.path, staging, client=client, policy=policy, progress=progress)
        facts.update(progress.finish())
        with mysql.connect(settings) as connection:
            differences = mysql_restore.differences_from_manifest(mysql.take_inventory(connection, staging), manifest)
        if differences:
            raise VerificationFailed(
                f"{entry.name} loads, but not into what its manifest lists ({'; '.join(differences)}); {untouched}"
            )
    except ScriptRefused as error:
        drop_quietly(settings, staging)
        verify.record_result(verify.Verification(entry, [verify.Check("statements", False, str(error))]))
        raise VerificationFailed(
            f"{entry.name} holds what a restore must not run: {error}; refusing to restore it; {untouched}"
        ) from None
    except CommandFailed as error:
        drop_quietly(settings, staging)
        raise CommandFailed(
            f"{error}; {untouched}", returncode=error.returncode, stderr_tail=error.stderr_tail
        ) from None
    except Interrupted as error:
        drop_quietly(settings, staging)
        error.args = (f"{error}; {untouched}",)
        raise
    except BaseException:
        drop_quietly(settings, staging)
        raise
    captured = b"".join(policy.captured) if policy.captured is not None else None
    return staging, captured


def move_into_place(
    settings: Settings,
    entry: BackupEntry,
    staging: str,
    target: str,
    client: mysql_load.LoadClient,
    captured: bytes | None,
    *,
    exists: bool,
    facts: dict[str, Any],
    where: str,
) -> None:
    """Empty (or create) the target, move the staging database's tables into it in one RENAME TABLE, create its
    views, triggers, routines and events there from the dump (events as dumped when the target is the database
    the dump was taken from, else disabled), and drop the staging database.

    Signals wait while the target is emptied and the tables move in. A failure on the way says what the target
    holds now and where the rest is."""
    source = verify.source_database(entry)
    state = "untouched"
    try:
        with mysql.connect(settings) as connection, process.signals_deferred():
            if exists:
                mysql_restore.empty_database(connection, target)
            else:
                charset = mysql_restore.charset_for_copy(connection, entry.manifest or {})
                mysql_restore.create_database(connection, target, charset)
            state = "emptied"
            moved = mysql_load.move_tables(connection, staging, target)
            state = "tables"
        facts.update(tables_moved=moved.tables)
        policy = DumpPolicy(
            source=source,
            target=target,
            objects_only=True,
            disable_events=target != source,
            keep_sandbox_marker=client.reads_sandbox_marker,
        )
        if captured is not None:
            mysql_load.load_stream(settings, [captured], entry.name, target, client=client, policy=policy)
        else:
            mysql_load.load_dump(settings, entry.path, target, client=client, policy=policy)
        facts.update(events_disabled=policy.contents.events_disabled)
        state = "complete"
        drop_quietly(settings, staging)
    except BaseException as error:
        if state == "untouched":
            drop_quietly(settings, staging)
        message = f"{error}; {describe_swap_state(state, where, staging, facts.get('safety_backup'), exists)}"
        if isinstance(error, Interrupted):
            error.args = (message,)
            raise
        if isinstance(error, CommandFailed):
            raise CommandFailed(message, returncode=error.returncode, stderr_tail=error.stderr_tail) from None
        if isinstance(error, (BackupError, OSError, pymysql.MySQLError)):
            raise BackupError(message) from None
        raise


def describe_swap_state(state: str, where: str, staging: str, safety_backup: str | None, existed: bool) -> str:
    earlier = f"its earlier content is in {safety_backup}" if safety_backup else "it held nothing before"
    if not existed:
        earlier = "it did not exist before"
    if state == "untouched":
        return f"{where} was not touched (the staging database {staging} was dropped)"
    if state == "emptied":
        return f"{where} is empty now; the restored copy is complete in database {staging}; {earlier}"
    return (
        f"{where} holds the backup's tables and rows but not all of its views, triggers, routines and events; "
        f"run the restore again; {earlier}"
    )


def drop_quietly(settings: Settings, database: str) -> None:
    """Drop a staging database on the way out of a failed restore; a failure to do so is logged, not raised."""
    with process.signals_deferred():
        try:
            with mysql.connect(settings) as connection:
                mysql_restore.drop_database(connection, database)
        except (BackupError, pymysql.MySQLError, OSError) as error:
            get_logger().error("staging_database_not_dropped", database=database, error=str(error))


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
