"""What is in BACKUP_DIR: backup names, their manifests, leftovers, and the record of the last run.

A backup is `mysql_backup_YYYYMMDD_HHMMSS.sql.gz` or `sessions_backup_YYYYMMDD_HHMMSS.db.gz` (UTC) with a JSON
manifest `<name>.json` beside it. A file counts as a good backup only when its manifest is readable, its size is
the size the manifest recorded, and its last verification, if any, found nothing wrong with the file (a restore
test that failed on its own does not count against it): retention counts only good
backups as copies to keep, and `status` and `latest` look only at them. Establishing that takes a stat, no
reading of the file (`verify` does that and records the result in the manifest).

A backup whose name is dated in the future (a clock set back, a file copied in from another machine) is not
taken as the newest of its kind: it may well hold older data than the runs dated before it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from afirgen_backup.archive import PARTIAL_SUFFIX, write_file_atomically
from afirgen_backup.errors import BackupError

KINDS = ("mysql", "sessions")
NAME_PATTERNS = {
    "mysql": re.compile(r"^mysql_backup_(\d{8}_\d{6})\.sql\.gz$"),
    "sessions": re.compile(r"^sessions_backup_(\d{8}_\d{6})\.db\.gz$"),
}
NAME_FORMATS = {"mysql": "mysql_backup_{stamp}.sql.gz", "sessions": "sessions_backup_{stamp}.db.gz"}
STAMP_FORMAT = "%Y%m%d_%H%M%S"
MANIFEST_SUFFIX = ".json"
MANIFEST_FORMAT = 1
LAST_RUN_NAME = "last_run.json"
VERIFY_FAILED = "its last verify found it damaged"
RESTORE_TEST_CHECK = "restore-test"
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of hosts sharing BACKUP_DIR may differ this much


def format_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def backup_name(kind: str, moment: datetime) -> str:
    return NAME_FORMATS[kind].format(stamp=format_stamp(moment))


def parse_backup_name(name: str) -> tuple[str, datetime] | None:
    """(kind, UTC time) of a backup file name, or None for anything else."""
    for kind, pattern in NAME_PATTERNS.items():
        match = pattern.match(name)
        if match:
            try:
                return kind, datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                return None
    return None


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def read_manifest(backup: Path) -> dict[str, Any] | None:
    """The manifest of a backup, or None when it is missing or unreadable."""
    try:
        data = json.loads(manifest_path(backup).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("file") != backup.name:
        return None
    return data


def write_manifest(backup: Path, manifest: dict[str, Any]) -> Path:
    path = manifest_path(backup)
    write_file_atomically(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def record_verification(backup: Path, result: dict[str, Any]) -> None:
    """Store the latest verification result in the backup's manifest (rewritten atomically)."""
    manifest = read_manifest(backup)
    if manifest is None:
        return
    manifest["verification"] = result
    write_manifest(backup, manifest)


@dataclass
class BackupEntry:
    kind: str
    name: str
    path: Path
    time: datetime
    size: int
    manifest: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def flaw(self) -> str | None:
        """Why this file is not a usable backup, or None when it is one."""
        if self.manifest is None:
            return "no manifest"
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

    def of_kind(self, kind: str) -> list[BackupEntry]:
        """Backups of one kind, newest first."""
        return sorted((b for b in self.backups if b.kind == kind), key=lambda b: b.time, reverse=True)

    def newest_good(self, kind: str, now: datetime | None = None) -> BackupEntry | None:
        """The newest good backup of `kind` not dated in the future."""
        now = now or datetime.now(UTC)
        return next((b for b in self.of_kind(kind) if b.good and not b.in_future(now)), None)

    def newest_published(self, kind: str) -> BackupEntry | None:
        """The newest backup of `kind` that has a manifest, whether or not it is still good."""
        return next((b for b in self.of_kind(kind) if b.manifest is not None), None)

    def in_future(self, kind: str, now: datetime) -> list[BackupEntry]:
        return [b for b in self.of_kind(kind) if b.in_future(now)]

    def find(self, name: str) -> BackupEntry | None:
        return next((b for b in self.backups if b.name == name), None)


