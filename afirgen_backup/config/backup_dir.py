"""BACKUP_DIR, checked before any work starts: a directory of the backups' own that only its owner may write to,
created (private) when missing unless the command creates nothing."""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
from pathlib import Path

from afirgen_backup.errors import ConfigError


def check_backup_dir(path: Path, *, create: bool = True) -> None:
    """BACKUP_DIR must be a writable directory that no other user can write to; a missing one is created private
    (0700).

    Only a directory created here is given mode 0700: an existing one (a mount point) keeps its mode, and the files
    written into it are 0600 anyway. One that others may write to (group- or world-writable, such as /tmp) is
    refused before anything is written there. With create=False nothing is created or changed (check-config): a
    missing BACKUP_DIR must have an existing ancestor it can be created in.
    """
    if not create:
        inspect_backup_dir(path)
        return
    try:
        path.mkdir(mode=0o700, parents=True)
        created = True
    except FileExistsError:
        created = False
    except OSError as error:
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({error.strerror}); allowed: a writable directory"
        ) from None
    if not path.is_dir():
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not a directory; allowed: a writable directory")
    refuse_shared_backup_dir(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not writable; allowed: a writable directory")
    try:
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} is not writable ({error.strerror}); allowed: a writable directory"
        ) from None
    if created:
        with contextlib.suppress(OSError):  # mkdir's mode went through the umask
            os.chmod(path, 0o700)


def inspect_backup_dir(path: Path) -> None:
    """check_backup_dir without creating or writing anything: what it can tell from stat and access(2)."""
    if path.is_dir():
        refuse_shared_backup_dir(path)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"BACKUP_DIR={str(path)!r} is not writable; allowed: a writable directory")
        return
    if path.exists() or path.is_symlink():
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not a directory; allowed: a writable directory")
    ancestor = path.parent
    while not (ancestor.exists() or ancestor.is_symlink()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({ancestor} is not a directory); allowed: a writable directory"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({ancestor} is not writable); allowed: a writable directory"
        )


def refuse_shared_backup_dir(path: Path) -> None:
    """Refuse a BACKUP_DIR that users other than its owner may write to: one of them could plant a symlink where
    the next backup, manifest or log goes, or files that look like backups (the sticky bit of /tmp stops neither)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} is writable by users other than its owner (mode {mode:04o}), who could plant "
            f"symlinks and files among the backups; allowed: a directory only its owner can write to: run "
            f"`chmod go-w {shlex.quote(str(path))}`"
        )
