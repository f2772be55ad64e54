"""Checks of a backup file, whatever its kind, and where their results are kept.

A check has a name (`manifest`, `checksum`, `stream`, and the sources' own: `trailer`, `statements`,
`integrity`, `tables`, `restore-test`), an outcome and one line of detail. A Verification is the checks of one
file at one time; its record goes into the backup's manifest (`verification`), where `list` and `status` show it,
and a restore test's outcome also goes apart (`restore_test`): only a later restore test replaces it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from isal import isal_zlib

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.errors import VerificationFailed
from afirgen_backup.files import sha256_of_file
from afirgen_backup.logs import get_logger
from afirgen_backup.publish import iter_gzip

STREAM_ERRORS = (EOFError, OSError, ValueError, isal_zlib.error)
TAIL_KEEP = 512
RESTORE_TEST = catalog.RESTORE_TEST_CHECK


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verification:
    entry: BackupEntry
    checks: list[Check] = field(default_factory=list)
    restore_test: bool = False
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.ok]

    def as_record(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(timespec="seconds"),
            "ok": self.ok,
            "restore_test": self.restore_test,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "failures": self.failures,
        }


class Sink(Protocol):
    def write(self, chunk: bytes) -> Any: ...


def check_manifest(entry: BackupEntry) -> list[Check]:
    return [] if entry.manifest else [Check("manifest", False, f"no readable manifest {entry.name}.json")]


def check_checksum(path: Path, manifest: dict[str, Any]) -> Check:
    digest, size = sha256_of_file(path)
    if size != manifest.get("size"):
        return Check("checksum", False, f"size {size} bytes, the manifest says {manifest.get('size')}")
    if digest != manifest.get("sha256"):
        return Check("checksum", False, "sha256 differs from the manifest's: the file was changed or damaged")
    return Check("checksum", True, f"sha256 {digest[:16]}..., {size} bytes")


def describe_stream_error(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated: the gzip stream ends before its end marker"
    return f"corrupt gzip stream: {error}"


def decode_stream(path: Path, sink: Sink | None = None) -> tuple[Check, bytes]:
    """Decode the whole gzip stream (writing it to `sink` if given); the check and the last bytes."""
    tail = b""
    size = 0
    try:
        for chunk in iter_gzip(path):
            size += len(chunk)
            tail = (tail + chunk[-TAIL_KEEP:])[-TAIL_KEEP:]
            if sink is not None:
                sink.write(chunk)
    except STREAM_ERRORS as error:  # type: ignore[misc]  # isal_zlib.error has no type information
        return Check("stream", False, f"{describe_stream_error(error)} (after {size} bytes)"), tail
    return Check("stream", True, f"{size} bytes decoded"), tail


def record_result(verification: Verification) -> None:
    """Store the result in the manifest; undo that if the backup was pruned meanwhile (no orphan manifest).

    The outcome of a restore test is also kept on its own (`restore_test`): only a later restore test replaces
    it, so a failed one keeps counting in `status` through plain verifies and restores."""
    path = verification.entry.path
    try:
        catalog.record_verification(path, verification.as_record())
        restore_test = next((c for c in verification.checks if c.name == RESTORE_TEST), None)
        if restore_test is not None:
            record = {"ok": restore_test.ok, "detail": restore_test.detail}
            catalog.record_restore_test(path, {**record, "time": verification.time.isoformat(timespec="seconds")})
    except OSError as error:
        get_logger().warning("cannot_record_verification", file=verification.entry.name, error=str(error))
        return
    if not path.exists():
        with contextlib.suppress(FileNotFoundError):
            catalog.manifest_path(path).unlink()


def refuse_damaged(entry: BackupEntry, checks: list[Check], target: str) -> None:
    """Record the checks and raise when one failed: a restore stops here, before its target is touched."""
    verification = Verification(entry, checks)
    record_result(verification)
    if not verification.ok:
        raise VerificationFailed(
            f"{entry.name} failed its checks ({'; '.join(verification.failures)}): "
            f"refusing to restore it; {target} was not touched"
        )
