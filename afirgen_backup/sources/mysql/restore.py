"""Restoring a MySQL dump: through a staging database, never straight into the target.

The dump is loaded into `<target>_restore_<UTC stamp>` (events disabled), compared with its manifest, and only
then moved in: the target is emptied (or created), every table moves in with one RENAME TABLE (all or none), the
views, triggers, routines and events are created there from the dump (load.py), and the staging database is
dropped. A load that fails or is refused, or a signal during it, leaves the target as it was. A non-empty target
is saved first into BACKUP_DIR/safety, and that safety backup is checked like any backup before anything is
dropped. Under another name than the database the dump was taken from, references to that database are pointed
at the target (policy.py) and events are created disabled.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from afirgen_backup import catalog, process
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check, Verification, record_result, refuse_damaged
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, Interrupted, UsageError, VerificationFailed
from afirgen_backup.logs import get_logger
from afirgen_backup.progress import ProgressReporter
from afirgen_backup.sources.base import BackupJob, unused_stamp
from afirgen_backup.sources.mysql import backup, load, targets
from afirgen_backup.sources.mysql.policy import DumpPolicy
from afirgen_backup.sources.mysql.script import ScriptRefused
from afirgen_backup.sources.mysql.server import connect, take_inventory
from afirgen_backup.sources.mysql.verify import check_file, source_of


def find_client(settings: Settings) -> load.LoadClient:
    """The mysql client a restore loads with, checked before anything else (load.inspect_client)."""
    return load.inspect_client(settings)


def restore(
    settings: Settings,
    entry: BackupEntry,
    database: str,
    *,
    client: load.LoadClient,
    yes: bool,
    safety: bool,
    run_id: str,
    facts: dict[str, Any],
    roll_forward: Callable[[str], None] | None = None,
) -> None:
    """Load a checked dump into a staging database, compare it with the manifest, then move it into `database`;
    the audit facts go into `facts`. Until the move, `database` is not touched. The caller found the client
    (find_client), holds the BACKUP_DIR lock and checked the name (names.py).

    roll_forward: called with the staging database's name once the dump is in it and checked (a point-in-time
    restore replays the binary log there); a failure drops the staging database, the target untouched."""
    where = describe_target(settings, database)
    refuse_damaged(entry, check_file(entry, statements=False), where)
    with session(settings) as connection:
        exists = targets.database_exists(connection, database)
        objects = targets.count_objects(connection, database) if exists else 0
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
    token = UNLOGGED.set(roll_forward is not None)
    try:
        restore_through_staging(
            settings, entry, database, client, roll_forward, exists=exists, facts=facts, where=where
        )
    finally:
        UNLOGGED.reset(token)


def restore_through_staging(
    settings: Settings,
    entry: BackupEntry,
    database: str,
    client: load.LoadClient,
    roll_forward: Callable[[str], None] | None,
    *,
    exists: bool,
    facts: dict[str, Any],
    where: str,
) -> None:
    staging, captured = load_into_staging(settings, entry, database, client, where, facts)
    if roll_forward is not None:
        try:
            roll_forward(staging)
        except BaseException as error:
            drop_quietly(settings, staging)
            untouched = f"{where} was not touched (the staging database {staging} was dropped)"
            if isinstance(error, CommandFailed):
                raise CommandFailed(f"{error}; {untouched}", returncode=error.returncode) from None
            if isinstance(error, BackupError):
                error.args = (f"{error}; {untouched}",)
            raise
    move_into_place(settings, entry, staging, database, client, captured, exists=exists, facts=facts, where=where)
    if roll_forward is not None:
        return  # the rows changed since the dump: its manifest's counts no longer apply
    with session(settings) as connection:
        differences = targets.differences_from_manifest(take_inventory(connection, database), entry.manifest or {})
    if differences:
        raise VerificationFailed(
            f"{entry.name} was loaded into {where}, but it differs from the manifest: " + "; ".join(differences)
        )


# A point-in-time restore keeps all it does out of the binary log (binlog_replay.py says why): set for its time.
UNLOGGED: contextvars.ContextVar[bool] = contextvars.ContextVar("unlogged", default=False)


@contextlib.contextmanager
def session(settings: Settings) -> Iterator[pymysql.Connection]:
    """A connection of the restore: kept out of the binary log while UNLOGGED is set."""
    with connect(settings) as connection:
        if UNLOGGED.get():
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_log_bin = 0")
        yield connection


def describe_target(settings: Settings, database: str) -> str:
    return f"database {database} on {settings.mysql_host}:{settings.mysql_port}"


def take_safety_backup(settings: Settings, database: str, run_id: str) -> str:
    directory = catalog.safety_dir(settings.backup_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    catalog.safety_dir(settings.backup_dir)  # once more: a link put there meanwhile is refused, never written through
    safety = dataclasses.replace(settings, mysql_db=database, backup_dir=directory)
    stamp = unused_stamp(directory)
    while (settings.backup_dir / catalog.backup_name("mysql", stamp)).exists():  # one name, one file
        time.sleep(0.2)
        stamp = unused_stamp(directory)
    part = backup.back_up(BackupJob(safety, stamp, run_id))
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
    entry = catalog.entry_for_path(Path(path))
    if entry is None:
        raise BackupError(f"the safety backup {path} of {where} is gone; stopping before anything is dropped")
    verification = Verification(entry, check_file(entry))
    record_result(verification)
    if not verification.ok:
        raise BackupError(
            f"the safety backup {entry.name} of {where} failed its checks ({'; '.join(verification.failures)}): "
            f"stopping before anything is dropped; {where} was not touched"
        )
    get_logger().info("safety_backup_taken", file=path, database=database)
    return path


def load_into_staging(
    settings: Settings,
    entry: BackupEntry,
    target: str,
    client: load.LoadClient,
    where: str,
    facts: dict[str, Any],
) -> tuple[str, bytes | None]:
    """Create a staging database, load the dump into it (events disabled) and compare it with the manifest.

    Returns the staging database's name and the dump's statements other than rows (to create the objects in the
    target without reading the dump again; None when they were too many to keep). On any failure the staging
    database is dropped and the error says that the target was not touched."""
    manifest = entry.manifest or {}
    with session(settings) as connection:
        stamp = catalog.format_stamp(datetime.now(UTC))
        staging = load.staging_name(target, stamp, lambda name: targets.database_exists(connection, name))
        with process.signals_deferred():
            targets.create_database(connection, staging, targets.charset_for_copy(connection, manifest))
    facts["staging_database"] = staging
    untouched = f"{where} was not touched (the staging database {staging} was dropped)"
    policy = DumpPolicy(
        source=source_of(entry.manifest),
        target=staging,
        disable_events=True,
        keep_sandbox_marker=client.reads_sandbox_marker,
        capture=True,
    )
    progress = ProgressReporter(f"loading {entry.name}", manifest.get("uncompressed_size"))
    try:
        load.load_dump(
            settings, entry.path, staging, client=client, policy=policy, progress=progress, skip_binlog=UNLOGGED.get()
        )
        facts.update(progress.finish())
        with session(settings) as connection:
            differences = targets.differences_from_manifest(take_inventory(connection, staging), manifest)
        if differences:
            raise VerificationFailed(
                f"{entry.name} loads, but not into what its manifest lists ({'; '.join(differences)}); {untouched}"
            )
    except ScriptRefused as error:
        drop_quietly(settings, staging)
        record_result(Verification(entry, [Check("statements", False, str(error))]))
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
    client: load.LoadClient,
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
    source = source_of(entry.manifest)
    state = "untouched"
    try:
        with session(settings) as connection, process.signals_deferred():
            if exists:
                targets.empty_database(connection, target)
            else:
                charset = targets.charset_for_copy(connection, entry.manifest or {})
                targets.create_database(connection, target, charset)
            state = "emptied"
            moved = load.move_tables(connection, staging, target)
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
            load.load_stream(
                settings, [captured], entry.name, target, client=client, policy=policy, skip_binlog=UNLOGGED.get()
            )
        else:
            load.load_dump(settings, entry.path, target, client=client, policy=policy, skip_binlog=UNLOGGED.get())
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
            with session(settings) as connection:
                targets.drop_database(connection, database)
        except (BackupError, pymysql.MySQLError, OSError) as error:
            get_logger().error("staging_database_not_dropped", database=database, error=str(error))
