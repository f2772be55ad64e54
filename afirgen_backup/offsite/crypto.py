"""age encryption of a copy on its way out, and decryption on its way back, as streams (pyrage).

The host that makes backups holds only public keys (BACKUP_AGE_RECIPIENTS): it can encrypt, never decrypt. A
copy is encrypted while it is uploaded: pyrage writes into a pipe from a thread of its own, the upload reads the
other end, so neither the plaintext nor the ciphertext is ever held whole, on disk or in memory. The output is the
age format: `age -d -i identity.txt FILE | gunzip` reads it. Identities (BACKUP_AGE_IDENTITY_FILE) are read only
by a restore or verify of a remote copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from afirgen_backup.errors import ConfigError

IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


class HashingReader:
    """A read-only, non-seekable stream that hashes (sha256) and counts what is read through it."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


class ChunkReader:
    """A file-like view of an iterator of byte chunks (a download), for pyrage's decrypt_io."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks: Iterator[bytes] = iter(chunks)
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.pending) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.pending += chunk
        if size < 0:
            size = len(self.pending)
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def encrypting(source: IO[bytes], recipients: tuple[str, ...]) -> Iterator[IO[bytes]]:
    """A stream of `source` encrypted to `recipients`, produced as it is read. An error of the encryption is
    raised when the block ends; closing the stream early (a failed upload) stops the encryption."""
    from pyrage import encrypt_io, x25519

    keys = [x25519.Recipient.from_str(key) for key in recipients]
    read_end, write_end = os.pipe()
    reader, writer = os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb")
    failure: list[BaseException] = []

    def encrypt() -> None:
        try:
            encrypt_io(source, writer, keys)
        except BaseException as error:  # noqa: BLE001 - handed to the reading side, raised there
            failure.append(error)
        finally:
            with contextlib.suppress(OSError):  # the reader may have gone: the broken pipe is the expected end
                writer.close()

    thread = threading.Thread(target=encrypt, name="age-encrypt", daemon=True)
    thread.start()
    try:
        yield reader
        # the consumer stopped reading: drain what is left so that the writer can finish and report
        while reader.read(1 << 20):
            pass
    finally:
        reader.close()  # a writer still running gets EPIPE and ends
        thread.join()
    if failure and not isinstance(failure[0], BrokenPipeError):
        raise failure[0]


def load_identities(path: Path | None) -> list[Any]:
    """The X25519 identities of BACKUP_AGE_IDENTITY_FILE (age-keygen's format: `#` comments, AGE-SECRET-KEY-1...)."""
    from pyrage import IdentityError, x25519

    allowed = "allowed: the path of an age identity file as age-keygen writes it (AGE-SECRET-KEY-1...)"
    if path is None:
        raise ConfigError(f"this copy is age-encrypted and BACKUP_AGE_IDENTITY_FILE is not set; {allowed}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"BACKUP_AGE_IDENTITY_FILE={str(path)!r} cannot be read ({reason}); {allowed}") from None
    identities = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except IdentityError:  # the line is a secret: never repeated
            raise ConfigError(
                f"BACKUP_AGE_IDENTITY_FILE={str(path)!r} line {number} is not an age identity; {allowed}"
            ) from None
    if not identities:
        raise ConfigError(f"BACKUP_AGE_IDENTITY_FILE={str(path)!r} holds no identity; {allowed}")
    return identities


def decrypt(chunks: Iterable[bytes], identities: list[Any], sink: IO[bytes]) -> None:
    """Decrypt an age stream into `sink` (pyrage.DecryptError when it is not for these identities, or damaged)."""
    from pyrage import decrypt_io

    decrypt_io(ChunkReader(chunks), sink, identities)
