"""A backup that would be incomplete is refused, naming why, and rotates no good backup away: a database without
tables (a wrong MYSQL_DB, a wiped database), and a MySQL user whose missing privileges would leave triggers,
events or routines out of the dump without a word. check-grants names the same, and what point-in-time recovery
lacks without failing for it. On every pairing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pymysql
from helpers import Pairing, backups_of, describe, on_pairings, plant_backup, read_manifest, run_cli
from mariadb_server import BackupUser
from test_verify_restore_test import GRANT_FIX


@on_pairings()
def test_a_database_without_tables_fails_the_backup_and_prunes_nothing(pairing: Pairing) -> None:
    empty = pairing.make_database("empty")
    pairing.grant_backup(empty)
    backup_dir = Path(pairing.env["BACKUP_DIR"])
    planted = [plant_backup(backup_dir, "mysql", timedelta(days=40 + n)) for n in range(3)]
    env = dict(pairing.env, MYSQL_DB=empty, BACKUP_RETENTION_DAYS="1", BACKUP_KEEP_LAST="1")

    refused = run_cli(env, "backup")

    assert refused.returncode == 1, describe(refused)
    assert f"{empty} has no tables" in refused.stderr and "BACKUP_ALLOW_EMPTY" in refused.stderr
    assert backups_of(backup_dir, "mysql") == sorted(planted)

    allowed = run_cli(dict(env, BACKUP_ALLOW_EMPTY="true"), "backup")

    assert allowed.returncode == 0, describe(allowed)
    assert len(backups_of(backup_dir, "mysql")) == 1  # now the run succeeded, retention does its work


NARROW_USER = "afirgen_narrow"
NARROW_PASSWORD = "n4rr0w pässwörd"


def narrow_user(pairing: Pairing, privileges: str) -> dict[str, str]:
    """An account with `privileges` on the fixture database only (and nothing global)."""
    with pairing.server.connect() as conn, conn.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (NARROW_USER,))
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (NARROW_USER, NARROW_PASSWORD))
        cur.execute(f"GRANT {privileges} ON `{pairing.db}`.* TO %s@'%%'", (NARROW_USER,))
    return dict(pairing.env, MYSQL_USER=NARROW_USER, MYSQL_PASSWORD=NARROW_PASSWORD, BACKUP_SESSIONS_ENABLED="false")


@on_pairings()
def test_a_user_who_cannot_see_routines_is_refused_naming_the_grant_that_fixes_it(pairing: Pairing) -> None:
    env = narrow_user(pairing, "SELECT, SHOW VIEW, TRIGGER, EVENT")
    fix = "GRANT SELECT ON `mysql`.`proc`" if pairing.flavor == "mariadb" else "GRANT SHOW_ROUTINE ON *.*"
    try:
        checked = run_cli(env, "check-grants")
        refused = run_cli(env, "backup")
        published_when_refused = backups_of(Path(env["BACKUP_DIR"]), "mysql")
        pairing.server.execute(f"{fix} TO '{NARROW_USER}'@'%'")
        checked_after = run_cli(env, "check-grants")
        done = run_cli(env, "backup")
    finally:
        pairing.server.execute(f"DROP USER IF EXISTS '{NARROW_USER}'@'%'")

    assert checked.returncode == 1, describe(checked)
    assert "backup: MISSING" in checked.stdout and "procedures and functions are left out" in checked.stdout
    assert fix in checked.stdout
    assert refused.returncode == 2, describe(refused)
    assert "procedures and functions are left out of the dump without a word" in refused.stderr
    assert fix in refused.stderr
    assert published_when_refused == []
    assert checked_after.returncode == 0 and "backup: ok" in checked_after.stdout, describe(checked_after)
    assert done.returncode == 0, describe(done)
    names = read_manifest(backups_of(Path(env["BACKUP_DIR"]), "mysql")[-1])["names"]
    assert sorted(names["procedures"] + names["functions"]) == sorted(
        pairing.expected_objects["procedures"] + pairing.expected_objects["functions"]
    )


@on_pairings("mariadb", "mysql-own-client")
def test_a_user_without_trigger_or_event_is_refused_naming_both(pairing: Pairing) -> None:
    env = narrow_user(pairing, "SELECT, SHOW VIEW")
    try:
        refused = run_cli(env, "backup")
    finally:
        pairing.server.execute(f"DROP USER IF EXISTS '{NARROW_USER}'@'%'")

    assert refused.returncode == 2, describe(refused)
    assert "triggers are left out" in refused.stderr and "events are left out" in refused.stderr
    assert f"GRANT TRIGGER ON `{pairing.db}`.*" in refused.stderr


# --- point-in-time recovery: told apart, never failing check-grants ---------------------------------------------

PITR_TITLE = "point-in-time recovery (binlog-stream, restore --to-time): "
#: the privileges each flavor's point-in-time recovery section names for a user with only a backup's: the stream's
#: (REPLICATION SLAVE, and what SHOW BINARY LOGS takes), MySQL's dump coordinates' (RELOAD), the restore's
#: (sql_log_bin=0, the replayed log's BINLOG statements and session variables)
PITR_PRIVILEGES = {
    "mariadb": ("REPLICATION SLAVE", "BINLOG MONITOR", "BINLOG ADMIN", "BINLOG REPLAY"),
    "mysql": ("REPLICATION SLAVE", "REPLICATION CLIENT", "RELOAD", "SESSION_VARIABLES_ADMIN", "BINLOG_ADMIN"),
}
#: what the stream, the dump's coordinates and the restore run that needs those privileges; `BINLOG 'AAAA'` is
#: refused for the privilege before its events are read
PITR_STATEMENTS = {
    "mariadb": (
        "SHOW BINARY LOGS",
        "SHOW MASTER STATUS",
        "SET SESSION sql_log_bin = 0",
        "SET @@session.gtid_seq_no = 1",
        "SET @@session.server_id = 1",
        "BINLOG 'AAAA'",
    ),
    "mysql": (
        "SHOW BINARY LOGS",
        "SHOW BINARY LOG STATUS",
        "SET SESSION sql_log_bin = 0",
        "SET @@session.pseudo_thread_id = 1",
        "BINLOG 'AAAA'",
        "FLUSH TABLES WITH READ LOCK",  # last: the lock ends with the connection
    ),
}


def backup_user_env(server: Any, db: str, env: dict[str, str]) -> dict[str, str]:
    """NARROW_USER with exactly what a backup of `db` needs (docs/security.md), as `env`'s MYSQL_USER."""
    routines = "SELECT ON mysql.proc" if server.flavor == "mariadb" else "SHOW_ROUTINE ON *.*"
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (NARROW_USER,))
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (NARROW_USER, NARROW_PASSWORD))
        cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON `{db}`.* TO %s@'%%'", (NARROW_USER,))
        cur.execute(f"GRANT {routines} TO %s@'%%'", (NARROW_USER,))
    return dict(env, MYSQL_USER=NARROW_USER, MYSQL_PASSWORD=NARROW_PASSWORD, BACKUP_SESSIONS_ENABLED="false")


