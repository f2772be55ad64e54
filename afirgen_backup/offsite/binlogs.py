"""Off-site copies of the binary log archive (docs/pitr.md): each sealed file goes with its manifest to
`<prefix>/binlog/<file>.gz[.age]` and `<prefix>/binlog/<file>.gz.json[.age]`, uploaded and checked as a backup is
(copies.upload_backup), oldest first, in each run's off-site step; the local manifest records the copy. A failure
stops the binary log's uploads for that run (kind `binlog` in the run's off-site error), and the next run catches
up. The raw file the stream is still writing never goes: it is not sealed.

Remote copies of the archive are not pruned by the tool: give the bucket a lifecycle rule for `<prefix>/binlog/`
at least as long as BACKUP_RETENTION_DAYS.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
from afirgen_backup.offsite.store import Store
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
