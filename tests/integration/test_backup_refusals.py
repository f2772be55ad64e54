"""A backup that would be incomplete is refused, naming why, and rotates no good backup away: a database without
tables (a wrong MYSQL_DB, a wiped database), and a MySQL user whose missing privileges would leave triggers,
events or routines out of the dump without a word. check-grants names the same. On every pairing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from helpers import Pairing, backups_of, describe, on_pairings, plant_backup, read_manifest, run_cli


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