def pitr_section(result: Any) -> str:
    """check-grants' point-in-time recovery section, from its status on (the last section)."""
    assert PITR_TITLE in result.stdout, describe(result)
    return str(result.stdout.split(PITR_TITLE, 1)[1])


def refused_for_privileges(server: Any, statements: tuple[str, ...]) -> list[str]:
    """The statements the server refuses NARROW_USER for want of a privilege (other errors do not count)."""
    refused = []
    connection = server.connect(user=NARROW_USER, password=NARROW_PASSWORD.encode())  # sent as UTF-8
    with connection, connection.cursor() as cursor:
        for statement in statements:
            try:
                cursor.execute(statement)
            except pymysql.MySQLError as error:
                if error.args[0] in (1044, 1142, 1227):
                    refused.append(statement)
    return refused


def grant_what_pitr_lacks(server: Any, env: dict[str, str]) -> tuple[Any, Any, list[str], list[str]]:
    """check-grants before and after running the GRANTs its point-in-time recovery section names, and what the
    server refused the user of PITR_STATEMENTS before and after."""
    statements = PITR_STATEMENTS[server.flavor]
    try:
        before, refused_before = run_cli(env, "check-grants"), refused_for_privileges(server, statements)
        server.execute(*GRANT_FIX.findall(pitr_section(before)))
        after, refused_after = run_cli(env, "check-grants"), refused_for_privileges(server, statements)
    finally:
        server.execute(f"DROP USER IF EXISTS '{NARROW_USER}'@'%'")
    return before, after, refused_before, refused_after


def assert_pitr_grants_named(before: Any, flavor: str) -> None:
    """The backup has what it needs (exit 0); the section names each privilege with its GRANT, as optional."""
    assert before.returncode == 0 and "backup: ok" in before.stdout, describe(before)
    section = pitr_section(before)
    assert section.startswith("MISSING, not needed unless you use point-in-time recovery\n"), section
    for privilege in PITR_PRIVILEGES[flavor]:
        assert f"GRANT {privilege} ON *.* TO '{NARROW_USER}'@'%'" in section, (privilege, section)
    assert len(GRANT_FIX.findall(section)) == len(PITR_PRIVILEGES[flavor]), "each privilege once"


@on_pairings("mariadb", "mysql-own-client")
def test_check_grants_names_what_point_in_time_recovery_lacks_and_still_exits_0(pairing: Pairing) -> None:
    """MariaDB here writes no binary log: named, with what the user lacks; MySQL 9.7 writes one in row format: after
    the GRANTs named, the section is ok and the server lets the user run what the stream and the restore run."""
    env = backup_user_env(pairing.server, pairing.db, pairing.env)

    before, after, refused_before, refused_after = grant_what_pitr_lacks(pairing.server, env)

    assert_pitr_grants_named(before, pairing.flavor)
    assert after.returncode == 0, describe(after)
    if pairing.flavor == "mariadb":
        assert "  server: log_bin OFF, binlog_format" in pitr_section(before)
        assert pitr_section(after).startswith("MISSING"), describe(after)
        assert "log_bin OFF on the server: there is no binary log" in pitr_section(after)
        assert GRANT_FIX.findall(pitr_section(after)) == [], "every privilege is there now"
    else:
        assert "  server: log_bin ON, binlog_format ROW" in pitr_section(before)
        assert pitr_section(after).startswith("ok\n"), describe(after)
        assert refused_before == list(PITR_STATEMENTS["mysql"])
        assert refused_after == []


def test_check_grants_on_a_mariadb_writing_a_binary_log_says_ok_once_granted(
    binlog_mariadb: Any, sessions_db: Path, tmp_path: Path
) -> None:
    server = binlog_mariadb
    server.execute("CREATE DATABASE fir_db", "CREATE TABLE fir_db.fir (id INT PRIMARY KEY)")
    user = BackupUser(NARROW_USER, NARROW_PASSWORD, server.host, server.port, server.socket)
    env = backup_user_env(server, "fir_db", user.backup_env("fir_db", sessions_db, tmp_path))

    before, after, refused_before, refused_after = grant_what_pitr_lacks(server, env)

    assert_pitr_grants_named(before, "mariadb")
    assert "  server: log_bin ON, binlog_format ROW" in pitr_section(before)
    assert after.returncode == 0 and pitr_section(after).startswith("ok\n"), describe(after)
    assert refused_before == list(PITR_STATEMENTS["mariadb"])
    assert refused_after == []
