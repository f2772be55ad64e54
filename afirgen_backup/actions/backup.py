"""backup: one run backs up every enabled kind, publishes each with its manifest, then prunes.

A part that fails does not stop the other; the run's outcome is recorded in BACKUP_DIR/last_run.json
for `status`, whatever ends the run once it holds the lock, and every step is logged with the run's id.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from afirgen_backup import TOOL_NAME, __version__, catalog, process, yielding
from afirgen_backup.actions.grants import require_backup_privileges
from afirgen_backup.actions.listing import safety_path
from afirgen_backup.actions.prune import prune_backups
from afirgen_backup.archive import PARTIAL_SUFFIX, GzipPublisher, UnsafeFile, describe_os_error, fsync_directory
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, Interrupted
from afirgen_backup.lock import backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.sources import mysql, sqlite
from afirgen_backup.yielding import Yielder

SESSIONS_COPY_PREFIX = ".sessions-copy-"
SESSIONS_COPY_NAME = "copy.db"
SESSIONS_COPY_FILES = (SESSIONS_COPY_NAME, *(SESSIONS_COPY_NAME + s for s in ("-journal", "-wal", "-shm")))
# archive.temp_path's names (`.<name>.<pid>.<random>.tmp`, or `.<name>.<pid>.tmp` before the random part)
MANIFEST_TEMP = re.compile(r"^\.(.+)\.json\.\d+(?:\.[0-9a-f]{8})?\.tmp$")
MB = 1_000_000


@dataclass
class PartResult:
    kind: str
    ok: bool
    file: str | None = None
    error: str | None = None
    size: int = 0
    duration_s: float = 0.0
    exit_code: int = 0  # a failed part's: 1, or 2 when a setting or the database must change


@dataclass
class RunResult:
    run_id: str
    started_at: datetime
    parts: dict[str, PartResult] = field(default_factory=dict)
    prune_error: str | None = None  # retention could not delete some files (they are named in it)
    clock: float = field(default_factory=time.monotonic)  # for the duration: started_at is whole seconds

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts.values()) and self.prune_error is None

    @property
    def exit_code(self) -> int:
        """0 when every part and retention succeeded, else the highest exit code of a failed part (at least 1)."""
        if self.ok:
            return 0
        return max([1, *(part.exit_code for part in self.parts.values() if not part.ok)])

    @property
    def errors(self) -> list[str]:
        """Every error of the run: each failed part's, then retention's."""
        errors = [part.error for part in self.parts.values() if part.error]
        if self.prune_error:
            errors.append(self.prune_error)
        return errors


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def is_leftover(backup_dir: Path, name: str) -> bool:
    """What an interrupted or killed run leaves: `.partial` files, temporary sessions copies, manifest and
    last_run.json temp files, and a manifest whose backup was never renamed into place (its `.partial` is still
    there)."""
    if name.endswith(PARTIAL_SUFFIX):
        return catalog.parse_backup_name(name[: -len(PARTIAL_SUFFIX)]) is not None
    if name.startswith(SESSIONS_COPY_PREFIX):
        return True
    temp_manifest = MANIFEST_TEMP.match(name)
    if temp_manifest:
        stem = temp_manifest.group(1)
        return stem == catalog.LAST_RUN_NAME[: -len(".json")] or catalog.parse_backup_name(stem) is not None
    if name.endswith(catalog.MANIFEST_SUFFIX):
        backup = name[: -len(catalog.MANIFEST_SUFFIX)]
        return (
            catalog.parse_backup_name(backup) is not None
            and catalog.is_regular_file(backup_dir / (backup + PARTIAL_SUFFIX))
            and not os.path.lexists(backup_dir / backup)  # a published backup's manifest, whatever squats beside it
        )
    return False


def remove_leftovers(backup_dir: Path) -> list[str]:
    """Remove what an interrupted or killed run left in BACKUP_DIR and in BACKUP_DIR/safety (a restore's safety
    backup is written there); return the names removed, those in the safety directory as `safety/<name>`.

    What cannot be removed (a directory named like a leftover, a file we may not delete) is logged and left
    there: it never stops a backup.
    """
    removed = remove_leftovers_in(backup_dir, backup_dir)
    safety = safety_path(backup_dir)
    what = catalog.entry_kind(safety)
    if what == "a directory":
        removed += remove_leftovers_in(safety, backup_dir)
    elif what is not None:  # a link named safety is not followed: what it points to is not ours
        get_logger().warning("leftovers_not_checked", directory=str(safety), error=f"it is {what}, not followed")
    return removed


def remove_leftovers_in(directory: Path, backup_dir: Path) -> list[str]:
    log = get_logger()
    try:
        # manifests before `.partial` files: whether a manifest is a leftover depends on its `.partial`
        entries = sorted(directory.iterdir(), key=lambda p: p.name.endswith(PARTIAL_SUFFIX))
    except OSError as error:
        log.warning("leftovers_not_checked", directory=str(directory), error=describe_os_error(error))
        return []
    removed = []
    for path in entries:
        if not is_leftover(directory, path.name):
            continue
        name = str(path.relative_to(backup_dir))
        what = catalog.entry_kind(path)
        if what not in (None, "a regular file", "a directory"):  # a link, a FIFO ...: not what a run leaves
            log.warning("leftover_not_removed", file=name, error=f"it is {what}, not a regular file: left in place")
            continue
        try:
            with contextlib.suppress(FileNotFoundError):
                if what == "a directory" and path.name.startswith(SESSIONS_COPY_PREFIX):
                    remove_copy_directory(path)
                else:
                    path.unlink()  # a directory fails here (EISDIR) and is left, named in the warning
        except OSError as error:
            log.warning("leftover_not_removed", file=name, error=describe_os_error(error))
            continue
        removed.append(name)
    if removed:
        with contextlib.suppress(OSError):  # they are gone; that it may not survive a crash changes nothing
            fsync_directory(directory)
    return removed


def remove_copy_directory(directory: Path) -> None:
    """Remove a sessions copy's private directory: the copy and its journals, then the directory. Anything else
    in it is not ours and stays (the directory with it), as OSError."""
    for name in SESSIONS_COPY_FILES:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    directory.rmdir()


def unused_stamp(backup_dir: Path) -> datetime:
    """The current UTC second, or a later one if a backup's name of that second is taken (two runs in one second;
    a link of that name, even a dangling one: a published backup never replaces anything)."""
    while True:
        stamp = datetime.now(UTC).replace(microsecond=0)
        if not any(os.path.lexists(backup_dir / catalog.backup_name(kind, stamp)) for kind in catalog.KINDS):
            return stamp
        time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)


def publish_with_manifest(publisher: GzipPublisher, manifest: dict[str, Any]) -> None:
    """Write the manifest, then rename the finished file into place, with SIGTERM/SIGINT held meanwhile.

    A file named like a backup therefore always has its manifest: when the manifest cannot be written (say the
    dump just filled the disk) the part fails and the publisher removes the `.partial` file.
    """
    with process.signals_deferred():
        catalog.write_manifest(publisher.final, manifest)
        try:
            publisher.publish()
        except BaseException:
            with contextlib.suppress(OSError):
                catalog.manifest_path(publisher.final).unlink()
            raise


def run_facts(settings: Settings, started: datetime, duration: float, run_id: str) -> dict[str, Any]:
    """The manifest entries every kind shares: how it was compressed, when, by which run and tool, and its
    sequence (catalog.next_sequence: the order of publishing, which `latest` trusts more than the clock).

    Called under the run's lock, just before the manifest is published.
    """
    return {
        "sequence": catalog.next_sequence(settings.backup_dir),
        "compression": {"format": "gzip", "library": "isal", "level": settings.compress_level},
        "started_at": iso(started),
        "finished_at": iso(datetime.now(UTC)),
        "duration_s": round(duration, 3),
        "run_id": run_id,
        "tool": {"name": TOOL_NAME, "version": __version__},
    }


GENERATED_NOTE = (
    "the dump program wrote values for these tables' generated columns, which MySQL refuses at load: their rows "
    "are loaded into a temporary table and moved from there without the generated columns"
)
ROW_COUNTS_NOTE = (
    "row_counts: a consistent snapshot just before mysqldump's own; row_counts_after_dump: one just after it "
    "(null if it could not be taken). A table written meanwhile has its dumped row count between the two."
)


def count_rows_after_dump(settings: Settings, tables: tuple[str, ...]) -> dict[str, int] | None:
    """Row counts just after the dump, bracketing the dump's own with those taken before; None on failure.

    The dump is complete by then: failing to count (say the server just went away) must not fail the part.
    """
    try:
        with mysql.connect(settings) as connection:
            return mysql.count_rows_in_snapshot(connection, settings.mysql_db, tables)
    except (BackupError, pymysql.MySQLError) as error:
        get_logger(part="mysql").warning("row_count_after_dump_failed", error=str(error))
        return None


@contextlib.contextmanager
def cpu_yielder(settings: Settings) -> Iterator[Yielder | None]:
    """The CPU yielder of one run (afirgen_backup/yielding.py); None when it is off or there is only one CPU."""
    if not settings.yield_cpu or yielding.cpus_to_keep(os.sched_getaffinity(0)) is None:
        yield None
        return
    sources: list[Callable[[], Hashable]] = []
    server = yielding.ServerWrites(lambda: mysql.connect(settings, read_timeout=10))
    if settings.mysql_enabled:
        sources.append(server)
    if settings.sessions_enabled and settings.sessions_db_path is not None:
        sources.append(yielding.file_changes(settings.sessions_db_path))
    yielder = Yielder(lambda: tuple(read() for read in sources))
    yielder.start()
    try:
        yield yielder
    finally:
        yielder.stop()
        server.close()


def describe_yield(yielder: Yielder | None) -> dict[str, Any] | None:
    if yielder is None:
        return None
    return {
        "times": yielder.confinements,
        "seconds": round(yielder.confined_seconds, 1),
        "cpus": sorted(yielder.keep or ()),
    }


def backup_mysql(settings: Settings, stamp: datetime, run_id: str, yielder: Yielder | None = None) -> PartResult:
    log = get_logger(part="mysql")
    started = datetime.now(UTC)
    clock = time.monotonic()
    client = mysql.detect_client(settings.mysqldump_bin)
    with mysql.connect(settings) as connection:
        server = mysql.server_flavor(connection)
        require_backup_privileges(connection, server, settings.mysql_db)
        inventory = mysql.take_inventory(connection, settings.mysql_db)
    if not inventory.tables and not settings.allow_empty:
        raise BackupError(
            f"{settings.mysql_db} has no tables: is MYSQL_DB the application's database? Nothing is pruned while "
            "this lasts; set BACKUP_ALLOW_EMPTY=true if an empty database is to be backed up"
        )
    mysql.check_pair(client, server, inventory)
    policy = mysql.dump_policy(client, server, inventory, settings.mysql_db)
    final = settings.backup_dir / catalog.backup_name("mysql", stamp)
    with GzipPublisher(final, level=settings.compress_level, threads=settings.compress_threads) as publisher:
        with process.credentials_pipe(settings.mysql_user, settings.mysql_password) as (defaults_arg, fd):
            argv = mysql.build_dump_argv(settings, client, server, inventory, defaults_arg)
            log.info(
                "mysql_dump_started",
                database=settings.mysql_db,
                server=server.describe(),
                client=client.describe(),
                argv=mysql.redact_argv(argv),
            )
            result = mysql.stream_dump(argv, (fd,), publisher, policy, adopt=yielder.adopt if yielder else None)
        counts_after = count_rows_after_dump(settings, inventory.tables)
        duration = time.monotonic() - clock
        manifest: dict[str, Any] = {
            "format": catalog.MANIFEST_FORMAT,
            "file": final.name,
            "kind": "mysql",
            "sha256": result.written.sha256,
            "size": result.written.size,
            "uncompressed_size": result.uncompressed_size,
            "source": {
                "host": settings.mysql_host,
                "port": settings.mysql_port,
                "database": settings.mysql_db,
                "default_character_set": inventory.default_character_set,
                "default_collation": inventory.default_collation,
            },
            "server": {"flavor": server.name, "version": server.text},
            "client": {"flavor": client.name, "version": ".".join(map(str, client.version)), "program": argv[0]},
            "dump_options": mysql.redact_argv(argv)[1:-1],
            "objects": inventory.counts(),
            "names": inventory.names(),
            "row_counts": inventory.row_counts,
            "row_counts_after_dump": counts_after,
            "row_counts_note": ROW_COUNTS_NOTE,
            "trailer": result.trailer,
            **run_facts(settings, started, duration, run_id),
        }
        if policy.contents.generated_rewritten:
            manifest["dump_rewrites"] = {
                "generated_columns": policy.contents.generated_rewritten,
                "note": GENERATED_NOTE,
            }
        publish_with_manifest(publisher, manifest)
    log.info(
        "mysql_backup_published",
        file=final.name,
        size=result.written.size,
        uncompressed_size=result.uncompressed_size,
        tables=len(inventory.tables),
        duration_s=round(duration, 3),
        throughput_mb_s=round(result.uncompressed_size / MB / duration, 1) if duration > 0 else None,
    )
    return PartResult("mysql", True, final.name, size=result.written.size, duration_s=duration)


def backup_sessions(settings: Settings, stamp: datetime, run_id: str, yielder: Yielder | None = None) -> PartResult:
    log = get_logger(part="sessions")
    assert settings.sessions_db_path is not None
    source = settings.sessions_db_path
    started = datetime.now(UTC)
    clock = time.monotonic()
    final = settings.backup_dir / catalog.backup_name("sessions", stamp)
    log.info("sessions_copy_started", source=str(source))
    # SQLite creates the copy by name, following links: it goes into a private directory (0700, an unguessable
    # name) where nobody else can put one.
    workdir = Path(tempfile.mkdtemp(prefix=SESSIONS_COPY_PREFIX, dir=settings.backup_dir))
    temp = workdir / SESSIONS_COPY_NAME
    try:
        copy = sqlite.snapshot_sessions(source, temp, settings.sessions_lock_timeout)
        copied = time.monotonic() - clock
        with GzipPublisher(final, level=settings.compress_level, threads=settings.compress_threads) as publisher:
            with open(temp, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    publisher.write(chunk)
            written = publisher.finish()
            duration = time.monotonic() - clock
            manifest: dict[str, Any] = {
                "format": catalog.MANIFEST_FORMAT,
                "file": final.name,
                "kind": "sessions",
                "sha256": written.sha256,
                "size": written.size,
                "uncompressed_size": publisher.uncompressed_size,
                "source": {"path": str(source), "journal_mode": copy.source_journal_mode, "read_mode": copy.read_mode},
                "server": {"flavor": "sqlite", "version": sqlite.sqlite3.sqlite_version},
                "sqlite": {
                    "page_count": copy.page_count,
                    "page_size": copy.page_size,
                    "integrity_check": copy.integrity,
                },
                "objects": {"tables": len(copy.tables)},
                "names": {"tables": sorted(copy.tables)},
                "row_counts": copy.tables,
                **run_facts(settings, started, duration, run_id),
            }
            publish_with_manifest(publisher, manifest)
    finally:
        with contextlib.suppress(OSError):  # what is left, the next run's leftover cleanup names
            remove_copy_directory(workdir)
    uncompressed = manifest["uncompressed_size"]
    log.info(
        "sessions_backup_published",
        file=final.name,
        size=written.size,
        uncompressed_size=uncompressed,
        pages=copy.page_count,
        read_mode=copy.read_mode,
        copy_s=round(copied, 3),
        duration_s=round(duration, 3),
        throughput_mb_s=round(uncompressed / MB / duration, 1) if duration > 0 else None,
    )
    return PartResult("sessions", True, final.name, size=written.size, duration_s=duration)


PARTS = {"mysql": backup_mysql, "sessions": backup_sessions}


def describe_error(error: Exception, backup_dir: Path) -> str:
    if isinstance(error, BackupError):
        return str(error)
    if isinstance(error, OSError):
        message = describe_os_error(error)
        if error.errno in (errno.ENOSPC, errno.EDQUOT) and not error.filename:
            message += f" (writing into BACKUP_DIR {backup_dir})"
        return message
    return f"unexpected {type(error).__name__}: {error}"


def describe_failure(kind: str, error: Exception, backup_dir: Path) -> str:
    return f"{kind} backup failed: {describe_error(error, backup_dir)}"


def run_backup(settings: Settings, run_id: str, *, now: datetime | None = None) -> RunResult:
    """Back up every enabled kind under the lock, prune what may be pruned, record the outcome.

    Once the lock is held every run is recorded, however it ends: interrupted by a signal, or failed by an error
    outside the parts (a directory it cannot read, a bug), which is then raised on; an OSError as a BackupError
    that names it.
    """
    log = get_logger()
    with backup_dir_lock(settings.backup_dir):
        run = RunResult(run_id, now or datetime.now(UTC).replace(microsecond=0))
        log.info("backup_started", kinds=list(settings.enabled_kinds), backup_dir=str(settings.backup_dir))
        try:
            cpu_yield = back_up_and_prune(settings, run, pick_stamp=now is None)
        except Interrupted as interruption:
            record_run(settings, run, outcome="interrupted", error=str(interruption))
            log.error("backup_interrupted", reason=str(interruption))
            raise
        except Exception as error:
            message = f"backup failed: {describe_error(error, settings.backup_dir)}"
            record_run(settings, run, outcome="failed", error="; ".join([*run.errors, message]))
            log.error("backup_finished", outcome="failed", error=message, **run_totals(run))
            if isinstance(error, OSError):
                raise BackupError(message) from error
            raise
        outcome = "success" if run.ok else "failed"
        record_run(settings, run, outcome=outcome, error="; ".join(run.errors) or None)
        log.info("backup_finished", outcome=outcome, **run_totals(run), cpu_yield=cpu_yield)
        return run


def back_up_and_prune(settings: Settings, run: RunResult, *, pick_stamp: bool) -> dict[str, Any] | None:
    """The steps of a run under the lock; returns what the CPU yielder did (describe_yield)."""
    if pick_stamp:
        run.started_at = unused_stamp(settings.backup_dir)
    removed = remove_leftovers(settings.backup_dir)
    if removed:
        get_logger().warning("removed_leftovers", files=removed)
    with cpu_yielder(settings) as yielder:
        for kind in settings.enabled_kinds:
            run_part(settings, run, kind, yielder)
    failed = [kind for kind, part in run.parts.items() if not part.ok]
    run.prune_error = prune_backups(settings, skip_kinds=failed).error
    return describe_yield(yielder)


def run_totals(run: RunResult) -> dict[str, Any]:
    return {
        "files": [part.file for part in run.parts.values() if part.file],
        "total_size": sum(part.size for part in run.parts.values()),
        "duration_s": round(time.monotonic() - run.clock, 3),
    }


def run_part(settings: Settings, run: RunResult, kind: str, yielder: Yielder | None) -> None:
    clock = time.monotonic()
    try:
        run.parts[kind] = PARTS[kind](settings, run.started_at, run.run_id, yielder)
    except Interrupted:
        raise
    except Exception as error:  # noqa: BLE001 - one part's failure must not stop the other
        message = describe_failure(kind, error, settings.backup_dir)
        code = error.exit_code if isinstance(error, BackupError) else 1
        run.parts[kind] = PartResult(kind, False, error=message, duration_s=time.monotonic() - clock, exit_code=code)
        details = {"stderr_tail": error.stderr_tail} if isinstance(error, CommandFailed) else {}
        get_logger().error("part_failed", part=kind, error=message, **details)


def record_run(settings: Settings, run: RunResult, *, outcome: str, error: str | None) -> None:
    """Write BACKUP_DIR/last_run.json for `status`.

    When it cannot be written (a full disk), the previous record must not go on speaking for this run: this
    record is written over it in place (catalog.overwrite_last_run: that needs no new block); failing that, it
    is removed (an unlink needs no space, and frees some) and the write is tried once more. If that fails too
    there is no record, which `status` shows as none recorded, never as the previous run's success.
    """
    record = {
        "run_id": run.run_id,
        "started_at": iso(run.started_at),
        "finished_at": iso(datetime.now(UTC)),
        "outcome": outcome,
        "error": error,
        "parts": {
            kind: {"ok": part.ok, "file": part.file, "error": part.error, "size": part.size}
            for kind, part in run.parts.items()
        },
    }
    if run.prune_error:
        record["prune_error"] = run.prune_error
    log = get_logger()
    try:
        catalog.write_last_run(settings.backup_dir, record)
        return
    except UnsafeFile as refusal:  # a link (or FIFO ...) at last_run.json: never written through, never removed
        log.error("cannot_record_run", error=str(refusal))
        return
    except OSError as failure:
        first = describe_os_error(failure)
    if catalog.overwrite_last_run(settings.backup_dir, record):
        log.warning("run_recorded_in_place", error=first)
        return
    previous = catalog.last_run_path(settings.backup_dir)
    try:
        with contextlib.suppress(FileNotFoundError):
            previous.unlink()
    except OSError as failure:
        log.error("cannot_record_run", error=first, removing_previous_record=describe_os_error(failure))
        return
    try:
        catalog.write_last_run(settings.backup_dir, record)
    except OSError as failure:
        log.error("cannot_record_run", error=first, retry=describe_os_error(failure), previous_record="removed")
        return
    log.warning("run_recorded_on_retry", error=first, previous_record="removed")
