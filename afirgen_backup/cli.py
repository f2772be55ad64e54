"""Command line: subcommands map to actions; errors map to exit codes here, and only here.

Exit codes: 0 success; 1 a part or check failed; 2 usage or configuration error; 75 another run holds the
lock; 128+N when ended by signal N (130 for SIGINT, 143 for SIGTERM). A symbolic link, FIFO or other
non-regular file where the tool must write in BACKUP_DIR (the lock, last_run.json, backup.log, a manifest, a
`.partial` file, safety/) is exit 1 with one line naming it: it is what BACKUP_DIR holds, not a setting.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from afirgen_backup import __version__, process
from afirgen_backup.config import Settings, load_settings
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BackupError, Interrupted, describe_os_error
from afirgen_backup.logs import bind_run, configure_logging, get_logger, log_file_refusal, new_run_id

Handler = Callable[..., int]
# The command table: each command is a module in actions/ with `register(subparsers)`, which adds its parser and
# sets its handler and how it uses BACKUP_DIR (`backup_dir_use`, see backup_dir_use below).
COMMANDS = (
    "backup",
    "check_config",
    "prune",
    "list",
    "verify",
    "restore",
    "status",
    "check_grants",
    "job_env",
    "binlog_stream",
)


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
    for name in COMMANDS:
        importlib.import_module(f"afirgen_backup.actions.{name}").register(commands)
    return parser


def backup_dir_use(args: argparse.Namespace) -> str | None:
    """How a command uses BACKUP_DIR: `write` (created when missing), `check` (check-config, backup --check:
    validated, nothing created or changed), `read` (list, status, check-grants: they write nothing, and could run
    on a read-only view) or None (job-env: no settings read, no log)."""
    if getattr(args, "check", False):
        return "check"
    use: str | None = args.backup_dir_use
    return use


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
    process.note_signal(signum)
    if process.defer_interrupt(signum):
        return  # a child is being started: raised as soon as it is tracked, so that it is stopped too
    raise Interrupted(signum)


def run_without_settings(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except BackupError as error:
        sys.stderr.write(f"error: {error}\n")
        return error.exit_code
    except OSError as error:
        sys.stderr.write(f"error: {args.command} failed: {describe_os_error(error)}\n")
        return EXIT_FAILED


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
        if use is None:
            return run_without_settings(args)
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
