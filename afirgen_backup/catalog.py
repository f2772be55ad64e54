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
is listed among the catalog's `strangers`). A manifest or last_run.json is read through archive.open_regular
(no link followed, no blocking on a FIFO) and at most MAX_JSON_BYTES of it; one that is not a JSON object of
bounded depth, in UTF-8, without NaN or Infinity, is reported as damaged, never raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from afirgen_backup.archive import (
    PARTIAL_SUFFIX,
    ReadLimitExceeded,
    UnsafeFile,
    describe_file_type,
    open_regular,
    read_regular_file,
    require_regular_or_absent,
    write_file_atomically,
)
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
RESTORE_TEST_KEY = "restore_test"  # the latest restore test's outcome, kept apart from `verification`
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of hosts sharing BACKUP_DIR may differ this much
SAFETY_DIR_NAME = "safety"  # safety backups a restore takes of the database it replaces
MISDATED_DIR_NAME = "misdated"  # backups dated in the future, moved there by `prune --future-dated`
# A manifest lists every table, view and routine with its row counts: about 150 bytes per table, so 16 MiB holds
# the manifest of a schema of some 100,000 tables. The bound keeps a planted file from making `status` (the
# HEALTHCHECK) read and parse without end: at most a second and a few hundred MB for the worst 16 MiB of JSON.
MAX_JSON_BYTES = 16 << 20
MAX_JSON_DEPTH = 32  # a manifest nests 4 deep; json.loads itself overflows the stack near 1000
# Small JSON values cost far more memory parsed than written (`{},` is 3 bytes, a dict over 60): counted in the raw
# bytes first, so that 16 MiB of them cannot take the container's memory. A 100,000-table manifest has ~500,000
# commas and colons and a few dozen brackets.
MAX_JSON_SEPARATORS = 1_000_000
MAX_JSON_CONTAINERS = 100_000


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
    return load_manifest(backup)[0]


def load_manifest(backup: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, problem): (None, None) when there is none; (None, "manifest unreadable: ...") when it is damaged,
    is not a regular file, or belongs to another backup."""
    path = manifest_path(backup)
    data, problem = load_json_object(path)
    if problem is not None:
        return None, f"manifest unreadable: {problem}"
    if data is None:
        return None, None
    if data.get("file") != backup.name:
        return None, f"manifest unreadable: {path.name} is the manifest of {str(data.get('file'))[:200]!r}"
    sequence = data.get("sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0):
        return None, f"manifest unreadable: its sequence {str(sequence)[:40]!r} is not a whole number"
    return data, None


def load_json_object(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(object, problem) from a small JSON file in BACKUP_DIR: (None, None) when there is no such file, a problem
    when it cannot be read safely or is not one bounded JSON object. Never raises for what the file holds."""
    try:
        raw = read_regular_file(path, MAX_JSON_BYTES)
    except FileNotFoundError:
        return None, None
    except UnsafeFile as error:
        return None, f"{path.name} is {error.what}, never opened: remove it"
    except ReadLimitExceeded:
        return None, f"{path.name} is larger than {MAX_JSON_BYTES >> 20} MiB"
    except OSError as error:
        return None, f"{path.name} cannot be read: {error.strerror or error}"
    return parse_json_object(raw, path.name)


def parse_json_object(raw: bytes, name: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{name} is not UTF-8 text"
    containers = raw.count(b"{") + raw.count(b"[")
    if containers > MAX_JSON_CONTAINERS or raw.count(b",") + raw.count(b":") > MAX_JSON_SEPARATORS:
        return None, f"{name} holds more values than a manifest or record ever does"
    try:
        data = json.loads(text, parse_constant=refuse_constant)
    except RecursionError:
        return None, f"{name} is nested too deeply"
    except ValueError as error:  # JSONDecodeError, NaN/Infinity, an integer of thousands of digits
        return None, f"{name} is not valid JSON ({str(error)[:200]})"
    if not isinstance(data, dict):
        return None, f"{name} is not a JSON object"
    if nesting_depth(data) > MAX_JSON_DEPTH:
        return None, f"{name} is nested more than {MAX_JSON_DEPTH} levels deep"
    return data, None


def refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a parsed JSON value (without recursion)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


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


def record_restore_test(backup: Path, result: dict[str, Any]) -> None:
    """Store the outcome of the latest restore test apart from the latest verification: a plain verify after a
    failed restore test must not make it look as if the dump had loaded."""
    manifest = read_manifest(backup)
    if manifest is None:
        return
    manifest[RESTORE_TEST_KEY] = result
    write_manifest(backup, manifest)


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


def is_ours(name: str) -> bool:
    """Whether a name is one of a backup, its manifest or its `.partial` file."""
    for suffix in (PARTIAL_SUFFIX, MANIFEST_SUFFIX, ""):
        if name.endswith(suffix) and parse_backup_name(name[: len(name) - len(suffix)]):
            return True
    return False


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


def manifest_owner(name: str) -> str | None:
    """The backup a manifest's name belongs to, or None for any other name."""
    return name[: -len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else None


def backup_root(directory: Path) -> Path:
    """BACKUP_DIR itself, given BACKUP_DIR or its safety/ or misdated/ directory."""
    return directory.parent if directory.name in (SAFETY_DIR_NAME, MISDATED_DIR_NAME) else directory


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


def is_regular_file(path: Path) -> bool:
    """lstat says a regular file (a link to one is not)."""
    return entry_kind(path) == "a regular file"


def is_real_directory(path: Path) -> bool:
    return entry_kind(path) == "a directory"


def entry_kind(path: Path) -> str | None:
    """What lstat says has that name ("a directory", "a symbolic link" ...), None when nothing does."""
    try:
        return describe_file_type(os.lstat(path).st_mode)
    except OSError:
        return None


def last_run_path(backup_dir: Path) -> Path:
    return backup_dir / LAST_RUN_NAME


def last_run_refusal(backup_dir: Path) -> str | None:
    """Why last_run.json cannot be written (a link, a FIFO, a directory there), or None."""
    try:
        require_regular_or_absent(last_run_path(backup_dir), "write")
    except UnsafeFile as error:
        return str(error)
    except OSError:
        return None
    return None


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
        fd = open_regular(path, os.O_WRONLY, action="write")
    except (OSError, UnsafeFile):
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
    """(record, problem): (None, None) when there is no record; a problem when there is one that cannot be read
    (a link, a FIFO, too big, not a JSON object: load_json_object)."""
    path = last_run_path(backup_dir)
    data, problem = load_json_object(path)
    if problem is not None and problem.startswith(f"{path.name} is not"):
        problem = f"{path.name} is not a valid record (damaged?)"
    return data, problem


def failed_kinds(record: dict[str, Any] | None) -> list[str]:
    """The kinds whose part failed in a last_run.json record (none when there is no readable record)."""
    parts = record.get("parts") if record else None
    if not isinstance(parts, dict):
        return []
    return sorted(kind for kind, part in parts.items() if isinstance(part, dict) and part.get("ok") is False)
