"""replace_database on real files: the restored copy is flushed before it takes the name, an existing kept name
is never renamed over (also where the file system has no hard links), and a signal waits for the swap to end.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from afirgen_backup.sources.sqlite import swap as sqlite_restore
from afirgen_backup.sources.sqlite.copy import sidecar


def make_db(path: Path, note: str) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES (?)", (note,))
    conn.commit()
    conn.close()
    return path


def note_of(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(conn.execute("SELECT body FROM notes").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(restored copy, target with a -wal beside it, kept name)."""
    restored = make_db(tmp_path / ".sessions.db.restore-x", "restored")
    target = make_db(tmp_path / "sessions.db", "old")
    sidecar(target, "-wal").write_bytes(b"the old file's wal")
    return restored, target, tmp_path / "sessions.db.before-restore-20240101_000000"


def without_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """link(2) fails as on a file system without hard links (vfat, some FUSE and network mounts)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)


def test_the_restored_copy_is_flushed_before_it_takes_the_name(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    restored, target, kept = files
    copy_inode = restored.stat().st_ino
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append("fsync copy" if os.fstat(fd).st_ino == copy_inode else "fsync other")
        real_fsync(fd)

    def replace(source: object, destination: object) -> None:
        steps.append("replace")
        real_replace(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)

    sqlite_restore.replace_database(restored, target, kept)

    assert "fsync copy" in steps and steps.index("fsync copy") < steps.index("replace")
    assert note_of(target) == "restored"


@pytest.mark.parametrize("taken", ["", "-wal"])
def test_without_hard_links_an_existing_kept_name_is_refused_not_replaced(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, taken: str
) -> None:
    restored, target, kept = files
    occupant = Path(f"{kept}{taken}")
    occupant.write_bytes(b"kept by an earlier restore")
    without_hard_links(monkeypatch)

    with pytest.raises(FileExistsError):
        sqlite_restore.replace_database(restored, target, kept)

    assert occupant.read_bytes() == b"kept by an earlier restore"
    assert note_of(target) == "old" and sidecar(target, "-wal").read_bytes() == b"the old file's wal"
    assert restored.exists()


def test_without_hard_links_the_old_file_and_its_wal_are_renamed_to_free_names(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    restored, target, kept = files
    without_hard_links(monkeypatch)

    replacement = sqlite_restore.replace_database(restored, target, kept)

    assert note_of(target) == "restored" and not sidecar(target, "-wal").exists()
    assert note_of(kept) == "old" and sidecar(kept, "-wal").read_bytes() == b"the old file's wal"
    assert replacement.kept == kept and replacement.moved == [sidecar(kept, "-wal")]


def test_unused_kept_name_skips_names_whose_file_or_journal_exists(tmp_path: Path) -> None:
    target = tmp_path / "sessions.db"
    base = "sessions.db.before-restore-20240101_000000"
    (tmp_path / base).write_bytes(b"")
    (tmp_path / f"{base}-2-journal").write_bytes(b"")

    assert sqlite_restore.unused_kept_name(target, "20240101_000000") == tmp_path / f"{base}-3"
    assert sqlite_restore.unused_kept_name(target, "20240101_000001") == tmp_path / f"{base[:-1]}1"


def test_a_signal_during_the_swap_is_raised_only_after_it(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    restored, target, kept = files

    class Stopped(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    real_rename = os.rename

    def rename_then_signal(source: object, destination: object) -> None:
        real_rename(source, destination)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)  # between moving the -wal aside and the replace

    without_hard_links(monkeypatch)
    monkeypatch.setattr(os, "rename", rename_then_signal)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped):
            sqlite_restore.replace_database(restored, target, kept)
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert note_of(target) == "restored" and not restored.exists()
    assert note_of(kept) == "old" and sidecar(kept, "-wal").exists()
