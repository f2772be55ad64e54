"""prune: apply the retention policy to BACKUP_DIR (or, with --dry-run, only say what it would delete)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from datetime import UTC, datetime

from afirgen_backup import catalog
from afirgen_backup.archive import fsync_directory
from afirgen_backup.config import Settings
from afirgen_backup.logs import get_logger
from afirgen_backup.retention import Decision, RetentionPolicy, plan_retention


def prune_backups(
    settings: Settings,
    *,
    dry_run: bool = False,
    skip_kinds: Collection[str] = (),
    now: datetime | None = None,
) -> list[Decision]:
    """Delete what the policy says (backup file and manifest); return every decision."""
    log = get_logger()
    now = now or datetime.now(UTC)
    found = catalog.scan(settings.backup_dir)
    policy = RetentionPolicy(settings.retention_days, settings.keep_last)
    decisions = plan_retention(found.backups, policy, now, skip_kinds=skip_kinds)
    deleted = []
    for decision in decisions:
        if not decision.delete:
            continue
        backup = found.find(decision.backup.name)
        assert backup is not None
        if dry_run:
            log.info("prune_would_delete", file=backup.name, reason=decision.reason)
            continue
        for path in (backup.path, catalog.manifest_path(backup.path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        deleted.append(backup.name)
        log.info("pruned", file=backup.name, reason=decision.reason)
    if deleted:
        fsync_directory(settings.backup_dir)
    kept = sum(1 for d in decisions if not d.delete)
    log.info(
        "prune_finished" if not dry_run else "prune_dry_run",
        deleted=len(deleted),
        would_delete=sum(1 for d in decisions if d.delete) if dry_run else 0,
        kept=kept,
        skipped_kinds=sorted(skip_kinds),
    )
    return decisions
