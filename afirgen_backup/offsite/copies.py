"""Putting a backup off-site: upload, check what was stored, record it.

A backup goes as `<prefix>/<name>` (`<name>.age` when BACKUP_AGE_RECIPIENTS is set: encrypted on the way, nothing
leaves the host in the clear) with its manifest as `<prefix>/<name>.json` (`.json.age`). The manifest that goes
along records the uploaded object's sha256 and size besides the plaintext's, so that a copy fetched back on
another host is checked against it. An upload counts only once the stored object was read back and its size and
sha256 are what was sent (our own sha256: S3-compatible stores differ in the checksums they enforce), and the file
read for it was the backup its manifest describes. Then the local manifest records it under `offsite`.

Which backups go: every good backup in BACKUP_DIR that has no copy at this bucket and prefix yet, oldest first per
kind, so a run after an outage catches up. A kind whose upload fails stops there (its later backups wait for the
next run) and is not pruned remotely. A file that is not the backup its manifest describes (damaged on disk since
it was published) is hashed before anything is sent and skipped: the run fails naming it, the kind's later
backups still go, and the kind is not pruned remotely. Multipart uploads that a killed run left are aborted at
the start.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check, Verification, record_result
from afirgen_backup.config import Settings
from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.errors import BackupError, ConfigError, Interrupted, describe_error
from afirgen_backup.files import UnsafeFile, open_regular_for_reading, sha256_of_file, sha256_of_stream
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.crypto import HashingReader, encrypting
from afirgen_backup.offsite.store import OffsiteFailed, Store

ENCRYPTED_SUFFIX = ".age"
BINLOG_DIR = "binlog/"  # under the prefix: the archived binary log (offsite/binlogs.py)
MANIFEST_SUFFIX = ".json"


class BackupChanged(BackupError):
    """The backup file is not the one its manifest describes (damaged on disk, or changed while it was sent): it
    is not copied, and the later backups of its kind still are."""


@dataclass
class OffsiteResult:
    """What the off-site step of a run did."""

    uploaded: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # kind -> why its uploads stopped
    damaged: dict[str, str] = field(default_factory=dict)  # backup name -> why it was skipped (BackupChanged)
    aborted: list[str] = field(default_factory=list)  # multipart uploads a killed run left
    pruned: list[str] = field(default_factory=list)
    prune_failures: dict[str, str] = field(default_factory=dict)  # object key -> why it could not be deleted

    @property
    def error(self) -> str | None:
        problems = [f"{kind}: {why}" for kind, why in self.failures.items()]
        problems += list(self.damaged.values())
        problems += [f"could not delete {key} ({why})" for key, why in self.prune_failures.items()]
        return f"off-site copy failed: {'; '.join(problems)}" if problems else None


def object_names(name: str, settings: OffsiteSettings) -> tuple[str, str]:
    """The object keys of a backup and of its manifest."""
    suffix = ENCRYPTED_SUFFIX if settings.encrypted else ""
    return settings.key(name + suffix), settings.key(name + MANIFEST_SUFFIX + suffix)


def is_our_object(name: str) -> bool:
    """A backup's or a manifest's object name (relative to the prefix), in the clear or encrypted, or an archived
    binary log file's or its manifest's under binlog/ (offsite/binlogs.py)."""
    from afirgen_backup.offsite.binlogs import is_binlog_object

    if name.startswith(BINLOG_DIR):
        return is_binlog_object(name[len(BINLOG_DIR) :])
    base = name.removesuffix(ENCRYPTED_SUFFIX).removesuffix(MANIFEST_SUFFIX)
    return "/" not in base and catalog.parse_backup_name(base) is not None


def is_copied(entry: BackupEntry, settings: OffsiteSettings, *, remote_name: str | None = None) -> bool:
    """The manifest records a checked copy of this backup at this bucket, prefix and endpoint (as `remote_name`
    under the prefix, default its own name)."""
    record = entry.offsite
    if record is None:
        return False
    key, _ = object_names(remote_name or entry.name, settings)
    return (
        record.get("bucket") == settings.bucket
        and record.get("key") == key
        and record.get("endpoint") == settings.endpoint_url
    )


def object_arguments(settings: OffsiteSettings, now: datetime) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if settings.storage_class:
        extra["StorageClass"] = settings.storage_class
    if settings.object_lock_days:
        extra["ObjectLockMode"] = "COMPLIANCE"
        extra["ObjectLockRetainUntilDate"] = now + timedelta(days=settings.object_lock_days)
    return extra


def check_stored(store: Store, key: str, sha256: str, size: int) -> None:
    """Read the object back: its size and sha256 must be what was sent."""
    stored = store.head(key)
    if stored is None:
        raise OffsiteFailed(f"{key} is not in {store.where} after its upload")
    if stored.size != size:
        raise OffsiteFailed(f"{key} in {store.where} has {stored.size} bytes, {size} were sent")
    digest = hashlib.sha256()
    for chunk in store.read(key):
        digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise OffsiteFailed(f"{key} in {store.where} does not read back as sent (sha256 differs)")


def upload_encrypted(store: Store, key: str, source: Any, extra: dict[str, Any]) -> HashingReader:
    """Upload `source` encrypted to the settings' recipients; what was sent, hashed (not checked yet)."""
    with encrypting(source, store.settings.recipients) as stream:
        sent = HashingReader(stream)
        store.upload(key, sent, extra)
    return sent


