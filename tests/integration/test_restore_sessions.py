"""restore sessions through the tool: round trip, stale -wal, files in use, damaged copies, audit events, targets
that are no database file, read-only or symlinked, and names of kept files already taken.

No MySQL server is needed: these runs have BACKUP_MYSQL_ENABLED=false.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixture_schema import build_sessions_db
from helpers import assert_refused, describe, events_named, read_only_bind, run_cli

from afirgen_backup import catalog
from afirgen_backup.sources.sqlite.copy import sidecar

REPO = Path(__file__).resolve().parents[2]


def sessions_env(tmp_path: Path, sessions: Path) -> dict[str, str]:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BACKUP_MYSQL_ENABLED": "false",
        "SESSIONS_DB_PATH": str(sessions),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_ENV_FILE": str(empty),
    }


def contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, through SQLite (so a -wal next to the file counts)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A sessions backup of a rollback-journal sessions.db; returns the env and the source file."""
    source = tmp_path / "source" / "sessions.db"
    source.parent.mkdir()
    build_sessions_db(source, "delete").close()
    env = sessions_env(tmp_path, source)
    result = run_cli(env, "backup")
    assert result.returncode == 0, result.stderr
    return env, source


def leave_stale_wal(path: Path) -> None:
    """A process that switches `path` to WAL, commits rows that stay in the -wal, and dies without a checkpoint."""
    script = textwrap.dedent(
        f"""
        import os, sqlite3
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE stale_rows (note TEXT)")
        conn.execute("INSERT INTO stale_rows VALUES ('committed after the backup, only in the -wal')")
        conn.execute("DELETE FROM sessions")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_sessions_round_trip_into_a_new_file_gives_back_every_row(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, source = backed_up
    target = tmp_path / "restored" / "sessions.db"
    target.parent.mkdir()

    result = run_cli(env, "restore", "sessions", "latest", "--target", str(target))

    assert result.returncode == 0, result.stderr
    assert contents(target) == contents(source)
    finished = events_named(env, "restore_finished")
    assert [(e["what"], e["target"], e["outcome"], e["kept"]) for e in finished] == [
        ("sessions", str(target), "success", None)
    ]
    assert str(finished[0]["source_file"]).endswith(".db.gz")


def test_restore_over_a_target_with_a_stale_wal_yields_exactly_the_backed_up_content(
    backed_up: tuple[dict[str, str], Path],
) -> None:
    env, source = backed_up
    expected = contents(source)
    source.chmod(0o640)
    leave_stale_wal(source)
    assert Path(f"{source}-wal").stat().st_size > 0

    result = run_cli(env, "restore", "sessions", "--yes")

    assert result.returncode == 0, result.stderr
    assert not Path(f"{source}-wal").exists() and not Path(f"{source}-shm").exists()
    assert contents(source) == expected
    assert source.stat().st_mode & 0o777 == 0o640
    kept = sorted(source.parent.glob("sessions.db.before-restore-*"))
    assert [p.name for p in kept] == [f"{kept[0].name}", f"{kept[0].name}-wal"]
    old = contents(kept[0])  # the replaced file, with its own -wal: nothing was lost
    assert old["stale_rows"] == [("committed after the backup, only in the -wal",)]
    assert old["sessions"] == []
    assert f"kept as {kept[0]}" in result.stdout


def test_restore_refuses_while_a_connection_has_the_wal_target_open(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = backed_up
    target = tmp_path / "live.db"
    live = build_sessions_db(target, "wal")  # stays open, idle, as the application's would
    try:
        before = contents(target)
        result = run_cli(env, "restore", "sessions", "--target", str(target))
        assert result.returncode == 2
        assert "in use" in result.stderr and "--yes" in result.stderr
        assert contents(target) == before
        assert list(tmp_path.glob("live.db.before-restore-*")) == []
        assert list(tmp_path.glob(".live.db.restore-*")) == []

        forced = run_cli(env, "restore", "sessions", "--target", str(target), "--yes")
        assert forced.returncode == 0, forced.stderr
        assert len(events_named(env, "restore_over_open_database")) == 1
    finally:
        live.close()


def test_restore_refuses_while_a_rollback_journal_writer_is_in_a_transaction(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = backed_up
    target = tmp_path / "busy.db"
    writer = build_sessions_db(target, "delete")
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM validation_history")
        assert run_cli(env, "restore", "sessions", "--target", str(target)).returncode == 2
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert run_cli(env, "restore", "sessions", "--target", str(target)).returncode == 0


def publish_corrupt_sessions_backup(backup_dir: Path, scratch: Path) -> Path:
    """A gzipped SQLite file with a damaged b-tree page, and a manifest whose checksum matches it."""
    db = scratch / "corrupt.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE INDEX ix_body ON notes(body)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"note {i} " * 20,) for i in range(2000)])
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    page_size = 4096
    data[page_size * 5 : page_size * 5 + 64] = b"\xff" * 64
    name = "sessions_backup_20240101_000000.db.gz"
    backup = backup_dir / name
    backup.write_bytes(gzip.compress(bytes(data)))
    manifest = {
        "file": name,
        "kind": "sessions",
        "sha256": hashlib.sha256(backup.read_bytes()).hexdigest(),
        "size": backup.stat().st_size,
        "row_counts": {"notes": 2000},
        "names": {"tables": ["notes"]},
    }
    backup.with_name(name + ".json").write_text(json.dumps(manifest))
    return backup


def test_a_sessions_copy_failing_integrity_check_is_named_by_verify_and_refused_by_restore(
    tmp_path: Path,
) -> None:
    target = tmp_path / "sessions.db"
    build_sessions_db(target, "delete").close()
    env = sessions_env(tmp_path, target)
    backup_dir = Path(env["BACKUP_DIR"])
    backup_dir.mkdir()
    backup = publish_corrupt_sessions_backup(backup_dir, tmp_path)
    before = target.read_bytes()

    verified = run_cli(env, "verify", backup.name)
    restored = run_cli(env, "restore", "sessions", backup.name)

    assert verified.returncode == 1
    assert f"FAILED  {backup.name}" in verified.stdout
    assert verified.stdout.strip().splitlines()[-1] == f"verify failed: {backup.name} (integrity)"
    assert restored.returncode == 1
    assert "integrity" in restored.stderr and "was not touched" in restored.stderr
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".sessions.db", "sessions.db."))] == []
    assert [e["what"] for e in events_named(env, "restore_failed")] == ["sessions"]


# --- what the target is ------------------------------------------------------------------------------------


def names_beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_an_empty_target_is_refused_and_sessions_db_path_is_not_touched(
    backed_up: tuple[dict[str, str], Path],
) -> None:
    env, source = backed_up
    leave_stale_wal(source)  # differs from the backup: a fallback to SESSIONS_DB_PATH would replace it
    before, beside = contents(source), names_beside(source)

    result = run_cli(env, "restore", "sessions", "--target", "", "--yes")

    assert_refused(result, "--target", "empty", "allowed:")
    assert contents(source) == before
    assert names_beside(source) == beside


def test_a_directory_as_target_is_refused_and_nothing_is_moved(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = backed_up
    target = tmp_path / "data" / "sessions.db"
    target.mkdir(parents=True)
    (target / "keep-me").write_text("inside the directory\n")

    result = run_cli(env, "restore", "sessions", "--target", str(target), "--yes")

    assert_refused(result, str(target), "is a directory", "allowed:")
    assert target.is_dir() and (target / "keep-me").read_text() == "inside the directory\n"
    assert names_beside(target) == ["sessions.db"]


def test_a_file_that_is_no_sqlite_database_is_refused_and_left_in_place(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = backed_up
    target = tmp_path / "notes" / "notes.txt"
    target.parent.mkdir()
    target.write_text("not a database, and not to be replaced by one\n")

    result = run_cli(env, "restore", "sessions", "--target", str(target), "--yes")

    assert_refused(result, str(target), "not an SQLite database", "allowed:")
    assert target.read_text() == "not a database, and not to be replaced by one\n"
    assert names_beside(target) == ["notes.txt"]


def test_an_empty_file_is_an_empty_database_to_sqlite_and_is_replaced(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, source = backed_up
    target = tmp_path / "fresh" / "sessions.db"
    target.parent.mkdir()
    sqlite3.connect(target).close()  # what an application that never wrote leaves behind
    assert target.stat().st_size == 0

    result = run_cli(env, "restore", "sessions", "--target", str(target))

    assert result.returncode == 0, describe(result)
    assert contents(target) == contents(source)


def test_a_read_only_target_directory_is_refused_in_one_line(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, source = backed_up
    mountpoint = tmp_path / "mounted"
    wrapper = read_only_bind(source.parent, mountpoint)  # as the container mounts the sessions volume
    before, beside = source.read_bytes(), names_beside(source)

    result = run_cli(env, "restore", "sessions", "--target", str(mountpoint / source.name), "--yes", wrapper=wrapper)

    assert_refused(result, "read-only file system", "allowed:")
    assert source.read_bytes() == before
    assert names_beside(source) == beside


def test_a_symlinked_target_is_followed_and_the_link_stays(
    backed_up: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, source = backed_up
    real = tmp_path / "volume" / "sessions.db"
    real.parent.mkdir()
    build_sessions_db(real, "delete", seed=11).close()
    replaced = contents(real)
    link = tmp_path / "app" / "sessions.db"
    link.parent.mkdir()
    link.symlink_to(real)

    result = run_cli(env, "restore", "sessions", "--target", str(link), "--yes")

    assert result.returncode == 0, describe(result)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert names_beside(link) == ["sessions.db"]
    assert contents(real) == contents(source)
    kept = sorted(real.parent.glob("sessions.db.before-restore-*"))
    assert len(kept) == 1 and contents(kept[0]) == replaced


# --- the name the old file is kept under -------------------------------------------------------------------


def stamps_around_now(seconds: int = 20) -> list[str]:
    """The UTC stamps of the next `seconds` seconds (and the last one): a restore started now uses one of them."""
    now = datetime.now(UTC)
    return [catalog.format_stamp(now + timedelta(seconds=offset)) for offset in range(-1, seconds)]


def test_a_kept_name_already_taken_in_this_second_is_not_reused(
    backed_up: tuple[dict[str, str], Path],
) -> None:
    env, source = backed_up
    leave_stale_wal(source)
    taken = {}
    for stamp in stamps_around_now():  # as if another restore had kept a file in this very second
        earlier = source.with_name(f"{source.name}.before-restore-{stamp}")
        earlier.write_bytes(f"kept by an earlier restore at {stamp}".encode())
        taken[earlier] = earlier.read_bytes()

    result = run_cli(env, "restore", "sessions", "--yes")

    assert result.returncode == 0, describe(result)
    assert {path: path.read_bytes() for path in taken} == taken
    kept = [p for p in source.parent.glob("sessions.db.before-restore-*") if p not in taken]
    assert len(kept) == 2 and min(kept).name.endswith("-2") and sidecar(min(kept), "-wal") in kept
    assert f"kept as {min(kept)}" in result.stdout
    assert contents(min(kept))["stale_rows"] == [("committed after the backup, only in the -wal",)]


def test_a_taken_journal_name_is_never_renamed_over(
    backed_up: tuple[dict[str, str], Path],
) -> None:
    env, source = backed_up
    leave_stale_wal(source)
    taken = {}
    for stamp in stamps_around_now():
        journal = source.with_name(f"{source.name}.before-restore-{stamp}-wal")
        journal.write_bytes(b"the -wal of a file kept earlier")
        taken[journal] = journal.read_bytes()

    result = run_cli(env, "restore", "sessions", "--yes")

    assert result.returncode == 0, describe(result)
    assert {path: path.read_bytes() for path in taken} == taken
    kept = [p for p in source.parent.glob("sessions.db.before-restore-*") if p not in taken]
    assert len(kept) == 2 and sidecar(min(kept), "-wal") in kept
