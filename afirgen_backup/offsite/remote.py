"""What the bucket holds: the remote copies by backup name, read from the object keys alone.

A copy is `<prefix>/<name>[.age]` with its manifest `<prefix>/<name>.json[.age]`; it is complete (`good`) when both
are there and nothing known says it is damaged (note_known_damage: this host's record of the upload). One backup
may have two copies, one in the clear and one encrypted (after BACKUP_AGE_RECIPIENTS was set). Objects under the
prefix that are named like no backup are listed as `others` and never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.offsite.copies import ENCRYPTED_SUFFIX, MANIFEST_SUFFIX
from afirgen_backup.offsite.store import Store, StoredObject

FUTURE_SLACK = timedelta(hours=1)  # a copy named more than this ahead of the clock is never the newest


@dataclass
class RemoteBackup:
    kind: str
    name: str
    time: datetime
    encrypted: bool
    data: StoredObject | None = None
    manifest: StoredObject | None = None
    damaged: str | None = None  # why the copy is known to be damaged (note_known_damage)

    @property
    def good(self) -> bool:
        return self.data is not None and self.manifest is not None and self.damaged is None

    @property
    def snapshot(self) -> bool:
        """Frequent sessions snapshots are never copied off-site (retention.Backup)."""
        return False

    @property
    def order(self) -> tuple[bool, int, datetime, str]:
        """Newest last by the time in the name (retention.Backup); remote copies carry no sequence of their own.
        Of two copies of one backup the encrypted one sorts last, the newer: retention keeps it rather than the
        copy in the clear, as `find` prefers it."""
        return (False, -1, self.time, self.name + (ENCRYPTED_SUFFIX if self.encrypted else ""))

    @property
    def size(self) -> int:
        return self.data.size if self.data is not None else 0

    @property
    def objects(self) -> list[StoredObject]:
        """The backup's objects, the data before its manifest (the order they are deleted in)."""
        return [item for item in (self.data, self.manifest) if item is not None]


@dataclass
class RemoteCatalog:
    backups: list[RemoteBackup] = field(default_factory=list)
    others: list[StoredObject] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[RemoteBackup]:
        """The copies of one kind, newest first."""
        return sorted((b for b in self.backups if b.kind == kind), key=lambda b: b.order, reverse=True)

    def newest_good(self, kind: str, now: datetime | None = None) -> RemoteBackup | None:
        """The newest complete copy of a kind, never one named more than FUTURE_SLACK ahead of the clock (planted,
        or made by a host whose clock was wrong): such a copy is used only when named."""
        latest = (now or datetime.now(UTC)) + FUTURE_SLACK
        return next((b for b in self.of_kind(kind) if b.good and b.time <= latest), None)

    def ahead_of_the_clock(self, kind: str, now: datetime | None = None) -> list[str]:
        latest = (now or datetime.now(UTC)) + FUTURE_SLACK
        return [b.name for b in self.of_kind(kind) if b.good and b.time > latest]

    def find(self, name: str) -> RemoteBackup | None:
        """The copy of that backup name: a complete one before an incomplete one, then an encrypted one before one
        in the clear."""
        matches = sorted((b for b in self.backups if b.name == name), key=lambda b: (not b.good, not b.encrypted))
        return next(iter(matches), None)


def known_damage(record: dict[str, Any], data: StoredObject) -> str | None:
    """What this host's record of an upload (a local manifest's `offsite`) says is wrong with the object `data`
    that it names: not the size that was uploaded, or a `verify --remote` that found the copy damaged."""
    if record.get("object_size") != data.size:
        return f"{data.key} has {data.size} bytes, {record.get('object_size')} were uploaded"
    verification = record.get("verification")
    if not isinstance(verification, dict) or verification.get("ok") is not False:
        return None
    failures = verification.get("failures")
    checks = [str(failure).split(":", 1)[0] for failure in failures] if isinstance(failures, list) else []
    if checks and all(check == catalog.RESTORE_TEST_CHECK for check in checks):
        return None  # a failed restore test alone may be the server's doing, as for a local backup
    return f"the last verify --remote of {data.key} found it damaged"


def note_known_damage(remote: RemoteCatalog, local: Iterable[BackupEntry], settings: OffsiteSettings) -> None:
    """Mark the copies that the local manifests' records of their uploads (same bucket and endpoint, same object
    key) know to be damaged: they are no longer `good`, so retention does not count them as a backup kept."""
    by_key = {b.data.key: b for b in remote.backups if b.data is not None}
    for entry in local:
        record = entry.offsite
        if record is None or record.get("bucket") != settings.bucket or record.get("endpoint") != settings.endpoint_url:
            continue
        backup = by_key.get(str(record.get("key")))
        if backup is not None and backup.data is not None and backup.name == entry.name:
            backup.damaged = known_damage(record, backup.data)


def scan_remote(store: Store) -> RemoteCatalog:
    prefix = f"{store.settings.prefix}/" if store.settings.prefix else ""
    found = RemoteCatalog()
    by_name: dict[tuple[str, bool], RemoteBackup] = {}
    for stored in store.list_objects():
        relative = stored.key[len(prefix) :]
        encrypted = relative.endswith(ENCRYPTED_SUFFIX)
        base = relative[: -len(ENCRYPTED_SUFFIX)] if encrypted else relative
        is_manifest = base.endswith(MANIFEST_SUFFIX)
        name = base[: -len(MANIFEST_SUFFIX)] if is_manifest else base
        parsed = catalog.parse_backup_name(name)
        if parsed is None:
            found.others.append(stored)
            continue
        kind, moment = parsed
        backup = by_name.setdefault((name, encrypted), RemoteBackup(kind, name, moment, encrypted))
        if is_manifest:
            backup.manifest = stored
        else:
            backup.data = stored
    found.backups = list(by_name.values())
    return found
