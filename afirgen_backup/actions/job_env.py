"""job-env: the configuration the container's cron job runs with (called by backup_scheduler.sh at start).

cron starts a job with an almost empty environment, so the container's configuration (its environment laid over
BACKUP_ENV_FILE or ./.env, read as config.read_environment reads it) is written to a file that the job is pointed
at: every setting the engine reads (config.SETTINGS, and the application's names for them, config.ALIASES), what
boto3's credential chain reads (a task role's or web identity's variables: config.offsite.AWS_CHAIN_VARIABLES) and
nothing else (not the entrypoint's own but the two schedules, not a MySQL root password a shared .env may hold). A
schedule set only in the file is refused: the entrypoint, which writes cron's lines, reads the environment only.
Values are written in python-dotenv syntax, double-quoted with `\\`, `"`, CR and LF escaped; the file is private
(0600) and belongs to the job's user, and it is read back and compared before it is used. A file named by
MYSQL_PASSWORD_FILE (a Docker secret), by the AWS_*_FILE settings, the AWS files or BACKUP_AGE_RECIPIENTS_FILE is
copied beside it (0400, the job's user: COPIED_FILES), so that it need not be readable by that user where it is
mounted.

The command prints what the entrypoint prepares for the job, each field ended by a NUL byte: BACKUP_DIR, the log
file, sessions.db's path (empty when unset) and the lock's name. It needs no valid configuration beyond that
(check-config ran first) and writes no log.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from pathlib import Path
from typing import Any

from afirgen_backup import config
from afirgen_backup.config.offsite import AWS_CHAIN_VARIABLES
from afirgen_backup.errors import EXIT_OK, ConfigError, UsageError
from afirgen_backup.files import write_file_atomically
from afirgen_backup.lock import LOCK_NAME

NOT_FOR_JOB = frozenset({"BACKUP_ENV_FILE"})  # the job gets its own: the file written here
# Files a setting names that the job's user may not be able to read where they are (a Docker secret is root's,
# 0400): copied beside the job's file, 0400, for the job's user; the copy's name is what the job reads.
COPIED_FILES = {
    "MYSQL_PASSWORD_FILE": "mysql-password",
    "AWS_ACCESS_KEY_ID_FILE": "aws-access-key-id",
    "AWS_SECRET_ACCESS_KEY_FILE": "aws-secret-access-key",
    "AWS_SESSION_TOKEN_FILE": "aws-session-token",
    "AWS_SHARED_CREDENTIALS_FILE": "aws-credentials",
    "AWS_CONFIG_FILE": "aws-config",
    "BACKUP_AGE_RECIPIENTS_FILE": "age-recipients",
}
HEADER = "# written by backup_scheduler.sh (backup_database.py job-env) at container start; read by the cron job\n"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "job-env",
        help="write the cron job's configuration file (the container's entrypoint runs this)",
        description="Write the settings of this environment and its .env file to FILE for a job started without "
        "them (mode 0600, owned by --owner), and print BACKUP_DIR, the log file, sessions.db and the lock's name, "
        "each ended by a NUL byte.",
    )
    parser.add_argument("file", metavar="FILE", help="the file to write, e.g. /run/afirgen/backup.env")
    parser.add_argument("--owner", metavar="USER", required=True, help="the user the job runs as")
    parser.set_defaults(handler=run, backup_dir_use=None)


def run(args: argparse.Namespace) -> int:
    try:
        user = pwd.getpwnam(args.owner)
    except KeyError:
        raise UsageError(f"job-env: --owner {args.owner!r} is not a user of this system") from None
    owner = (user.pw_uid, user.pw_gid)
    target = Path(args.file)
    environment = config.read_environment()
    refusal = schedule_only_in_the_file(environment)
    if refusal is not None:
        sys.stderr.write(f"error: {refusal}\n")
        return refusal.exit_code
    settings = job_settings(environment)
    for name, copy_name in COPIED_FILES.items():
        secret = settings.get(name, "").strip()
        if secret and Path(secret).is_file():
            copy = target.with_name(copy_name)
            write_file_atomically(copy, Path(secret).read_bytes(), mode=0o400, owner=owner)
            settings[name] = str(copy)
    text = HEADER + "".join(f"{name}={quoted(value)}\n" for name, value in sorted(settings.items()))
    write_file_atomically(target, text.encode("utf-8", "surrogateescape"), mode=0o600, owner=owner)
    if config.read_env_file(target)[1] != settings:
        target.unlink()
        raise ConfigError(f"job-env: {target} did not read back as written; it was removed")
    sys.stdout.write("".join(f"{field}\0" for field in prepared_paths(settings)))
    return EXIT_OK


def schedule_only_in_the_file(environment: dict[str, str]) -> ConfigError | None:
    """The entrypoint reads BACKUP_SCHEDULE and BACKUP_SESSIONS_SCHEDULE from the container's environment only; the
    engine reads them laid over the .env file too (status holds the snapshots to theirs). One that only the file
    sets would leave cron on another schedule than the one status expects: refused, naming where it belongs."""
    for name in ("BACKUP_SCHEDULE", "BACKUP_SESSIONS_SCHEDULE"):
        if environment.get(name, "").strip() != os.environ.get(name, "").strip():
            where = os.environ.get("BACKUP_ENV_FILE") or str(Path.cwd() / ".env")
            return ConfigError(
                f"{name} is set in {where}, which the container's entrypoint does not read (cron would not run on "
                f"that schedule); allowed: set {name} in the container's environment (docker-compose's "
                f"environment: or env_file:), or remove it from {where}"
            )
    return None


def job_settings(environment: dict[str, str]) -> dict[str, str]:
    names = (set(config.SETTINGS) | set(config.ALIASES) | set(AWS_CHAIN_VARIABLES)) - NOT_FOR_JOB
    return {name: value for name, value in environment.items() if name in names}


def quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def prepared_paths(settings: dict[str, str]) -> tuple[str, str, str, str]:
    """BACKUP_DIR, the log file, sessions.db and the lock's name, with the defaults config.py applies."""
    backup_dir = settings.get("BACKUP_DIR", "").strip() or config.DEFAULT_BACKUP_DIR
    log_file = settings.get("BACKUP_LOG_FILE", "").strip() or str(Path(backup_dir) / config.DEFAULT_LOG_NAME)
    sessions = [settings.get(name, "").strip() for name in ("SESSIONS_DB_PATH", *config.ALIASES)]
    return backup_dir, log_file, next((path for path in sessions if path), ""), LOCK_NAME
