"""status: are the backups healthy? The container's HEALTHCHECK and outside monitors call it.

It only reads: BACKUP_DIR's listing, the manifests, last_run.json and the free space. No decompression, no
hashing, no lock, no log event, nothing written. Healthy (exit 0) when the newest good backup of every enabled
kind (afirgen_backup/catalog.py says what is good) is younger than BACKUP_MAX_AGE_HOURS, none is dated in the
future, BACKUP_DIR can be read and the last run did not fail. A last_run.json that exists but cannot be read or
parsed is unhealthy too, since it may be hiding a failure. An interrupted last run is reported but is not by
itself unhealthy (the age limit catches a run that keeps failing to finish). A backup dated in the future is
unhealthy because it would otherwise look fresh for as long as the clock is wrong.
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
from afirgen_backup.errors import BackupError


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


def kind_status(found: catalog.Catalog, kind: str, now: datetime, max_age_s: float) -> dict[str, Any]:
    ahead = found.in_future(kind, now)
    future = (
        f"{ahead[0].name} is dated {format_age((ahead[0].time - now).total_seconds())} in the future: "
        "is this host's clock right?"
        if ahead
        else None
    )
    entry = found.newest_good(kind, now)
    if entry is None:
        missing = f"no good {kind} backup" + (f"; {future}" if future else "")
        return {"kind": kind, "newest": None, "healthy": False, "problem": missing}
    age = (now - entry.time).total_seconds()
    fresh = age <= max_age_s
    problem: str | None = (
        None if fresh else f"newest {kind} backup is {format_age(age)} old (limit {max_age_s / 3600:g}h)"
    )
    if future:
        problem = f"{problem}; {future}" if problem else future
    return {
        "kind": kind,
        "newest": entry.name,
        "time": entry.time.isoformat(),
        "age_s": int(age),
        "size": entry.size,
        "verification": entry.verification,
        "healthy": problem is None,
        "problem": problem,
    }


def collect_status(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    max_age_s = settings.max_age_hours * 3600.0
    unreadable: str | None = None
    try:
        found = catalog.scan(settings.backup_dir)
    except BackupError as error:  # unreadable: every kind is unknown, and that is the one problem to name
        found, unreadable = catalog.Catalog([], [], []), str(error)
    kinds = [kind_status(found, kind, now, max_age_s) for kind in settings.enabled_kinds]
    last_run, record_problem = catalog.load_last_run(settings.backup_dir)
    problems = [unreadable] if unreadable else [k["problem"] for k in kinds if k["problem"]]
    if record_problem and not unreadable:
        problems.append(record_problem)
    if last_run and last_run.get("outcome") == "failed":
        problems.append(f"last run failed: {last_run.get('error') or 'see backup.log'}")
    files, total = measure_directory(settings.backup_dir)
    return {
        "healthy": not problems,
        "checked_at": now.isoformat(timespec="seconds"),
        "max_age_hours": settings.max_age_hours,
        "kinds": kinds,
        "last_run": last_run,
        "last_run_problem": record_problem,
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
        lines.append("last run: unknown" if status["last_run_problem"] else "last run: none recorded")
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
