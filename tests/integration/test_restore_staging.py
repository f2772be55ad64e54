"""A restore over an existing database loads into a staging database first: a dump that fails to load, or a
safety backup that could not be loaded back, leaves the database exactly as it was. On every pairing."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from dbcompare import object_lists, table_checksums
from helpers import Pairing, as_root, describe, dump_wrapper, events_named, newest_backup, on_pairings, run_cli


def databases(pairing: Pairing) -> list[str]:
    with pairing.server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        return [str(row[0]) for row in cur.fetchall()]


def snapshot(pairing: Pairing, database: str) -> tuple[object, ...]:
    with pairing.server.connect() as conn:
        return table_checksums(conn, database), object_lists(conn, database)


def break_the_end_of(dump: Path) -> None:
    """A statement every reader accepts and the server refuses, just before the trailer: the load fails after
    every table and row of the dump went in. The manifest is recomputed to match."""
    text = gzip.decompress(dump.read_bytes())
    at = text.rindex(b"\n-- Dump completed") + 1
    broken = b"CREATE TABLE `zz_last` (`a` int) ENGINE=InnoDB;\nINSERT INTO `zz_last` VALUES (1,2);\n"
    dump.write_bytes(gzip.compress(text[:at] + broken + text[at:]))
    manifest_file = dump.with_name(dump.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest.update(sha256=hashlib.sha256(dump.read_bytes()).hexdigest(), size=dump.stat().st_size)
    manifest_file.write_text(json.dumps(manifest))


def make_small(pairing: Pairing) -> tuple[str, dict[str, str]]:
    db = pairing.make_database("small")
    pairing.grant_backup(db)
    pairing.server.execute(
        "CREATE TABLE complaints (id INT PRIMARY KEY, body TEXT NOT NULL)",
        "INSERT INTO complaints VALUES (1, 'first'), (2, 'second')",
        "CREATE VIEW complaint_count AS SELECT COUNT(*) AS n FROM complaints",
        database=db,
    )
    return db, dict(pairing.env, MYSQL_DB=db, BACKUP_SESSIONS_ENABLED="false")


@on_pairings()
def test_a_dump_that_fails_to_load_leaves_the_database_it_was_to_replace_exactly_as_it_was(pairing: Pairing) -> None:
    db, env = make_small(pairing)
    assert run_cli(env, "backup").returncode == 0
    pairing.server.execute("INSERT INTO complaints VALUES (3, 'written after the backup')", database=db)
    break_the_end_of(newest_backup(env))
    before, state = databases(pairing), snapshot(pairing, db)

    result = run_cli(as_root(env), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 1, describe(result)
    assert "Column count doesn't match" in result.stderr
    assert f"database {db} on" in result.stderr and "was not touched" in result.stderr
    assert snapshot(pairing, db) == state
    assert databases(pairing) == before  # the staging database was dropped
    [failed] = events_named(env, "restore_failed")
    assert failed["staging_database"].startswith(f"{db}_restore_")


@on_pairings()
def test_a_safety_backup_that_would_not_load_back_stops_the_restore_before_anything_is_dropped(
    pairing: Pairing, tmp_path: Path
) -> None:
    db, env = make_small(pairing)
    assert run_cli(env, "backup").returncode == 0
    pairing.server.execute("INSERT INTO complaints VALUES (3, 'written after the backup')", database=db)
    marker = tmp_path / "pwned"
    # The dump program of the safety backup writes a client command first, as a compromised or broken one could.
    real = env.get("MYSQLDUMP_BIN")
    wrapper = dump_wrapper(tmp_path, "evil-dump", f"printf '\\\\! touch {marker}\\n'", real=real)
    before, state = databases(pairing), snapshot(pairing, db)

    result = run_cli(dict(as_root(env), MYSQLDUMP_BIN=str(wrapper)), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 2, describe(result)
    assert "the safety backup of" in result.stderr and "stopping before anything is dropped" in result.stderr
    assert "client command" in result.stderr
    assert not marker.exists()
    assert snapshot(pairing, db) == state
    assert databases(pairing) == before
    assert list((Path(env["BACKUP_DIR"]) / "safety").glob("*.sql.gz")) == []


@on_pairings()
def test_a_restore_over_an_existing_database_takes_a_checked_safety_backup_and_replaces_it_whole(
    pairing: Pairing,
) -> None:
    db, env = make_small(pairing)
    assert run_cli(env, "backup").returncode == 0
    backed_up = snapshot(pairing, db)
    pairing.server.execute("INSERT INTO complaints VALUES (3, 'after')", "CREATE TABLE extra (id INT)", database=db)

    result = run_cli(as_root(env), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 0, describe(result)
    assert snapshot(pairing, db) == backed_up
    [safety] = (Path(env["BACKUP_DIR"]) / "safety").glob("*.sql.gz")
    manifest = json.loads(safety.with_name(safety.name + ".json").read_text())
    assert manifest["verification"]["ok"] is True
    assert [c["check"] for c in manifest["verification"]["checks"]] == ["checksum", "stream", "trailer", "statements"]
    assert not [name for name in databases(pairing) if name.startswith(f"{db}_restore_")]
