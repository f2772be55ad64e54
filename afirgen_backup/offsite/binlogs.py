"""Off-site copies of the binary log archive (docs/pitr.md): each sealed file goes with its manifest to
`<prefix>/binlog/<file>.gz[.age]` and `<prefix>/binlog/<file>.gz.json[.age]`, uploaded and checked as a backup is
(copies.upload_backup), oldest first, in each run's off-site step; the local manifest records the copy. A failure
stops the binary log's uploads for that run (kind `binlog` in the run's off-site error), and the next run catches
up. The raw file the stream is still writing never goes: it is not sealed.

After the remote retention of a run, the copies no kept dump needs go too (prune_binlog_copies), by the rule the
local archive follows: the files before the coordinates of the oldest MySQL dump still in the bucket. Those
coordinates are read from that dump's local manifest; while any dump in the bucket has none here (it was pruned
locally but is held remotely, or never recorded any), every copy of the archive stays.
"""

from __future__ import annotations

from datetime import UTC, datetime

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, ConfigError, Interrupted, describe_error
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.copies import (
    BINLOG_DIR,
    ENCRYPTED_SUFFIX,
    MANIFEST_SUFFIX,
    OffsiteResult,
    is_copied,
    upload_backup,
)
from afirgen_backup.offsite.prune import RemotePrune, delete_backup
from afirgen_backup.offsite.remote import RemoteBackup, scan_remote
from afirgen_backup.offsite.store import OffsiteFailed, Store, StoredObject
from afirgen_backup.sources.mysql.binlog_archive import SEALED_SUFFIX, SealedBinlog, scan_archive
from afirgen_backup.sources.mysql.binlog_file import binlog_sequence

KIND = "binlog"


def is_binlog_object(name: str) -> bool:
    """An archived file's or its manifest's object name (relative to `<prefix>/binlog/`)."""
    base = name.removesuffix(ENCRYPTED_SUFFIX).removesuffix(MANIFEST_SUFFIX).removesuffix(SEALED_SUFFIX)
    return "/" not in base and binlog_sequence(base) is not None


def as_entry(item: SealedBinlog) -> BackupEntry:
    """A sealed file as the upload takes a backup."""
    sealed_at = item.manifest.get("sealed_at")
    try:
        moment = datetime.fromisoformat(str(sealed_at))
    except ValueError:
        moment = datetime.now(UTC)
    return BackupEntry(KIND, item.path.name, item.path, moment, int(item.manifest.get("size") or 0), item.manifest)


def copy_binlogs(store: Store, settings: Settings, result: OffsiteResult) -> None:
    """Upload every sealed file of the archive not yet at this bucket and prefix, oldest first."""
    if not settings.mysql_enabled:
        return
    log = get_logger(part="offsite")
    sealed, _problems = scan_archive(settings.backup_dir)
    for item in sealed:
        entry, remote_name = as_entry(item), BINLOG_DIR + item.path.name
        if is_copied(entry, store.settings, remote_name=remote_name):
            continue
        try:
            record = upload_backup(store, entry, remote_name=remote_name)
        except (Interrupted, ConfigError):
            raise
        except (BackupError, OSError) as error:
            store.deadline.check_stop()
            why = f"{item.path.name}: {describe_error(error, settings.backup_dir)}"
            result.failures[KIND] = why
            log.error("offsite_upload_failed", file=item.path.name, error=why)
            return
        result.uploaded.append(f"{BINLOG_DIR}{item.path.name}")
        log.info("offsite_uploaded", file=f"{BINLOG_DIR}{item.path.name}", url=record["url"])


def first_needed(store: Store, settings: Settings) -> str | None:
    """The archive's file the oldest MySQL dump in the bucket rolls forward from, or None when that cannot be told
    (no dump there, or one whose coordinates no local manifest records): then nothing may go."""
    from afirgen_backup.sources.mysql.binlog_replay import recorded_coordinates

    local = {entry.name: entry for entry in catalog.scan(settings.backup_dir).of_kind("mysql")}
    starts = []
    for copy in scan_remote(store).of_kind("mysql"):
        entry = local.get(copy.name)
        coordinates = recorded_coordinates(entry) if entry is not None else None
        if coordinates is None:
            return None
        starts.append((coordinates[2], coordinates[0]))
    return min(starts)[1] if starts else None


def copies_by_file(objects: list[StoredObject], prefix: str) -> dict[str, RemoteBackup]:
    """The archive's copies in the bucket, by file name (`mysql-bin.000007.gz`), each with its data and manifest."""
    found: dict[str, RemoteBackup] = {}
    for stored in objects:
        relative = stored.key[len(prefix) :]
        encrypted = relative.endswith(ENCRYPTED_SUFFIX)
        base = relative.removesuffix(ENCRYPTED_SUFFIX)
        is_manifest = base.endswith(MANIFEST_SUFFIX)
        name = base.removesuffix(MANIFEST_SUFFIX)
        if not is_binlog_object(relative) or not name.endswith(SEALED_SUFFIX):
            continue
        copy = found.setdefault(
            name + (ENCRYPTED_SUFFIX if encrypted else ""), RemoteBackup(KIND, name, MOMENT, encrypted)
        )
        if is_manifest:
            copy.manifest = stored
        else:
            copy.data = stored
    return found


MOMENT = datetime(1970, 1, 1, tzinfo=UTC)  # a copy of the archive is judged by its file's place, not a date


def prune_binlog_copies(store: Store, settings: Settings, result: OffsiteResult) -> None:
    """Delete the copies of archived files before the one the oldest dump in the bucket needs (same base name, as
    binlog_archive.files_before decides locally); every version, data before manifest, none under a lock."""
    if not settings.mysql_enabled:
        return
    log = get_logger(part="offsite")
    try:
        needed_name = first_needed(store, settings)
        if needed_name is None or (needed := binlog_sequence(needed_name)) is None:
            return
        folder = (f"{store.settings.prefix}/" if store.settings.prefix else "") + BINLOG_DIR
        copies = copies_by_file(store.list_objects(under=BINLOG_DIR), folder)
    except OffsiteFailed as error:
        store.deadline.check_stop()
        result.prune_failures[store.settings.url + "/" + BINLOG_DIR] = str(error)
        return
    pruned = RemotePrune()
    now = datetime.now(UTC)
    for copy in copies.values():
        sequence = binlog_sequence(copy.name.removesuffix(SEALED_SUFFIX))
        if sequence is None or sequence[0] != needed[0] or sequence >= needed:
            continue
        if delete_backup(store, copy, now, pruned):
            result.pruned.append(BINLOG_DIR + copy.name)
            log.info(
                "offsite_pruned",
                file=BINLOG_DIR + copy.name,
                reason=f"before {needed_name}, which the oldest dump needs",
            )
    result.prune_failures.update(pruned.failures)
