"""One rule for database names (names.py), for MYSQL_DB as for a restore's target: a name the server accepts, with a
dot and a backtick in it, is backed up, passes the restore test, and restores under another such name, its view
and trigger pointed at the copy."""

from __future__ import annotations

import uuid

from helpers import Pairing, as_root, describe, on_pairings, run_cli


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@on_pairings("mariadb", "mysql-own-client")
def test_a_database_named_with_a_dot_and_a_backtick_is_backed_up_tested_and_restored(pairing: Pairing) -> None:
    tag = uuid.uuid4().hex[:8]
    source, target = f"fir.db`{tag}", f"copy.db`{tag}"
    q, copy = quoted(source), quoted(target)
    server = pairing.server
    server.execute(
        f"CREATE DATABASE {q}",
        f"CREATE TABLE {q}.records (id INT PRIMARY KEY, body TEXT)",
        f"INSERT INTO {q}.records VALUES (1, 'first'), (2, 'second')",
        f"CREATE VIEW {q}.recent AS SELECT id, body FROM {q}.records WHERE id > 1",
        f"CREATE TRIGGER {q}.shout BEFORE INSERT ON {q}.records FOR EACH ROW SET NEW.body = UPPER(NEW.body)",
    )
    env = dict(as_root(pairing.env), MYSQL_DB=source, BACKUP_SESSIONS_ENABLED="false")
    try:
        backed_up = run_cli(env, "backup")
        tested = run_cli(env, "verify", "--restore-test")
        restored = run_cli(env, "restore", "mysql", "latest", "--target-db", target)
        with server.connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT id, body FROM {copy}.recent")
            view_rows = cursor.fetchall()
            cursor.execute(f"INSERT INTO {copy}.records VALUES (3, 'third')")
            cursor.execute(f"SELECT body FROM {copy}.records WHERE id = 3")
            (inserted,) = cursor.fetchone()
            cursor.execute(f"SELECT body FROM {q}.records WHERE id = 3")
            in_source = cursor.fetchall()
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {q}", f"DROP DATABASE IF EXISTS {copy}")

    assert backed_up.returncode == 0, describe(backed_up)
    assert tested.returncode == 0 and "restore-test" in tested.stdout, describe(tested)
    assert restored.returncode == 0, describe(restored)
    assert [tuple(row) for row in view_rows] == [(2, "second")]
    assert inserted == "THIRD", "the trigger fires in the copy"
    assert not in_source, "the copy's trigger and view point at the copy, not at the source"
