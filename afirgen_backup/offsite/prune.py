"""Retention of the remote copies: the local rules (retention.py: older than BACKUP_RETENTION_DAYS and not among
the newest BACKUP_KEEP_LAST good backups of the kind), applied to what the bucket holds. The floor counts backups,
not copies: a backup there both in the clear and encrypted is one, and a copy that is incomplete or known to be
damaged (remote.note_known_damage) is none; the older duplicate of a backup goes by age like any copy.

It runs after the uploads of a run, only for the kinds whose uploads all succeeded (and whose backup did not fail
in that run): while a kind's copies are failing, every remote copy of it stays. An object still under Object Lock
retention, or under a legal hold, is kept and is no error; every version of a deleted object goes (on a versioned
bucket a plain delete would only hide it). The data object goes before its manifest, so that no copy is ever left
without its manifest. When the step's time is over, or a signal came, pruning stops there (store.py's deadline).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from afirgen_backup import catalog
from afirgen_backup.config import Settings
from afirgen_backup.errors import describe_error
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.remote import RemoteBackup, note_known_damage, scan_remote
from afirgen_backup.offsite.store import OffsiteFailed, Store, StoredObject
from afirgen_backup.retention import RetentionPolicy, plan_retention


@dataclass
class RemotePrune:
    deleted: list[str] = field(default_factory=list)  # backup names whose every object went
    locked: list[str] = field(default_factory=list)  # object keys kept under Object Lock retention
    failures: dict[str, str] = field(default_factory=dict)  # object key -> why it could not be deleted


def prune_remote(
    store: Store, settings: Settings, *, skip_kinds: Collection[str], now: datetime | None = None
) -> RemotePrune:
    log = get_logger(part="offsite")
    now = now or datetime.now(UTC)
    result = RemotePrune()
    try:
        remote = scan_remote(store)
    except OffsiteFailed as error:
        store.deadline.check_stop()
        result.failures[store.settings.url] = str(error)
        return result
    note_known_damage(remote, catalog.scan(settings.backup_dir).backups, store.settings)
    policy = RetentionPolicy(settings.retention_days, settings.keep_last, settings.sessions_snapshot_hours)
    for decision in plan_retention(remote.backups, policy, now, skip_kinds=skip_kinds):
        if not decision.delete:
            continue
        backup = decision.backup
        assert isinstance(backup, RemoteBackup)
        if delete_backup(store, backup, now, result):
            result.deleted.append(backup.name)
            log.info("offsite_pruned", file=backup.name, reason=decision.reason)
    return result


def delete_backup(store: Store, backup: RemoteBackup, now: datetime, result: RemotePrune) -> bool:
    """Delete every version of the backup's objects, data first; False when something stays. Nothing is deleted
    while any version of either object is under a retention date or a legal hold: a copy goes whole or not at all."""
    doing = backup.objects[0].key if backup.objects else backup.name
    try:
        versions = [(stored.key, store.versions(stored.key)) for stored in backup.objects]
        held = [key for key, found in versions for version in found if is_locked(version, now)]
        if held:
            result.locked.extend(dict.fromkeys(held))
            return False
        for key, found in versions:
            doing = key  # named in the failure
            for version in found:
                store.delete(version)
    except OffsiteFailed as error:
        store.deadline.check_stop()
        result.failures[doing] = describe_error(error)
        get_logger(part="offsite").error("offsite_prune_failed", key=doing, error=str(error))
        return False
    return True


def is_locked(version: StoredObject, now: datetime) -> bool:
    return version.legal_hold or (version.retain_until is not None and version.retain_until > now)
