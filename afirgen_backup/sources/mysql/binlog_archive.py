"""The binary log archive in BACKUP_DIR/binlog: what the stream wrote, sealed file by file.

Layout:
- `binlog/.stream/<file>`: the raw files the streamer (mariadb-binlog --raw) is writing or has written, named as on
  the server; the newest one is open, its bytes on disk event by event.
- `binlog/<file>.gz` with `binlog/<file>.gz.json`: a sealed file, once the server has rotated past it (or shut
  down: it ends with a STOP event). The manifest holds the raw file's sha256 and size, the compressed file's, and
  what binlog_file.read_binlog read in it: events, server id and version, first and last event time and GTID, the
  file it rotated to, its last position. A file is sealed only when it reads back whole (every event, every CRC).
- `binlog/stream.json`: the stream's state (actions/binlog_stream.py writes it): running, where, lag, and the
  gaps, the files the server purged before they were archived.

Everything here is read as untrusted input: a sealed file counts only with a manifest that describes it, a name
only when binlog_file.binlog_sequence takes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup.catalog.manifests import load_json_object
from afirgen_backup.files import (
    READ_CHUNK,
    UnsafeFile,
    fsync_directory,
    lstat_or_none,
    open_regular_for_reading,
    sha256_of_file,
    write_file_atomically,
)
from afirgen_backup.publish import GzipPublisher
from afirgen_backup.sources.mysql.binlog_file import BinlogDamaged, BinlogFacts, binlog_sequence, read_binlog

ARCHIVE_NAME = "binlog"
STREAM_NAME = ".stream"
SEALED_SUFFIX = ".gz"
MANIFEST_SUFFIX = ".json"
STATE_NAME = "stream.json"
MANIFEST_FORMAT = 1


class ArchiveConflict(Exception):
    """The archive already holds a sealed file of that name with other content (the server's binary log was
    reset, RESET MASTER, and numbers its files from 1 again)."""


@dataclass(frozen=True)
class SealedBinlog:
    name: str  # the server's file name, e.g. mysql-bin.000042
    path: Path  # the .gz
    manifest: dict[str, Any]

    @property
    def sequence(self) -> tuple[str, int]:
        found = binlog_sequence(self.name)
        assert found is not None  # scan_archive takes no other name
        return found

    @property
    def next_file(self) -> str | None:
        """The file the server wrote after this one: the one its ROTATE event names, or the next number after
        a STOP (the server restarted)."""
        named = self.manifest.get("next_file")
        return following(self.name, str(self.manifest.get("ends_with")), named if isinstance(named, str) else None)

    def event_time(self, which: str) -> datetime | None:
        value = self.manifest.get(f"{which}_event_time")
        if not isinstance(value, str):
            return None
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value).astimezone(UTC)
        return None


def following(name: str, ends_with: str, next_file: str | None) -> str | None:
    """The file the server wrote after `name`: the one its final ROTATE names, or the next number after a STOP."""
    if next_file is not None and binlog_sequence(next_file) is not None:
        return next_file
    found = binlog_sequence(name)
    if ends_with == "stop" and found is not None:
        base, number = found
        return f"{base}.{number + 1:0{len(name) - len(base) - 1}d}"
    return None


def archive_dir(backup_dir: Path) -> Path:
    return backup_dir / ARCHIVE_NAME


def stream_dir(backup_dir: Path) -> Path:
    return archive_dir(backup_dir) / STREAM_NAME


def sealed_path(archive: Path, name: str) -> Path:
    return archive / f"{name}{SEALED_SUFFIX}"


def manifest_path(sealed: Path) -> Path:
    return sealed.with_name(sealed.name + MANIFEST_SUFFIX)


def by_sequence(names: list[str]) -> list[str]:
    """Binary log file names in the server's order (base name, then number); other names are dropped."""
    parsed = [(found, name) for name in names if (found := binlog_sequence(name)) is not None]
    return [name for _, name in sorted(parsed)]


def raw_files(backup_dir: Path) -> list[Path]:
    """The stream's raw files, oldest first (regular files named like a binary log; anything else is ignored)."""
    directory = stream_dir(backup_dir)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    regular = []
    for name in by_sequence(names):
        info = lstat_or_none(directory / name)
        if info is not None and stat.S_ISREG(info.st_mode):
            regular.append(directory / name)
    return regular


def twins(backup_dir: Path) -> list[str]:
    """The names the archive holds twice, sealed and in the stream (.stream/), as two different files: the server
    reused the name after RESET MASTER, or a file was planted. A raw file that is the sealed one (the moment
    between sealing it and removing it) is none."""
    sealed = {item.name: item for item in scan_archive(backup_dir)[0]}
    found = []
    for raw in raw_files(backup_dir):
        item = sealed.get(raw.name)
        if item is not None and sha256_of_file(raw)[0] != item.manifest.get("raw_sha256"):
            found.append(raw.name)
    return found


def scan_archive(backup_dir: Path) -> tuple[list[SealedBinlog], list[str]]:
    """(sealed files in the server's order, problems): a .gz without a readable manifest that describes it is a
    problem, never a sealed file."""
    archive = archive_dir(backup_dir)
    try:
        names = os.listdir(archive)
    except FileNotFoundError:
        return [], []
    found, problems = [], []
    for name in by_sequence([n.removesuffix(SEALED_SUFFIX) for n in names if n.endswith(SEALED_SUFFIX)]):
        path = sealed_path(archive, name)
        manifest, problem = load_json_object(manifest_path(path))
        if problem is not None or manifest is None:
            problems.append(f"{path.name}: {problem or 'no manifest'}")
        elif manifest.get("file") != path.name or manifest.get("kind") != "binlog":
            problems.append(f"{path.name}: its manifest describes {str(manifest.get('file'))[:100]!r}")
        else:
            found.append(SealedBinlog(name, path, manifest))
    return found, problems


