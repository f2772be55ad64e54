"""Point-in-time recovery on Oracle MySQL 9.7 with GTIDs on (issue #14), with MySQL's own mysqldump, mysqlbinlog and
mysql: `binlog-stream` archives the log byte for byte as the server wrote it, and `restore mysql --to-time T` into
another database equals, table checksum for table checksum, what the source held at T (before the second backup's
snapshot, after a rotation, at the end of the log), with a writer committing all along, rows of another database
in the same transactions; `list --binlog` shows that range; `--to-gtid uuid:N` equals what it held right after that
transaction. A log the restore cannot check (compressed transactions) is refused, the target untouched. As on
MariaDB (test_pitr.py's sequences, shared): `status` tells the stream running and current, stopped, and a gap the
server's purge made; retention keeps the files the oldest kept backup needs and nothing older; sealed files go
off-site with each run."""

from __future__ import annotations

import gzip
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import describe, finish, run_cli, wait_for
from mariadb_server import BACKUP_PASSWORD, BACKUP_USER, BackupUser
from mysql_server import BinlogMySQLServer
from test_pitr import (
    a_new_host_restores_to_a_time_from_the_bucket,
    a_purge_is_a_gap_no_restore_crosses,
    assert_listed_from_before_t1_to_t3,
    assert_restored_at_three_points,
    assert_restored_at_two_gtids,
    newest_gtid,
    next_second_boundary,
    remote_copies_go_with_the_dumps_that_need_them,
    restore_at_three_points,
    restore_at_two_gtids,
    restore_to,
    retention_keeps_what_the_oldest_kept_backup_needs,
    sealed_files_go_off_site,
    stream_state,
    streaming,
    wait_until_archived,
)

DB = "fir_db"
#: docs/security.md's MySQL backup user, what the dump's coordinates take, and what binlog-stream needs besides.
GRANTS = (
    "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* TO {user}",
    "GRANT SHOW_ROUTINE ON *.* TO {user}",
    "GRANT RELOAD, REPLICATION CLIENT ON *.* TO {user}",
    "GRANT REPLICATION SLAVE ON *.* TO {user}",
)


def prepare(server: BinlogMySQLServer) -> None:
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"CREATE TABLE {DB}.fir (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(100), n INT)")
        cur.execute("SET SESSION cte_max_recursion_depth = 10000")
        cur.execute(
            f"INSERT INTO {DB}.fir (body, n) WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            "WHERE n < 2000) SELECT CONCAT('report ', n), n FROM seq"
        )
        cur.execute("CREATE DATABASE other_app")
        cur.execute("CREATE TABLE other_app.log (id INT PRIMARY KEY AUTO_INCREMENT, n INT)")
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
            for grant in GRANTS:
                cur.execute(grant.format(user="%s@%s"), (BACKUP_USER, host))


def stream_env(
    server: BinlogMySQLServer, clients: dict[str, Path], sessions_db: Path, tmp_path: Path
) -> dict[str, str]:
    env = BackupUser(BACKUP_USER, BACKUP_PASSWORD, server.host, server.port, server.socket).backup_env(
        DB, sessions_db, tmp_path
    )
    return dict(
        env,
        BACKUP_SESSIONS_ENABLED="false",
        BACKUP_RETENTION_DAYS="30",
        BACKUP_KEEP_LAST="10",
        MYSQLDUMP_BIN=str(clients["mysqldump"]),
        MYSQL_BIN=str(clients["mysql"]),
        MYSQLBINLOG_BIN=str(clients["mysqlbinlog"]),
    )


@pytest.fixture
def streamed(
    binlog_mysql: BinlogMySQLServer, mysql_clients: dict[str, Path], sessions_db: Path, tmp_path: Path
) -> Iterator[Any]:
    """(server, env, the running stream, the writer): fir_db with 2,000 rows, the writer committing."""
    prepare(binlog_mysql)
    yield from streaming(binlog_mysql, stream_env(binlog_mysql, mysql_clients, sessions_db, tmp_path))


