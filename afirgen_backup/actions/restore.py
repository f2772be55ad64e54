"""restore: put a backup back, after checking it, without surprises, and leave an audit event in backup.log.

`restore mysql [NAME|latest]` loads a dump through a staging database (sources/mysql/restore.py); `restore
sessions [NAME|latest]` swaps a checked copy in for sessions.db (sources/sqlite/restore.py). Here, what both
share: the arguments, the BACKUP_DIR lock (a backup must not dump a database that is being loaded, and the
safety backup writes into BACKUP_DIR/safety), the audit events, and errors as one line.

Whatever can be checked without touching the target is checked first: the target's name or path, the mysql
client, the backup file. A damaged file is refused before the target is touched. A target that holds anything
is replaced only with --yes (a refusal is exit 2: the command asked for something unsafe). A file system or
server error on the way ends the restore with one line (exit 1) that names the target and the state it was
left in, never with a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import EXIT_OK, BackupError, UsageError, describe_error
from afirgen_backup.lock import backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.names import database_name_problem, describe_refusal


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "restore",
        help="restore a MySQL or sessions.db backup (checked first; never prompts)",
        description="Restore a backup after checking it. Never prompts: replacing a non-empty target needs --yes.",
    )
    parser.set_defaults(handler=run_without_kind, backup_dir_use="write")
    kinds = parser.add_subparsers(dest="restore_kind", metavar="KIND")

    mysql = kinds.add_parser(
        "mysql",
        help="load a dump into MYSQL_DB or --target-db",
        description="Check the dump (checksum, gzip stream, trailer), then load it into a staging database "
        "<target>_restore_<time>, compare it with the manifest and only then move it into the target. A non-empty "
        "target is replaced only with --yes, after a safety backup into BACKUP_DIR/safety.",
    )
    mysql.add_argument(
        "name", nargs="?", default="latest", metavar="NAME|latest", help="backup to restore (default: latest)"
    )
    mysql.add_argument(
        "--target-db", metavar="DB", help="database to load into (default: MYSQL_DB); created if missing"
    )
    mysql.add_argument("--yes", action="store_true", help="replace a database that is not empty")
    mysql.add_argument(
        "--no-safety-backup", action="store_true", help="do not back up the database being replaced (logged)"
    )
    mysql.add_argument(
        "--remote",
        action="store_true",
        help="restore the off-site copy of that name (or the newest) in BACKUP_S3_URL; with --to-time or "
        "--to-position, the dump and the binary log archive's copies from the bucket",
    )
    point = mysql.add_mutually_exclusive_group()
    point.add_argument(
        "--to-time",
        metavar="'YYYY-MM-DD HH:MM:SS[+zone]'",
        help="point-in-time recovery: the newest backup from before that time (UTC unless a zone is given), then "
        "the archived binary log replayed up to it",
    )
    point.add_argument(
        "--to-position",
        metavar="FILE:POS",
        help="point-in-time recovery up to that binary log position (the event there is not replayed)",
    )
    point.add_argument(
        "--to-gtid",
        metavar="GTID",
        help="point-in-time recovery up to and including the transaction of that GTID (MariaDB domain-server-seq, "
        "MySQL uuid:N)",
    )
    mysql.set_defaults(handler=run_mysql)

    sessions = kinds.add_parser(
        "sessions",
        help="put a sessions.db backup in place of SESSIONS_DB_PATH or --target",
        description="Check the backup, then replace the target atomically; the old file is kept as "
        "<target>.before-restore-<UTC time> with its -wal/-journal. Refuses while the file is in use, unless --yes.",
    )
    sessions.add_argument(
        "name", nargs="?", default="latest", metavar="NAME|latest", help="backup to restore (default: latest)"
    )
    sessions.add_argument("--target", metavar="PATH", help="file to restore into (default: SESSIONS_DB_PATH)")
    sessions.add_argument("--yes", action="store_true", help="replace the file even while a process has it open")
    sessions.add_argument(
        "--remote", action="store_true", help="restore the off-site copy of that name (or the newest) in BACKUP_S3_URL"
    )
    sessions.set_defaults(handler=run_sessions)


def run_without_kind(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    raise UsageError("restore: say what to restore: `restore mysql [NAME|latest]` or `restore sessions [NAME|latest]`")


def run_mysql(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.sources.mysql import restore

    # `is None`: an empty --target-db is a mistake to name, not a request for the default database
    database = settings.mysql_db if args.target_db is None else args.target_db
    problem = database_name_problem(database)
    if problem is not None:  # MYSQL_DB passed the same rule when the settings were read
        raise UsageError(f"restore mysql: {describe_refusal('--target-db', database, problem)}")
    point = point_asked(args)
    client = restore.find_client(settings)
    if point is not None:
        from afirgen_backup.sources.mysql.binlog_replay import require_unlogged_sessions

        require_unlogged_sessions(settings)
    where = restore.describe_target(settings, database)
    with backup_dir_lock(settings.backup_dir):
        point = located(settings, point)
        with (
            chosen_with_archive(settings, args, point) as (entry, archive_settings),
            audited("mysql", entry, where, user=settings.mysql_user, remote=args.remote) as facts,
            one_line_errors(where),
        ):
            restore.restore(
                settings,
                entry,
                database,
                client=client,
                yes=args.yes,
                safety=not args.no_safety_backup,
                run_id=run_id,
                facts=facts,
                roll_forward=rolling_forward(archive_settings, client, entry, point, facts),
            )
    if point is not None:
        sys.stdout.write(
            f"rolled forward to {point.describe()}: the binary log from {facts.get('replayed_from')} "
            f"({', '.join(facts.get('replayed_files', []))}), "
            f"last event replayed at {facts.get('last_event_replayed')}\n"
        )
    if facts.get("safety_backup"):
        sys.stdout.write(
            f"safety backup of the replaced database: {facts['safety_backup']} "
            "(in BACKUP_DIR/safety: never pruned, never 'latest'; delete it yourself when no longer needed)\n"
        )
    elif facts.get("replaced_objects"):
        sys.stdout.write("no safety backup was taken (--no-safety-backup)\n")
    sys.stdout.write(
        f"restored {entry.name} into {where} "
        f"({facts.get('bytes', 0) / 1e6:.1f} MB of SQL in {facts.get('duration_s', 0):.1f} s)\n"
    )
    return EXIT_OK


def run_sessions(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.sources.sqlite import restore, swap

    if args.target is not None and not args.target.strip():
        raise UsageError(
            f"restore sessions: --target {args.target!r} is empty; allowed: the path of the sessions.db file to "
            "restore into (leave --target out to restore into SESSIONS_DB_PATH)"
        )
    target = settings.sessions_db_path if args.target is None else Path(args.target)
    if target is None:
        raise UsageError("restore sessions: SESSIONS_DB_PATH is not set; give the file to restore into with --target")
    target = swap.check_target(target)
    with (
        backup_dir_lock(settings.backup_dir),
        chosen_backup(settings, args, "sessions") as entry,
        audited("sessions", entry, str(target), remote=args.remote) as facts,
        one_line_errors(str(target)),
    ):
        restore.restore(entry, target, yes=args.yes, facts=facts)
    if facts.get("kept"):
        sys.stdout.write(f"the replaced file is kept as {facts['kept']}\n")
    for moved in facts.get("moved_journals", []):
        sys.stdout.write(f"moved the old file's journal out of the way: {moved}\n")
    sys.stdout.write(f"restored {entry.name} into {target}\n")
    return EXIT_OK


def point_asked(args: argparse.Namespace) -> Any:
    """The point of a point-in-time restore (binlog_replay.Point), or None for a plain one."""
    given = [option for option in ("to_time", "to_position", "to_gtid") if getattr(args, option) is not None]
    if not given:
        return None
    from afirgen_backup.sources.mysql.binlog_gtid import parse_gtid
    from afirgen_backup.sources.mysql.binlog_replay import Point, parse_point_in_time, parse_position

    option = "--" + given[0].replace("_", "-")
    if args.name != "latest":
        raise UsageError(
            f"restore mysql {option} picks its backup itself (the newest good one from before the point); "
            "allowed: without NAME"
        )
    if args.to_time is not None:
        return Point(time=parse_point_in_time(args.to_time))
    if args.to_gtid is not None:
        if args.remote:
            raise UsageError(
                "restore mysql --to-gtid --remote: a GTID is looked up in BACKUP_DIR's archive; allowed: --to-time or "
                "--to-position with --remote, or --to-gtid without it"
            )
        return Point(gtid=parse_gtid(args.to_gtid))  # located in the archive under the lock (located)
    name, position = parse_position(args.to_position)
    return Point(file=name, position=position)


def located(settings: Settings, point: Any) -> Any:
    """The point with a GTID found in the archive: right after its transaction (binlog_gtid.gtid_point), refused
    (exit 2) before anything is loaded when no restore can reach it. Called under the BACKUP_DIR lock: retention
    must not take the files it was found in."""
    if point is None or point.gtid is None:
        return point
    from afirgen_backup.sources.mysql.binlog_gtid import gtid_point

    return gtid_point(settings, point.gtid, catalog.scan(settings.backup_dir).of_kind("mysql"))


def rolling_forward(
    settings: Settings, client: Any, entry: BackupEntry, point: Any, facts: dict[str, Any]
) -> Callable[[str], None] | None:
    if point is None:
        return None
    from afirgen_backup.sources.mysql.binlog_replay import roll_forward

    return lambda staging: roll_forward(settings, client, entry, point, staging, facts)


@contextlib.contextmanager
def chosen_with_archive(
    settings: Settings, args: argparse.Namespace, point: Any
) -> Iterator[tuple[BackupEntry, Settings]]:
    """(the dump to restore, the settings whose BACKUP_DIR holds the binary log archive to roll forward from): for
    a point-in-time restore with --remote both come from the bucket (offsite/fetch_point.py), else BACKUP_DIR's."""
    if point is not None and args.remote:
        from afirgen_backup.offsite.fetch_point import fetched_for_point

        with fetched_for_point(settings, point) as found:
            yield found
        return
    with chosen_backup(settings, args, "mysql", point) as entry:
        yield entry, settings


@contextlib.contextmanager
def chosen_backup(settings: Settings, args: argparse.Namespace, kind: str, point: Any = None) -> Iterator[BackupEntry]:
    """The backup to restore: in BACKUP_DIR (catalog.locate_backup), or with --remote the off-site copy, fetched
    into a private directory for the time of the restore (offsite/fetch.py); for a point-in-time restore the newest
    good one from before the point. Called under the BACKUP_DIR lock."""
    if point is not None:
        from afirgen_backup.sources.mysql.binlog_replay import choose_backup

        yield choose_backup(catalog.scan(settings.backup_dir).of_kind(kind), point)
        return
    if not args.remote:
        yield catalog.locate_backup(settings, args.name, kind)
        return
    if settings.offsite is None:
        raise UsageError(f"restore {kind} --remote: off-site copies are off; allowed: set BACKUP_S3_URL")
    from afirgen_backup.offsite.fetch import fetched

    with fetched(settings, args.name, kind) as entry:
        yield entry


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def audited(what: str, entry: BackupEntry, target: str, **fields: Any) -> Iterator[dict[str, Any]]:
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
        raise BackupError(f"restore into {target} failed: {describe_error(error)}") from None
