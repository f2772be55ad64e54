"""What is in BACKUP_DIR: backup names, their manifests, leftovers, and the record of the last run.

A backup is `mysql_backup_YYYYMMDD_HHMMSS.sql.gz` or `sessions_backup_YYYYMMDD_HHMMSS.db.gz` (UTC) with a JSON
manifest `<name>.json` beside it. A file counts as a good backup only when its manifest is readable, its size is
the size the manifest recorded, and its last verification, if any, found nothing wrong with the file (a restore
test that failed on its own does not count against it): retention counts only good
backups as copies to keep, and `status` and `latest` look only at them. Establishing that takes a stat, no
reading of the file (`verify` does that and records the result in the manifest).

Which backup is the newest does not depend on the clock: every manifest published since sequences were
introduced carries a `sequence`, one more than the highest found in the manifests of BACKUP_DIR, safety/ and
misdated/ when it was published (under the run's lock). Among good backups of a kind the highest sequence is the
newest, whatever date its name carries; backups without a sequence (older manifests) come before every backup
that has one and are ordered by the time in their names, as before. A backup without a sequence whose name is
dated in the future (a clock set back, a file copied in from another machine) is not taken as the newest of its
kind: it may well hold older data than the runs dated before it.

Everything in BACKUP_DIR is untrusted input. A name is looked at with lstat: only regular files are backups,
manifests or records; a symbolic link, FIFO, socket, device or directory with such a name is never opened (it
is listed among the catalog's `strangers`). A manifest or last_run.json is read through files.open_regular
(no link followed, no blocking on a FIFO) and at most MAX_JSON_BYTES of it; one that is not a JSON object of
bounded depth, in UTF-8, without NaN or Infinity, is reported as damaged, never raised.

The package's modules: names.py (names and what lstat says), manifests.py (reading them as untrusted input,
storing results in them), entries.py (a directory's backups, which are good, which is newest), last_run.py
(the record of the last run), lookup.py (a backup named on the command line; safety/ and misdated/).
"""

from __future__ import annotations

from afirgen_backup.catalog.entries import (
    BackupEntry,
    Catalog,
    entry_for,
    next_sequence,
    scan,
)
from afirgen_backup.catalog.last_run import (
    failed_kinds,
    failing_kinds,
    fit_record,
    last_run_refusal,
    load_last_run,
    next_record_sequence,
    overwrite_last_run,
    read_last_run,
    snapshot_supersedes,
    write_last_run,
)
from afirgen_backup.catalog.lookup import (
    FUTURE_DATED_COMMAND,
    entry_for_path,
    locate_backup,
    reached_without_links,
    safety_dir,
    why_not_latest,
)
from afirgen_backup.catalog.manifests import (
    MAX_JSON_BYTES,
    MAX_JSON_CONTAINERS,
    MAX_JSON_DEPTH,
    MAX_JSON_SEPARATORS,
    load_json_object,
    load_manifest,
    nesting_depth,
    parse_json_object,
    read_manifest,
    record_offsite,
    record_restore_test,
    record_verification,
    refuse_constant,
    write_manifest,
)
from afirgen_backup.catalog.names import (
    ALERTS_NAME,
    FUTURE_TOLERANCE,
    KINDS,
    LAST_RUN_NAME,
    LAST_SNAPSHOT_NAME,
    MANIFEST_FORMAT,
    MANIFEST_SUFFIX,
    MISDATED_DIR_NAME,
    NAME_FORMATS,
    NAME_PATTERNS,
    OFFSITE_KEY,
    RECORD_NAMES,
    RESTORE_TEST_CHECK,
    RESTORE_TEST_KEY,
    SAFETY_DIR_NAME,
    SNAPSHOT_KEY,
    STAMP_FORMAT,
    VERIFY_FAILED,
    backup_name,
    backup_root,
    entry_kind,
    format_stamp,
    is_ours,
    is_real_directory,
    is_regular_file,
    last_run_path,
    manifest_owner,
    manifest_path,
    misdated_path,
    parse_backup_name,
    safety_path,
)

__all__ = [
    "ALERTS_NAME",
    "BackupEntry",
    "Catalog",
    "FUTURE_DATED_COMMAND",
    "FUTURE_TOLERANCE",
    "KINDS",
    "LAST_RUN_NAME",
    "LAST_SNAPSHOT_NAME",
    "RECORD_NAMES",
    "SNAPSHOT_KEY",
    "MANIFEST_FORMAT",
    "MANIFEST_SUFFIX",
    "MAX_JSON_BYTES",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_SEPARATORS",
    "MISDATED_DIR_NAME",
    "NAME_FORMATS",
    "NAME_PATTERNS",
    "OFFSITE_KEY",
    "RESTORE_TEST_CHECK",
    "RESTORE_TEST_KEY",
    "SAFETY_DIR_NAME",
    "STAMP_FORMAT",
    "VERIFY_FAILED",
    "backup_name",
    "backup_root",
    "entry_for",
    "entry_for_path",
    "entry_kind",
    "failed_kinds",
    "failing_kinds",
    "snapshot_supersedes",
    "next_record_sequence",
    "fit_record",
    "format_stamp",
    "is_ours",
    "is_real_directory",
    "is_regular_file",
    "last_run_path",
    "last_run_refusal",
    "load_json_object",
    "load_last_run",
    "load_manifest",
    "locate_backup",
    "manifest_owner",
    "manifest_path",
    "misdated_path",
    "nesting_depth",
    "next_sequence",
    "overwrite_last_run",
    "parse_backup_name",
    "parse_json_object",
    "reached_without_links",
    "read_last_run",
    "read_manifest",
    "record_offsite",
    "record_restore_test",
    "record_verification",
    "refuse_constant",
    "safety_dir",
    "safety_path",
    "scan",
    "why_not_latest",
    "write_last_run",
    "write_manifest",
]
