"""A dump of a server that writes a binary log records where its snapshot stands in it (issue #14): the
coordinates are exact, which the tests prove by replaying the server's binary log from them onto a restored copy
while a writer was busy before, during and after the dump: the copy then equals the source, row for row, with
nothing missing and nothing applied twice. On MariaDB the least-privileged backup user needs nothing more for it;
on MySQL 9.7 (its own mysqldump) it needs RELOAD and REPLICATION CLIENT, and without them the dump goes on
without coordinates and says what PITR lacks."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from dbcompare import table_checksums
from helpers import as_root, describe, events_named, newest_backup, read_manifest, run_cli
from mariadb_server import BACKUP_PASSWORD, BACKUP_USER, BackupUser
from mysql_server import BinlogMySQLServer

DB = "fir_db"
#: What docs/security.md gives the MariaDB backup user, nothing more.
GRANTS = ("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* TO {user}", "GRANT SELECT ON mysql.proc TO {user}")
#: What docs/security.md gives the MySQL backup user ...
MYSQL_GRANTS = ("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* TO {user}", "GRANT SHOW_ROUTINE ON *.* TO {user}")
#: ... and what docs/pitr.md adds for the dump's coordinates.
MYSQL_PITR_GRANT = "GRANT RELOAD, REPLICATION CLIENT ON *.* TO {user}"
ROWS = {
    "mariadb": f"INSERT INTO {DB}.fir (body, n) SELECT CONCAT('report ', seq), seq FROM {DB}.seq_1_to_2000",
    "mysql": f"INSERT INTO {DB}.fir (body, n) WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
    "WHERE n < 2000) SELECT CONCAT('report ', n), n FROM seq",
}


def prepare(server: Any, grants: tuple[str, ...] = GRANTS) -> None:
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"CREATE TABLE {DB}.fir (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(100), n INT)")
        cur.execute("SET SESSION cte_max_recursion_depth = 10000" if server.flavor == "mysql" else "DO 1")
        cur.execute(ROWS[server.flavor])
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
            for grant in grants:
                cur.execute(grant.format(user="%s@%s"), (BACKUP_USER, host))


class Writer(threading.Thread):
    """Inserts and updates rows in its own connection, one transaction at a time, until stopped."""

    def __init__(self, server: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.stop, self.commits = server, threading.Event(), 0

    def run(self) -> None:
        with self.server.connect(DB) as conn, conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute("INSERT INTO fir (body, n) VALUES ('written meanwhile', %s)", (self.commits,))
                cur.execute("UPDATE fir SET n = n + 1 WHERE id = %s", (self.commits % 2000 + 1,))
                conn.commit()
                self.commits += 1


def test_the_dump_records_its_snapshots_binlog_coordinates_exactly(
    binlog_mariadb: Any, tmp_path: Path, sessions_db: Path
) -> None:
    server = binlog_mariadb
    prepare(server)
    env = BackupUser(BACKUP_USER, BACKUP_PASSWORD, server.host, server.port, server.socket).backup_env(
        DB, sessions_db, tmp_path
    )
    env["BACKUP_SESSIONS_ENABLED"] = "false"

    writer = Writer(server)
    writer.start()
    try:
        result = run_cli(env, "backup")
        before_end = writer.commits
    finally:
        writer.stop.set()
        writer.join()
    assert result.returncode == 0, describe(result)
    assert writer.commits > before_end > 0, "the writer was busy during the dump and after it"

    dump = newest_backup(env)
    recorded = read_manifest(dump)["binlog"]
    assert set(recorded) == {"file", "position", "gtid", "snapshot_before"}
    assert recorded["file"].startswith("mysql-bin.") and recorded["position"] > 4
    assert recorded["gtid"].startswith("0-1-")

    # Restore the dump under another name, then replay everything the server logged after the coordinates.
    restored = run_cli(as_root(env), "restore", "mysql", "latest", "--target-db", "fir_copy", "--yes")
    assert restored.returncode == 0, describe(restored)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        files = [row[0] for row in cur.fetchall()]
    replay = files[files.index(recorded["file"]) :]
    events = subprocess.run(
        [
            "mariadb-binlog",
            "--no-defaults",
            f"--start-position={recorded['position']}",
            f"--database={DB}",
            f"--rewrite-db={DB}->fir_copy",
            *(str(server.datadir / name) for name in replay),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    loaded = subprocess.run(
        [*server.client_command(), "--database=fir_copy"], input=events, capture_output=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr.decode()
    with server.connect() as conn:
        assert table_checksums(conn, "fir_copy") == table_checksums(conn, DB)


def mysql_env(server: BinlogMySQLServer, clients: dict[str, Path], sessions_db: Path, tmp_path: Path) -> dict[str, str]:
    """The backup user's settings with MySQL's own clients."""
    env = BackupUser(BACKUP_USER, BACKUP_PASSWORD, server.host, server.port, server.socket).backup_env(
        DB, sessions_db, tmp_path
    )
    return dict(
        env,
        BACKUP_SESSIONS_ENABLED="false",
        MYSQLDUMP_BIN=str(clients["mysqldump"]),
        MYSQL_BIN=str(clients["mysql"]),
        MYSQLBINLOG_BIN=str(clients["mysqlbinlog"]),
    )


def test_a_mysql_dump_records_its_snapshots_binlog_coordinates_exactly(
    binlog_mysql: BinlogMySQLServer, mysql_clients: dict[str, Path], tmp_path: Path, sessions_db: Path
) -> None:
    server = binlog_mysql
    prepare(server, (*MYSQL_GRANTS, MYSQL_PITR_GRANT))
    env = mysql_env(server, mysql_clients, sessions_db, tmp_path)

    writer = Writer(server)
    writer.start()
    try:
        result = run_cli(env, "backup")
        before_end = writer.commits
    finally:
        writer.stop.set()
        writer.join()
    assert result.returncode == 0, describe(result)
    assert writer.commits > before_end > 0, "the writer was busy during the dump and after it"
    end = server.binlog_position()

    dump = newest_backup(env)
    manifest = read_manifest(dump)
    recorded = manifest["binlog"]
    assert set(recorded) == {"file", "position", "gtid", "snapshot_before"}
    assert recorded["file"].startswith("mysql-bin.") and recorded["position"] > 4
    assert recorded["gtid"] is None, "--set-gtid-purged=OFF: the dump names no GTID set"
    assert "--source-data=2" in manifest["dump_options"] and "--set-gtid-purged=OFF" in manifest["dump_options"]

    # Restore the dump under another name, then replay what the server logged from the coordinates to the end of
    # the writer (not the restore itself, which the log holds after it). --skip-gtids: these transactions' GTIDs
    # are the server's own, which it would skip as done; --database names the copy: MySQL rewrites, then filters.
    restored = run_cli(as_root(env), "restore", "mysql", "latest", "--target-db", "fir_copy", "--yes")
    assert restored.returncode == 0, describe(restored)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        files = [row[0] for row in cur.fetchall()]
    replay = files[files.index(recorded["file"]) : files.index(end[0]) + 1]
    events = subprocess.run(
        [
            *server.binlog_command(),
            f"--start-position={recorded['position']}",
            f"--stop-position={end[1]}",
            "--database=fir_copy",
            f"--rewrite-db={DB}->fir_copy",
            "--skip-gtids",
            *(str(server.datadir / name) for name in replay),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    loaded = subprocess.run(
        [*server.client_command(), "--database=fir_copy"], input=events, capture_output=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr.decode()
    with server.connect() as conn:
        assert table_checksums(conn, "fir_copy") == table_checksums(conn, DB)


def test_without_reload_and_replication_client_a_mysql_dump_goes_on_without_coordinates(
    binlog_mysql: BinlogMySQLServer, mysql_clients: dict[str, Path], tmp_path: Path, sessions_db: Path
) -> None:
    prepare(binlog_mysql, MYSQL_GRANTS)
    env = mysql_env(binlog_mysql, mysql_clients, sessions_db, tmp_path)

    result = run_cli(env, "backup")

    assert result.returncode == 0, describe(result)
    manifest = read_manifest(newest_backup(env))
    assert "binlog" not in manifest and "--source-data=2" not in manifest["dump_options"]
    (warning,) = events_named(env, "binlog_position_not_recorded")
    assert warning["level"] == "warning"
    assert warning["missing"] == ["RELOAD (or FLUSH_TABLES)", "REPLICATION CLIENT"]
    assert "GRANT RELOAD ON *.* TO 'afirgen_backup'@" in warning["fix"]
