"""The list, verify, restore and status subcommands: their arguments, and how their results are shown.

cli.py adds every registrar in REGISTRARS to its subparsers. A handler returns the exit code; refusals and
failures are raised as BackupError subclasses, which cli.main turns into one line and an exit code.
Commands that only read BACKUP_DIR set `writes_backup_dir=False`, so that they could run on a read-only view.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from afirgen_backup.config import Settings
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, UsageError

Subparsers = Any  # argparse._SubParsersAction, which is private


def write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def command_list(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.listing import collect_listing, render_listing

    listing = collect_listing(settings.backup_dir)
    if args.json:
        write_json(listing)
    else:
        sys.stdout.write(render_listing(listing))
    return EXIT_OK


def command_verify(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.verify import select_backups, verify_backup
    from afirgen_backup.sources.mysql_load import inspect_client

    if args.all and args.names:
        raise UsageError("verify: give backup names or --all, not both")
    # With --json, stdout carries only the JSON document: the log's console lines go to stderr meanwhile.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        entries, problems = select_backups(settings, args.names, args.all)
        client = inspect_client(settings) if args.restore_test and any(e.kind == "mysql" for e in entries) else None
        results = [verify_backup(settings, entry, restore_test=args.restore_test, client=client) for entry in entries]
    failed = [r for r in results if not r.ok]
    ok = not failed and not problems and bool(results)
    if args.json:
        write_json(
            {
                "ok": ok,
                "problems": problems,
                "backups": [dict(r.as_record(), name=r.entry.name, path=str(r.entry.path)) for r in results],
            }
        )
        return EXIT_OK if ok else EXIT_FAILED
    for result in results:
        if result.ok:
            checks = ", ".join(check.name for check in result.checks)
            sys.stdout.write(f"ok      {result.entry.name} ({checks})\n")
        else:
            sys.stdout.write(f"FAILED  {result.entry.name}\n")
            for failure in result.failures:
                sys.stdout.write(f"        {failure}\n")
    for problem in problems:
        sys.stdout.write(f"FAILED  {problem}\n")
    if ok:
        sys.stdout.write(f"{len(results)} backup(s) verified ok\n")
        return EXIT_OK
    bad = [f"{r.entry.name} ({', '.join(f.split(':', 1)[0] for f in r.failures)})" for r in failed] + problems
    sys.stdout.write(f"verify failed: {'; '.join(bad) or 'no backup to verify'}\n")
    return EXIT_FAILED


def command_restore_mysql(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.listing import locate_backup
    from afirgen_backup.actions.restore import restore_mysql
    from afirgen_backup.sources.mysql_restore import check_database_name

    # `is None`: an empty --target-db is a mistake to name, not a request for the default database
    database = settings.mysql_db if args.target_db is None else args.target_db
    check_database_name(database, "MYSQL_DB" if args.target_db is None else "--target-db")
    entry = locate_backup(settings, args.name, "mysql")
    facts = restore_mysql(settings, entry, database, yes=args.yes, safety=not args.no_safety_backup, run_id=run_id)
    if facts.get("safety_backup"):
        sys.stdout.write(
            f"safety backup of the replaced database: {facts['safety_backup']} "
            "(in BACKUP_DIR/safety: never pruned, never 'latest'; delete it yourself when no longer needed)\n"
        )
    elif facts.get("replaced_objects"):
        sys.stdout.write("no safety backup was taken (--no-safety-backup)\n")
    sys.stdout.write(
        f"restored {entry.name} into database {database} on {settings.mysql_host}:{settings.mysql_port} "
        f"({facts.get('bytes', 0) / 1e6:.1f} MB of SQL in {facts.get('duration_s', 0):.1f} s)\n"
    )
    return EXIT_OK


def command_restore_sessions(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.listing import locate_backup
    from afirgen_backup.actions.restore import restore_sessions

    if args.target is not None and not args.target.strip():
        raise UsageError(
            f"restore sessions: --target {args.target!r} is empty; allowed: the path of the sessions.db file to "
            "restore into (leave --target out to restore into SESSIONS_DB_PATH)"
        )
    target = settings.sessions_db_path if args.target is None else Path(args.target)
    if target is None:
        raise UsageError("restore sessions: SESSIONS_DB_PATH is not set; give the file to restore into with --target")
    entry = locate_backup(settings, args.name, "sessions")
    facts = restore_sessions(settings, entry, target, yes=args.yes)
    if facts.get("kept"):
        sys.stdout.write(f"the replaced file is kept as {facts['kept']}\n")
    for moved in facts.get("moved_journals", []):
        sys.stdout.write(f"moved the old file's journal out of the way: {moved}\n")
    sys.stdout.write(f"restored {entry.name} into {target}\n")
    return EXIT_OK


def command_restore(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    raise UsageError("restore: say what to restore: `restore mysql [NAME|latest]` or `restore sessions [NAME|latest]`")


def command_status(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.status import collect_status, render_status

    status = collect_status(settings)
    if args.json:
        write_json(status)
    else:
        sys.stdout.write(render_status(status))
    return EXIT_OK if status["healthy"] else EXIT_FAILED


def command_check_grants(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.grants import collect_grants, render_grants

    report = collect_grants(settings)
    sys.stdout.write(render_grants(report, settings))
    return EXIT_FAILED if report.backup else EXIT_OK


def register_check_grants(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "check-grants",
        help="connect as MYSQL_USER and say which privileges a backup and a restore test still lack",
        description="Read the MySQL user's privileges (SHOW GRANTS, roles included) and name each one a backup of "
        "MYSQL_DB needs but lacks (some would leave triggers, events or routines out of the dump without a word), "
        "and what `verify --restore-test` needs, each with the GRANT that adds it. Exit 0 when the backup has what "
        "it needs, 1 when not, 2 when the server cannot be reached.",
    )
    parser.set_defaults(handler=command_check_grants, writes_backup_dir=False)


def register_list(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "list",
        help="list every backup, newest first per kind, with its age, size and last verification",
        description="List the backups in BACKUP_DIR (and the safety backups in BACKUP_DIR/safety).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    parser.set_defaults(handler=command_list, writes_backup_dir=False)


def register_verify(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "verify",
        help="check backups: checksum, complete gzip stream, dump trailer, SQLite integrity",
        description="Check backups against their manifests (default: the newest good backup of each enabled kind). "
        "Exit 0 only when every check passed. The result is stored in the manifest.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="backup file names (or paths) to verify")
    parser.add_argument("--all", action="store_true", help="verify every backup in BACKUP_DIR")
    parser.add_argument(
        "--restore-test",
        action="store_true",
        help="also load each MySQL dump into a scratch database <MYSQL_DB>_verify_<time>, compare it with the "
        "manifest, and drop it",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (logs go to stderr)")
    parser.set_defaults(handler=command_verify)


def register_restore(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "restore",
        help="restore a MySQL or sessions.db backup (checked first; never prompts)",
        description="Restore a backup after checking it. Never prompts: replacing a non-empty target needs --yes.",
    )
    parser.set_defaults(handler=command_restore)
    kinds = parser.add_subparsers(dest="restore_kind", metavar="KIND")

    mysql = kinds.add_parser(
        "mysql",
        help="load a dump into MYSQL_DB or --target-db",
        description="Check the dump (checksum, gzip stream, trailer), then stream it into the mysql client. "
        "A non-empty target is replaced only with --yes, after a safety backup into BACKUP_DIR/safety.",
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
    mysql.set_defaults(handler=command_restore_mysql)

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
    sessions.set_defaults(handler=command_restore_sessions)


def register_status(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "status",
        help="are backups healthy? exit 0 when each enabled kind has a fresh good backup and the last run did not fail",
        description="Newest good backup per kind, its age, size and verification; the last run; BACKUP_DIR usage "
        "and free space. Reads only: no lock, no decompression, nothing written. Exit 0 healthy, 1 not.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    parser.set_defaults(handler=command_status, writes_backup_dir=False)


REGISTRARS = [register_check_grants, register_list, register_verify, register_restore, register_status]
