"""The test infrastructure itself: servers (MariaDB and MySQL), backup users, fixture schemas, comparison helpers,
dump round trips, MySQL's own clients."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import fixture_schema_mysql
import pymysql
import pytest
from dbcompare import (
    DumpLoadError,
    all_differences,
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
from mysql_server import (
    BACKUP_DB_PRIVILEGES,
    BACKUP_GLOBAL_PRIVILEGES,
    ROOT_VARIABLE,
    MySQLServer,
)

from afirgen_backup.sources.mysql.dump import BASE_DUMP_OPTIONS

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


def dump_as_backup_user(
    backup_user: BackupUser,
    db: str,
    tmp_path: Path,
    options: Sequence[str],
    program: str = "mariadb-dump",
    *,
    stderr: Sequence[str] = (),
) -> Path:
    """`PROGRAM --defaults-extra-file=<0600 file> OPTIONS DB | gzip > dump.sql.gz` as the backup user.

    The dump must exit 0 and print nothing on stderr but the lines that contain one of `stderr`.
    """
    option_file = backup_user.write_option_file(tmp_path / "backup-client.cnf")
    assert option_file.stat().st_mode & 0o777 == 0o600
    target = tmp_path / f"{db}.sql.gz"
    dump = shlex.join([program, f"--defaults-extra-file={option_file}", *options, db])
    pipeline = f"set -o pipefail; {dump} | gzip > {shlex.quote(str(target))}"
    result = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    unexpected = [line for line in result.stderr.splitlines() if not any(words in line for words in stderr)]
    assert unexpected == [], result.stderr
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


# --- MySQL ---------------------------------------------------------------------------------------------------

FIRST_DAY = datetime(1000, 1, 1)  # noqa: DTZ001 - DATETIME, no time zone
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999999)  # noqa: DTZ001 - DATETIME, no time zone
#: What the tool gives MySQL's mysqldump (afirgen_backup.sources.mysql.build_dump_argv).
MYSQLDUMP_OPTIONS = (*BASE_DUMP_OPTIONS, "--set-gtid-purged=OFF")
#: mysqldump 9.7 reads performance_schema.column_masking_policy, which a user without SELECT on it may not:
#: it says so on stderr, and carries on (exit 0, the dump complete).
MASKING_POLICY_COMPLAINT = "when trying to dump masking policies"


def test_the_mysql_server_keeps_binary_logging_gtids_and_the_event_scheduler_on(mysql: MySQLServer) -> None:
    with mysql.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT VERSION(), CURRENT_USER(), @@collation_server, @@log_bin, @@gtid_mode, @@event_scheduler,"
            " @@performance_schema"
        )
        version, user, collation, log_bin, gtid_mode, scheduler, performance_schema = cur.fetchone()
    assert version.startswith("9.") and "mariadb" not in version.lower(), version
    assert user == "root@127.0.0.1"
    assert (collation, log_bin, gtid_mode, scheduler) == ("utf8mb4_0900_ai_ci", 1, "ON", "ON")
    assert performance_schema == 0, "kept small: no performance schema"
    assert mysql.flavor == "mysql" and mysql.socket.is_socket()
    assert mysql.start_seconds < 30


def test_the_mysql_server_answers_over_its_unix_socket(mysql: MySQLServer) -> None:
    with pymysql.connect(unix_socket=str(mysql.socket), user="root", password="") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0] == "root@localhost"


@pytest.mark.parametrize("via_socket", [False, True], ids=["tcp", "socket"])
def test_the_mysql_backup_user_has_exactly_the_intended_grants(
    mysql_backup_user: BackupUser, mysql_fir_db: str, via_socket: bool
) -> None:
    where = (
        {"unix_socket": str(mysql_backup_user.socket)}
        if via_socket
        else {"host": mysql_backup_user.host, "port": mysql_backup_user.port}
    )
    with pymysql.connect(user=BACKUP_USER, password=BACKUP_PASSWORD, **where) as conn:
        grants = grants_of(conn)
    host = "localhost" if via_socket else "%"
    on_all = [g for g in grants if " ON *.* " in g]
    assert on_all == [
        f"GRANT USAGE ON *.* TO `{BACKUP_USER}`@`{host}`",
        f"GRANT {','.join(BACKUP_GLOBAL_PRIVILEGES)} ON *.* TO `{BACKUP_USER}`@`{host}`",
    ]
    # one grant per database it backs up (databases of earlier tests keep theirs), always the same privileges
    per_database = [
        re.fullmatch(rf"GRANT (.+) ON `([^`]+)`\.\* TO `{BACKUP_USER}`@`{re.escape(host)}`", g) for g in grants
    ]
    assert all(match or g in on_all for match, g in zip(per_database, grants, strict=True)), grants
    privileges = {
        match.group(2): sorted(p.strip() for p in match.group(1).split(",")) for match in per_database if match
    }
    assert privileges[mysql_fir_db] == sorted(BACKUP_DB_PRIVILEGES)
    assert all(p == sorted(BACKUP_DB_PRIVILEGES) for p in privileges.values()), privileges


def test_the_mysql_backup_user_cannot_change_anything(mysql_backup_user: BackupUser, mysql_fir_db: str) -> None:
    with (
        pymysql.connect(
            host=mysql_backup_user.host,
            port=mysql_backup_user.port,
            user=BACKUP_USER,
            password=BACKUP_PASSWORD,
            database=mysql_fir_db,
        ) as conn,
        conn.cursor() as cur,
    ):
        for statement in (
            "DELETE FROM firs",
            "CREATE TABLE t (a INT)",
            "DROP TABLE legacy_import_log",
            "CALL close_fir(1, 'x', @c)",
        ):
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cur.execute(statement)
            assert denied.value.args[0] in (1142, 1044, 1370), statement
        with pytest.raises(pymysql.err.OperationalError) as denied:
            cur.execute("SELECT COUNT(*) FROM mysql.user")
        assert denied.value.args[0] == 1142, "no global SELECT: the account cannot read password hashes"


def test_the_mysql_fixture_creates_every_object_with_data(mysql: MySQLServer, mysql_fir_db: str) -> None:
    expected = fixture_schema_mysql.EXPECTED_OBJECTS
    with mysql.connect(mysql_fir_db) as conn, conn.cursor() as cur:
        objects = object_lists(conn, mysql_fir_db)
        assert {kind: objects[kind] for kind in expected} == expected
        assert all(count > 0 for count in objects["row_counts"].values()), objects["row_counts"]
        assert sum(objects["row_counts"].values()) > 700
        # FOLLOWS: the trigger whose name sorts last runs first
        before_update = [
            (order, name)
            for table, timing, event, order, name in objects["trigger_order"]
            if (table, timing, event) == ("firs", "BEFORE", "UPDATE")
        ]
        assert before_update == list((order, name) for name, order in fixture_schema_mysql.ORDERED_TRIGGERS)
        assert sorted(name for _, name in before_update) != [name for _, name in before_update]
        assert objects["event_status"] == {"ev_close_stale_drafts": "ENABLED", "ev_purge_old_drafts": "DISABLED"}
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, EXTRA, SRS_ID FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
            " AND (EXTRA <> '' AND EXTRA <> 'auto_increment' OR SRS_ID IS NOT NULL) ORDER BY TABLE_NAME, COLUMN_NAME",
            (mysql_fir_db,),
        )
        assert [tuple(row) for row in cur.fetchall()] == [
            ("fir_number_parts", "fir_serial", "VIRTUAL GENERATED", None),
            ("fir_number_parts", "fir_year", "STORED GENERATED", None),
            ("firs", "incident_date", "VIRTUAL GENERATED", None),
            ("firs", "incident_year", "STORED GENERATED", None),
            ("firs", "internal_note", "INVISIBLE", None),
            ("firs", "registered_at", "DEFAULT_GENERATED", None),
            ("police_stations", "created_at", "DEFAULT_GENERATED", None),
            ("police_stations", "location", "", 4326),
            ("police_stations", "station_uuid", "DEFAULT_GENERATED", None),
        ]
        cur.execute(
            "SELECT TABLE_NAME, INDEX_NAME, INDEX_TYPE, EXPRESSION IS NOT NULL FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = %s AND (INDEX_TYPE <> 'BTREE' OR EXPRESSION IS NOT NULL OR INDEX_NAME ="
            " 'ix_incident_year') ORDER BY 1, 2, SEQ_IN_INDEX",
            (mysql_fir_db,),
        )
        assert [tuple(row) for row in cur.fetchall()] == [
            ("firs", "ft_complaint", "FULLTEXT", 0),
            ("firs", "ft_complaint", "FULLTEXT", 0),
            ("firs", "ix_incident_year", "BTREE", 0),
            ("firs", "ix_metadata_source", "BTREE", 1),
            ("police_stations", "sx_station_location", "SPATIAL", 0),
        ]
        cur.execute(
            "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s ORDER BY 1",
            (mysql_fir_db,),
        )
        assert [row[0] for row in cur.fetchall()] == ["chk_evidence_weight", "chk_property_value", "chk_station_code"]
        cur.execute(
            "SELECT CHECK_OPTION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'v_open_firs'",
            (mysql_fir_db,),
        )
        assert cur.fetchone()[0] == "CASCADED"
        cur.execute("SELECT SUM(open_firs) FROM v_open_fir_counts")
        open_firs = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM firs WHERE status <> 'closed'")
        assert open_firs == cur.fetchone()[0] > 0


def test_the_mysql_fixture_holds_the_awkward_values(mysql: MySQLServer, mysql_fir_db: str) -> None:
    with mysql.connect(mysql_fir_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT content FROM fir_attachments WHERE filename = 'all-bytes.bin'")
        assert cur.fetchone()[0] == bytes(range(256))
        cur.execute("SELECT content FROM fir_attachments WHERE filename IN ('nul.bin', 'empty.bin') ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == [b"\x00", b""]
        cur.execute("SELECT COUNT(*) FROM firs WHERE remarks LIKE '%),(%' OR remarks LIKE '%\\\\\\\\%'")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT COUNT(*) FROM firs WHERE complaint_text LIKE '%📱%' AND internal_note IS NOT NULL")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT COUNT(*) FROM firs WHERE complaint_text LIKE '%before\0after%'")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT MIN(id), MIN(incident_at), MAX(incident_at), MAX(incident_year) FROM firs")
        assert cur.fetchone() == (900_000_001, FIRST_DAY, LAST_MOMENT, 9999)
        cur.execute("SELECT * FROM firs LIMIT 1")
        assert "internal_note" not in [column[0] for column in cur.description], "INVISIBLE: not in SELECT *"
        # the ordered triggers: the audit note quotes the status stamp written before it
        cur.execute("SELECT COUNT(*), SUM(internal_note LIKE 'audited %]') FROM firs WHERE status = 'closed'")
        closed, audited = cur.fetchone()
        assert closed == audited > 0
        cur.execute("SELECT COUNT(*) FROM fir_number_parts WHERE fir_year BETWEEN 2021 AND 2024 AND fir_serial >= 0")
        assert cur.fetchone()[0] == 240
        cur.execute("SELECT ST_SRID(location), ST_Latitude(location) BETWEEN 8 AND 35 FROM police_stations LIMIT 1")
        assert cur.fetchone() == (4326, 1)
        cur.execute("SELECT COUNT(*) FROM police_stations WHERE LENGTH(station_uuid) = 16 AND ip_address IS NOT NULL")
        assert cur.fetchone()[0] > 0


def test_a_dump_by_mysqldump_9_as_the_backup_user_loads_back_identical(
    mysql: MySQLServer,
    mysql_backup_user: BackupUser,
    mysql_fir_db: str,
    make_mysql_database: Callable[..., str],
    mysql_clients: dict[str, Path],
    tmp_path: Path,
) -> None:
    archive = dump_as_backup_user(
        mysql_backup_user,
        mysql_fir_db,
        tmp_path,
        MYSQLDUMP_OPTIONS,
        str(mysql_clients["mysqldump"]),
        stderr=[MASKING_POLICY_COMPLAINT],
    )
    copy = make_mysql_database("copy")
    load_dump_with_client(archive, mysql, copy)  # MySQL's own `mysql`
    with mysql.connect() as conn:
        assert all_differences(conn, mysql_fir_db, copy) == []


def test_mariadb_dump_writes_generated_columns_which_mysql_refuses_to_load(
    mysql: MySQLServer,
    mysql_backup_user: BackupUser,
    mysql_fir_db: str,
    make_mysql_database: Callable[..., str],
    tmp_path: Path,
) -> None:
    """Why every load of an image-client dump into MySQL fails (the xfails of the mysql-image-client pairing)."""
    archive = dump_as_backup_user(mysql_backup_user, mysql_fir_db, tmp_path, BASE_DUMP_OPTIONS)
    with pytest.raises(DumpLoadError, match="ERROR 3105 .* generated column 'fir_year' in table 'fir_number_parts'"):
        load_dump_with_client(archive, mysql, make_mysql_database("copy"), program="mariadb")


@pytest.mark.parametrize("program", ["mysqldump", "mariadb-dump"])
def test_without_show_routine_both_clients_leave_out_every_routine_and_still_exit_0(
    mysql: MySQLServer,
    mysql_fir_db: str,
    mysql_clients: dict[str, Path],
    tmp_path: Path,
    program: str,
) -> None:
    """Why SHOW_ROUTINE is in BACKUP_GLOBAL_PRIVILEGES: the README's grant narrowed to the database loses routines."""
    user = BackupUser("no_show_routine", "pw", mysql.host, mysql.port, mysql.socket)
    mysql.execute("DROP USER IF EXISTS no_show_routine@'%'", "CREATE USER no_show_routine@'%' IDENTIFIED BY 'pw'")
    try:
        mysql.execute(f"GRANT {', '.join(BACKUP_DB_PRIVILEGES)} ON `{mysql_fir_db}`.* TO no_show_routine@'%'")
        executable = str(mysql_clients["mysqldump"]) if program == "mysqldump" else "mariadb-dump"
        options = MYSQLDUMP_OPTIONS if program == "mysqldump" else BASE_DUMP_OPTIONS
        archive = dump_as_backup_user(
            user, mysql_fir_db, tmp_path, options, executable, stderr=[MASKING_POLICY_COMPLAINT]
        )
        dumped = subprocess.run(["gunzip", "-c", str(archive)], capture_output=True, check=True).stdout
        assert (
            b"-- Dump completed" in dumped
            and b"CREATE TABLE `firs`" in dumped
            and b"TRIGGER `trg_firs_bu_audit`" in dumped
        )
        assert b"PROCEDURE" not in dumped and b"FUNCTION `fir_label`" not in dumped

        mysql.execute("GRANT SHOW_ROUTINE ON *.* TO no_show_routine@'%'")
        archive = dump_as_backup_user(
            user, mysql_fir_db, tmp_path, options, executable, stderr=[MASKING_POLICY_COMPLAINT]
        )
        dumped = subprocess.run(["gunzip", "-c", str(archive)], capture_output=True, check=True).stdout
        assert b"PROCEDURE `close_fir`" in dumped and b"FUNCTION `fir_label`" in dumped
    finally:
        mysql.execute("DROP USER IF EXISTS no_show_routine@'%'")


