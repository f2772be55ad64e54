"""The test infrastructure itself: server, backup user, fixture schema, comparison helpers, dump round trip."""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest
from dbcompare import (
    DumpLoadError,
    data_differences,
    history_counts,
    history_digests,
    load_dump_with_client,
    object_lists,
    row_counts,
    schema_differences,
    sequence_states,
    sequences_not_behind,
    table_checksums,
)
from fixture_schema import EXPECTED_OBJECTS, SESSION_COUNT, VALIDATION_COUNT, WAL_ONLY_VALIDATIONS
from mariadb_server import BACKUP_PASSWORD, BACKUP_PRIVILEGES, BACKUP_USER, BackupUser, MariaDBServer

pytestmark = pytest.mark.mariadb

#: mariadb-dump options a backup of fir_db needs (see the module docstring of the round-trip test).
DUMP_OPTIONS = (
    "--single-transaction",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--no-tablespaces",
    "--dump-history",
    "--skip-add-locks",
)


def dump_as_backup_user(backup_user: BackupUser, db: str, tmp_path: Path, options: tuple[str, ...]) -> Path:
    """`mariadb-dump --defaults-extra-file=<0600 file> OPTIONS DB | gzip > dump.sql.gz` as the backup user."""
    option_file = backup_user.write_option_file(tmp_path / "backup-client.cnf")
    assert option_file.stat().st_mode & 0o777 == 0o600
    target = tmp_path / f"{db}.sql.gz"
    dump = shlex.join(["mariadb-dump", f"--defaults-extra-file={option_file}", *options, db])
    pipeline = f"set -o pipefail; {dump} | gzip > {shlex.quote(str(target))}"
    result = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return target


def copy_through_a_dump(
    mariadb: MariaDBServer,
    backup_user: BackupUser,
    db: str,
    make_database: Callable[..., str],
    tmp_path: Path,
    options: tuple[str, ...],
) -> str:
    """Dump `db` as the backup user, load it with the plain client into a new database; its name."""
    archive = dump_as_backup_user(backup_user, db, tmp_path, options)
    copy = make_database("copy")
    load_dump_with_client(archive, mariadb, copy)
    return copy


def grants_of(conn: pymysql.connections.Connection) -> list[str]:
    """SHOW GRANTS of the connection's own account."""
    with conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        return [row[0] for row in cur.fetchall()]


def test_the_throwaway_server_starts_quickly_and_answers_as_root(mariadb: MariaDBServer) -> None:
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), CURRENT_USER(), @@character_set_server, @@log_bin, @@event_scheduler")
        version, user, charset, log_bin, scheduler = cur.fetchone()
    assert "MariaDB" in version
    assert user.startswith("root@")
    assert (charset, log_bin, scheduler) == ("utf8mb4", 0, "OFF")
    assert mariadb.socket.is_socket()
    assert mariadb.start_seconds < 30


def test_the_server_also_answers_over_its_unix_socket(mariadb: MariaDBServer) -> None:
    with pymysql.connect(unix_socket=str(mariadb.socket), user="root", password="") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0] == "root@localhost"


@pytest.mark.parametrize("via_socket", [False, True], ids=["tcp", "socket"])
def test_the_backup_user_has_exactly_the_intended_grants(backup_user: BackupUser, via_socket: bool) -> None:
    where = (
        {"unix_socket": str(backup_user.socket)} if via_socket else {"host": backup_user.host, "port": backup_user.port}
    )
    with pymysql.connect(user=backup_user.user, password=BACKUP_PASSWORD, **where) as conn:
        grants = grants_of(conn)
    assert len(grants) == 1, grants
    match = re.fullmatch(
        r"GRANT (.+) ON \*\.\* TO `afirgen_backup`@`(%|localhost)` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'", grants[0]
    )
    assert match, grants[0]
    assert match.group(2) == ("localhost" if via_socket else "%")
    assert sorted(p.strip() for p in match.group(1).split(",")) == sorted(BACKUP_PRIVILEGES)


def test_the_backup_user_cannot_change_anything(backup_user: BackupUser, fir_db: str) -> None:
    with (
        pymysql.connect(
            host=backup_user.host, port=backup_user.port, user=BACKUP_USER, password=BACKUP_PASSWORD, database=fir_db
        ) as conn,
        conn.cursor() as cur,
    ):
        for statement in ("DELETE FROM firs", "CREATE TABLE t (a INT)", "DROP TABLE legacy_import_log"):
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cur.execute(statement)
            assert denied.value.args[0] in (1142, 1044), statement


def test_the_backup_password_is_rejected_when_mangled(backup_user: BackupUser) -> None:
    with pytest.raises(pymysql.err.OperationalError) as denied:
        pymysql.connect(host=backup_user.host, port=backup_user.port, user=BACKUP_USER, password=BACKUP_PASSWORD[:-1])
    assert denied.value.args[0] == 1045


