"""A dump changed by someone who can write into BACKUP_DIR (manifest recomputed to match) never runs anything on
this machine and never touches a database but the one it is loaded into; a copy under another name never reaches
back into the source database, and its events never run. On every server/client pairing."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from dbcompare import event_status, object_lists, table_checksums
from helpers import Pairing, as_root, describe, newest_backup, on_pairings, run_cli


def rewrite_dump(path: Path, change: bytes, *, before: bytes) -> None:
    """Put `change` in front of the first line of the dump that starts with `before`, and recompute the manifest's
    checksum and size so that nothing but reading the statements can tell."""
    text = gzip.decompress(path.read_bytes())
    at = text.index(b"\n" + before) + 1
    path.write_bytes(gzip.compress(text[:at] + change + text[at:]))
    manifest_file = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest.update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    manifest_file.write_text(json.dumps(manifest))


def databases(pairing: Pairing) -> list[str]:
    with pairing.server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        return [str(row[0]) for row in cur.fetchall()]


def snapshot(pairing: Pairing, database: str) -> tuple[object, ...]:
    with pairing.server.connect() as conn:
        return table_checksums(conn, database), object_lists(conn, database)


@on_pairings()
def test_client_commands_in_a_tampered_dump_never_run(backed_up_pairing: Pairing, tmp_path: Path) -> None:
    pairing = backed_up_pairing
    dump = newest_backup(pairing.env)
    markers = [tmp_path / f"pwned-{n}" for n in range(4)]
    rewrite_dump(
        dump,
        b"\\! touch %s\nsystem touch %s\n" % (str(markers[0]).encode(), str(markers[1]).encode()),
        before=b"INSERT INTO",
    )
    rewrite_dump(dump, b"SELECT 1; \\! touch %s\n" % str(markers[2]).encode(), before=b"-- Dump completed")
    rewrite_dump(dump, b"/*!50000 \\! touch %s */;\n" % str(markers[3]).encode(), before=b"DROP TABLE")
    before = databases(pairing)
    root = as_root(pairing.env)

    verified = run_cli(root, "verify", dump.name)
    tested = run_cli(root, "verify", "--restore-test", dump.name)
    restored = run_cli(root, "restore", "mysql", dump.name, "--target-db", f"{pairing.db}_copy")

    assert not any(marker.exists() for marker in markers)
    assert verified.returncode == 1 and "statements: the dump holds what a restore must not run" in verified.stdout
    assert "client command" in verified.stdout, describe(verified)
    assert tested.returncode == 1 and "statements:" in tested.stdout, describe(tested)
    assert restored.returncode == 1, describe(restored)
    assert "holds what a restore must not run: a client command" in restored.stderr, describe(restored)
    assert "was not touched" in restored.stderr
    assert databases(pairing) == before


@on_pairings()
def test_a_restore_refuses_a_tampered_dump_that_verify_has_not_seen_and_leaves_the_target_as_it_was(
    backed_up_pairing: Pairing, tmp_path: Path
) -> None:
    pairing = backed_up_pairing
    dump = newest_backup(pairing.env)
    marker = tmp_path / "pwned"
    rewrite_dump(dump, b"INSERT INTO `x` VALUES (1); \\! touch %s\n" % str(marker).encode(), before=b"-- Dump")
    before, state = databases(pairing), snapshot(pairing, pairing.db)

    result = run_cli(as_root(pairing.env), "restore", "mysql", dump.name, "--yes")

    assert result.returncode == 1, describe(result)
    assert "holds what a restore must not run" in result.stderr and "was not touched" in result.stderr
    assert not marker.exists()
    assert databases(pairing) == before  # the staging database is gone
    assert snapshot(pairing, pairing.db) == state
    manifest = json.loads(dump.with_name(dump.name + ".json").read_text())
    assert manifest["verification"]["ok"] is False  # a tampered file is no longer a good backup


@on_pairings()
def test_use_of_another_database_in_a_dump_is_refused_before_anything_is_loaded(backed_up_pairing: Pairing) -> None:
    pairing = backed_up_pairing
    dump = newest_backup(pairing.env)
    victim = pairing.make_database("victim")
    pairing.server.execute("CREATE TABLE kept (id INT PRIMARY KEY)", "INSERT INTO kept VALUES (1)", database=victim)
    rewrite_dump(dump, b"USE `%s`;\n" % victim.encode(), before=b"DROP TABLE")
    state = snapshot(pairing, victim)

    verified = run_cli(as_root(pairing.env), "verify", dump.name)
    restored = run_cli(as_root(pairing.env), "restore", "mysql", dump.name, "--target-db", f"{pairing.db}_copy")

    assert "USE in the dump" in verified.stdout, describe(verified)
    assert restored.returncode == 1 and "USE in the dump" in restored.stderr, describe(restored)
    assert snapshot(pairing, victim) == state


def make_source(pairing: Pairing) -> str:
    """A small database whose trigger, procedure, event and view name it explicitly (`db`.table), as people write
    them; its event is enabled but due only at the end of 2037."""
    db = pairing.make_database("named")
    pairing.grant_backup(db)
    q = f"`{db}`"
    pairing.server.execute(
        "CREATE TABLE complaints (id INT PRIMARY KEY, body TEXT NOT NULL)",
        "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, db VARCHAR(64) NOT NULL, note VARCHAR(100))",
        "INSERT INTO complaints VALUES (1, 'मेरा फ़ोन चोरी हो गया')",
        f"CREATE TRIGGER {q}.complaints_audit AFTER INSERT ON {q}.complaints FOR EACH ROW "
        f"INSERT INTO {q}.audit (db, note) VALUES (DATABASE(), 'trigger')",
        f"CREATE PROCEDURE {q}.log_note(IN n VARCHAR(100)) INSERT INTO {q}.audit (db, note) VALUES (DATABASE(), n)",
        f"CREATE EVENT {q}.nightly ON SCHEDULE AT '2037-12-31 00:00:00' ON COMPLETION PRESERVE ENABLE "
        f"DO INSERT INTO {q}.audit (db, note) VALUES (DATABASE(), 'event')",
        f"CREATE VIEW {q}.complaint_count AS SELECT COUNT(*) AS n FROM {q}.complaints",
        database=db,
    )
    return db


@on_pairings()
def test_a_copy_under_another_name_never_reaches_back_into_the_source_database(pairing: Pairing) -> None:
    source = make_source(pairing)
    env = dict(pairing.env, MYSQL_DB=source, BACKUP_SESSIONS_ENABLED="false")
    assert run_cli(env, "backup").returncode == 0
    copy = f"{source}_copy"
    before = snapshot(pairing, source)

    result = run_cli(as_root(env), "restore", "mysql", "latest", "--target-db", copy)
    assert result.returncode == 0, describe(result)
    pairing.server.execute("INSERT INTO complaints VALUES (2, 'cheque fraud')", "CALL log_note('call')", database=copy)
    try:
        with pairing.server.connect() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT db, note FROM `{copy}`.audit ORDER BY id")
            copied_audit = cur.fetchall()
            cur.execute(f"SELECT n FROM `{copy}`.complaint_count")
            counted = cur.fetchone()[0]
            statuses = event_status(conn, copy)
        assert snapshot(pairing, source) == before
        assert [tuple(row) for row in copied_audit] == [(copy, "trigger"), (copy, "call")]
        assert counted == 2  # the view counts the copy's complaints, not the source's
        assert set(statuses.values()) == {"DISABLED"}, statuses
    finally:
        pairing.server.execute(f"DROP DATABASE IF EXISTS `{copy}`")


@on_pairings()
def test_the_events_of_a_database_restored_under_its_own_name_keep_their_status(pairing: Pairing) -> None:
    source = make_source(pairing)
    env = dict(pairing.env, MYSQL_DB=source, BACKUP_SESSIONS_ENABLED="false")
    assert run_cli(env, "backup").returncode == 0
    pairing.server.execute(f"DROP EVENT `{source}`.nightly")

    result = run_cli(as_root(env), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 0, describe(result)
    with pairing.server.connect() as conn:
        assert event_status(conn, source) == {"nightly": "ENABLED"}
