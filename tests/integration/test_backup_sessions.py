"""End to end: the sessions.db backup is one consistent snapshot while the application keeps writing, in WAL
and rollback-journal mode, and also when the database's directory is mounted read-only for the tool.

A writer thread behaves like the application: a new connection for every write, each write committed. It
inserts ids 1, 2, 3, ... so a consistent copy holds exactly ids 1..N, and N lies between the number of
commits before the backup started and after it ended. The copy is restored with the real `gunzip`.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fixture_schema import build_sessions_db
from helpers import (
    WRITER_TABLE,
    SessionsWriter,
    add_writer_table,
    backups_of,
    describe,
    gunzip_to,
    read_manifest,
    read_only_bind,
    run_cli,
    table_rows,
    user_tables,
)
from infrastructure import unavailable

from afirgen_backup.sources.sqlite.backup import COPY_PREFIX as SESSIONS_COPY_PREFIX

#: Random filler in sessions.db, so that copying it takes long enough for writes to land during the copy.
FILLER_BYTES = 24 * 1024 * 1024
#: The longest a single commit of the application may wait for the backup in WAL mode.
MAX_WAL_COMMIT_WAIT_S = 0.2


def sessions_only(env: dict[str, str], sessions_path: Path) -> dict[str, str]:
    """The environment for a sessions-only run against `sessions_path`."""
    return {**env, "BACKUP_MYSQL_ENABLED": "false", "SESSIONS_DB_PATH": str(sessions_path)}


def restore_copy(backup_dir: Path, work: Path) -> tuple[Path, dict[str, object]]:
    """gunzip the single sessions backup of the run into `work`; return it with its manifest."""
    [backup] = backups_of(backup_dir, "sessions")
    return gunzip_to(backup, work / "restored.db"), read_manifest(backup)


def assert_standalone_and_sound(copy: Path) -> None:
    """The restored file passes integrity_check, is in rollback-journal (DELETE) mode and needs no -wal."""
    assert not Path(f"{copy}-wal").exists()
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


def assert_consistent_snapshot(copy: Path, source: Path, before: int, after: int) -> int:
    """The copy holds writer ids 1..N exactly (before <= N <= after), and every other table as the source."""
    ids = [row[0] for row in table_rows(copy, WRITER_TABLE)]
    count = len(ids)
    assert ids == list(range(1, count + 1)), "the copy has gaps or extra rows: not one snapshot"
    assert before <= count <= after, f"{count} writes in the copy; {before} before the backup, {after} after it"
    assert user_tables(copy) == user_tables(source)
    for table in user_tables(source):
        if table != WRITER_TABLE:
            assert table_rows(copy, table) == table_rows(source, table), table
    return count


def back_up_while_writing(
    env: dict[str, str], writer_path: Path, wrapper: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], SessionsWriter, int, int]:
    """Run the CLI while a writer commits to `writer_path`; return (result, writer, commits before, after)."""
    writer = SessionsWriter(writer_path).start()
    try:
        before = writer.committed
        result = run_cli(env, wrapper=wrapper or ())
        after = writer.committed
    finally:
        writer.stop()
    assert writer.errors == [], writer.errors
    assert after >= before + 5, "the writer kept committing during the backup"
    return result, writer, before, after


def test_a_wal_database_is_copied_as_one_snapshot_while_the_app_writes_without_waiting(
    sessions_db: Path, backup_env: dict[str, str], tmp_path: Path
) -> None:
    add_writer_table(sessions_db, FILLER_BYTES)
    env = sessions_only(backup_env, sessions_db)

    result, writer, before, after = back_up_while_writing(env, sessions_db)

    assert result.returncode == 0, describe(result)
    copy, manifest = restore_copy(Path(env["BACKUP_DIR"]), tmp_path)
    assert_standalone_and_sound(copy)
    assert_consistent_snapshot(copy, sessions_db, before, after)
    assert manifest["source"] == {"path": str(sessions_db), "journal_mode": "wal", "read_mode": "shared"}
    assert manifest["sqlite"]["integrity_check"] == "ok"
    slowest = max(writer.latencies)
    assert slowest < MAX_WAL_COMMIT_WAIT_S, f"a commit of the app waited {slowest:.3f}s during the backup"


def test_the_rows_that_are_only_in_the_wal_file_are_in_the_backup(
    sessions_db: Path, backup_env: dict[str, str], tmp_path: Path
) -> None:
    wal = Path(f"{sessions_db}-wal")
    assert wal.stat().st_size > 0, "the fixture leaves its last rows in sessions.db-wal"

    result = run_cli(sessions_only(backup_env, sessions_db))

    assert result.returncode == 0, describe(result)
    copy, _ = restore_copy(Path(backup_env["BACKUP_DIR"]), tmp_path)
    assert_standalone_and_sound(copy)
    for table in user_tables(sessions_db):
        assert table_rows(copy, table) == table_rows(sessions_db, table), table


def test_the_scratch_copy_is_never_fsynced_only_the_published_backup_is(
    sessions_db: Path, backup_env: dict[str, str], tmp_path: Path
) -> None:
    """The copy the backup makes before compressing it is scratch: an fsync of it would write the whole database
    to the disk in one burst (stalling the application's own commits on ext4) for a file deleted seconds later."""
    strace = shutil.which("strace")
    if strace is None:
        unavailable("strace is not installed")
    trace = tmp_path / "fsyncs.txt"
    wrapper = [strace, "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", str(trace)]

    result = run_cli(sessions_only(backup_env, sessions_db), wrapper=wrapper)

    assert result.returncode == 0, describe(result)
    synced = re.findall(r"f(?:data)?sync\(\d+<([^>]*)>\)", trace.read_text())
    [backup] = backups_of(Path(backup_env["BACKUP_DIR"]), "sessions")
    assert f"{backup}.partial" in synced, f"strace saw no fsync of the backup itself: {synced}"
    scratch = [path for path in synced if any(part.startswith(SESSIONS_COPY_PREFIX) for part in Path(path).parts)]
    assert scratch == [], f"the scratch copy was fsynced: {scratch}"


def test_a_rollback_journal_database_is_copied_as_one_snapshot_while_the_app_writes(
    sessions_db_rollback: Path, backup_env: dict[str, str], tmp_path: Path
) -> None:
    add_writer_table(sessions_db_rollback, FILLER_BYTES)
    env = sessions_only(backup_env, sessions_db_rollback)

    result, writer, before, after = back_up_while_writing(env, sessions_db_rollback)

    assert result.returncode == 0, describe(result)
    copy, manifest = restore_copy(Path(env["BACKUP_DIR"]), tmp_path)
    assert_standalone_and_sound(copy)
    assert_consistent_snapshot(copy, sessions_db_rollback, before, after)
    assert manifest["source"]["journal_mode"] == "rollback"
    assert max(writer.latencies) < 5, "writers wait for the copy only a moment, never until they time out"


def test_a_wal_database_on_a_read_only_mount_is_copied_while_the_app_keeps_it_open_and_writes(
    sessions_db: Path, backup_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    add_writer_table(sessions_db, FILLER_BYTES)
    mountpoint = tmp_path_factory.mktemp("ro-sessions")
    env = sessions_only(backup_env, mountpoint / sessions_db.name)
    assert Path(f"{sessions_db}-wal").exists() and Path(f"{sessions_db}-shm").exists()

    result, writer, before, after = back_up_while_writing(
        env, sessions_db, wrapper=read_only_bind(sessions_db.parent, mountpoint)
    )

    assert result.returncode == 0, describe(result)
    work = tmp_path_factory.mktemp("restore")
    copy, manifest = restore_copy(Path(env["BACKUP_DIR"]), work)
    assert_standalone_and_sound(copy)
    assert_consistent_snapshot(copy, sessions_db, before, after)
    assert manifest["source"]["read_mode"] == "shared"
    slowest = max(writer.latencies)
    assert slowest < MAX_WAL_COMMIT_WAIT_S, f"a commit of the app waited {slowest:.3f}s during the backup"


def test_a_wal_database_on_a_read_only_mount_with_no_connection_open_is_read_as_immutable(
    backup_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    source_dir = tmp_path_factory.mktemp("closed-sessions")
    source = source_dir / "sessions.db"
    build_sessions_db(source, "wal").close()
    assert not Path(f"{source}-wal").exists(), "the last connection's close checkpointed and removed the -wal"
    mountpoint = tmp_path_factory.mktemp("ro-closed")
    probe = run_cli(sessions_only(backup_env, mountpoint / "sessions.db"), "check-config")
    assert probe.returncode == 0, describe(probe)

    result = run_cli(
        sessions_only(backup_env, mountpoint / "sessions.db"), wrapper=read_only_bind(source_dir, mountpoint)
    )

    assert result.returncode == 0, describe(result)
    assert sorted(p.name for p in source_dir.iterdir()) == ["sessions.db"], "nothing was written beside the source"
    copy, manifest = restore_copy(Path(backup_env["BACKUP_DIR"]), tmp_path_factory.mktemp("restore"))
    assert_standalone_and_sound(copy)
    assert manifest["source"]["read_mode"] == "immutable"
    assert manifest["source"]["journal_mode"] == "wal"
    for table in user_tables(source):
        assert table_rows(copy, table) == table_rows(source, table), table
