"""status: are the backups healthy? The container's HEALTHCHECK and outside monitors call it.

It only reads: BACKUP_DIR's listing, the manifests, last_run.json and the free space. No decompression, no
hashing, no lock, no log event, nothing written. Healthy (exit 0) when the newest good backup of every enabled
kind is younger than BACKUP_MAX_AGE_HOURS and the last run did not fail; an interrupted last run is reported
but is not by itself unhealthy (the age limit catches a run that keeps failing to finish).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.actions.listing import describe_verification, format_age, format_size
from afirgen_backup.config import Settings


def measure_directory(path: Path) -> tuple[int, int]:
    """Number and total size of the files under `path` (0, 0 when it does not exist)."""
    count = size = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
            count += 1
    return count, size


def free_space(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def kind_status(entry: catalog.BackupEntry | None, kind: str, now: datetime, max_age_s: float) -> dict[str, Any]:
    if entry is None:
        return {"kind": kind, "newest": None, "healthy": False, "problem": f"no good {kind} backup"}
    age = (now - entry.time).total_seconds()
    fresh = age <= max_age_s
    return {
        "kind": kind,
        "newest": entry.name,
        "time": entry.time.isoformat(),
        "age_s": int(age),
        "size": entry.size,
        "verification": entry.verification,
        "healthy": fresh,
        "problem": None if fresh else f"newest {kind} backup is {format_age(age)} old (limit {max_age_s / 3600:g}h)",
    }


def collect_status(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    found = catalog.scan(settings.backup_dir)
    max_age_s = settings.max_age_hours * 3600.0
    kinds = [kind_status(found.newest_good(kind), kind, now, max_age_s) for kind in settings.enabled_kinds]
    last_run = catalog.read_last_run(settings.backup_dir)
    problems = [k["problem"] for k in kinds if k["problem"]]
    if last_run and last_run.get("outcome") == "failed":
        problems.append(f"last run failed: {last_run.get('error') or 'see backup.log'}")
    files, total = measure_directory(settings.backup_dir)
    return {
        "healthy": not problems,
        "checked_at": now.isoformat(timespec="seconds"),
        "max_age_hours": settings.max_age_hours,
        "kinds": kinds,
        "last_run": last_run,
        "backup_dir": {
            "path": str(settings.backup_dir),
            "files": files,
            "size": total,
            "free": free_space(settings.backup_dir),
        },
        "problems": problems,
    }


def render_status(status: dict[str, Any]) -> str:
    lines = []
    for kind in status["kinds"]:
        if kind["newest"] is None:
            lines.append(f"{kind['kind']}: NO GOOD BACKUP")
            continue
        lines.append(
            f"{kind['kind']}: {kind['newest']}, {format_age(kind['age_s'])} old, {format_size(kind['size'])}, "
            f"{describe_verification(kind['verification'])}"
        )
    last = status["last_run"]
    if last is None:
        lines.append("last run: none recorded")
    else:
        error = f": {last['error']}" if last.get("error") else ""
        lines.append(f"last run: {last.get('outcome')} (started {last.get('started_at')}){error}")
    directory = status["backup_dir"]
    free = "unknown" if directory["free"] is None else format_size(directory["free"])
    lines.append(f"{directory['path']}: {directory['files']} files, {format_size(directory['size'])}, {free} free")
    if status["healthy"]:
        lines.append(f"healthy: every enabled kind has a good backup younger than {status['max_age_hours']}h")
    else:
        lines.append("UNHEALTHY: " + "; ".join(status["problems"]))
    return "\n".join(lines) + "\n"
