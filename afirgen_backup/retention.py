"""The retention policy, a pure function of (backups, policy, now).

Per kind, a backup is deleted only when both hold:
- it is older than BACKUP_RETENTION_DAYS (age taken from the UTC time in its name), and
- at least BACKUP_KEEP_LAST good backups of the same kind are newer than it.
Backups are counted by name: two copies of one backup (remote ones, in the clear and encrypted) are one backup,
and the copy that sorts first of them (newest first) is the one that counts and stays; the other may go by age.
So the newest BACKUP_KEEP_LAST good backups are never deleted, whatever their age, and a file that is not a
good backup (catalog/entries.py: no manifest, a size the manifest does not record, a failed verify) is
never deleted while it might be among the last usable copies. A backup dated in the future is kept and does not
count as a newer copy: after a clock was set back, it may hold older data than the runs dated before it, and
counting it would let retention delete the backups actually taken last. A kind whose last backup failed (in this
run, or for a manual prune in the last recorded run) is not pruned at all: when backups keep failing, the old
ones are all that is left.

A frequent sessions snapshot (`backup --sessions-snapshot`, BACKUP_SESSIONS_SCHEDULE) is kept for
BACKUP_SESSIONS_SNAPSHOT_HOURS instead of BACKUP_RETENTION_DAYS, under the same floor: it is deleted only when
BACKUP_KEEP_LAST good backups of its kind are newer than it, and it counts as one of them for older backups.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from afirgen_backup.catalog import FUTURE_TOLERANCE


class Backup(Protocol):
    kind: str
    name: str
    time: datetime

    @property
    def good(self) -> bool: ...

    @property
    def snapshot(self) -> bool: ...

    @property
    def order(self) -> tuple[bool, int, datetime, str]: ...


@dataclass(frozen=True)
class RetentionPolicy:
    retention_days: int
    keep_last: int
    snapshot_hours: int = 24  # how long a frequent sessions snapshot is kept


@dataclass(frozen=True)
class Decision:
    backup: Backup
    delete: bool
    reason: str


def plan_retention(
    backups: Iterable[Backup],
    policy: RetentionPolicy,
    now: datetime,
    *,
    skip_kinds: Collection[str] = (),
) -> list[Decision]:
    """Decide, for every backup, whether retention deletes it and why; newest first within each kind."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if policy.keep_last < 1:
        raise ValueError("keep_last must be at least 1")
    cutoffs = {False: now - timedelta(days=policy.retention_days), True: now - timedelta(hours=policy.snapshot_hours)}
    younger = {False: f"{policy.retention_days} days", True: f"{policy.snapshot_hours} hours (a frequent snapshot)"}
    future = now + FUTURE_TOLERANCE
    by_kind: dict[str, list[Backup]] = {}
    for backup in backups:
        by_kind.setdefault(backup.kind, []).append(backup)

    decisions: list[Decision] = []
    for kind in sorted(by_kind):
        # Newest first by publishing order (catalog.BackupEntry.order: the manifest's sequence, else the time in
        # the name), so that the floor of keep_last protects the backups taken last even after the clock went back.
        newest_first: Sequence[Backup] = sorted(by_kind[kind], key=lambda b: b.order, reverse=True)
        good_newer: set[str] = set()  # names: a backup that is there twice still counts once
        for backup in newest_first:
            if kind in skip_kinds:
                decision = Decision(backup, False, "kept: this kind's last backup failed")
            elif backup.time > future:
                decision = Decision(backup, False, "kept: dated in the future (not counted as a newer copy)")
            elif backup.time >= cutoffs[backup.snapshot]:
                decision = Decision(backup, False, f"kept: younger than {younger[backup.snapshot]}")
            elif len(good_newer) < policy.keep_last:
                decision = Decision(backup, False, f"kept: one of the newest {policy.keep_last} good backups")
                if not backup.good:
                    decision = Decision(
                        backup, False, f"kept: fewer than {policy.keep_last} good backups are newer than it"
                    )
            else:
                decision = Decision(backup, True, f"older than {younger[backup.snapshot]}")
            decisions.append(decision)
            if backup.good and backup.time <= future:
                good_newer.add(backup.name)
    return decisions
