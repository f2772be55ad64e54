"""Point-in-time recovery on a real MariaDB with a binary log (issue #14): `binlog-stream` archives the log while a
writer commits without pause, full backups are taken in the middle of it, and `restore mysql --to-time T` into
another database must equal, table checksum for table checksum, what the source held at T: before a backup's
snapshot (from the backup before), after a rotation, after the streamer was killed and the server restarted, with
a client in another time zone. What the archive cannot give (a gap the server's purge made, a time beyond its
end, a statement on another database) fails in one line, the target untouched."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbcompare import table_checksums
from helpers import (
    as_root,
    assert_refused,
    describe,
    finish,
    newest_backup,
    read_manifest,
    run_cli,
    start_cli,
    stderr_errors,
    wait_for,
    with_offsite,
)
from mariadb_server import BACKUP_PASSWORD, BACKUP_USER, BackupUser

DB = "fir_db"
#: docs/security.md's MariaDB backup user, and what binlog-stream needs besides.
GRANTS = (
    "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* TO {user}",
    "GRANT SELECT ON mysql.proc TO {user}",
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO {user}",
)


def prepare(server: Any) -> None:
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"CREATE TABLE {DB}.fir (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(100), n INT)")
        cur.execute(f"INSERT INTO {DB}.fir (body, n) SELECT CONCAT('report ', seq), seq FROM {DB}.seq_1_to_2000")
        cur.execute("CREATE DATABASE other_app")
        cur.execute("CREATE TABLE other_app.log (id INT PRIMARY KEY AUTO_INCREMENT, n INT)")
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
            for grant in GRANTS:
                cur.execute(grant.format(user="%s@%s"), (BACKUP_USER, host))


class Writer(threading.Thread):
    """Commits one transaction after another (an insert and an update in fir_db, a row in another database),
    until stopped; `pause_at_a_second_boundary` stops it where every commit so far has an earlier timestamp.
    With `gtid_sql` set (MariaDB: SELECT @@last_gtid), `last_gtid` is its last transaction's GTID."""

    def __init__(self, server: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.stop, self.commits = server, threading.Event(), 0
        self.hold, self.held = threading.Event(), threading.Event()
        self.failure: BaseException | None = None
        self.gtid_sql: str | None = None
        self.last_gtid: str | None = None

    def run(self) -> None:
        try:
            with self.server.connect(DB) as conn, conn.cursor() as cur:
                while not self.stop.is_set():
                    if self.hold.is_set():
                        self.held.set()
                        time.sleep(0.01)
                        continue
                    self.held.clear()
                    cur.execute("INSERT INTO fir (body, n) VALUES ('written meanwhile', %s)", (self.commits,))
                    cur.execute("UPDATE fir SET n = n + 1 WHERE id = %s", (self.commits % 2000 + 1,))
                    cur.execute("INSERT INTO other_app.log (n) VALUES (%s)", (self.commits,))
                    conn.commit()
                    self.commits += 1
                    if self.gtid_sql is not None:
                        cur.execute(self.gtid_sql)
                        self.last_gtid = cur.fetchone()[0]
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.failure = error

    def pause(self) -> None:
        """Hold the writer between two transactions."""
        self.hold.set()
        wait_for(self.held.is_set, 30, "the writer to stop between transactions")

    def pause_at_a_second_boundary(self) -> datetime:
        """Hold the writer, wait for the next whole second; the second every commit so far belongs to (or before)."""
        self.pause()
        return next_second_boundary()

    def resume(self) -> None:
        self.hold.clear()


def next_second_boundary() -> datetime:
    """Wait for the next whole second; the second that just ended (every commit so far is in it or before)."""
    last = int(time.time())
    time.sleep(last + 1.05 - time.time())
    return datetime.fromtimestamp(last, UTC)


def fingerprint(server: Any, db: str = DB) -> dict[str, int | None]:
    with server.connect() as conn:
        return table_checksums(conn, db)


def stream_env(server: Any, sessions_db: Path, tmp_path: Path) -> dict[str, str]:
    env = BackupUser(BACKUP_USER, BACKUP_PASSWORD, server.host, server.port, server.socket).backup_env(
        DB, sessions_db, tmp_path
    )
    return dict(env, BACKUP_SESSIONS_ENABLED="false", BACKUP_RETENTION_DAYS="30", BACKUP_KEEP_LAST="10")


def stream_state(env: dict[str, str]) -> dict[str, Any]:
    path = Path(env["BACKUP_DIR"]) / "binlog" / "stream.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def wait_until_archived(server: Any, env: dict[str, str]) -> None:
    """The stream holds everything the server logged so far (its open file as long as the server's), and knows it
    (its state's current_as_of, which a restore to the end of the log relies on). current_as_of is a whole second
    before the stream asked the server: one not before this moment comes from a check made after it."""
    since = datetime.now(UTC)
    name, position = server.binlog_position()
    raw = Path(env["BACKUP_DIR"]) / "binlog" / ".stream" / name
    wait_for(lambda: raw.is_file() and raw.stat().st_size >= position, 60, f"the stream to reach {name}:{position}")

    def known_current() -> bool:
        current = stream_state(env).get("current_as_of")
        return current is not None and datetime.fromisoformat(current) >= since

    wait_for(known_current, 60, "the stream to find itself current", interval=0.2)


def restore_to(env: dict[str, str], point: str, target: str, **extra: str) -> Any:
    return run_cli(dict(as_root(env), **extra), "restore", "mysql", "--to-time", point, "--target-db", target)


def streaming(server: Any, env: dict[str, str]) -> Iterator[Any]:
    """(server, env, the running stream, the writer), stopped afterwards: the `streamed` fixtures of each flavor."""
    stream = start_cli(env, "binlog-stream")
    writer = Writer(server)
    writer.start()
    try:
        yield server, env, stream, writer
    finally:
        writer.stop.set()
        writer.join()
        if stream.poll() is None:
            stream.send_signal(signal.SIGTERM)
            finish(stream)


@pytest.fixture
def streamed(binlog_mariadb: Any, sessions_db: Path, tmp_path: Path) -> Iterator[Any]:
    """(server, env, the running stream, the writer): fir_db with 2,000 rows, the writer committing."""
    prepare(binlog_mariadb)
    yield from streaming(binlog_mariadb, stream_env(binlog_mariadb, sessions_db, tmp_path))


@dataclass
class ThreePoints:
    """What restore_at_three_points did: the second backup's name, and per copy its point, restore and the
    source's fingerprint at that point."""

    second_name: str
    backups: list[Any]
    restored: dict[str, tuple[datetime, Any, dict[str, int | None]]]


def restore_at_three_points(
    server: Any, env: dict[str, str], writer: Writer, archived: Callable[[Any, dict[str, str]], None]
) -> ThreePoints:
    """With the writer committing: a backup, T1, a rotation, a second backup, a rotation, T2, the writer stopped,
    T3 (no event after it), a DROP TABLE; then restores to T1 (client in another time zone), T2 (given with an
    offset) and T3 (with Z) into copy_t1..copy_t3. `archived` waits until the stream holds all the server logged."""
    time.sleep(1.5)
    first = run_cli(env, "backup")
    time.sleep(1.5)
    t1 = writer.pause_at_a_second_boundary()  # after the first backup, before the second: restored from the first
    at_t1 = fingerprint(server)
    writer.resume()
    time.sleep(1.2)
    server.execute("FLUSH BINARY LOGS")
    time.sleep(1.2)
    time.sleep(1.1)  # the second backup gets a name of its own second
    second = run_cli(env, "backup")
    second_name = newest_backup(env).name
    time.sleep(1.2)
    server.execute("FLUSH BINARY LOGS")
    t2 = writer.pause_at_a_second_boundary()  # after a rotation, restored from the second backup
    at_t2 = fingerprint(server)
    writer.resume()
    time.sleep(1.5)
    writer.stop.set()
    writer.join()
    t3 = next_second_boundary()  # no event after it: restores to the end of the log
    at_t3 = fingerprint(server)
    server.execute(f"DROP TABLE {DB}.fir")
    archived(server, env)
    restored = {
        "copy_t1": (t1, restore_to(env, f"{t1:%Y-%m-%d %H:%M:%S}", "copy_t1", TZ="Asia/Kolkata"), at_t1),
        "copy_t2": (t2, restore_to(env, t2.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "copy_t2"), at_t2),
        "copy_t3": (t3, restore_to(env, f"{t3:%Y-%m-%d %H:%M:%S}Z", "copy_t3"), at_t3),
    }
    return ThreePoints(second_name, [first, second], restored)


def assert_restored_at_three_points(server: Any, writer: Writer, points: ThreePoints) -> None:
    """Each copy equals the source at its point; T1 came from the first backup, T2 from the second."""
    assert writer.failure is None and writer.commits > 100, writer.failure
    assert all(backup.returncode == 0 for backup in points.backups), [describe(b) for b in points.backups]
    for copy, (_point, restored, expected) in points.restored.items():
        assert restored.returncode == 0, describe(restored)
        assert fingerprint(server, copy) == expected, copy
    t1_restore, t2_restore = points.restored["copy_t1"][1], points.restored["copy_t2"][1]
    assert points.second_name not in t1_restore.stdout, "T1 comes before the second backup: the first one is used"
    assert f"restored {points.second_name}" in t2_restore.stdout


def restore_to_gtid(env: dict[str, str], gtid: str, target: str, *extra: str) -> Any:
    return run_cli(as_root(env), "restore", "mysql", "--to-gtid", gtid, "--target-db", target, "--yes", *extra)


@dataclass
class TwoGtids:
    """What restore_at_two_gtids did: the second backup's name, and per copy its GTID, restore and the source's
    fingerprint right after that transaction."""

    second_name: str
    backups: list[Any]
    restored: dict[str, tuple[str, Any, dict[str, int | None]]]


def restore_at_two_gtids(
    server: Any, env: dict[str, str], writer: Writer, last_gtid: Callable[[Any, Writer], str]
) -> TwoGtids:
    """With the writer committing: a backup, G1 (the writer held, `last_gtid` read), a rotation (G1's file is
    sealed), a second backup, G2 (in the file the stream writes), the writer stopped, a DROP TABLE; then restores
    to G1 and G2 into copy_g1 and copy_g2 (new names, --yes as an operator would type it)."""
    time.sleep(1.5)
    first = run_cli(env, "backup")
    time.sleep(1.2)
    points: dict[str, tuple[str, dict[str, int | None]]] = {}
    for copy in ("copy_g1", "copy_g2"):
        writer.pause()
        points[copy] = (last_gtid(server, writer), fingerprint(server))
        writer.resume()
        if copy == "copy_g1":
            time.sleep(1.0)
            server.execute("FLUSH BINARY LOGS")
            time.sleep(1.1)  # the second backup gets a name of its own second
            second = run_cli(env, "backup")
            second_name = newest_backup(env).name
            time.sleep(1.0)
    time.sleep(1.0)
    writer.stop.set()
    writer.join()
    server.execute(f"DROP TABLE {DB}.fir")
    wait_until_archived(server, env)
    restored = {copy: (gtid, restore_to_gtid(env, gtid, copy), expected) for copy, (gtid, expected) in points.items()}
    return TwoGtids(second_name, [first, second], restored)


def assert_restored_at_two_gtids(server: Any, writer: Writer, points: TwoGtids) -> None:
    """Each copy equals the source right after its GTID's transaction; G1 from the first backup, G2 the second."""
    assert writer.failure is None and writer.commits > 100, writer.failure
    assert all(backup.returncode == 0 for backup in points.backups), [describe(b) for b in points.backups]
    for copy, (gtid, restored, expected) in points.restored.items():
        assert restored.returncode == 0, describe(restored)
        assert f"rolled forward to GTID {gtid} (up to mysql-bin." in restored.stdout, describe(restored)
        assert fingerprint(server, copy) == expected, copy
    assert points.second_name not in points.restored["copy_g1"][1].stdout, "G1 precedes the second backup"
    assert f"restored {points.second_name}" in points.restored["copy_g2"][1].stdout


def writers_gtid(_server: Any, writer: Writer) -> str:
    assert writer.last_gtid, "the writer read its last GTID"
    return str(writer.last_gtid)


def newest_gtid(server: Any, _writer: Writer | None = None) -> str:
    """The newest transaction's GTID while nothing else commits: MariaDB's @@gtid_binlog_pos (one domain here),
    MySQL's end of the server's own range in @@gtid_executed."""
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT @@version")
        if "MariaDB" in cur.fetchone()[0]:
            cur.execute("SELECT @@gtid_binlog_pos")
            return str(cur.fetchone()[0])
        cur.execute("SELECT @@server_uuid, @@global.gtid_executed")
        uuid, executed = cur.fetchone()
    [own] = [part.strip() for part in executed.replace("\n", "").split(",") if part.strip().startswith(uuid)]
    return f"{uuid}:{own.rsplit(':', 1)[1].rsplit('-', 1)[-1]}"


def test_a_restore_to_a_gtid_equals_the_database_right_after_that_transaction(streamed: Any) -> None:
    server, env, stream, writer = streamed
    writer.gtid_sql = "SELECT @@last_gtid"

    points = restore_at_two_gtids(server, env, writer, writers_gtid)

    assert_restored_at_two_gtids(server, writer, points)
    assert stream.poll() is None, "the stream runs on"


def test_a_restore_to_the_newest_gtid_replays_the_whole_log(streamed: Any) -> None:
    server, env, _stream, writer = streamed
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    time.sleep(0.5)
    writer.stop.set()
    writer.join()
    with server.connect(DB) as conn, conn.cursor() as cur:
        cur.execute("UPDATE fir SET body = 'the last transaction' WHERE id = 7")
        conn.commit()
        cur.execute("SELECT @@last_gtid")
        newest = cur.fetchone()[0]
    expected = fingerprint(server)
    wait_until_archived(server, env)  # no event after that transaction's own: it ends the file the stream writes

    restored = restore_to_gtid(env, newest, "copy_newest")

    assert restored.returncode == 0, describe(restored)
    assert fingerprint(server, "copy_newest") == expected


def test_a_gtid_no_restore_can_reach_is_refused_in_one_line_the_target_untouched(streamed: Any) -> None:
    server, env, _stream, writer = streamed
    writer.gtid_sql = "SELECT @@last_gtid"
    time.sleep(1.0)
    writer.pause()
    before_any = writers_gtid(server, writer)
    writer.resume()
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    time.sleep(0.5)
    writer.stop.set()
    writer.join()
    server.execute("CREATE DATABASE kept", "CREATE TABLE kept.t (i INT)")
    wait_until_archived(server, env)
    domain, server_id, sequence = before_any.split("-")
    beyond = f"{domain}-{server_id}-{int(sequence) + 10**6}"
    refused = {
        "0-1": "--to-gtid '0-1' is not a GTID; allowed: ",
        "0-1-5; DROP DATABASE kept": "is not a GTID; allowed: ",
        beyond: f"--to-gtid {beyond} is not in the binary log archive, which holds 0-1-",
        "7-1-5": "--to-gtid 7-1-5 is not in the binary log archive",
        before_any: f"--to-gtid {before_any} (ending at mysql-bin.000001:",
    }

    results = {gtid: restore_to_gtid(env, gtid, "kept") for gtid in refused}
    both = restore_to_gtid(env, before_any, "kept", "--to-time", "2026-12-05 00:00:00")

    for gtid, said in refused.items():
        assert_refused(results[gtid], said)
    assert "was committed before the snapshot of every good MySQL backup" in results[before_any].stderr
    assert "allowed: a GTID committed after the snapshot of mysql_backup_" in results[before_any].stderr
    assert both.returncode == 2 and "not allowed with argument" in both.stderr, describe(both)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES FROM kept")
        assert cur.fetchall() == (("t",),)
        cur.execute("SHOW DATABASES LIKE 'kept%'")
        assert cur.fetchall() == (("kept",),), "no staging database was made"
    assert writer.failure is None


def assert_listed_from_before_t1_to_t3(env: dict[str, str], points: ThreePoints) -> None:
    """`list --binlog` after restore_at_three_points: one unbroken run of files, both backups starting in it,
    reaching from before T1 to T3 and on, the stream writing it."""
    listed = json.loads(run_cli(env, "list", "--binlog", "--json").stdout)
    t1, t3 = points.restored["copy_t1"][0], points.restored["copy_t3"][0]
    [covered] = listed["ranges"]
    assert covered["backups"] == sorted(covered["backups"]) and points.second_name in covered["backups"]
    assert len(covered["backups"]) == 2 and covered["streaming"] and listed["gaps"] == []
    assert (
        covered["restorable_from"] < f"{t1:%Y-%m-%dT%H:%M:%S}" and covered["current_as_of"] >= f"{t3:%Y-%m-%dT%H:%M:%S}"
    )


def test_a_restore_to_a_time_equals_the_database_at_that_time(streamed: Any) -> None:
    server, env, stream, writer = streamed

    points = restore_at_three_points(server, env, writer, wait_until_archived)

    assert_restored_at_three_points(server, writer, points)
    assert_listed_from_before_t1_to_t3(env, points)
    assert stream.poll() is None, "the stream runs on"


def test_a_time_beyond_the_archive_or_before_any_backup_is_refused_the_target_untouched(streamed: Any) -> None:
    server, env, _stream, writer = streamed
    before_any = datetime.now(UTC)
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    server.execute("CREATE DATABASE kept")
    server.execute("CREATE TABLE kept.t (i INT)")

    too_early = restore_to(env, f"{before_any:%Y-%m-%d %H:%M:%S}", "kept")
    too_late = run_cli(
        as_root(env), "restore", "mysql", "--to-time", "2099-01-01 00:00:00", "--target-db", "kept", "--yes"
    )
    not_a_time = restore_to(env, "yesterday", "kept")

    assert too_early.returncode == 1 and "no good MySQL backup with binary log coordinates" in too_early.stderr
    assert too_late.returncode == 1 and "does not reach 2099-01-01 00:00:00 UTC" in too_late.stderr, describe(too_late)
    assert "database kept on" in too_late.stderr and "was not touched" in too_late.stderr
    assert not_a_time.returncode == 2 and "--to-time 'yesterday' is not a point in time" in not_a_time.stderr
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES FROM kept")
        assert cur.fetchall() == (("t",),)
        cur.execute("SHOW DATABASES LIKE 'kept%'")
        assert cur.fetchall() == (("kept",),), "no staging database is left"
    assert writer.failure is None


def test_on_a_new_host_a_restore_to_a_time_comes_from_the_bucket_and_equals_the_database_at_that_time(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    a_new_host_restores_to_a_time_from_the_bucket(streamed, s3_server, s3_bucket, tmp_path)


def a_new_host_restores_to_a_time_from_the_bucket(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    """Both flavors. The host is lost after two runs copied the dumps and the sealed files off-site: on a new host
    with an empty BACKUP_DIR, `--to-time T --remote` fetches the first dump (T is before the second's snapshot) and
    the archive's copies, and equals the database at T. A point after the newest copy, and --to-gtid, are
    refused."""
    server, env, _stream, writer = streamed
    env = with_offsite(env, s3_server, s3_bucket, tmp_path)
    archive = Path(env["BACKUP_DIR"]) / "binlog"
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    time.sleep(1.5)
    point = writer.pause_at_a_second_boundary()
    expected = fingerprint(server)
    writer.resume()
    time.sleep(1.5)
    known = {path.name for path in archive.glob("*.gz")}
    server.execute("FLUSH BINARY LOGS")  # T's file is sealed, and goes off-site with the next run
    wait_for(lambda: {p.name for p in archive.glob("*.gz")} - known, 30, "the file holding T to be sealed")
    time.sleep(1.1)
    second = run_cli(env, "backup")
    beyond = datetime.now(UTC) + timedelta(seconds=2)  # in the stream's open file only: never off-site
    time.sleep(3)
    writer.stop.set()
    writer.join()

    new_host = dict(env, BACKUP_DIR=str(tmp_path / "new-host" / "backups"))
    remote = ("--remote", "--target-db")
    restored = run_cli(as_root(new_host), "restore", "mysql", "--to-time", f"{point:%Y-%m-%d %H:%M:%S}", *remote, "r1")
    too_late = run_cli(as_root(new_host), "restore", "mysql", "--to-time", f"{beyond:%Y-%m-%d %H:%M:%S}", *remote, "r2")
    gtid = run_cli(as_root(new_host), "restore", "mysql", "--to-gtid", "0-1-5", *remote, "r3")
    # someone with write access to the bucket points a file's manifest past the file after it (so that a restore
    # would skip that one)
    client, folder = s3_server.client(), "fir-backups/binlog/"
    keys = sorted(i["Key"] for i in client.list_objects_v2(Bucket=s3_bucket, Prefix=folder).get("Contents", []))
    for key in [key for key in keys if key.endswith(".gz.json")]:
        forged = json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        forged["next_file"] = "mysql-bin.000099"
        client.put_object(Bucket=s3_bucket, Key=key, Body=json.dumps(forged).encode())
    skipping = run_cli(as_root(new_host), "restore", "mysql", "--to-time", f"{point:%Y-%m-%d %H:%M:%S}", *remote, "r4")

    assert second.returncode == 0, describe(second)
    assert restored.returncode == 0, describe(restored)
    assert fingerprint(server, "r1") == expected
    first_dump = sorted(p.name for p in Path(env["BACKUP_DIR"]).glob("mysql_backup_*.sql.gz"))[0]
    assert f"restored {first_dump}" in restored.stdout, restored.stdout
    assert too_late.returncode == 1 and "does not reach" in too_late.stderr, describe(too_late)
    assert "restore_started" not in too_late.stdout, "refused before anything was loaded"
    assert skipping.returncode == 1 and "manifest does not describe the file" in skipping.stderr, describe(skipping)
    assert gtid.returncode == 2 and len(stderr_errors(gtid)) == 1 and "--remote" in gtid.stderr, describe(gtid)
    with server.connect() as conn, conn.cursor() as cur:
        for refused in ("r2", "r4"):
            cur.execute(f"SHOW DATABASES LIKE '{refused}%'")
            assert cur.fetchall() == (), "a refused restore created nothing"
    left = [p.name for p in Path(new_host["BACKUP_DIR"]).iterdir() if p.name.startswith(".")]
    assert not [name for name in left if name.startswith((".remote-", ".pitr-"))], left


def test_a_streamer_killed_and_a_server_restarted_lose_no_event(streamed: Any) -> None:
    server, env, stream, writer = streamed
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    time.sleep(1.5)
    streamer = wait_for(lambda: streamer_pid(stream.pid), 30, "the streaming client")
    os.kill(streamer, signal.SIGKILL)  # mid-file: the stream starts it again and fetches that file anew
    started_again = wait_for(lambda: streamer_pid(stream.pid) not in (None, streamer), 60, "the streamer again")
    time.sleep(1.0)  # it streams a while before the next loss
    writer.hold.set()
    wait_for(writer.held.is_set, 30, "the writer to stop")
    server.restart()  # the streamer loses its connection; the server starts a new file
    writer.stop.set()
    writer.join()
    with server.connect(DB) as conn, conn.cursor() as cur:
        for n in range(50):
            cur.execute("INSERT INTO fir (body, n) VALUES ('after the restart', %s)", (n,))
    end = next_second_boundary()
    expected = fingerprint(server)
    wait_until_archived(server, env)

    restored = restore_to(env, f"{end:%Y-%m-%d %H:%M:%S}", "copy_all")

    assert restored.returncode == 0, describe(restored)
    assert fingerprint(server, "copy_all") == expected
    assert started_again and stream_state(env)["restarts"] >= 2, "the streamer was started again after each loss"


def streamer_pid(parent: int) -> int | None:
    """The pid of the stream's child (the mariadb-binlog it runs), from /proc."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"--stop-never" in command:
                return int(entry.name)
    return None


def test_a_purge_before_the_archive_caught_up_is_a_gap_no_restore_crosses(streamed: Any) -> None:
    a_purge_is_a_gap_no_restore_crosses(streamed)


def a_purge_is_a_gap_no_restore_crosses(streamed: Any) -> None:
    """Both flavors: with the stream stopped, the server purges files it had not archived; status says the stream
    is not running, then that there is a gap, list --binlog shows it, a restore into it is refused; a backup after
    it makes status healthy again, the stream running and current."""
    server, env, stream, writer = streamed
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    wait_until_archived(server, env)
    stream.send_signal(signal.SIGTERM)
    assert finish(stream).returncode == 143
    stopped = run_cli(env, "status")
    time.sleep(1.5)
    for _ in range(3):
        server.execute("FLUSH BINARY LOGS")
    current = server.binlog_position()[0]
    with server.connect() as conn, conn.cursor() as cur:

        def purged() -> bool:  # a file a replica (the stream, until the server notices it left) reads is kept
            cur.execute(f"PURGE BINARY LOGS TO '{current}'")
            cur.execute("SHOW BINARY LOGS")
            return cur.fetchone()[0] == current

        wait_for(purged, 30, "the purge", interval=0.2)
    writer.stop.set()
    writer.join()
    server.execute(f"INSERT INTO {DB}.fir (body, n) VALUES ('after the gap', 0)")
    after_gap = newest_gtid(server)
    after = next_second_boundary()

    again = start_cli(env, "binlog-stream")
    try:
        wait_for(lambda: stream_state(env).get("gaps"), 60, "the gap to be recorded")
        wait_until_archived(server, env)
        restored = restore_to(env, f"{after:%Y-%m-%d %H:%M:%S}", "copy_gap")
        to_gtid = restore_to_gtid(env, after_gap, "copy_gap")
        with_gap = run_cli(env, "status")
        listed = run_cli(env, "list", "--binlog")
        time.sleep(1.1)
        assert run_cli(env, "backup").returncode == 0  # a new range starts
        wait_until_archived(server, env)
        after_backup = run_cli(env, "status")
        as_json = json.loads(run_cli(env, "status", "--json").stdout)["binlog"]
    finally:
        again.send_signal(signal.SIGTERM)
        finish(again)

    assert stopped.returncode == 1 and "binlog-stream is not running" in stopped.stdout, describe(stopped)
    assert with_gap.returncode == 1 and "binary log gap" in with_gap.stdout, describe(with_gap)
    assert listed.returncode == 0 and "gap: " in listed.stdout and "no good dump starts in it" in listed.stdout
    assert after_backup.returncode == 0 and "binlog: streaming" in after_backup.stdout, describe(after_backup)
    assert as_json["running"] and as_json["lag_s"] is not None and as_json["lag_s"] <= 60, as_json
    gap = stream_state(env)["gaps"][0]
    assert gap["resumed_at"] == current
    assert restored.returncode == 1, describe(restored)
    assert "the binary log archive has a gap" in restored.stderr and gap["missing_from"] in restored.stderr
    assert_refused(to_gtid, f"--to-gtid {after_gap} (mysql-bin.", "lies after a gap that no good backup follows")
    assert gap["missing_from"] in to_gtid.stderr
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'copy_gap%'")
        assert cur.fetchall() == ()


def test_retention_keeps_the_binary_log_the_oldest_kept_backup_needs_and_nothing_older(streamed: Any) -> None:
    retention_keeps_what_the_oldest_kept_backup_needs(streamed)


def retention_keeps_what_the_oldest_kept_backup_needs(streamed: Any) -> None:
    """Both flavors: three backups, rotations between them; pruning to the newest backup deletes the sealed files
    before its coordinates (--dry-run names them first) and no other, and a restore from it still works."""
    server, keeping_all, _stream, writer = streamed
    archive = Path(keeping_all["BACKUP_DIR"]) / "binlog"
    for _ in range(3):
        time.sleep(1.1)
        assert run_cli(keeping_all, "backup").returncode == 0
        server.execute("FLUSH BINARY LOGS")
        server.execute("FLUSH BINARY LOGS")
    wait_until_archived(server, keeping_all)
    wait_for(lambda: len(list(archive.glob("*.gz"))) >= 6, 30, "the rotated files to be sealed")
    sealed_before = sorted(path.name for path in archive.glob("*.gz"))
    needed = read_manifest(newest_backup(keeping_all))["binlog"]["file"]
    env = dict(keeping_all, BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")  # now only the newest backup stays

    planned = run_cli(env, "prune", "--dry-run")
    still_there = sorted(path.name for path in archive.glob("*.gz"))
    pruned = run_cli(env, "prune")
    after = sorted(path.name for path in archive.glob("*.gz"))
    point = writer.pause_at_a_second_boundary()
    expected = fingerprint(server)
    writer.stop.set()
    writer.join()
    wait_until_archived(server, env)
    restored = restore_to(env, f"{point:%Y-%m-%d %H:%M:%S}", "copy_after_prune")

    older = [name for name in sealed_before if name < f"{needed}.gz"]
    assert older, "files from before the kept backup's coordinates were archived"
    assert planned.returncode == 0 and all(name.removesuffix(".gz") in planned.stdout for name in older)
    assert still_there == sealed_before, "--dry-run deletes nothing"
    assert pruned.returncode == 0, describe(pruned)
    assert after == [name for name in sealed_before if name >= f"{needed}.gz"]
    assert not [p for p in archive.glob("*.json") if not p.with_suffix("").is_file() and p.name != "stream.json"]
    assert restored.returncode == 0, describe(restored)
    assert fingerprint(server, "copy_after_prune") == expected


def test_remote_copies_of_the_archive_go_with_the_dumps_that_need_them_and_stay_while_one_is_unknown(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    remote_copies_go_with_the_dumps_that_need_them(streamed, s3_server, s3_bucket, tmp_path)


def remote_copies_go_with_the_dumps_that_need_them(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    """Both flavors. keep-last 1, retention 0: each run leaves one dump, here and in the bucket, and the archive's
    copies before its coordinates go too; but while the bucket holds a dump no local manifest describes, every
    copy stays."""
    server, env, _stream, writer = streamed
    env = dict(with_offsite(env, s3_server, s3_bucket, tmp_path), BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")
    archive = Path(env["BACKUP_DIR"]) / "binlog"
    client = s3_server.client()
    folder = "fir-backups/binlog/"

    def copies() -> set[str]:
        listed = client.list_objects_v2(Bucket=s3_bucket, Prefix=folder).get("Contents", [])
        return {item["Key"][len(folder) :] for item in listed}

    def rotate_and_back_up() -> Any:
        known = {path.name for path in archive.glob("*.gz")}
        server.execute("FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
        wait_for(lambda: len({p.name for p in archive.glob("*.gz")} - known) >= 2, 30, "two more sealed files")
        time.sleep(1.1)
        return run_cli(env, "backup")

    assert rotate_and_back_up().returncode == 0
    after_first = copies()
    # a dump in the bucket that this host knows nothing of (named in the future: remote retention keeps it)
    unknown = "fir-backups/mysql_backup_20991231_000000.sql.gz"
    for key in (unknown, f"{unknown}.json"):
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"{}")
    second = rotate_and_back_up()
    after_second = copies()
    for key in (unknown, f"{unknown}.json"):
        client.delete_object(Bucket=s3_bucket, Key=key)
    third = rotate_and_back_up()
    after_third = copies()
    writer.stop.set()

    assert second.returncode == 0 and third.returncode == 0, describe(third)
    assert after_first < after_second, "nothing went while a dump in the bucket has no known coordinates"
    needed = read_manifest(newest_backup(env))["binlog"]["file"]
    local = {path.name for path in archive.glob("*.gz")}
    assert all(name >= f"{needed}.gz" for name in local), "the local archive starts where the one kept dump needs it"
    assert after_third == local | {f"{name}.json" for name in local}, "the bucket holds what the archive holds"
    assert after_second - after_third, "copies of files no kept dump needs were deleted"


def rewrite_statement(raw: Path, old: bytes, new: bytes) -> None:
    """Replace a statement in a binary log file with another of the same length and give its event a right CRC32:
    what someone who may write BACKUP_DIR could do to the archive."""
    import zlib

    from afirgen_backup.sources.mysql.binlog_file import iter_events

    data = bytearray(raw.read_bytes())
    at = data.index(old)
    event = next(e for e in iter_events(raw, allow_partial_tail=True) if e.offset < at < e.offset + e.size)
    data[at : at + len(old)] = new.ljust(len(old))
    end = event.offset + event.size
    data[end - 4 : end] = zlib.crc32(bytes(data[event.offset : end - 4])).to_bytes(4, "little")
    raw.write_bytes(bytes(data))


@pytest.mark.parametrize("case", ["tampered-archive", "qualified-ddl", "ddl-from-another-database"])
def test_what_a_restore_must_not_replay_stops_it_before_anything_runs(streamed: Any, case: str) -> None:
    server, env, stream, writer = streamed
    time.sleep(1.1)
    assert run_cli(env, "backup").returncode == 0
    server.execute("CREATE TABLE queue (id INT PRIMARY KEY)", "INSERT INTO queue VALUES (1), (2)", database=DB)
    statement = {
        "tampered-archive": ("CREATE TABLE pad_for_the_probe (a INT, b INT, c INT, d INT, e INT)", DB),
        "qualified-ddl": (f"TRUNCATE TABLE {DB}.queue", DB),
        "ddl-from-another-database": (f"ALTER TABLE {DB}.fir ADD COLUMN extra INT", "other_app"),
    }[case]
    server.execute(statement[0], database=statement[1])
    point = writer.pause_at_a_second_boundary()
    writer.resume()
    time.sleep(1.1)
    wait_until_archived(server, env)
    stream.send_signal(signal.SIGTERM)
    assert finish(stream).returncode == 143
    if case == "tampered-archive":
        [raw] = (Path(env["BACKUP_DIR"]) / "binlog" / ".stream").glob("mysql-bin.*")
        rewrite_statement(raw, statement[0].encode(), b"CREATE TABLE q (a INT); CREATE DATABASE pwned_by_the_archive")
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {DB}.queue")
        queued = cur.fetchone()[0]

    restored = restore_to(env, f"{point:%Y-%m-%d %H:%M:%S}", "copy_refused")

    said = {
        "tampered-archive": "more than one statement in one event",
        "qualified-ddl": f"a statement that names a database ({DB})",
        "ddl-from-another-database": "written while another database was the default (other_app)",
    }[case]
    assert restored.returncode == 1 and said in restored.stderr, describe(restored)
    assert "was not touched" in restored.stderr
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        databases = {row[0] for row in cur.fetchall()}
        cur.execute(f"SELECT COUNT(*) FROM {DB}.queue")
        assert cur.fetchone()[0] == queued, "the live database is as it was"
    assert not {name for name in databases if name.startswith(("copy_refused", "pwned"))}, databases


class Forwarder:
    """A TCP forwarder on 127.0.0.1 to the server: stop() cuts every connection through it and refuses new ones
    (a network cut), start() lets them through again on the same port."""

    def __init__(self, target_port: int) -> None:
        import socket

        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.close()
        self.open: list[Any] = []
        self.running = threading.Event()

    def start(self) -> None:
        import socket

        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.running.set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        import socket

        while self.running.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    def pipe(self, source: Any, sink: Any) -> None:
        import contextlib

        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(2)

    def stop(self) -> None:
        import contextlib
        import socket

        self.running.clear()
        self.listener.close()
        for connection in self.open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
        self.open.clear()


def test_a_network_cut_loses_no_event(binlog_mariadb: Any, sessions_db: Path, tmp_path: Path) -> None:
    server = binlog_mariadb
    prepare(server)
    forwarder = Forwarder(server.port)
    forwarder.start()
    env = dict(stream_env(server, sessions_db, tmp_path), MYSQL_PORT=str(forwarder.port))
    assert run_cli(env, "backup").returncode == 0
    stream = start_cli(env, "binlog-stream")
    writer = Writer(server)  # straight to the server: the writes go on while the stream's network is cut
    writer.start()
    try:
        time.sleep(2)
        forwarder.stop()
        time.sleep(4)  # the streaming client lost its connection; restarts fail while the cut lasts
        forwarder.start()
        point = writer.pause_at_a_second_boundary()
        expected = fingerprint(server)
        writer.stop.set()
        writer.join()
        wait_until_archived(server, env)
        restored = restore_to(env, f"{point:%Y-%m-%d %H:%M:%S}", "copy_after_cut")
    finally:
        writer.stop.set()
        stream.send_signal(signal.SIGTERM)
        ended = finish(stream)
        forwarder.stop()

    assert restored.returncode == 0, describe(restored)
    assert fingerprint(server, "copy_after_cut") == expected
    assert "binlog_stream_failed" in ended.stdout + ended.stderr, "the cut was noticed and the client started again"
    assert writer.failure is None and writer.commits > 50


def test_sealed_binary_log_files_go_off_site_with_each_run_and_the_next_run_catches_up(
    streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    sealed_files_go_off_site(streamed, s3_server, s3_bucket, tmp_path)


def sealed_files_go_off_site(streamed: Any, s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    """Both flavors: each run uploads the sealed files not there yet, with their manifests, and records each copy;
    the file the stream still writes stays local."""
    server, env, _stream, writer = streamed
    env = with_offsite(env, s3_server, s3_bucket, tmp_path)
    archive = Path(env["BACKUP_DIR"]) / "binlog"
    client = s3_server.client()

    def stored() -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="fir-backups/binlog/").get("Contents", [])
        return {i["Key"]: client.get_object(Bucket=s3_bucket, Key=i["Key"])["Body"].read() for i in listed}

    server.execute("FLUSH BINARY LOGS")
    wait_for(lambda: list(archive.glob("*.gz")), 30, "a sealed file")
    first = run_cli(env, "backup")
    after_first = stored()
    known = {path.name for path in archive.glob("*.gz")}  # the run's retention may have taken older ones
    server.execute("FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
    wait_for(lambda: len({p.name for p in archive.glob("*.gz")} - known) >= 2, 30, "two more sealed files")
    time.sleep(1.1)
    second = run_cli(env, "backup")
    after_second = stored()
    writer.stop.set()

    assert first.returncode == 0 and second.returncode == 0, describe(second)
    sealed = sorted(archive.glob("*.gz"))
    for path in sealed:  # each one there once, as sealed, with its manifest, and the copy recorded locally
        key = f"fir-backups/binlog/{path.name}"
        assert after_second[key] == path.read_bytes()
        assert json.loads(after_second[f"{key}.json"])["raw_sha256"] == read_manifest(path)["raw_sha256"]
        assert read_manifest(path)["offsite"]["key"] == key
    assert set(after_first) < set(after_second), "the second run uploaded only what was new"
    assert not [key for key in after_second if "/.stream" in key or not key.split("/")[-1].startswith("mysql-bin.")]
