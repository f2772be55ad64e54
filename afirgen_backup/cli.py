"""Command line: subcommands map to actions; errors map to exit codes here, and only here.

Exit codes: 0 success; 1 a part or check failed; 2 usage or configuration error; 75 another run holds the
lock; 128+N when ended by signal N (130 for SIGINT, 143 for SIGTERM). A symbolic link, FIFO or other
non-regular file where the tool must write in BACKUP_DIR (the lock, last_run.json, backup.log, a manifest, a
`.partial` file, safety/) is exit 1 with one line naming it: it is what BACKUP_DIR holds, not a setting.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from afirgen_backup import __version__, catalog, process
from afirgen_backup.archive import describe_os_error
from afirgen_backup.config import Settings, load_settings
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BackupError, Interrupted
from afirgen_backup.logs import bind_run, configure_logging, get_logger, log_file_refusal, new_run_id
from afirgen_backup.priority import lower_priority

Handler = Callable[[Settings, argparse.Namespace, str], int]


def command_backup(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    if args.check:
        return command_check_config(settings, args, run_id)
    from afirgen_backup.actions.backup import run_backup

    lower_priority(settings.nice)
    result = run_backup(settings, run_id)
    # A link (or FIFO ...) at last_run.json was not written through: the run is not recorded, so it fails.
    errors = [*result.errors, *filter(None, [catalog.last_run_refusal(settings.backup_dir)])]
    if not errors:
        return EXIT_OK
    for error in errors:
        sys.stderr.write(f"error: {error}\n")
    return max(EXIT_FAILED, result.exit_code)


def command_check_config(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    kinds = ", ".join(settings.enabled_kinds)
    target = f"{settings.mysql_user}@{settings.mysql_host}:{settings.mysql_port}/{settings.mysql_db}"
    lines = [
        f"configuration ok: backing up {kinds}",
        f"  mysql: {target if settings.mysql_enabled else 'disabled'} with {settings.mysqldump_bin}",
        f"  sessions: {settings.sessions_db_path if settings.sessions_enabled else 'disabled'}",
        f"  backups: {settings.backup_dir} (keep {settings.retention_days} days, at least the newest "
        f"{settings.keep_last} good of each kind), log {settings.log_file}",
    ]
    # check-config creates nothing: it says what the first backup will create
    for directory in dict.fromkeys((settings.backup_dir, settings.log_file.parent)):
        if not directory.is_dir():
            lines.append(f"  {directory} does not exist yet: the first backup creates it")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def command_prune(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    from afirgen_backup.actions.prune import prune_backups
    from afirgen_backup.lock import backup_dir_lock

    if args.future_dated:
        return command_prune_future_dated(settings, args)
    with backup_dir_lock(settings.backup_dir):
        # A kind whose last scheduled backup failed keeps every old copy, as it does in that run's own prune.
        failing = catalog.failed_kinds(catalog.read_last_run(settings.backup_dir))
        result = prune_backups(settings, dry_run=args.dry_run, skip_kinds=failing)
    verb = "would delete" if args.dry_run else "deleted"
    doomed = [d for d in result.decisions if d.delete and (args.dry_run or d.backup.name in result.deleted)]
    for decision in doomed:
        sys.stdout.write(f"{verb} {decision.backup.name} ({decision.reason})\n")
    kept = sum(1 for d in result.decisions if not d.delete)
    failed = f", {len(result.failures)} could not be deleted" if result.failures else ""
    sys.stdout.write(f"{len(doomed)} {verb}, {kept} kept{failed}\n")
    if result.error:
        sys.stderr.write(f"error: {result.error}\n")
        return EXIT_FAILED
    return EXIT_OK


def command_prune_future_dated(settings: Settings, args: argparse.Namespace) -> int:
    from afirgen_backup.actions.prune import move_future_dated
    from afirgen_backup.lock import backup_dir_lock

    with backup_dir_lock(settings.backup_dir):
        result = move_future_dated(settings, dry_run=args.dry_run)
    verb = "would move" if args.dry_run else "moved"
    for name, why in result.moved.items():
        sys.stdout.write(f"{verb} {name} to {catalog.MISDATED_DIR_NAME}/ ({why})\n")
    sys.stdout.write(f"{len(result.moved)} {verb} to {settings.backup_dir / catalog.MISDATED_DIR_NAME}\n")
    if result.error:
        sys.stderr.write(f"error: {result.error}\n")
        return EXIT_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backup_database.py",
        description="Verified backups of AFIRGen's FIR database (MySQL) and sessions.db (SQLite). "
        "Without a command, runs one backup.",
        epilog="Exit codes: 0 ok, 1 a part or check failed, 2 usage or configuration error, "
        "75 another run holds the lock, 130/143 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    backup = commands.add_parser("backup", help="back up MySQL and sessions.db, then prune (the default)")
    backup.add_argument("--check", action="store_true", help="only validate the configuration, like check-config")
    backup.set_defaults(handler=command_backup)

    check = commands.add_parser(
        "check-config", help="validate the configuration and exit (0 ok, 2 bad); creates and changes nothing"
    )
    check.set_defaults(handler=command_check_config)

    prune = commands.add_parser("prune", help="delete backups that the retention policy no longer keeps")
    prune.add_argument("--dry-run", action="store_true", help="only print what would be deleted (or moved)")
    prune.add_argument(
        "--future-dated",
        action="store_true",
        help="delete nothing: move backups dated in the future (and their manifests) into BACKUP_DIR/misdated/, "
        "where they are kept, listed, never pruned and never 'latest'",
    )
    prune.set_defaults(handler=command_prune)

    for register in extra_commands():
        register(commands)
    return parser


def extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands that live in their own action modules (list, verify, restore, status)."""
    from afirgen_backup.actions import commands

    return list(commands.REGISTRARS)


