"""A fake BACKUP_DIR for the unit tests that look at one through the CLI (list, status)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from afirgen_backup import catalog


def publish_fake_backup(directory: Path, kind: str, age: timedelta, *, manifest: bool = True) -> Path:
    """A 1500-byte file named like a backup of that age, with a manifest unless told otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / catalog.backup_name(kind, datetime.now(UTC) - age)
    path.write_bytes(b"x" * 1500)
    if manifest:
        catalog.write_manifest(path, {"file": path.name, "kind": kind, "sha256": "0" * 64, "size": 1500})
    return path
