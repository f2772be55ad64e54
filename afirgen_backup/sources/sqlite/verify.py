"""Checks of a sessions.db backup: the decompressed copy passes PRAGMA integrity_check (`integrity`) and holds the
tables and row counts its manifest lists (`tables`)."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check, check_checksum, check_manifest, decode_stream
from afirgen_backup.sources.sqlite import swap


def check_file(entry: BackupEntry, *, copy_to: Path | None = None) -> list[Check]:
    """Every check of a sessions backup; the decompressed database is left at `copy_to` (else in a temp file)."""
    if copy_to is not None:
        return check_manifest(entry) + check_sessions_file(entry.path, entry.manifest, copy_to)
    with tempfile.TemporaryDirectory(prefix="afirgen-verify-") as temp:
        return check_manifest(entry) + check_sessions_file(entry.path, entry.manifest, Path(temp) / "sessions.db")


def check_tables(copy: swap.CheckedCopy, manifest: dict[str, Any]) -> Check:
    expected = manifest.get("row_counts") or {}
    if copy.row_counts != expected:
        differing = sorted(set(expected) ^ set(copy.row_counts)) + sorted(
            t for t in set(expected) & set(copy.row_counts) if expected[t] != copy.row_counts[t]
        )
        details = ", ".join(
            f"{t} ({expected.get(t, 'absent')} expected, {copy.row_counts.get(t, 'absent')} found)" for t in differing
        )
        return Check("tables", False, f"tables or row counts differ from the manifest: {details}")
    return Check("tables", True, f"{len(expected)} tables, {sum(expected.values())} rows as in the manifest")


def check_sessions_file(path: Path, manifest: dict[str, Any] | None, copy: Path) -> list[Check]:
    """Checks of a sessions backup; the decompressed database is left at `copy`."""
    checks = [check_checksum(path, manifest)] if manifest else []
    with open(copy, "wb") as sink:
        stream, _ = decode_stream(path, sink)
    checks.append(stream)
    if not stream.ok:
        return checks
    try:
        checked = swap.check_copy(copy)
    except sqlite3.DatabaseError as error:
        checks.append(Check("integrity", False, f"not a usable SQLite database: {error}"))
        return checks
    if checked.integrity != "ok":
        checks.append(Check("integrity", False, f"PRAGMA integrity_check: {checked.integrity}"))
        return checks
    checks.append(Check("integrity", True, "PRAGMA integrity_check: ok"))
    if manifest:
        checks.append(check_tables(checked, manifest))
    return checks
