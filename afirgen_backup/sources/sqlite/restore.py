"""Restoring sessions.db: a checked copy beside the target, swapped in without a stale journal (swap.py).

A symlinked target is followed, so that the database it points to is replaced, not the link. The old file is
kept as `<target>.before-restore-<UTC stamp>` (with `-2`, `-3`, ... when that name is taken) together with its
-wal/-journal (which belong to it), the -shm is removed, and only then does the restored file take the target's
name. A target another process has open is replaced only with --yes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import refuse_damaged
from afirgen_backup.errors import UsageError
from afirgen_backup.logs import get_logger
from afirgen_backup.sources.sqlite import swap
from afirgen_backup.sources.sqlite.verify import check_file


def copy_ownership(old: os.stat_result | None, path: Path) -> None:
    """The restored file gets the old file's mode and owner, so that the application can still open it."""
    if old is None:
        os.chmod(path, 0o644)
        return
    os.chmod(path, old.st_mode & 0o7777)
    try:
        os.chown(path, old.st_uid, old.st_gid)
    except PermissionError:
        get_logger().warning("cannot_keep_owner", file=str(path), uid=old.st_uid, gid=old.st_gid)


def restore(entry: BackupEntry, target: Path, *, yes: bool, facts: dict[str, Any]) -> None:
    """Swap a checked copy of the backup in for `target` (already checked by swap.check_target); the audit facts
    go into `facts`. The caller holds the BACKUP_DIR lock."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.restore-", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        refuse_damaged(entry, check_file(entry, copy_to=temp), str(target))
        holders = swap.find_lock_holders(target)
        if holders and not yes:
            raise UsageError(
                f"{target} is in use ({'; '.join(holders)}): stop the application first, "
                "or run again with --yes to replace it anyway"
            )
        if holders:
            get_logger().warning("restore_over_open_database", target=str(target), holders=holders)
        kept = swap.unused_kept_name(target, catalog.format_stamp(datetime.now(UTC)))
        copy_ownership(target.stat() if target.exists() else None, temp)
        replacement = swap.replace_database(temp, target, kept)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    facts["kept"] = str(replacement.kept) if replacement.kept else None
    facts["moved_journals"] = [str(p) for p in replacement.moved]
    facts["removed"] = [str(p) for p in replacement.removed]
