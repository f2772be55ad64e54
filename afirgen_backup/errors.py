"""The errors of the backup service and the exit codes they map to.

Low layers raise these; only ``cli.main`` turns them into an exit code and one line for the user.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pymysql

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock, try again later


class BackupError(Exception):
    """Base class: a message meant for the operator, and the exit code it stands for."""

    exit_code = EXIT_FAILED


class ConfigError(BackupError):
    """A setting is missing or invalid. The message names the variable and what is allowed."""

    exit_code = EXIT_USAGE


class UsageError(BackupError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class LockBusy(BackupError):
    """Another run of the tool holds the lock on BACKUP_DIR."""

    exit_code = EXIT_LOCKED


class CommandFailed(BackupError):
    """A child process (mysqldump, mysql, ...) failed; the message carries the tail of its stderr."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class DumpIncomplete(BackupError):
    """A dump ended without the trailer that marks a complete dump."""


class UnrestorableDump(BackupError):
    """The dump being written holds what a restore would refuse to run, or could not load as written: the client
    and server pair cannot make a backup that loads back (exit 2: a setting or the database must change)."""

    exit_code = EXIT_USAGE


class MissingPrivileges(BackupError):
    """The MySQL user lacks a privilege without which the dump would leave something out (exit 2: grant it)."""

    exit_code = EXIT_USAGE


class SourceUnavailable(BackupError):
    """A source database cannot be read (missing file, corrupt database, unreachable server)."""


class VerificationFailed(BackupError):
    """A backup file failed one of its checks (checksum, truncated stream, missing trailer, integrity)."""


class Interrupted(BackupError):
    """The run received SIGTERM or SIGINT; the exit code is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = 128 + signum


def describe_error(error: BaseException, backup_dir: Path | None = None) -> str:
    """Any error on one line, as the operator reads it: a BackupError's own message, an OSError by describe_os_error
    (a full disk without a file name said to be BACKUP_DIR's when given), a driver error with its MySQL code."""
    if isinstance(error, BackupError):
        return str(error)
    if isinstance(error, OSError):
        message = describe_os_error(error)
        if backup_dir is not None and error.errno in (errno.ENOSPC, errno.EDQUOT) and not error.filename:
            message += f" (writing into BACKUP_DIR {backup_dir})"
        return message
    if isinstance(error, pymysql.MySQLError):
        code, message = (tuple(error.args) + (None, ""))[:2]
        return f"MySQL error ({code}) {message}" if code is not None else f"MySQL error: {error}"
    return f"unexpected {type(error).__name__}: {error}"


def describe_os_error(error: OSError) -> str:
    """An OSError as the operator reads it: `No space left on device: /path` (no errno number, no traceback)."""
    text = error.strerror or str(error)
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return f"{text}: {' -> '.join(names)}" if names else text