def send_encrypted(store: Store, key: str, source: Any, extra: dict[str, Any]) -> HashingReader:
    """Upload `source` encrypted to the settings' recipients, and check it; what was sent, hashed."""
    sent = upload_encrypted(store, key, source, extra)
    check_stored(store, key, sent.sha256, sent.size)
    return sent


def send_plain(store: Store, key: str, source: Any, extra: dict[str, Any], sha256: str, size: int) -> None:
    """Upload `source` as it is and check that the stored object is `sha256` and `size`."""
    store.upload(key, source, extra)
    check_stored(store, key, sha256, size)


def discard(store: Store, key: str) -> None:
    """Delete the object just uploaded as `key` (its current version): a data object whose check failed must not
    stay without a manifest. One the store keeps (Object Lock, the store down) is logged and left."""
    log = get_logger(part="offsite")
    try:
        stored = store.head(key)
        if stored is not None:
            store.delete(stored)
    except OffsiteFailed as error:
        log.error("offsite_discard_failed", key=key, error=str(error))
        return
    log.warning("offsite_discarded", key=key)


@contextlib.contextmanager
def discarded_on_failure(store: Store, key: str) -> Iterator[None]:
    """The checks of an object just uploaded as `key`: when one fails, the object is deleted again."""
    try:
        yield
    except (BackupChanged, OffsiteFailed):
        discard(store, key)
        raise


def changed_while_sent(name: str) -> BackupChanged:
    return BackupChanged(
        f"{name} changed while it was sent (its sha256 or size no longer match its manifest): not copied; run "
        f"`verify {name}`"
    )


def send_backup_file(store: Store, entry: BackupEntry, key: str, extra: dict[str, Any]) -> tuple[str, int]:
    """Upload the backup file as `key` and check it; the stored object's sha256 and size.

    The file is hashed first (READ_CHUNK at a time): one that is not the backup its manifest describes is
    BackupChanged before anything is sent. The upload reads the same open file again, so it may still change in
    between: the checks after the upload stay (the object read back is the manifest's backup; for an encrypted
    copy, the plaintext hashed as it was sent is), and when one fails the object is deleted again.
    """
    assert entry.manifest is not None
    expected = (str(entry.manifest.get("sha256")), int(entry.manifest.get("size") or 0))
    with open_regular_for_reading(entry.path) as handle:
        if sha256_of_stream(handle) != expected:
            raise BackupChanged(
                f"{entry.name} does not match its manifest (sha256 or size differ): damaged since it was "
                f"published, not copied; run `verify {entry.name}`"
            )
        handle.seek(0)
        if store.settings.encrypted:
            plain = HashingReader(handle)
            sent = upload_encrypted(store, key, plain, extra)
            with discarded_on_failure(store, key):
                if (plain.sha256, plain.size) != expected:
                    raise changed_while_sent(entry.name)
                check_stored(store, key, sent.sha256, sent.size)
            return sent.sha256, sent.size
        store.upload(key, handle, extra)  # a file is read part by part where it lies (and closed after)
    with discarded_on_failure(store, key):
        try:
            check_stored(store, key, *expected)
        except OffsiteFailed:
            if not still_described(entry.path, expected):  # the file's doing, not the store's
                raise changed_while_sent(entry.name) from None
            raise
    return expected


def still_described(path: Path, expected: tuple[str, int]) -> bool:
    """The file at `path` is still the sha256 and size its manifest records."""
    try:
        return sha256_of_file(path) == expected
    except (OSError, UnsafeFile):
        return False