def backup_dir_use(args: argparse.Namespace) -> str:
    """How a command uses BACKUP_DIR: `write` (created when missing), `check` (check-config: validated, nothing
    created or changed) or `read` (list and status, which write nothing, could run on a read-only view)."""
    if args.handler is command_check_config or getattr(args, "check", False):
        return "check"
    return "write" if getattr(args, "writes_backup_dir", True) else "read"


def switch_to_backup_dir_owner(settings: Settings) -> None:
    """Run as root (`docker exec` as root) on a BACKUP_DIR owned by another user: become that user.

    Otherwise root would leave a lock, log and backups that the scheduled job's user cannot open. The settings
    (and a root-only password file) are read before the switch.
    """
    if os.geteuid() != 0:
        return
    try:
        info = os.stat(settings.backup_dir)
    except OSError:
        return
    if info.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(info.st_gid)
    os.setuid(info.st_uid)


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    # The first signal starts the cleanup (stop mysqldump, remove partial files); a second one must not cut it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    if process.defer_interrupt(signum):
        return  # a child is being started: raised as soon as it is tracked, so that it is stopped too
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # backups, manifests and the log are private to this user
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["backup", *(argv or sys.argv[1:])])
    run_id = new_run_id()
    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        use = backup_dir_use(args)
        try:
            # Read-only commands (status is the HEALTHCHECK) must not create or probe BACKUP_DIR, check-config
            # must not create it.
            settings = load_settings(check_dirs=use != "read", create_dirs=use == "write")
        except BackupError as error:
            sys.stderr.write(f"error: {error}\n")
            return error.exit_code
        switch_to_backup_dir_owner(settings)
        configure_logging(
            settings.log_file if use != "check" else None,
            console_format=settings.log_format,
            create_dir=use == "write",
        )
        bind_run(run_id, command=args.command)
        try:
            code = int(args.handler(settings, args, run_id))
            refusal = log_file_refusal()  # a link at the log file's name: written to the console only
            if refusal and code == EXIT_OK:
                sys.stderr.write(f"error: {refusal}\n")
                return EXIT_FAILED
            return code
        except Interrupted as error:
            process.stop_all_children()
            get_logger().error("interrupted", signal=error.signum, exit_code=error.exit_code)
            return error.exit_code
        except BackupError as error:
            get_logger().error("command_failed", error=str(error), exit_code=error.exit_code)
            sys.stderr.write(f"error: {error}\n")
            return error.exit_code
        except OSError as error:  # one that no layer below turned into a BackupError: one line, not a traceback
            message = describe_os_error(error)
            get_logger().error("command_failed", error=message, exit_code=EXIT_FAILED)
            sys.stderr.write(f"error: {args.command} failed: {message}\n")
            return EXIT_FAILED
    except Interrupted as error:
        process.stop_all_children()
        return error.exit_code
    except OSError as error:  # before the log is set up (switching to BACKUP_DIR's owner, say)
        sys.stderr.write(f"error: {args.command} failed: {describe_os_error(error)}\n")
        return EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "build_parser", "EXIT_USAGE"]
