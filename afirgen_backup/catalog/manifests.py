"""Manifests, read as untrusted input: through files.open_regular (no link followed, no blocking on a FIFO), at most
MAX_JSON_BYTES, one JSON object of bounded depth, in UTF-8, without NaN or Infinity; anything else is reported as
damaged, never raised. The results of verify and of restore tests are stored in them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from afirgen_backup.catalog.names import OFFSITE_KEY, RESTORE_TEST_KEY, manifest_path
from afirgen_backup.files import ReadLimitExceeded, UnsafeFile, read_regular_file, write_file_atomically

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


def record_offsite(backup: Path, result: dict[str, Any]) -> None:
    """Store where the backup's off-site copy is, and what was checked of it (offsite/copies.py)."""
    manifest = read_manifest(backup)
    if manifest is None:
        return
    manifest[OFFSITE_KEY] = result
    write_manifest(backup, manifest)