def closed_raw_files(backup_dir: Path) -> list[Path]:
    """The raw files the server is done with: every one but the newest, and the newest too when it ended with a
    STOP or ROTATE event (read as the stream may still be writing it)."""
    files = raw_files(backup_dir)
    if not files:
        return []
    newest = files[-1]
    try:
        if read_binlog(newest, allow_partial_tail=True).ends_with != "open":
            return files
    except (BinlogDamaged, OSError):
        pass
    return files[:-1]


def describe(facts: BinlogFacts) -> dict[str, Any]:
    def moment(seconds: int | None) -> str | None:
        return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds is not None else None

    return {
        "events": facts.events,
        "server_version": facts.server_version,
        "server_id": facts.server_id,
        "checksums": facts.checksums,
        "first_event_time": moment(facts.first_event_time),
        "last_event_time": moment(facts.last_event_time),
        "first_gtid": facts.first_gtid,
        "last_gtid": facts.last_gtid,
        "ends_with": facts.ends_with,
        "next_file": facts.next_file,
        "last_position": facts.last_position,
    }


def seal(raw: Path, backup_dir: Path, *, level: int) -> SealedBinlog:
    """Compress a closed raw file into the archive with its manifest, then remove the raw file.

    BinlogDamaged when the raw file is not a whole binary log (it stays, to be fetched again); ArchiveConflict
    when the archive holds another file of that name. Sealing again after a crash midway is safe: a sealed file
    that describes this raw file already is kept, one without a manifest is made again.
    """
    facts = read_binlog(raw, allow_partial_tail=False)
    if facts.truncated_bytes or facts.ends_with == "open":
        raise BinlogDamaged(raw.name, facts.size, "the file is not closed (no ROTATE or STOP event at its end)")
    archive = archive_dir(backup_dir)
    final = sealed_path(archive, raw.name)
    existing, _ = load_json_object(manifest_path(final))
    raw_sha256, _ = sha256_of_file(raw)
    if existing is not None and lstat_or_none(final) is not None:
        if existing.get("raw_sha256") != raw_sha256:
            raise ArchiveConflict(
                f"{final.name} in the archive holds another {raw.name} than the server sent now: was the "
                "server's binary log reset (RESET MASTER)? Move the archive's files aside to go on"
            )
    else:
        with contextlib.suppress(FileNotFoundError):
            final.unlink()  # the data of a seal that crashed before its manifest
        written, raw_size = compress(raw, final, level)
        manifest = {
            "format": MANIFEST_FORMAT,
            "kind": "binlog",
            "file": final.name,
            "binlog_file": raw.name,
            "sha256": written[0],
            "size": written[1],
            "raw_sha256": raw_sha256,
            "raw_size": raw_size,
            "sealed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **describe(facts),
        }
        write_file_atomically(manifest_path(final), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        existing = manifest
    raw.unlink()
    fsync_directory(raw.parent)
    return SealedBinlog(raw.name, final, existing)


def compress(raw: Path, final: Path, level: int) -> tuple[tuple[str, int], int]:
    """((sha256, size) of the .gz, size of the raw file): written as a backup is (publish.py)."""
    with open_regular_for_reading(raw) as source, GzipPublisher(final, level=level, threads=1) as publisher:
        while chunk := source.read(READ_CHUNK):
            publisher.write(chunk)
        written = publisher.publish()
        return (written.sha256, written.size), publisher.uncompressed_size


def files_before(backup_dir: Path, first_needed: str) -> list[SealedBinlog]:
    """The sealed files a roll forward from `first_needed` on never reads: those of the same base name before it
    (a file of another base name, from before the server's log was renamed, is kept: nothing says it is not
    needed)."""
    needed = binlog_sequence(first_needed)
    if needed is None:
        return []
    sealed, _ = scan_archive(backup_dir)
    return [item for item in sealed if item.sequence[0] == needed[0] and item.sequence < needed]


def check_stream_dir(backup_dir: Path) -> None:
    """binlog/.stream must be a private directory of this user holding regular files only: the streaming client
    opens its files there by name, and would write through a link (UnsafeFile, or ArchiveConflict for the
    directory's owner or mode). Checked before each start and at each seal: a narrower window, not none."""
    directory = stream_dir(backup_dir)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(directory, info.st_mode, "write", "a directory")
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise ArchiveConflict(
            f"{directory} belongs to uid {info.st_uid} with mode {stat.S_IMODE(info.st_mode):o}: binlog-stream "
            f"writes only into a directory of its own user with mode 700; fix it (chmod 700, chown) or remove it"
        )
    for name in os.listdir(directory):
        entry = os.lstat(directory / name)
        if not stat.S_ISREG(entry.st_mode) or entry.st_uid != os.geteuid():
            raise UnsafeFile(directory / name, entry.st_mode, "write")


def gtid_continues(before: object, after: object) -> bool:
    """Whether the first GTID of a file can follow the last of the file before it: not when both are of one
    domain and server (MariaDB d-s-n) or one server (MySQL uuid:n) and the number did not grow (the log was
    reset, RESET MASTER, and numbers its transactions and files again)."""
    if not isinstance(before, str) or not isinstance(after, str):
        return True
    left, right = (
        before.rpartition("-" if ":" not in before else ":"),
        after.rpartition("-" if ":" not in after else ":"),
    )
    if left[0] != right[0] or not left[2].isdigit() or not right[2].isdigit():
        return True
    return int(right[2]) > int(left[2])