def test_the_comparison_helpers_see_what_mysql_adds(
    mysql: MySQLServer,
    mysql_backup_user: BackupUser,
    mysql_fir_db: str,
    make_mysql_database: Callable[..., str],
    mysql_clients: dict[str, Path],
    tmp_path: Path,
) -> None:
    archive = dump_as_backup_user(
        mysql_backup_user,
        mysql_fir_db,
        tmp_path,
        MYSQLDUMP_OPTIONS,
        str(mysql_clients["mysqldump"]),
        stderr=[MASKING_POLICY_COMPLAINT],
    )
    copy = make_mysql_database("copy")
    load_dump_with_client(archive, mysql, copy)
    trigger = fixture_schema_mysql.SCHEMA[
        [i for i, sql in enumerate(fixture_schema_mysql.SCHEMA) if "trg_firs_bu_audit" in sql][0]
    ]
    mysql.execute(
        "UPDATE firs SET internal_note = 'changed' WHERE remarks IS NULL ORDER BY id LIMIT 1",  # an INVISIBLE column
        "ALTER EVENT ev_close_stale_drafts DISABLE",
        "DROP TRIGGER trg_firs_bu_audit",
        trigger.replace("FOLLOWS", "PRECEDES"),  # same trigger, run first
        "ALTER TABLE firs DROP INDEX ix_metadata_source,"
        " ADD INDEX ix_metadata_source ((CAST(metadata->>'$.lang' AS CHAR(16)) COLLATE utf8mb4_bin))",
        database=copy,
    )
    with mysql.connect() as conn:
        source, changed = object_lists(conn, mysql_fir_db), object_lists(conn, copy)
        assert table_checksums(conn, mysql_fir_db)["firs"] != table_checksums(conn, copy)["firs"]
        assert (
            source["event_status"]["ev_close_stale_drafts"]
            == "ENABLED"
            != changed["event_status"]["ev_close_stale_drafts"]
        )
        assert ("firs", "BEFORE", "UPDATE", 1, "trg_firs_bu_audit") in changed["trigger_order"]
        assert ("firs", "BEFORE", "UPDATE", 1, "trg_firs_bu_stamp") in source["trigger_order"]
        differences = schema_differences(conn, mysql_fir_db, copy)
    assert any(d.startswith("indexes: only in") and "$.lang" in d for d in differences), differences
    assert any(d.startswith("events: only in") and "DISABLED" in d for d in differences), differences