def upload_backup(
    store: Store, entry: BackupEntry, now: datetime | None = None, *, remote_name: str | None = None
) -> dict[str, Any]:
    """Upload one good backup (or archived binary log file) and its manifest as `remote_name` (default: its own
    name at the prefix), check both, record the copy in the local manifest; the record."""
    settings = store.settings
    manifest = entry.manifest
    if manifest is None:
        raise OffsiteFailed(f"{entry.name} has no manifest: not copied")
    now = now or datetime.now(UTC)
    key, manifest_key = object_names(remote_name or entry.name, settings)
    extra = object_arguments(settings, now)
    sent_sha256, sent_size = send_backup_file(store, entry, key, extra)
    locked_until = extra.get("ObjectLockRetainUntilDate")
    record: dict[str, Any] = {
        "url": f"s3://{settings.bucket}/{key}",
        "bucket": settings.bucket,
        "key": key,
        "endpoint": settings.endpoint_url,
        "encrypted": settings.encrypted,
        "recipients": list(settings.recipients),
        "object_sha256": sent_sha256,
        "object_size": sent_size,
        "storage_class": settings.storage_class,
        "locked_until": locked_until.isoformat(timespec="seconds") if locked_until else None,
        "uploaded_at": now.isoformat(timespec="seconds"),
    }
    remote_manifest = {key_: value for key_, value in manifest.items() if key_ != catalog.OFFSITE_KEY}
    remote_manifest[catalog.OFFSITE_KEY] = record
    text = (json.dumps(remote_manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    if settings.encrypted:
        manifest_sha256 = send_encrypted(store, manifest_key, io.BytesIO(text), extra).sha256
    else:
        manifest_sha256 = hashlib.sha256(text).hexdigest()
        send_plain(store, manifest_key, io.BytesIO(text), extra, manifest_sha256, len(text))
    record = dict(record, manifest_key=manifest_key, manifest_sha256=manifest_sha256)
    catalog.record_offsite(entry.path, record)
    return record


def pending_backups(settings: Settings) -> dict[str, list[BackupEntry]]:
    """Per kind, the good backups of BACKUP_DIR without a copy at this bucket and prefix, oldest first. Frequent
    sessions snapshots stay local: the run's own sessions backup, newer than all of them, is the one to copy."""
    assert settings.offsite is not None
    found = catalog.scan(settings.backup_dir)
    pending: dict[str, list[BackupEntry]] = {}
    for kind in catalog.KINDS:
        waiting = [b for b in found.of_kind(kind) if b.good and not b.snapshot and not is_copied(b, settings.offsite)]
        if waiting:
            pending[kind] = sorted(waiting, key=lambda b: b.order)
    return pending


def copy_offsite(settings: Settings, started: datetime, *, skip_kinds: Collection[str] = ()) -> OffsiteResult:
    """The off-site step of a run (under the run's lock): abort what a killed run left, upload every pending
    backup, then apply retention to the remote copies of each kind whose uploads all succeeded and whose backup
    did not fail in this run (`skip_kinds`).

    A ConfigError (credentials, bucket) is raised: nothing can be copied until a setting changes. A backup file
    that is not the one its manifest describes is recorded in the result and skipped; any other failure of a kind
    is recorded in the result and stops that kind only. Either way that kind is not pruned remotely. When the
    step's time is over (BACKUP_S3_TIMEOUT_MINUTES) or a signal came, the whole step stops with it (OffsiteFailed,
    Interrupted).
    """
    assert settings.offsite is not None
    store = Store(settings.offsite, seconds=settings.offsite.timeout_minutes * 60)
    with store.watched():
        return copy_and_prune(store, settings, started, skip_kinds)


def copy_and_prune(store: Store, settings: Settings, started: datetime, skip_kinds: Collection[str]) -> OffsiteResult:
    from afirgen_backup.offsite.binlogs import KIND as KIND_BINLOG
    from afirgen_backup.offsite.binlogs import copy_binlogs, prune_binlog_copies
    from afirgen_backup.offsite.prune import prune_remote

    log = get_logger(part="offsite")
    result = OffsiteResult()
    result.aborted = store.abort_unfinished_uploads(before=started, ours=is_our_object)
    if result.aborted:
        log.warning("offsite_unfinished_uploads_aborted", keys=result.aborted)
    damaged_kinds: set[str] = set()
    for kind, entries in pending_backups(settings).items():
        for entry in entries:
            try:
                record = upload_backup(store, entry)
            except (Interrupted, ConfigError):
                raise
            except BackupChanged as error:  # this file only: the next one may well be good
                result.damaged[entry.name] = str(error)
                damaged_kinds.add(kind)
                log.error("offsite_skipped_damaged", file=entry.name, error=str(error))
                # kept as a failed verification: the file no longer counts as good, for retention either
                record_result(Verification(entry, [Check("sha256", False, str(error))]))
                continue
            except (BackupError, OSError) as error:
                store.deadline.check_stop()  # the step's time is over, or a signal came: no other kind is tried
                why = f"{entry.name}: {describe_error(error, settings.backup_dir)}"
                if isinstance(error, UnsafeFile):
                    why = f"{entry.name}: {error}"
                result.failures[kind] = why
                log.error("offsite_upload_failed", file=entry.name, error=why)
                break
            result.uploaded.append(entry.name)
            log.info(
                "offsite_uploaded",
                file=entry.name,
                url=record["url"],
                encrypted=record["encrypted"],
                object_size=record["object_size"],
            )
    copy_binlogs(store, settings, result)
    skipped = {*result.failures, *damaged_kinds, *skip_kinds}
    pruned = prune_remote(store, settings, skip_kinds=skipped)
    result.pruned, result.prune_failures = pruned.deleted, pruned.failures
    if not skipped & {"mysql", KIND_BINLOG}:
        prune_binlog_copies(store, settings, result)
    return result
