"""Bringing a remote copy back for `verify --remote` and `restore --remote`.

The copy's manifest is read first (bounded, decrypted, parsed as untrusted JSON like any manifest); then the
backup is streamed into a private directory in BACKUP_DIR (`.remote-*`, 0700), decrypted on the way when it is
encrypted, its object hashed as it arrives: the object must be the one the manifest says was uploaded (sha256 and
size), and the file that results is then checked like a local backup (its own sha256, stream, trailer,
statements, integrity). What lands on disk is the compressed backup, never the SQL or the database in the clear
beyond what a local backup is; the directory is removed afterwards, and by the next run if this one was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError, VerificationFailed
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.crypto import decrypt, load_identities
from afirgen_backup.offsite.remote import RemoteBackup, RemoteCatalog, scan_remote
from afirgen_backup.offsite.store import Store

REMOTE_PREFIX = ".remote-"  # then the fetching process's pid, a dash and a random part
FETCH_NAME = re.compile(r"^\.remote-(\d+)-")


def owns_leftover(name: str) -> bool:
    """A fetch directory whose process is gone (verify takes no lock: a running one is never a leftover)."""
    match = FETCH_NAME.match(name)
    return match is not None and process_gone(int(match.group(1)))


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def remove_leftover(path: Path) -> None:
    """A killed fetch's directory: the backup and manifest in it, the archive's copies a point-in-time restore
    fetched into its `binlog/`, then the directories (anything else stays)."""
    from afirgen_backup.offsite.binlogs import is_binlog_object
    from afirgen_backup.sources.mysql import binlog_replay

    for item in path.iterdir():  # a roll forward's unpacked files (a restore --to-time --remote killed mid-way)
        if binlog_replay.PITR_DIR.match(item.name) and catalog.is_real_directory(item):
            binlog_replay.remove_leftover(item)
    archive = path / "binlog"
    if catalog.is_real_directory(archive):
        for item in archive.iterdir():
            if is_binlog_object(item.name) and catalog.is_regular_file(item):
                item.unlink()
        archive.rmdir()
    for item in path.iterdir():
        if catalog.is_ours(item.name) and catalog.is_regular_file(item):
            item.unlink()
    path.rmdir()


def choose(remote: RemoteCatalog, name: str, kind: str | None, where: str) -> RemoteBackup:
    """The copy named `name`, or the newest complete one of `kind` for `latest`."""
    if name == "latest":
        if kind is None:
            raise UsageError("'latest' needs a kind (mysql or sessions)")
        ahead = remote.ahead_of_the_clock(kind)
        if ahead:  # planted, or made by a host whose clock is wrong: never "latest" without being named
            get_logger().warning("remote_copies_in_the_future_skipped", files=ahead)
        newest = remote.newest_good(kind)
        if newest is None:
            raise UsageError(f"there is no complete {kind} copy in {where} (see list --remote)")
        return newest
    found = remote.find(Path(name).name)
    if found is None:
        raise UsageError(f"no copy {name!r} in {where} (see list --remote)")
    if kind is not None and found.kind != kind:
        raise UsageError(f"{found.name} is a {found.kind} backup, not a {kind} backup")
    if not found.good:
        raise UsageError(f"the copy of {found.name} in {where} has no {'manifest' if found.data else 'data object'}")
    return found


def read_object(
    store: Store, key: str, identities: list[Any] | None, sink: Any, *, limit: int | None = None
) -> tuple[str, int]:
    """Stream an object into `sink`, decrypting it when `identities` are given; the object's sha256 and size.
    An object that grows past `limit` bytes while it is read (replaced meanwhile) is refused there."""
    digest, size = hashlib.sha256(), 0

    def chunks() -> Iterable[bytes]:
        nonlocal size
        for chunk in store.read(key):
            digest.update(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise VerificationFailed(f"{key} is larger than listed ({limit} bytes): changed in the bucket")
            yield chunk

    if identities is None:
        for chunk in chunks():
            sink.write(chunk)
    else:
        from pyrage import DecryptError

        try:
            decrypt(chunks(), identities, sink)
        except DecryptError as error:
            raise VerificationFailed(
                f"{key} cannot be decrypted with BACKUP_AGE_IDENTITY_FILE ({error}): another key, or damaged"
            ) from None
    return digest.hexdigest(), size


def fetch_manifest(store: Store, backup: RemoteBackup, identities: list[Any] | None) -> dict[str, Any]:
    assert backup.manifest is not None
    if backup.manifest.size > catalog.MAX_JSON_BYTES + 1024:
        raise VerificationFailed(f"{backup.manifest.key} is larger than a manifest ever is")

    class Collect:
        def __init__(self) -> None:
            self.parts: list[bytes] = []
            self.size = 0

        def write(self, data: bytes) -> int:
            self.size += len(data)
            if self.size > catalog.MAX_JSON_BYTES:
                raise VerificationFailed(f"{backup.manifest and backup.manifest.key} is larger than a manifest ever is")
            self.parts.append(bytes(data))
            return len(data)

    collected = Collect()
    read_object(store, backup.manifest.key, identities, collected)
    manifest, problem = catalog.parse_json_object(b"".join(collected.parts), backup.manifest.key)
    if manifest is None:
        raise VerificationFailed(f"the manifest of {backup.name} in the bucket is damaged: {problem}")
    if manifest.get("file") != backup.name:
        raise VerificationFailed(f"{backup.manifest.key} is the manifest of {str(manifest.get('file'))[:200]!r}")
    return manifest


@contextlib.contextmanager
def fetched(settings: Settings, name: str, kind: str | None = None) -> Iterator[BackupEntry]:
    """The remote copy `name` (or `latest` of `kind`) as a local backup entry in a private directory, checked
    against the manifest that went with it; the directory is removed on the way out."""
    assert settings.offsite is not None
    store = Store(settings.offsite)
    with store.watched():
        backup = choose(scan_remote(store), name, kind, store.where)
    with private_fetch_dir(settings) as workdir:
        path = fetch_into(store, settings, backup, workdir)
        entry = catalog.entry_for(path)
        assert isinstance(entry, BackupEntry)
        yield entry


@contextlib.contextmanager
def private_fetch_dir(settings: Settings) -> Iterator[Path]:
    """A private directory in BACKUP_DIR for what is fetched (`.remote-<pid>-...`, 0700), removed afterwards, and
    by the next run when this one was killed (owns_leftover)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{REMOTE_PREFIX}{os.getpid()}-", dir=settings.backup_dir))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fetch_into(store: Store, settings: Settings, backup: RemoteBackup, directory: Path) -> Path:
    """Bring one copy (a backup, or a file of the binary log archive) into `directory` as `<name>` with its
    manifest beside it: the manifest first (bounded, decrypted, untrusted JSON), then the object, which must be
    the one that manifest says was uploaded (its size before a byte is read, its sha256 as it arrives)."""
    assert settings.offsite is not None and backup.data is not None
    identities = load_identities(settings.offsite.identity_file) if backup.encrypted else None
    with store.watched():
        manifest = fetch_manifest(store, backup, identities)
    record = manifest.get(catalog.OFFSITE_KEY)
    expected = (record.get("object_sha256"), record.get("object_size")) if isinstance(record, dict) else None
    if expected is None:
        raise VerificationFailed(f"the manifest of {backup.name} in the bucket does not record its upload")
    if backup.data.size != expected[1]:  # refused before a byte of it is downloaded
        raise VerificationFailed(
            f"{backup.data.key} is not the object that was uploaded ({backup.data.size} bytes, its manifest's "
            f"record says {expected[1]}): changed or damaged in the bucket"
        )
    path = directory / backup.name
    with open(path, "xb") as sink, store.watched():
        received = read_object(store, backup.data.key, identities, sink, limit=backup.data.size)
    if received != expected:
        raise VerificationFailed(
            f"{backup.data.key} is not the object that was uploaded (sha256 or size differ from its manifest's "
            "record): changed or damaged in the bucket"
        )
    catalog.write_manifest(path, manifest)
    return path