def test_a_killed_mysql_server_starts_again_on_the_same_data_dir(private_mysql: MySQLServer) -> None:
    private_mysql.execute(
        "CREATE DATABASE crashme",
        "CREATE TABLE crashme.t (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO crashme.t VALUES (1, 'committed')",
    )
    private_mysql.kill()
    assert not private_mysql.running
    with pytest.raises(pymysql.err.OperationalError):
        private_mysql.connect(connect_timeout=2)
    private_mysql.start()
    with private_mysql.connect("crashme") as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM t")
        assert cur.fetchall() == (("committed",),)
    private_mysql.cleanup()
    assert not private_mysql.running and not private_mysql.basedir.exists()


def test_the_mysql_client_wrappers_exec_mysqls_own_client_keeping_descriptors_and_name(
    mysql: MySQLServer, mysql_backup_user: BackupUser, mysql_clients: dict[str, Path], tmp_path: Path
) -> None:
    """Like the tool: credentials in an inherited pipe named as --defaults-extra-file=/dev/fd/N."""
    read_end, write_end = os.pipe()
    options = mysql_backup_user.write_option_file(tmp_path / "client.cnf").read_bytes()
    os.write(write_end, options)
    os.close(write_end)
    command = [
        str(mysql_clients["mysql"]),
        f"--defaults-extra-file=/dev/fd/{read_end}",
        "-N",
        "-e",
        "SELECT CURRENT_USER(), VERSION(), SLEEP(1)",
    ]
    client = subprocess.Popen(command, pass_fds=(read_end,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(read_end)
    names = set()
    while client.poll() is None:
        names.add(
            Path(f"/proc/{client.pid}/comm").read_text().strip() if Path(f"/proc/{client.pid}/comm").exists() else ""
        )
        time.sleep(0.05)
    stdout, stderr = client.communicate()
    assert client.returncode == 0, stderr
    assert stdout.split("\t")[:2] == [f"{BACKUP_USER}@%", "9.7.4-2"] or stdout.startswith(f"{BACKUP_USER}@%\t9."), (
        stdout
    )
    assert "mysql" in names, names
    version = subprocess.run([str(mysql_clients["mysqldump"]), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("mysqldump  Ver 9."), version.stdout


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_without_the_mysql_root_mysql_tests_fail_under_ci_and_skip_otherwise(
    ci: str, outcome: str, tmp_path: Path
) -> None:
    this_test = f"{__file__}::test_the_mysql_server_answers_over_its_unix_socket"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", this_test],
        env={"PATH": os.environ["PATH"], "CI": ci, ROOT_VARIABLE: str(tmp_path / "no-root")},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert f"MySQL root {tmp_path / 'no-root'} lacks" in result.stdout
    assert "tests/tools/build-mysql-root" in result.stdout
