"""How a backup named on the command line is found, and the directories a restore and `prune --future-dated`
write into (safety/, misdated/): never reached through a link planted in BACKUP_DIR."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from pathlib import Path

from afirgen_backup.catalog.entries import BackupEntry, entry_for, scan
from afirgen_backup.catalog.names import entry_kind, is_real_directory, misdated_path, parse_backup_name, safety_path
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError
from afirgen_backup.logs import get_logger

FUTURE_DATED_COMMAND = "backup_database.py prune --future-dated"


def safety_dir(backup_dir: Path) -> Path:
    """BACKUP_DIR/safety, where a restore writes its safety backup. A link (the safety backup would be written
    through it) or anything else that is not a real directory there is FileExistsError, as mkdir would raise for
    a file: the restore turns it into one line naming its target, before the target is touched."""
    path = safety_path(backup_dir)
    what = entry_kind(path)
    if what not in (None, "a directory"):
        how = "refusing to write through it" if what == "a symbolic link" else "not a directory"
        raise FileExistsError(errno.EEXIST, f"File exists ({what}: {how}; remove it)", str(path))
    return path


def entry_for_path(path: Path) -> BackupEntry | None:
    """The backup at `path`; None when nothing named like a backup is there; UsageError when what is there is not
    a regular file (never opened)."""
    entry = entry_for(path)
    if isinstance(entry, tuple):
        raise UsageError(f"{path} is {entry[1]}, not a backup file; it is not opened (remove it)")
    return entry


def locate_backup(settings: Settings, name: str, kind: str | None = None) -> BackupEntry:
    """A backup by name (BACKUP_DIR, then its safety/ and misdated/), by path, or the `latest` good one of `kind`
    (catalog.Catalog.newest_good: the highest sequence)."""
    if name == "latest":
        if kind is None:
            raise UsageError("'latest' needs a kind (mysql or sessions)")
        found = scan(settings.backup_dir)
        now = datetime.now(UTC)
        newest = found.newest_good(kind, now)
        if newest is None:
            raise UsageError(f"there is no good {kind} backup in {settings.backup_dir} (see the list command)")
        passed_over = [
            f"{b.name} ({why_not_latest(b, newest, now)})"
            for b in found.of_kind(kind)
            if b is not newest and (b.time > newest.time or b.order > newest.order)
        ]
        if passed_over:  # `latest` is then older than the newest file: say so before anything is restored
            get_logger().warning("latest_is_not_the_newest_file", latest=newest.name, passed_over=passed_over)
        if newest.in_future(now):
            get_logger().warning(
                "latest_is_dated_in_the_future",
                latest=newest.name,
                sequence=newest.sequence,
                note="it was published last (highest sequence); the clock was wrong when it was taken, or is now",
            )
        return newest
    if "/" not in name:
        candidates = [settings.backup_dir / name, safety_path(settings.backup_dir) / name]
        candidates.append(misdated_path(settings.backup_dir) / name)
    else:  # a path; a relative one such as safety/<name> is looked up in BACKUP_DIR first
        candidates = [Path(name)] if Path(name).is_absolute() else [settings.backup_dir / name, Path(name)]
    for candidate in candidates:
        if not reached_without_links(settings.backup_dir, candidate):
            continue
        entry = entry_for_path(candidate)
        if entry is not None:
            if kind is not None and entry.kind != kind:
                raise UsageError(f"{entry.name} is a {entry.kind} backup, not a {kind} backup")
            return entry
    if parse_backup_name(Path(name).name) is None:
        raise UsageError(
            f"{name!r} is not a backup name; expected mysql_backup_YYYYMMDD_HHMMSS.sql.gz, "
            "sessions_backup_YYYYMMDD_HHMMSS.db.gz or 'latest' (see the list command)"
        )
    raise UsageError(
        f"no backup {name!r} in {settings.backup_dir} or its safety or misdated directory (see the list command)"
    )


def reached_without_links(backup_dir: Path, path: Path) -> bool:
    """False when a directory between BACKUP_DIR and `path` (safety/ in safety/<name>) is a link or not a
    directory: a backup is never looked for through a link planted in BACKUP_DIR. Paths elsewhere are the
    operator's own."""
    try:
        inside = path.relative_to(backup_dir)
    except ValueError:
        return True
    directory = backup_dir
    for part in inside.parts[:-1]:
        directory = directory / part
        if not is_real_directory(directory):
            return False
    return True


def why_not_latest(entry: BackupEntry, latest: BackupEntry, now: datetime) -> str:
    """Why a backup dated after `latest` (or published after it) is not `latest`."""
    if not entry.good:
        return str(entry.flaw)
    if entry.sequence is None:
        return "dated in the future" if entry.in_future(now) else "published before it (no sequence number)"
    before = f"published before it (sequence {entry.sequence}, latest has {latest.sequence})"
    return f"dated in the future, {before}" if entry.in_future(now) else before
