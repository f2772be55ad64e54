"""BACKUP_DIR/last_run.json: the outcome of the last backup run, for `status`; written so that a full disk never
leaves the previous run's record speaking for this one. The frequent sessions snapshots (`backup
--sessions-snapshot`) keep theirs apart, in last_snapshot.json (`snapshot=True`): a snapshot every five minutes
must not hide a failed full run."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from afirgen_backup.catalog.manifests import load_json_object
from afirgen_backup.catalog.names import last_run_path
from afirgen_backup.files import UnsafeFile, open_regular, require_regular_or_absent, write_file_atomically


def last_run_refusal(backup_dir: Path, *, snapshot: bool = False) -> str | None:
    """Why last_run.json cannot be written (a link, a FIFO, a directory there), or None."""
    try:
        require_regular_or_absent(last_run_path(backup_dir, snapshot=snapshot), "write")
    except UnsafeFile as error:
        return str(error)
    except OSError:
        return None
    return None


def write_last_run(backup_dir: Path, record: dict[str, Any], *, snapshot: bool = False) -> None:
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    write_file_atomically(last_run_path(backup_dir, snapshot=snapshot), text.encode())


def overwrite_last_run(backup_dir: Path, record: dict[str, Any], *, snapshot: bool = False) -> bool:
    """Write `record` over the existing last_run.json, in the blocks the file already has, when the atomic write
    cannot get space (a full disk). False when there is no such file or the record cannot be made to fit.

    On a full ext4 or XFS a new file gets no block even after others are deleted, until the journal commits; an
    overwrite inside a file's size needs none. The text is padded with spaces to the old size (JSON allows
    trailing white space), so nothing of the previous record is left after it; a record too long to fit is cut
    to its outcome and the start of its error.
    """
    path = last_run_path(backup_dir, snapshot=snapshot)
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


def read_last_run(backup_dir: Path, *, snapshot: bool = False) -> dict[str, Any] | None:
    return load_last_run(backup_dir, snapshot=snapshot)[0]


def load_last_run(backup_dir: Path, *, snapshot: bool = False) -> tuple[dict[str, Any] | None, str | None]:
    """(record, problem): (None, None) when there is no record; a problem when there is one that cannot be read
    (a link, a FIFO, too big, not a JSON object: load_json_object)."""
    path = last_run_path(backup_dir, snapshot=snapshot)
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


def started(record: dict[str, Any] | None) -> datetime | None:
    """When a record's run started, None when it does not say (or says nonsense)."""
    try:
        moment = datetime.fromisoformat(str((record or {}).get("started_at")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def record_sequence(record: dict[str, Any] | None) -> int | None:
    value = (record or {}).get("record_sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def next_record_sequence(backup_dir: Path) -> int:
    """One more than the highest `record_sequence` of last_run.json and last_snapshot.json (call it under the
    run's lock): which record is the later one, whatever the clock said."""
    found = [record_sequence(read_last_run(backup_dir, snapshot=snapshot)) for snapshot in (False, True)]
    return max((number for number in found if number is not None), default=0) + 1


def snapshot_supersedes(snapshot: dict[str, Any] | None, full: dict[str, Any] | None) -> bool:
    """Whether the last sessions snapshot's record speaks for sessions.db: there is one, and no full run whose
    sessions part succeeded came after it (by record_sequence, else by start time; a record that says neither is
    taken as the later one, so that a damaged record never hides a failure)."""
    if snapshot is None:
        return False
    if full is None or not part_succeeded(full, "sessions"):
        return True
    ours, theirs = record_sequence(snapshot), record_sequence(full)
    if ours is not None and theirs is not None:
        return ours > theirs
    taken, run = started(snapshot), started(full)
    return taken is None or run is None or taken > run


def part_succeeded(record: dict[str, Any], kind: str) -> bool:
    parts = record.get("parts")
    part = parts.get(kind) if isinstance(parts, dict) else None
    return isinstance(part, dict) and part.get("ok") is True


def failing_kinds(backup_dir: Path) -> list[str]:
    """The kinds whose last backup failed: the last full run's failed parts, and sessions when the last snapshot
    failed after it."""
    full = read_last_run(backup_dir)
    snapshot = read_last_run(backup_dir, snapshot=True)
    kinds = set(failed_kinds(full))
    if snapshot_supersedes(snapshot, full):
        kinds.update(failed_kinds(snapshot))
    return sorted(kinds)
