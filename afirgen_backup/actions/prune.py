"""prune: apply the retention policy to BACKUP_DIR (or, with --dry-run, only say what it would delete).

A file that cannot be deleted (no permission, an I/O error, a directory where a manifest should be) is logged
as `prune_failed` and left; the others are still pruned, and the result names every failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from afirgen_backup import catalog
from afirgen_backup.archive import describe_os_error, fsync_directory
from afirgen_backup.config import Settings
from afirgen_backup.logs import get_logger
from afirgen_backup.retention import Decision, RetentionPolicy, plan_retention


@dataclass
class PruneResult:
    decisions: list[Decision]
    deleted: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # file name -> why it could not be deleted

    @property
    def error(self) -> str | None:
        """One line naming every file that could not be deleted, or None when there is none."""
        if not self.failures:
            return None
        files = "; ".join(f"{name} ({reason})" for name, reason in self.failures.items())
        return f"prune could not delete {files}"


def prune_backups(
    settings: Settings,
    *,
    dry_run: bool = False,
    skip_kinds: Collection[str] = (),
    now: datetime | None = None,
) -> PruneResult:
    """Delete what the policy says (backup file, then its manifest); return every decision and every failure."""
    log = get_logger()
    now = now or datetime.now(UTC)
    found = catalog.scan(settings.backup_dir)
    policy = RetentionPolicy(settings.retention_days, settings.keep_last)
    result = PruneResult(plan_retention(found.backups, policy, now, skip_kinds=skip_kinds))
    removed_any = False
    for decision in result.decisions:
        if not decision.delete:
            continue
        backup = found.find(decision.backup.name)
        assert backup is not None
        if dry_run:
            log.info("prune_would_delete", file=backup.name, reason=decision.reason)
            continue
        # The manifest goes only after its backup file, so that no backup file is ever left without its manifest.
        for path in (backup.path, catalog.manifest_path(backup.path)):
            try:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            except OSError as error:
                result.failures[path.name] = error.strerror or str(error)
                log.error("prune_failed", file=path.name, error=describe_os_error(error), reason=decision.reason)
                break
            removed_any = True
        else:
            result.deleted.append(backup.name)
            log.info("pruned", file=backup.name, reason=decision.reason)
    if removed_any:
        fsync_directory(settings.backup_dir)
    log.info(
        "prune_finished" if not dry_run else "prune_dry_run",
        deleted=len(result.deleted),
        would_delete=sum(1 for d in result.decisions if d.delete) if dry_run else 0,
        failed=len(result.failures),
        kept=sum(1 for d in result.decisions if not d.delete),
        skipped_kinds=sorted(skip_kinds),
    )
    return result