def test_the_fixture_schema_creates_every_object_with_data(mariadb: MariaDBServer, fir_db: str) -> None:
    with mariadb.connect() as conn:
        objects = object_lists(conn, fir_db)
        counts = row_counts(conn, fir_db)
        history = history_counts(conn, fir_db)
    assert {kind: objects[kind] for kind in EXPECTED_OBJECTS} == EXPECTED_OBJECTS
    assert all(count > 0 for count in counts.values()), counts
    assert sum(counts.values()) > 500
    assert history["case_assignments"] > counts["case_assignments"]


def test_the_fixture_holds_the_awkward_values(mariadb: MariaDBServer, fir_db: str) -> None:
    with mariadb.connect(fir_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT content FROM fir_attachments WHERE filename = 'all-bytes.bin'")
        assert cur.fetchone()[0] == bytes(range(256))
        cur.execute("SELECT content FROM fir_attachments WHERE filename IN ('nul.bin', 'empty.bin') ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == [b"\x00", b""]
        cur.execute("SELECT COUNT(*) FROM firs WHERE remarks LIKE '%),(%' OR remarks LIKE '%\\\\\\\\%'")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT COUNT(*) FROM firs WHERE complaint_text LIKE '%📱%' AND internal_note IS NOT NULL")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT MIN(id) FROM firs")
        assert cur.fetchone()[0] > 900_000_000
        cur.execute("SELECT COUNT(*) FROM police_stations WHERE ip_address IS NOT NULL AND station_uuid IS NOT NULL")
        assert cur.fetchone()[0] > 0


def test_a_plain_dump_by_the_backup_user_loads_back_identical(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    """`--dump-history` works together with `--single-transaction`; `--skip-add-locks` is needed (see below).

    The one schema difference that survives: a column DEFAULT NEXT VALUE FOR a
    sequence is dumped fully qualified with the SOURCE database name, so the copy
    still draws ids from the source's sequence.
    """
    copy = copy_through_a_dump(mariadb, backup_user, fir_db, make_database, tmp_path, DUMP_OPTIONS)

    with mariadb.connect() as conn:
        assert data_differences(conn, fir_db, copy) == []
        assert sequences_not_behind(conn, fir_db, copy) == {}
        differences = schema_differences(conn, fir_db, copy)
    assert len(differences) == 2, differences
    assert all("evidence_items" in d and "nextval(" in d for d in differences), differences
    assert any(f"only in {copy}" in d and f"`{fir_db}`.`evidence_id_seq`" in d for d in differences), differences


def test_a_dump_with_the_default_add_locks_cannot_be_loaded_back(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    """MariaDB 10.11: LOCK TABLES evidence_items WRITE does not lock the sequence its DEFAULT uses -> error 1100."""
    options = tuple(option for option in DUMP_OPTIONS if option != "--skip-add-locks")
    archive = dump_as_backup_user(backup_user, fir_db, tmp_path, options)
    with pytest.raises(DumpLoadError, match="evidence_id_seq' was not locked with LOCK TABLES"):
        load_dump_with_client(archive, mariadb, make_database("copy"))


def test_a_dump_without_dump_history_loses_history_and_the_helpers_notice(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    options = tuple(option for option in DUMP_OPTIONS if option != "--dump-history")
    copy = copy_through_a_dump(mariadb, backup_user, fir_db, make_database, tmp_path, options)
    with mariadb.connect() as conn:
        assert row_counts(conn, fir_db) == row_counts(conn, copy)  # the current rows are all there ...
        source, restored = table_checksums(conn, fir_db), table_checksums(conn, copy)
        # ... but CHECKSUM TABLE includes the hidden row_start/row_end, which the load re-stamped.
        assert {table for table in source if source[table] != restored[table]} == {"case_assignments"}
        assert history_counts(conn, copy)["case_assignments"] < history_counts(conn, fir_db)["case_assignments"]
        assert history_digests(conn, copy) != history_digests(conn, fir_db)


def test_the_comparison_helpers_detect_one_changed_row(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    copy = copy_through_a_dump(mariadb, backup_user, fir_db, make_database, tmp_path, DUMP_OPTIONS)
    with mariadb.connect() as conn:
        assert table_checksums(conn, fir_db) == table_checksums(conn, copy)
        with conn.cursor() as cur:
            cur.execute(f"UPDATE `{copy}`.fir_attachments SET content = 'x' WHERE filename = 'all-bytes.bin'")
            cur.execute(f"UPDATE `{copy}`.legacy_import_log SET raw_line = 'y' WHERE line_no = 3 LIMIT 1")
            cur.execute(f"UPDATE `{copy}`.firs SET internal_note = 'changed' WHERE internal_note IS NULL LIMIT 1")
        source, changed = table_checksums(conn, fir_db), table_checksums(conn, copy)
        assert object_lists(conn, fir_db) == object_lists(conn, copy)  # same names and counts ...
        differences = data_differences(conn, fir_db, copy)
    assert {t for t in source if source[t] != changed[t]} == {"fir_attachments", "legacy_import_log", "firs"}
    assert len(differences) == 1 and differences[0].startswith("checksums differ"), differences


def test_the_comparison_helpers_detect_missing_objects_and_sequence_changes(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    copy = copy_through_a_dump(mariadb, backup_user, fir_db, make_database, tmp_path, DUMP_OPTIONS)
    mariadb.execute(
        "DROP TRIGGER trg_firs_after_update",
        "ALTER EVENT ev_purge_old_drafts ENABLE",
        "ALTER SEQUENCE evidence_id_seq RESTART WITH 1000",
        database=copy,
    )
    with mariadb.connect() as conn:
        assert sequence_states(conn, fir_db) != sequence_states(conn, copy)
        assert object_lists(conn, fir_db)["triggers"] != object_lists(conn, copy)["triggers"]
        assert any("ENABLED" in d for d in schema_differences(conn, fir_db, copy))
        assert "evidence_id_seq" in sequences_not_behind(conn, fir_db, copy)


def test_loading_a_broken_dump_raises_with_the_client_error(
    mariadb: MariaDBServer, make_database: Callable[..., str], tmp_path: Path
) -> None:
    bad_sql = tmp_path / "bad.sql.gz"
    subprocess.run(["bash", "-c", f"echo 'CREATE TABLE oops (' | gzip > {shlex.quote(str(bad_sql))}"], check=True)
    with pytest.raises(DumpLoadError, match="ERROR 1064"):
        load_dump_with_client(bad_sql, mariadb, make_database())
    not_gzip = tmp_path / "plain.sql.gz"
    not_gzip.write_text("SELECT 1;")
    with pytest.raises(DumpLoadError, match="not in gzip format"):
        load_dump_with_client(not_gzip, mariadb, make_database())


def test_a_killed_server_starts_again_on_the_same_data_dir(private_mariadb: MariaDBServer) -> None:
    private_mariadb.execute(
        "CREATE DATABASE crashme",
        "CREATE TABLE crashme.t (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO crashme.t VALUES (1, 'committed')",
    )
    private_mariadb.kill()
    assert not private_mariadb.running
    with pytest.raises(pymysql.err.OperationalError):
        private_mariadb.connect(connect_timeout=2)
    private_mariadb.start()
    with private_mariadb.connect("crashme") as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM t")
        assert cur.fetchall() == (("committed",),)
    private_mariadb.stop()
    assert not private_mariadb.running
    private_mariadb.cleanup()
    assert not private_mariadb.basedir.exists()


def test_the_sessions_db_fixture_is_live_wal_with_rows_only_in_the_wal(sessions_db: Path) -> None:
    wal = sessions_db.with_name(sessions_db.name + "-wal")
    assert wal.stat().st_size > 0
    with sqlite3.connect(sessions_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == SESSION_COUNT
        assert conn.execute("SELECT COUNT(*) FROM validation_history").fetchone()[0] == VALIDATION_COUNT
        assert conn.execute("SELECT data FROM session_files WHERE name = 'all-bytes.bin'").fetchone()[0] == bytes(
            range(256)
        )
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    # Without the WAL the main file alone misses the newest rows: a backup must not just copy sessions.db.
    main_only = sessions_db.with_name("main-only.db")
    main_only.write_bytes(sessions_db.read_bytes())
    with sqlite3.connect(main_only) as copy:
        count = copy.execute("SELECT COUNT(*) FROM validation_history").fetchone()[0]
    copy.close()
    assert count == VALIDATION_COUNT - WAL_ONLY_VALIDATIONS


def test_the_rollback_sessions_db_fixture_uses_a_delete_journal(sessions_db_rollback: Path) -> None:
    with sqlite3.connect(sessions_db_rollback) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT COUNT(*) FROM validation_history").fetchone()[0] == VALIDATION_COUNT
        assert conn.execute("SELECT COUNT(*) FROM v_latest_validation").fetchone()[0] > 0
    conn.close()
    assert not sessions_db_rollback.with_name(sessions_db_rollback.name + "-wal").exists()


def test_the_backup_env_points_at_the_fixtures_and_nothing_else(
    backup_env: dict[str, str], backup_user: BackupUser
) -> None:
    assert backup_env["MYSQL_HOST"] == "127.0.0.1"
    assert backup_env["MYSQL_PORT"] == str(backup_user.port)
    assert (backup_env["MYSQL_USER"], backup_env["MYSQL_PASSWORD"]) == (BACKUP_USER, BACKUP_PASSWORD)
    assert backup_env["MYSQL_DB"].startswith("fir_db_")
    assert Path(backup_env["SESSIONS_DB_PATH"]).is_file()
    assert Path(backup_env["BACKUP_ENV_FILE"]).read_text() == ""
    assert not Path(backup_env["BACKUP_DIR"]).exists()
    assert set(backup_env) == {
        "PATH",
        "HOME",
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "MYSQL_DB",
        "SESSIONS_DB_PATH",
        "BACKUP_DIR",
        "BACKUP_ENV_FILE",
    }


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_missing_server_binaries_fail_under_ci_and_skip_otherwise(ci: str, outcome: str) -> None:
    this_test = f"{__file__}::test_the_throwaway_server_starts_quickly_and_answers_as_root"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", this_test],
        env={"PATH": "/nonexistent", "CI": ci},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "MariaDB server binaries not found" in result.stdout
