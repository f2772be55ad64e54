"""The errors of the backup service and the exit codes they map to.

Low layers raise these; only ``cli.main`` turns them into an exit code and one line for the user.
"""

from __future__ import annotations

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
