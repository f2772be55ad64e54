"""list: what BACKUP_DIR holds, newest first per kind, and how a backup named on the command line is found.

Safety backups (taken before a restore overwrites a database) live in BACKUP_DIR/safety: they are listed in
their own group, can be named for a restore, but are never `latest` and never pruned by retention.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError
from afirgen_backup.logs import get_logger

SAFETY_DIR_NAME = "safety"
GROUPS = ("mysql", "sessions", "safety")


def safety_dir(backup_dir: Path) -> Path:
    return backup_dir / SAFETY_DIR_NAME


def entry_for_path(path: Path) -> BackupEntry | None:
    parsed = catalog.parse_backup_name(path.name)
    if parsed is None or not path.is_file():
        return None
    kind, moment = parsed
    return BackupEntry(kind, path.name, path, moment, path.stat().st_size, catalog.read_manifest(path))


def locate_backup(settings: Settings, name: str, kind: str | None = None) -> BackupEntry:
    """A backup by name (BACKUP_DIR, then BACKUP_DIR/safety), by path, or `latest` good one of `kind`."""
    if name == "latest":
        if kind is None:
            raise UsageError("'latest' needs a kind (mysql or sessions)")
        found = catalog.scan(settings.backup_dir)
        now = datetime.now(UTC)
        newest = found.newest_good(kind, now)
        if newest is None:
            raise UsageError(f"there is no good {kind} backup in {settings.backup_dir} (see the list command)")
        passed_over = [
            f"{b.name} ({'dated in the future' if b.in_future(now) else b.flaw})"
            for b in found.of_kind(kind)
            if b.time > newest.time
        ]
        if passed_over:  # `latest` is then older than the newest file: say so before anything is restored
            get_logger().warning("latest_is_not_the_newest_file", latest=newest.name, passed_over=passed_over)
        return newest
    if "/" not in name:
        candidates = [settings.backup_dir / name, safety_dir(settings.backup_dir) / name]
    else:  # a path; a relative one such as safety/<name> is looked up in BACKUP_DIR first
        candidates = [Path(name)] if Path(name).is_absolute() else [settings.backup_dir / name, Path(name)]
    for candidate in candidates:
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
    raise UsageError(f"no backup {name!r} in {settings.backup_dir} or its safety directory (see the list command)")


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
        "kind": entry.kind,
        "path": str(entry.path),
        "time": entry.time.isoformat(),
        "age_s": int((now - entry.time).total_seconds()),
        "size": entry.size,
        "good": entry.good,
        "problem": entry.flaw,
        "in_future": entry.in_future(now),
        "verification": entry.verification,
    }


def collect_listing(backup_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """Every backup grouped by kind (and the safety backups), newest first, with leftovers and orphans."""
    now = now or datetime.now(UTC)
    main = catalog.scan(backup_dir)
    safety = catalog.scan(safety_dir(backup_dir))
    groups: dict[str, list[dict[str, Any]]] = {
        kind: [entry_as_dict(e, now) for e in main.of_kind(kind)] for kind in catalog.KINDS
    }
    safety_entries = sorted(safety.backups, key=lambda e: e.time, reverse=True)
    groups["safety"] = [entry_as_dict(e, now) for e in safety_entries]
    return {
        "backup_dir": str(backup_dir),
        "generated_at": now.isoformat(timespec="seconds"),
        "backups": groups,
        "partials": [str(p) for p in main.partials + safety.partials],
        "orphan_manifests": [str(p) for p in main.orphan_manifests + safety.orphan_manifests],
    }


def render_listing(listing: dict[str, Any]) -> str:
    lines = [f"Backups in {listing['backup_dir']} (times in UTC, newest first)"]
    for group in GROUPS:
        entries = listing["backups"].get(group, [])
        title = "safety backups (taken before a restore; never pruned, never 'latest')" if group == "safety" else group
        lines.append("")
        lines.append(f"{title}: {len(entries)}")
        for entry in entries:
            when = entry["time"].replace("+00:00", "Z")
            status = describe_verification(entry["verification"])
            if not entry["good"]:
                status = f"NOT USABLE: {status if entry['problem'] == catalog.VERIFY_FAILED else entry['problem']}"
            if entry["in_future"]:
                status += "; DATED IN THE FUTURE (never taken as the newest)"
            lines.append(
                f"  {entry['name']}  {when}  {format_age(entry['age_s']):>7} ago  {format_size(entry['size']):>9}  "
                f"{status}"
            )
    for path in listing["partials"]:
        lines.append(f"leftover from an interrupted run (removed by the next backup): {path}")
    for path in listing["orphan_manifests"]:
        lines.append(f"manifest without its backup file: {path}")
    return "\n".join(lines) + "\n"