def test_binlog_stream_archives_mysqls_binary_log_byte_for_byte(streamed: Any) -> None:
    server, env, stream, writer = streamed
    time.sleep(1.5)
    server.execute("FLUSH BINARY LOGS")
    time.sleep(1.0)
    server.execute("FLUSH BINARY LOGS")
    writer.stop.set()
    writer.join()
    wait_until_archived(server, env)
    archive = Path(env["BACKUP_DIR"]) / "binlog"
    wait_for(lambda: len(list(archive.glob("*.gz"))) >= 2, 30, "the rotated files to be sealed")
    (current,) = [path.name for path in (archive / ".stream").iterdir()]

    stream.send_signal(signal.SIGTERM)
    stopped = finish(stream)

    assert stopped.returncode == 143, describe(stopped)
    assert writer.failure is None and writer.commits > 10, writer.failure
    sealed = sorted(archive.glob("*.gz"))
    assert [path.name for path in sealed] == ["mysql-bin.000001.gz", "mysql-bin.000002.gz"]
    for path in sealed:
        manifest = json.loads(Path(f"{path}.json").read_text())
        assert gzip.decompress(path.read_bytes()) == (server.datadir / path.name.removesuffix(".gz")).read_bytes()
        assert manifest["server_version"].startswith("9.") and manifest["last_gtid"] is not None
    assert current == "mysql-bin.000003"
    own = (server.datadir / current).read_bytes()
    archived = (archive / ".stream" / current).read_bytes()
    flags = slice(4 + 17, 4 + 19)  # the format description's flags: the server's own file is marked in use
    assert archived[: flags.start] + archived[flags.stop :] == own[: flags.start] + own[flags.stop :]
    state = stream_state(env)
    assert state["last_error"] is None and state["server_position"].startswith("mysql-bin.000003:")


def test_a_restore_to_a_time_equals_the_database_at_that_time(streamed: Any) -> None:
    server, env, stream, writer = streamed

    points = restore_at_three_points(server, env, writer, wait_until_archived)

    assert_restored_at_three_points(server, writer, points)
    assert_listed_from_before_t1_to_t3(env, points)
    assert stream.poll() is None, "the stream runs on"


def test_a_restore_to_a_gtid_equals_the_database_right_after_that_transaction(streamed: Any) -> None:
    server, env, stream, writer = streamed

    points = restore_at_two_gtids(server, env, writer, newest_gtid)  # the writer held: its last transaction's

    assert_restored_at_two_gtids(server, writer, points)
    assert stream.poll() is None, "the stream runs on"


def test_a_compressed_transaction_is_refused_the_target_untouched(streamed: Any) -> None:
    server, env, _stream, writer = streamed
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    writer.stop.set()
    writer.join()
    server.execute(
        "SET SESSION binlog_transaction_compression = ON", f"INSERT INTO {DB}.fir (body, n) VALUES ('compressed', 0)"
    )
    after = next_second_boundary()
    wait_until_archived(server, env)

    restored = restore_to(env, f"{after:%Y-%m-%d %H:%M:%S}", "copy_compressed")

    assert restored.returncode == 1, describe(restored)
    assert "TRANSACTION_PAYLOAD_EVENT" in restored.stderr and "binlog_transaction_compression" in restored.stderr
    assert "was not touched" in restored.stderr
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'copy_compressed%'")
        assert cur.fetchall() == ()


def test_status_tells_a_stopped_stream_and_a_purge_gap_no_restore_crosses(streamed: Any) -> None:
    a_purge_is_a_gap_no_restore_crosses(streamed)


def test_retention_keeps_the_binary_log_the_oldest_kept_backup_needs_and_nothing_older(streamed: Any) -> None:
    retention_keeps_what_the_oldest_kept_backup_needs(streamed)


def test_sealed_binary_log_files_go_off_site_with_each_run(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    sealed_files_go_off_site(streamed, s3_server, s3_bucket, tmp_path)


def test_remote_copies_of_the_archive_go_with_the_dumps_that_need_them_and_stay_while_one_is_unknown(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    remote_copies_go_with_the_dumps_that_need_them(streamed, s3_server, s3_bucket, tmp_path)


def test_on_a_new_host_a_restore_to_a_time_comes_from_the_bucket_and_equals_the_database_at_that_time(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    a_new_host_restores_to_a_time_from_the_bucket(streamed, s3_server, s3_bucket, tmp_path)
