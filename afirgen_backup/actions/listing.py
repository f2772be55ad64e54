"""list: what BACKUP_DIR holds, newest first per kind, and how a backup named on the command line is found.

Safety backups (taken before a restore overwrites a database) live in BACKUP_DIR/safety, and backups that were
dated in the future when `prune --future-dated` moved them live in BACKUP_DIR/misdated: each is listed in its own
group, can be named for a restore (`safety/<name>`, `misdated/<name>`), but is never `latest` and never pruned by
retention. Names in BACKUP_DIR that look like ours but are not regular files (links, FIFOs, sockets, directories)
are listed as such and never opened.
"""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import MISDATED_DIR_NAME, SAFETY_DIR_NAME, BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError
from afirgen_backup.logs import get_logger

GROUPS = ("mysql", "sessions", "safety", "misdated")
SIDE_GROUPS = {
    "safety": "safety backups (taken before a restore; never pruned, never 'latest')",
    "misdated": "misdated backups (dated in the future when prune --future-dated moved them; never pruned, "
    "never 'latest')",
}
FUTURE_DATED_COMMAND = "backup_database.py prune --future-dated"


def safety_path(backup_dir: Path) -> Path:
    return backup_dir / SAFETY_DIR_NAME


def misdated_path(backup_dir: Path) -> Path:
    return backup_dir / MISDATED_DIR_NAME


def safety_dir(backup_dir: Path) -> Path:
    """BACKUP_DIR/safety, where a restore writes its safety backup. A link (the safety backup would be written
    through it) or anything else that is not a real directory there is FileExistsError, as mkdir would raise for
    a file: the restore turns it into one line naming its target, before the target is touched."""
    path = safety_path(backup_dir)
    what = catalog.entry_kind(path)
    if what not in (None, "a directory"):
        how = "refusing to write through it" if what == "a symbolic link" else "not a directory"
        raise FileExistsError(errno.EEXIST, f"File exists ({what}: {how}; remove it)", str(path))
    return path


def entry_for_path(path: Path) -> BackupEntry | None:
    """The backup at `path`; None when nothing named like a backup is there; UsageError when what is there is not
    a regular file (never opened)."""
    entry = catalog.entry_for(path)
    if isinstance(entry, tuple):
        raise UsageError(f"{path} is {entry[1]}, not a backup file; it is not opened (remove it)")
    return entry


def locate_backup(settings: Settings, name: str, kind: str | None = None) -> BackupEntry:
    """A backup by name (BACKUP_DIR, then its safety/ and misdated/), by path, or the `latest` good one of `kind`
    (catalog.Catalog.newest_good: the highest sequence)."""
    if name == "latest":
        if kind is None:
            raise UsageError("'latest' needs a kind (mysql or sessions)")
        found = catalog.scan(settings.backup_dir)
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
    if catalog.parse_backup_name(Path(name).name) is None:
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
        if not catalog.is_real_directory(directory):
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


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def format_age(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24}h"


def describe_verification(record: dict[str, Any] | None) -> str:
    if not record:
        return "not verified"
    when = str(record.get("time", "?"))
    kind = " with restore test" if record.get("restore_test") else ""
    if record.get("ok"):
        return f"verified ok{kind} at {when}"
    failures = record.get("failures") or []
    return f"verify FAILED at {when}: {'; '.join(map(str, failures)) or 'see backup.log'}"


def entry_as_dict(entry: BackupEntry, now: datetime) -> dict[str, Any]:
    return {
        "name": entry.name,
        "sequence": entry.sequence,
        "kind": entry.kind,
        "path": str(entry.path),
        "time": entry.time.isoformat(),
        "age_s": int((now - entry.time).total_seconds()),
        "size": entry.size,
        "good": entry.good,
        "problem": entry.flaw,
        "in_future": entry.in_future(now),
        "verification": entry.verification,
        "restore_test": (entry.manifest or {}).get(catalog.RESTORE_TEST_KEY),
    }


def scan_side_directory(path: Path) -> tuple[catalog.Catalog, list[tuple[Path, str]]]:
    """The catalog of safety/ or misdated/; a link or other non-directory of that name is not followed."""
    info = catalog.entry_kind(path)
    if info is None or info == "a directory":
        return catalog.scan(path), []
    return catalog.Catalog([], [], []), [(path, info)]


def collect_listing(backup_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """Every backup grouped by kind (and the safety and misdated backups), newest first, with leftovers, orphans
    and the names that are not regular files."""
    now = now or datetime.now(UTC)
    main = catalog.scan(backup_dir)
    safety, strange_safety = scan_side_directory(safety_path(backup_dir))
    misdated, strange_misdated = scan_side_directory(misdated_path(backup_dir))
    groups: dict[str, list[dict[str, Any]]] = {
        kind: [entry_as_dict(e, now) for e in main.of_kind(kind)] for kind in catalog.KINDS
    }
    for group, side in (("safety", safety), ("misdated", misdated)):
        groups[group] = [entry_as_dict(e, now) for e in sorted(side.backups, key=lambda e: e.time, reverse=True)]
    strangers = main.strangers + strange_safety + safety.strangers + strange_misdated + misdated.strangers
    return {
        "backup_dir": str(backup_dir),
        "generated_at": now.isoformat(timespec="seconds"),
        "backups": groups,
        "partials": [str(p) for p in main.partials + safety.partials + misdated.partials],
        "orphan_manifests": [
            str(p) for p in main.orphan_manifests + safety.orphan_manifests + misdated.orphan_manifests
        ],
        "not_regular_files": [{"path": str(path), "is": what} for path, what in strangers],
    }


def render_listing(listing: dict[str, Any]) -> str:
    lines = [f"Backups in {listing['backup_dir']} (times in UTC, newest first)"]
    for group in GROUPS:
        entries = listing["backups"].get(group, [])
        title = SIDE_GROUPS.get(group, group)
        lines.append("")
        lines.append(f"{title}: {len(entries)}")
        for entry in entries:
            when = entry["time"].replace("+00:00", "Z")
            status = describe_verification(entry["verification"])
            if not entry["good"]:
                status = f"NOT USABLE: {status if entry['problem'] == catalog.VERIFY_FAILED else entry['problem']}"
            restore_test = entry.get("restore_test")
            if isinstance(restore_test, dict) and restore_test.get("ok") is False:
                status += f"; RESTORE TEST FAILED at {restore_test.get('time', '?')}"
            if entry["in_future"] and entry["sequence"] is None:
                status += "; DATED IN THE FUTURE (never taken as the newest)"
            elif entry["in_future"]:
                status += f"; DATED IN THE FUTURE (sequence {entry['sequence']} says when it was published)"
            lines.append(
                f"  {entry['name']}  {when}  {format_age(entry['age_s']):>7} ago  {format_size(entry['size']):>9}  "
                f"{status}"
            )
    for path in listing["partials"]:
        lines.append(f"leftover from an interrupted run (removed by the next backup): {path}")
    for path in listing["orphan_manifests"]:
        lines.append(f"manifest without its backup file: {path}")
    for stranger in listing["not_regular_files"]:
        lines.append(f"not a regular file, never opened: {stranger['path']} ({stranger['is']})")
    return "\n".join(lines) + "\n"
