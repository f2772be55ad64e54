"""verify: is a backup file what its manifest says, complete, and (optionally) loadable?

Checks, each named in the result: `manifest` (a readable manifest exists), `checksum` (sha256 and size),
`stream` (the gzip stream decodes to its end: a truncated or corrupt file fails here), `trailer` (MySQL: the
dump ends with `-- Dump completed`), `statements` (MySQL: every statement is one a restore may run, read as the
mysql client reads it, and the dump creates the objects the manifest lists; a file changed after the backup,
manifest recomputed or not, fails here), `integrity` (sessions: PRAGMA integrity_check of the decompressed copy),
`tables` (sessions: the tables and row counts the manifest recorded) and, with --restore-test, `restore-test`
(MySQL: the dump loads into a scratch database whose objects and row counts match the manifest).

verify takes no lock: it only reads backup files, which never change once published, and a restore test
works on a scratch database of its own. So a scheduled backup is never turned away (exit 75) because a long
verify runs. The result is stored in the backup's manifest for `list` and `status`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
from isal import isal_zlib

from afirgen_backup import catalog, process
from afirgen_backup.actions.progress import ProgressReporter
from afirgen_backup.archive import iter_gzip, sha256_of_file
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, Interrupted
from afirgen_backup.logs import get_logger
from afirgen_backup.sources import mysql, mysql_load, mysql_restore, sqlite_restore
from afirgen_backup.sources.mysql_policy import DumpPolicy
from afirgen_backup.sources.mysql_script import ScriptReader, ScriptRefused

STREAM_ERRORS = (EOFError, OSError, ValueError, isal_zlib.error)
TAIL_KEEP = 512
SCRATCH_SUFFIX = "_verify_{stamp}"
RESTORE_TEST = "restore-test"
MAX_DB_NAME = 64


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verification:
    entry: BackupEntry
    checks: list[Check] = field(default_factory=list)
    restore_test: bool = False
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.ok]

    def as_record(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(timespec="seconds"),
            "ok": self.ok,
            "restore_test": self.restore_test,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "failures": self.failures,
        }


def check_checksum(path: Path, manifest: dict[str, Any]) -> Check:
    digest, size = sha256_of_file(path)
    if size != manifest.get("size"):
        return Check("checksum", False, f"size {size} bytes, the manifest says {manifest.get('size')}")
    if digest != manifest.get("sha256"):
        return Check("checksum", False, "sha256 differs from the manifest's: the file was changed or damaged")
    return Check("checksum", True, f"sha256 {digest[:16]}..., {size} bytes")


def describe_stream_error(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated: the gzip stream ends before its end marker"
    return f"corrupt gzip stream: {error}"


def decode_stream(path: Path, sink: Any = None) -> tuple[Check, bytes]:
    """Decode the whole gzip stream (writing it to `sink` if given); the check and the last bytes."""
    tail = b""
    size = 0
    try:
        for chunk in iter_gzip(path):
            size += len(chunk)
            tail = (tail + chunk[-TAIL_KEEP:])[-TAIL_KEEP:]
            if sink is not None:
                sink.write(chunk)
    except STREAM_ERRORS as error:  # type: ignore[misc]  # isal_zlib.error has no type information
        return Check("stream", False, f"{describe_stream_error(error)} (after {size} bytes)"), tail
    return Check("stream", True, f"{size} bytes decoded"), tail


def check_trailer(tail: bytes) -> Check:
    trailer = mysql.ends_with_trailer(tail)
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


def check_mysql_file(path: Path, manifest: dict[str, Any] | None, *, statements: bool = True) -> list[Check]:
    checks = [check_checksum(path, manifest)] if manifest else []
    sink = StatementCheck(manifest) if statements else None
    stream, tail = decode_stream(path, sink)
    checks.append(stream)
    if stream.ok:
        checks.append(check_trailer(tail))
        if sink is not None:
            checks.append(sink.result())
    return checks


def check_tables(copy: sqlite_restore.CheckedCopy, manifest: dict[str, Any]) -> Check:
    expected = manifest.get("row_counts") or {}
    if copy.row_counts != expected:
        differing = sorted(set(expected) ^ set(copy.row_counts)) + sorted(
            t for t in set(expected) & set(copy.row_counts) if expected[t] != copy.row_counts[t]
        )
        details = ", ".join(
            f"{t} ({expected.get(t, 'absent')} expected, {copy.row_counts.get(t, 'absent')} found)" for t in differing
        )
        return Check("tables", False, f"tables or row counts differ from the manifest: {details}")
    return Check("tables", True, f"{len(expected)} tables, {sum(expected.values())} rows as in the manifest")


def check_sessions_file(path: Path, manifest: dict[str, Any] | None, copy: Path) -> list[Check]:
    """Checks of a sessions backup; the decompressed database is left at `copy`."""
    checks = [check_checksum(path, manifest)] if manifest else []
    with open(copy, "wb") as sink:
        stream, _ = decode_stream(path, sink)
    checks.append(stream)
    if not stream.ok:
        return checks
    try:
        checked = sqlite_restore.check_copy(copy)
    except sqlite3.DatabaseError as error:
        checks.append(Check("integrity", False, f"not a usable SQLite database: {error}"))
        return checks
    if checked.integrity != "ok":
        checks.append(Check("integrity", False, f"PRAGMA integrity_check: {checked.integrity}"))
        return checks
    checks.append(Check("integrity", True, "PRAGMA integrity_check: ok"))
    if manifest:
        checks.append(check_tables(checked, manifest))
    return checks


def check_file(entry: BackupEntry, copy_to: Path | None = None, *, statements: bool = True) -> list[Check]:
    """Every check that needs no server; for sessions the decompressed copy goes to `copy_to` (or a temp file).

    statements=False leaves out the reading of every statement (a restore does that while it loads, into a
    staging database, which is faster than reading the dump twice)."""
    checks = [] if entry.manifest else [Check("manifest", False, f"no readable manifest {entry.name}.json")]
    if entry.kind == "mysql":
        return checks + check_mysql_file(entry.path, entry.manifest, statements=statements)
    if copy_to is not None:
        return checks + check_sessions_file(entry.path, entry.manifest, copy_to)
    with tempfile.TemporaryDirectory(prefix="afirgen-verify-") as temp:
        return checks + check_sessions_file(entry.path, entry.manifest, Path(temp) / "sessions.db")


def source_of(manifest: dict[str, Any] | None) -> str | None:
    """The database a dump was taken from, as its manifest records it."""
    source = (manifest or {}).get("source") or {}
    name = source.get("database") if isinstance(source, dict) else None
    return name if isinstance(name, str) else None


def source_database(entry: BackupEntry) -> str | None:
    return source_of(entry.manifest)


def scratch_name(database: str, now: datetime) -> str:
    suffix = SCRATCH_SUFFIX.format(stamp=now.astimezone(UTC).strftime("%Y%m%d%H%M%S"))
    return database[: MAX_DB_NAME - len(suffix)] + suffix


def describe_scratch_grant(database: str) -> str:
    pattern = (database + "_verify_").replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
    privileges = ", ".join(mysql_restore.LOAD_PRIVILEGES)
    return f"to allow restore tests: GRANT {privileges} ON `{pattern}`.* TO <the backup user>"


@contextlib.contextmanager
def scratch_session(settings: Settings, skip_binlog: bool) -> Iterator[pymysql.Connection]:
    """A connection for creating and dropping a scratch database, kept out of the binary log when it may be."""
    with mysql.connect(settings) as connection:
        if skip_binlog:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_log_bin = 0")
        yield connection


def drop_scratch(settings: Settings, scratch: str, skip_binlog: bool) -> str | None:
    """Drop the scratch database; the reason when that failed."""
    with process.signals_deferred():
        try:
            with scratch_session(settings, skip_binlog) as connection:
                mysql_restore.drop_database(connection, scratch)
        except (BackupError, pymysql.MySQLError) as error:
            return str(error)
    return None


def run_restore_test(settings: Settings, entry: BackupEntry, client: mysql_load.LoadClient) -> Check:
    """Load the dump into a scratch database (events disabled, kept out of the binary log where the user may do
    that), compare it with the manifest, and always drop it."""
    log = get_logger()
    manifest = entry.manifest or {}
    scratch = scratch_name(settings.mysql_db, datetime.now(UTC))
    log.info("restore_test_started", file=entry.name, scratch_db=scratch)
    created = skip_binlog = False
    result: Check | None = None
    try:
        with mysql.connect(settings) as connection:
            skip_binlog = mysql_load.may_skip_binlog(connection)
            mysql_load.log_binlog_choice(skip_binlog, connection, "restore test")
            if mysql_restore.database_exists(connection, scratch):
                return Check("restore-test", False, f"scratch database {scratch} exists already; try again")
            created = True  # from here on the finally drops it, also when CREATE itself is cut short
            try:
                mysql_restore.create_database(connection, scratch, mysql_restore.charset_for_copy(connection, manifest))
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
        mysql_load.load_dump(
            settings, entry.path, scratch, client=client, policy=policy, skip_binlog=skip_binlog, progress=progress
        )
        loaded = progress.finish()
        with mysql.connect(settings) as connection:
            inventory = mysql.take_inventory(connection, scratch)
        differences = mysql_restore.differences_from_manifest(inventory, manifest)
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


def record_result(verification: Verification) -> None:
    """Store the result in the manifest; undo that if the backup was pruned meanwhile (no orphan manifest).

    The outcome of a restore test is also kept on its own (`restore_test`): only a later restore test replaces
    it, so a failed one keeps counting in `status` through plain verifies and restores."""
    path = verification.entry.path
    try:
        catalog.record_verification(path, verification.as_record())
        restore_test = next((c for c in verification.checks if c.name == RESTORE_TEST), None)
        if restore_test is not None:
            catalog.record_restore_test(path, {**restore_test_record(restore_test), "time": iso(verification.time)})
    except OSError as error:
        get_logger().warning("cannot_record_verification", file=verification.entry.name, error=str(error))
        return
    if not path.exists():
        with contextlib.suppress(FileNotFoundError):
            catalog.manifest_path(path).unlink()


def restore_test_record(check: Check) -> dict[str, Any]:
    return {"ok": check.ok, "detail": check.detail}


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def verify_backup(
    settings: Settings, entry: BackupEntry, *, restore_test: bool = False, client: mysql_load.LoadClient | None = None
) -> Verification:
    """Check one backup (and with restore_test, load a MySQL dump into a scratch database with `client`)."""
    log = get_logger()
    log.info("verify_started", file=entry.name, kind=entry.kind, restore_test=restore_test)
    verification = Verification(entry, restore_test=restore_test and entry.kind == "mysql")
    try:
        verification.checks = check_file(entry)
        if verification.restore_test and verification.ok:
            verification.checks.append(run_restore_test(settings, entry, client or mysql_load.inspect_client(settings)))
    except (OSError, pymysql.MySQLError) as error:
        # one line through cli.main (exit 1), not a traceback; the scratch database was dropped on the way out
        raise BackupError(f"cannot verify {entry.name}: {mysql_restore.describe_failure(error)}") from None
    record_result(verification)
    event = log.info if verification.ok else log.error
    event("verify_finished", file=entry.name, ok=verification.ok, failures=verification.failures)
    return verification


def select_backups(settings: Settings, names: list[str], every: bool) -> tuple[list[BackupEntry], list[str]]:
    """The backups to verify, and the problems found while choosing (a kind without any good backup)."""
    from afirgen_backup.actions.listing import locate_backup

    if names:
        return [locate_backup(settings, name) for name in names], []
    found = catalog.scan(settings.backup_dir)
    if every:
        return sorted(found.backups, key=lambda e: (e.kind, e.time), reverse=True), []
    chosen, problems = [], []
    for kind in settings.enabled_kinds:
        newest = found.newest_published(kind)  # damaged or not: verify is how the damage is found and reported
        if newest is None:
            problems.append(f"no {kind} backup with a manifest in {settings.backup_dir}")
        else:
            chosen.append(newest)
    return chosen, problems
