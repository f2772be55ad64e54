"""Names in BACKUP_DIR: a backup's (`mysql_backup_YYYYMMDD_HHMMSS.sql.gz`, `sessions_backup_YYYYMMDD_HHMMSS.db.gz`,
UTC), its manifest's (`<name>.json`), the directories beside them, and what lstat says is there."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from afirgen_backup.files import describe_file_type
from afirgen_backup.publish import PARTIAL_SUFFIX

KINDS = ("mysql", "sessions")
NAME_PATTERNS = {
    "mysql": re.compile(r"^mysql_backup_(\d{8}_\d{6})\.sql\.gz$"),
    "sessions": re.compile(r"^sessions_backup_(\d{8}_\d{6})\.db\.gz$"),
}
NAME_FORMATS = {"mysql": "mysql_backup_{stamp}.sql.gz", "sessions": "sessions_backup_{stamp}.db.gz"}
STAMP_FORMAT = "%Y%m%d_%H%M%S"
MANIFEST_SUFFIX = ".json"
MANIFEST_FORMAT = 1
LAST_RUN_NAME = "last_run.json"
LAST_SNAPSHOT_NAME = "last_snapshot.json"  # the last `backup --sessions-snapshot` (BACKUP_SESSIONS_SCHEDULE)
RECORD_NAMES = (LAST_RUN_NAME, LAST_SNAPSHOT_NAME)
SNAPSHOT_KEY = "snapshot"  # true in the manifest of a frequent sessions snapshot: kept by its own retention
ALERTS_NAME = "alerts.json"  # what was last notified (alerts/state.py)
VERIFY_FAILED = "its last verify found it damaged"
RESTORE_TEST_CHECK = "restore-test"
OFFSITE_KEY = "offsite"  # where the off-site copy is and what was checked of it
RESTORE_TEST_KEY = "restore_test"  # the latest restore test's outcome, kept apart from `verification`
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of hosts sharing BACKUP_DIR may differ this much
SAFETY_DIR_NAME = "safety"  # safety backups a restore takes of the database it replaces
MISDATED_DIR_NAME = "misdated"  # backups dated in the future, moved there by `prune --future-dated`


def format_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def backup_name(kind: str, moment: datetime) -> str:
    return NAME_FORMATS[kind].format(stamp=format_stamp(moment))


def parse_backup_name(name: str) -> tuple[str, datetime] | None:
    """(kind, UTC time) of a backup file name, or None for anything else."""
    for kind, pattern in NAME_PATTERNS.items():
        match = pattern.match(name)
        if match:
            try:
                return kind, datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                return None
    return None


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def is_ours(name: str) -> bool:
    """Whether a name is one of a backup, its manifest or its `.partial` file."""
    for suffix in (PARTIAL_SUFFIX, MANIFEST_SUFFIX, ""):
        if name.endswith(suffix) and parse_backup_name(name[: len(name) - len(suffix)]):
            return True
    return False


def manifest_owner(name: str) -> str | None:
    """The backup a manifest's name belongs to, or None for any other name."""
    return name[: -len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else None


def backup_root(directory: Path) -> Path:
    """BACKUP_DIR itself, given BACKUP_DIR or its safety/ or misdated/ directory."""
    return directory.parent if directory.name in (SAFETY_DIR_NAME, MISDATED_DIR_NAME) else directory


def safety_path(backup_dir: Path) -> Path:
    return backup_dir / SAFETY_DIR_NAME


def misdated_path(backup_dir: Path) -> Path:
    return backup_dir / MISDATED_DIR_NAME


def last_run_path(backup_dir: Path, *, snapshot: bool = False) -> Path:
    """The record of the last full run, or with `snapshot` of the last frequent sessions snapshot."""
    return backup_dir / (LAST_SNAPSHOT_NAME if snapshot else LAST_RUN_NAME)


def entry_kind(path: Path) -> str | None:
    """What lstat says has that name ("a directory", "a symbolic link" ...), None when nothing does."""
    try:
        return describe_file_type(os.lstat(path).st_mode)
    except OSError:
        return None


def is_regular_file(path: Path) -> bool:
    """lstat says a regular file (a link to one is not)."""
    return entry_kind(path) == "a regular file"


def is_real_directory(path: Path) -> bool:
    return entry_kind(path) == "a directory"