def scan(backup_dir: Path) -> Catalog:
    backups: list[BackupEntry] = []
    partials: list[Path] = []
    manifests: list[Path] = []
    try:
        entries = sorted(backup_dir.iterdir())
    except FileNotFoundError:
        entries = []
    except OSError as error:
        raise BackupError(f"cannot read the backup directory {backup_dir}: {error.strerror or error}") from error
    for path in entries:
        name = path.name
        if name.endswith(PARTIAL_SUFFIX) and parse_backup_name(name[: -len(PARTIAL_SUFFIX)]):
            partials.append(path)
            continue
        if name.endswith(MANIFEST_SUFFIX) and parse_backup_name(name[: -len(MANIFEST_SUFFIX)]):
            manifests.append(path)
            continue
        parsed = parse_backup_name(name)
        if parsed is None or not path.is_file():
            continue
        kind, moment = parsed
        with contextlib.suppress(FileNotFoundError):
            backups.append(BackupEntry(kind, name, path, moment, path.stat().st_size, read_manifest(path)))
    names = {b.name for b in backups}
    orphans = [m for m in manifests if m.name[: -len(MANIFEST_SUFFIX)] not in names]
    return Catalog(backups, partials, orphans)


def last_run_path(backup_dir: Path) -> Path:
    return backup_dir / LAST_RUN_NAME


def write_last_run(backup_dir: Path, record: dict[str, Any]) -> None:
    write_file_atomically(last_run_path(backup_dir), (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def overwrite_last_run(backup_dir: Path, record: dict[str, Any]) -> bool:
    """Write `record` over the existing last_run.json, in the blocks the file already has, when the atomic write
    cannot get space (a full disk). False when there is no such file or the record cannot be made to fit.

    On a full ext4 or XFS a new file gets no block even after others are deleted, until the journal commits; an
    overwrite inside a file's size needs none. The text is padded with spaces to the old size (JSON allows
    trailing white space), so nothing of the previous record is left after it; a record too long to fit is cut
    to its outcome and the start of its error.
    """
    path = last_run_path(backup_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        room = os.fstat(fd).st_size
        data = fit_record(record, room)
        if data is None:
            return False
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def fit_record(record: dict[str, Any], room: int) -> bytes | None:
    """`record` as JSON padded with spaces to exactly `room` bytes, shortened if it must be; None if it cannot fit.

    Shortening keeps, in this order, the outcome and times, which parts failed, and as much of the error as fits.
    """
    parts = record.get("parts")
    oks = {kind: {"ok": part.get("ok")} for kind, part in parts.items() if isinstance(part, dict)} if parts else {}
    short = {key: record.get(key) for key in ("run_id", "started_at", "finished_at", "outcome")}
    error = str(record.get("error") or "")
    candidates = [record, {**short, "parts": oks, "error": record.get("error")}]
    for base in ({**short, "parts": oks}, short):
        bare = len(json.dumps({**base, "error": ""}).encode())
        keep = room - bare - 3  # the "..." after the cut
        if error and keep > 0:
            candidates.append({**base, "error": error.encode()[:keep].decode(errors="ignore") + "..."})
        candidates.append({**base, "error": None})
    for candidate in candidates:
        data = json.dumps(candidate, sort_keys=True).encode()
        if len(data) <= room:
            return data + b" " * (room - len(data))
    return None


def read_last_run(backup_dir: Path) -> dict[str, Any] | None:
    return load_last_run(backup_dir)[0]


def load_last_run(backup_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(record, problem): (None, None) when there is no record; a problem when there is one that cannot be read."""
    path = last_run_path(backup_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as error:
        return None, f"{path.name} cannot be read: {error.strerror}"
    try:
        data = json.loads(text)
    except ValueError:
        return None, f"{path.name} is not a valid record (damaged?)"
    if not isinstance(data, dict):
        return None, f"{path.name} is not a valid record (damaged?)"
    return data, None


def failed_kinds(record: dict[str, Any] | None) -> list[str]:
    """The kinds whose part failed in a last_run.json record (none when there is no readable record)."""
    parts = record.get("parts") if record else None
    if not isinstance(parts, dict):
        return []
    return sorted(kind for kind, part in parts.items() if isinstance(part, dict) and part.get("ok") is False)
