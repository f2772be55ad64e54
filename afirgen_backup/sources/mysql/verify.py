"""Checks of a MySQL dump: the file (trailer, statements) and, with a server, the restore test.

`statements` reads the whole dump as the mysql client would (script.py) and judges every statement (policy.py):
a dump changed after the backup, manifest recomputed or not, fails here when it holds what a restore must not
run, or does not create the objects its manifest lists. The restore test loads the dump into a scratch
database `<MYSQL_DB>_verify_<UTC stamp>` (events disabled, kept out of the binary log where the user may do
that), compares it with the manifest, and always drops it, also when the load fails or the run is interrupted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pymysql

from afirgen_backup import process
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check, check_checksum, check_manifest, decode_stream
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, Interrupted
from afirgen_backup.logs import get_logger
from afirgen_backup.names import derived_name
from afirgen_backup.progress import ProgressReporter
from afirgen_backup.sources.mysql import load, targets
from afirgen_backup.sources.mysql.dump import ends_with_trailer
from afirgen_backup.sources.mysql.policy import DumpPolicy
from afirgen_backup.sources.mysql.script import ScriptReader, ScriptRefused
from afirgen_backup.sources.mysql.server import connect, take_inventory

SCRATCH_SUFFIX = "_verify_{stamp}"


def check_trailer(tail: bytes) -> Check:
    trailer = ends_with_trailer(tail)
    if trailer is None:
        return Check("trailer", False, "missing trailer: the dump does not end with '-- Dump completed'")
    return Check("trailer", True, trailer)


class StatementCheck:
    """A sink for decode_stream: reads the dump as the mysql client would and keeps what the reader refused."""

    def __init__(self, manifest: dict[str, Any] | None) -> None:
        source = source_of(manifest)
        self.policy = DumpPolicy(source=source, target=source)
        self.reader = ScriptReader(self.policy)
        self.manifest = manifest or {}
        self.refused: str | None = None

    def write(self, chunk: bytes) -> None:
        if self.refused is None:
            try:
                self.reader.feed(chunk)
            except ScriptRefused as error:
                self.refused = str(error)

    def result(self) -> Check:
        if self.refused is None:
            try:
                self.reader.finish()
            except ScriptRefused as error:
                self.refused = str(error)
        if self.refused is not None:
            return Check("statements", False, f"the dump holds what a restore must not run: {self.refused}")
        differences = self.differences()
        if differences:
            return Check(
                "statements", False, "the dump does not create what the manifest lists: " + "; ".join(differences)
            )
        made = self.policy.contents.names
        return Check("statements", True, ", ".join(f"{len(names)} {kind}" for kind, names in made.items() if names))

    def differences(self) -> list[str]:
        listed = self.manifest.get("names")
        if not isinstance(listed, dict):
            return []
        differences = []
        for kind, made in self.policy.contents.names.items():
            expected = {str(name) for name in listed.get(kind) or []} if isinstance(listed.get(kind), list) else set()
            if expected - made:
                differences.append(f"no {kind} {', '.join(sorted(expected - made))}")
            if made - expected:
                differences.append(f"{kind} {', '.join(sorted(made - expected))} not in the manifest")
        return differences


def check_file(entry: BackupEntry, *, statements: bool = True) -> list[Check]:
    """Every check of a dump that needs no server: checksum, stream, trailer and (unless a restore reads them as it
    loads) the statements."""
    path, manifest = entry.path, entry.manifest
    checks = check_manifest(entry) + ([check_checksum(path, manifest)] if manifest else [])
    sink = StatementCheck(manifest) if statements else None
    stream, tail = decode_stream(path, sink)
    checks.append(stream)
    if stream.ok:
        checks.append(check_trailer(tail))
        if sink is not None:
            checks.append(sink.result())
    return checks


def source_of(manifest: dict[str, Any] | None) -> str | None:
    """The database a dump was taken from, as its manifest records it."""
    source = (manifest or {}).get("source") or {}
    name = source.get("database") if isinstance(source, dict) else None
    return name if isinstance(name, str) else None


def scratch_name(database: str, now: datetime) -> str:
    suffix = SCRATCH_SUFFIX.format(stamp=now.astimezone(UTC).strftime("%Y%m%d%H%M%S"))
    return derived_name(database, suffix)


def describe_scratch_grant(database: str) -> str:
    pattern = (database + "_verify_").replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
    privileges = ", ".join(targets.LOAD_PRIVILEGES)
    return f"to allow restore tests: GRANT {privileges} ON `{pattern}`.* TO <the backup user>"


@contextlib.contextmanager
def scratch_session(settings: Settings, skip_binlog: bool) -> Iterator[pymysql.Connection]:
    """A connection for creating and dropping a scratch database, kept out of the binary log when it may be."""
    with connect(settings) as connection:
        if skip_binlog:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_log_bin = 0")
        yield connection


def drop_scratch(settings: Settings, scratch: str, skip_binlog: bool) -> str | None:
    """Drop the scratch database; the reason when that failed."""
    with process.signals_deferred():
        try:
            with scratch_session(settings, skip_binlog) as connection:
                targets.drop_database(connection, scratch)
        except (BackupError, pymysql.MySQLError) as error:
            return str(error)
    return None


def run_restore_test(settings: Settings, entry: BackupEntry, client: load.LoadClient) -> Check:
    """Load the dump into a scratch database (events disabled, kept out of the binary log where the user may do
    that), compare it with the manifest, and always drop it."""
    log = get_logger()
    manifest = entry.manifest or {}
    scratch = scratch_name(settings.mysql_db, datetime.now(UTC))
    log.info("restore_test_started", file=entry.name, scratch_db=scratch)
    created = skip_binlog = False
    result: Check | None = None
    try:
        with connect(settings) as connection:
            skip_binlog = load.may_skip_binlog(connection)
            load.log_binlog_choice(skip_binlog, connection, "restore test")
            if targets.database_exists(connection, scratch):
                return Check("restore-test", False, f"scratch database {scratch} exists already; try again")
            created = True  # from here on the finally drops it, also when CREATE itself is cut short
            try:
                targets.create_database(connection, scratch, targets.charset_for_copy(connection, manifest))
            except BackupError:
                created = False
                raise
        policy = DumpPolicy(
            source=source_of(manifest),
            target=scratch,
            disable_events=True,
            keep_sandbox_marker=client.reads_sandbox_marker,
        )
        progress = ProgressReporter(f"loading {entry.name} into {scratch}", manifest.get("uncompressed_size"))
        load.load_dump(
            settings, entry.path, scratch, client=client, policy=policy, skip_binlog=skip_binlog, progress=progress
        )
        loaded = progress.finish()
        with connect(settings) as connection:
            inventory = take_inventory(connection, scratch)
        differences = targets.differences_from_manifest(inventory, manifest)
        log.info("restore_test_loaded", scratch_db=scratch, differences=differences, **loaded)
        if differences:
            result = Check("restore-test", False, "loaded, but differs from the manifest: " + "; ".join(differences))
        else:
            objects = sum(len(names) for names in inventory.names().values())
            rows = sum(inventory.row_counts.values())
            result = Check(
                "restore-test", True, f"loaded into {scratch}: {objects} objects, {rows} rows as in the manifest"
            )
    except Interrupted:
        raise
    except ScriptRefused as error:  # the file changed since its checks ran
        result = Check("statements", False, f"the dump holds what a restore must not run: {error}")
    except BackupError as error:
        hint = f"; {describe_scratch_grant(settings.mysql_db)}" if "privilege" in str(error) else ""
        result = Check("restore-test", False, f"cannot load into scratch database {scratch}: {error}{hint}")
    finally:
        if created:
            problem = drop_scratch(settings, scratch, skip_binlog)
            if problem:
                log.error("scratch_db_not_dropped", scratch_db=scratch, error=problem)
                result = Check(
                    "restore-test", False, f"scratch database {scratch} was not dropped, drop it by hand: {problem}"
                )
            else:
                log.info("scratch_db_dropped", scratch_db=scratch)
    assert result is not None
    return result
