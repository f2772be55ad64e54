"""What the bucket holds: the remote copies by backup name, read from the object keys alone.

A copy is `<prefix>/<name>[.age]` with its manifest `<prefix>/<name>.json[.age]`; it is complete (`good`) when both
are there. One backup may have two copies, one in the clear and one encrypted (after BACKUP_AGE_RECIPIENTS was set).
Objects under the prefix that are named like no backup are listed as `others` and never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from afirgen_backup import catalog
from afirgen_backup.offsite.copies import ENCRYPTED_SUFFIX, MANIFEST_SUFFIX
from afirgen_backup.offsite.store import Store, StoredObject


@dataclass
class RemoteBackup:
    kind: str
    name: str
    time: datetime
    encrypted: bool
    data: StoredObject | None = None
    manifest: StoredObject | None = None

    @property
    def good(self) -> bool:
        return self.data is not None and self.manifest is not None

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

    def newest_good(self, kind: str) -> RemoteBackup | None:
        return next((b for b in self.of_kind(kind) if b.good), None)

    def find(self, name: str) -> RemoteBackup | None:
        """The copy of that backup name (an encrypted one before one in the clear when both are there)."""
        matches = sorted((b for b in self.backups if b.name == name), key=lambda b: not b.encrypted)
        return next(iter(matches), None)


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
