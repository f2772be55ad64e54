"""What a directory of backups holds (BACKUP_DIR, safety/, misdated/): lstat only, and a bounded read of each
backup's manifest. Which backup is good, and which is the newest, is decided here."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup.catalog.manifests import load_manifest
from afirgen_backup.catalog.names import (
    FUTURE_TOLERANCE,
    MANIFEST_SUFFIX,
    MISDATED_DIR_NAME,
    OFFSITE_KEY,
    RESTORE_TEST_CHECK,
    SAFETY_DIR_NAME,
    SNAPSHOT_KEY,
    VERIFY_FAILED,
    backup_root,
    is_ours,
    is_real_directory,
    manifest_owner,
    parse_backup_name,
)
from afirgen_backup.errors import BackupError
from afirgen_backup.files import describe_file_type
from afirgen_backup.publish import PARTIAL_SUFFIX


@dataclass
class BackupEntry:
    kind: str
    name: str
    path: Path
    time: datetime
    size: int
    manifest: dict[str, Any] | None = field(default=None, repr=False)
    manifest_problem: str | None = None  # "manifest unreadable: ..." when there is one that cannot be used

    @property
    def flaw(self) -> str | None:
        """Why this file is not a usable backup, or None when it is one."""
        if self.manifest is None:
            return self.manifest_problem or "no manifest"
        verification = self.verification
        if verification is not None and verification.get("ok") is False:
            # A failed restore test alone may be the server's doing (privileges, a scratch name taken): the file
            # is damaged only when one of the checks of the file itself failed.
            checks = verification.get("checks")
            failed = (
                [c.get("check") for c in checks if isinstance(c, dict) and not c.get("ok")]
                if isinstance(checks, list)
                else None
            )
            if failed is None or any(name != RESTORE_TEST_CHECK for name in failed):
                return VERIFY_FAILED
        recorded = self.manifest.get("size")
        if recorded != self.size:
            return f"{self.size} bytes, the manifest says {recorded}"
        return None

    @property
    def good(self) -> bool:
        return self.flaw is None

    def in_future(self, now: datetime) -> bool:
        return self.time > now + FUTURE_TOLERANCE

    @property
    def sequence(self) -> int | None:
        """The publishing order recorded in the manifest (load_manifest checked it), None in older manifests."""
        value = self.manifest.get("sequence") if self.manifest else None
        return value if isinstance(value, int) else None

    @property
    def order(self) -> tuple[bool, int, datetime, str]:
        """Sort key, newest last: by sequence, then (without one, before every backup that has one) by name."""
        sequence = self.sequence
        return (sequence is not None, sequence if sequence is not None else -1, self.time, self.name)

    @property
    def snapshot(self) -> bool:
        """A frequent sessions snapshot (`backup --sessions-snapshot`): kept BACKUP_SESSIONS_SNAPSHOT_HOURS, not
        copied off-site (the full run's own backup of the kind is)."""
        return self.kind == "sessions" and self.manifest is not None and self.manifest.get(SNAPSHOT_KEY) is True

    @property
    def offsite(self) -> dict[str, Any] | None:
        """The manifest's record of the off-site copy (offsite/copies.py), None when there is none."""
        value = self.manifest.get(OFFSITE_KEY) if self.manifest else None
        return value if isinstance(value, dict) else None

    @property
    def verification(self) -> dict[str, Any] | None:
        if self.manifest is None:
            return None
        value = self.manifest.get("verification")
        return value if isinstance(value, dict) else None


@dataclass
class Catalog:
    backups: list[BackupEntry]
    partials: list[Path]
    orphan_manifests: list[Path]
    strangers: list[tuple[Path, str]] = field(default_factory=list)  # named like ours, not a regular file: (path, what)

    def of_kind(self, kind: str) -> list[BackupEntry]:
        """Backups of one kind, newest first by the dates in their names."""
        return sorted((b for b in self.backups if b.kind == kind), key=lambda b: b.time, reverse=True)

    def newest_good(self, kind: str, now: datetime | None = None) -> BackupEntry | None:
        """The newest good backup of `kind`: the highest sequence, whatever the clock said when it was taken.

        Among backups without a sequence (older manifests) one dated in the future is never the newest.
        """
        now = now or datetime.now(UTC)
        usable = [b for b in self.of_kind(kind) if b.good and (b.sequence is not None or not b.in_future(now))]
        return max(usable, key=lambda b: b.order, default=None)

    def newest_current(self, kind: str, now: datetime) -> BackupEntry | None:
        """The good backup of `kind` with the latest date not in the future: what `status` takes the age of."""
        return next((b for b in self.of_kind(kind) if b.good and not b.in_future(now)), None)

    def newest_published(self, kind: str) -> BackupEntry | None:
        """The newest backup of `kind` that has a manifest, whether or not it is still good."""
        return next((b for b in self.of_kind(kind) if b.manifest is not None), None)

    def in_future(self, kind: str, now: datetime) -> list[BackupEntry]:
        return [b for b in self.of_kind(kind) if b.in_future(now)]

    def find(self, name: str) -> BackupEntry | None:
        return next((b for b in self.backups if b.name == name), None)

    @property
    def highest_sequence(self) -> int:
        """The highest sequence of the backups found (0 when none has one)."""
        return max((b.sequence for b in self.backups if b.sequence is not None), default=0)


def entry_for(path: Path) -> BackupEntry | tuple[Path, str] | None:
    """The catalog entry of a file named like a backup: a BackupEntry for a regular file, (path, what it is) for
    anything else (never opened), None when the name is not a backup's or nothing has it."""
    parsed = parse_backup_name(path.name)
    if parsed is None:
        return None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return path, describe_file_type(info.st_mode)
    kind, moment = parsed
    manifest, problem = load_manifest(path)
    return BackupEntry(kind, path.name, path, moment, info.st_size, manifest, problem)


def scan(backup_dir: Path) -> Catalog:
    """What BACKUP_DIR (or safety/, misdated/) holds; lstat only, and a bounded read of each backup's manifest."""
    found = Catalog([], [], [])
    manifests: list[Path] = []
    try:
        entries = sorted(backup_dir.iterdir())
    except FileNotFoundError:
        entries = []
    except OSError as error:
        raise BackupError(f"cannot read the backup directory {backup_dir}: {error.strerror or error}") from error
    for path in entries:
        name = path.name
        if not is_ours(name):
            continue
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            found.strangers.append((path, describe_file_type(mode)))
        elif name.endswith(PARTIAL_SUFFIX):
            found.partials.append(path)
        elif name.endswith(MANIFEST_SUFFIX):
            manifests.append(path)
        else:
            entry = entry_for(path)
            if isinstance(entry, BackupEntry):
                found.backups.append(entry)
            elif entry is not None:
                found.strangers.append(entry)
    names = {b.name for b in found.backups}
    found.orphan_manifests = [m for m in manifests if m.name[: -len(MANIFEST_SUFFIX)] not in names]
    # a backup's own manifest that is not a regular file is named by its entry (manifest_problem) already
    found.strangers = [(p, what) for p, what in found.strangers if manifest_owner(p.name) not in names]
    return found


def next_sequence(directory: Path) -> int:
    """One more than the highest sequence in the manifests of BACKUP_DIR, safety/ and misdated/ (call it under
    the run's lock). A directory that cannot be read, or is not a real directory, counts as having none."""
    root = backup_root(directory)
    highest = 0
    for place in dict.fromkeys((directory, root, root / SAFETY_DIR_NAME, root / MISDATED_DIR_NAME)):
        if place != root and place != directory and not is_real_directory(place):
            continue
        with contextlib.suppress(BackupError):
            highest = max(highest, scan(place).highest_sequence)
    return highest + 1
