"""restore mysql through the tool: round trip on the FIR fixture, refusals, safety backups, audit events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbcompare import data_differences, history_digests, object_lists, schema_differences, table_checksums
from helpers import as_root, events_named, run_cli
from mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def snapshot(mariadb: MariaDBServer, db: str) -> tuple[object, ...]:
    with mariadb.connect() as conn:
        return table_checksums(conn, db), object_lists(conn, db), history_digests(conn, db)


def test_restore_into_a_new_database_gives_back_every_table_row_and_object(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, make_database
) -> None:
    target = make_database("restored")
    mariadb.execute(f"DROP DATABASE `{target}`")  # the tool creates a missing target (make_database drops it later)

    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", "--target-db", target)

    assert result.returncode == 0, result.stderr
    assert f"into database {target}" in result.stdout
    assert snapshot(mariadb, target) == snapshot(mariadb, fir_db)
    with mariadb.connect() as conn:
        assert schema_differences(conn, fir_db, target) == []  # sequence defaults name the new database
        assert data_differences(conn, fir_db, target) == []
    finished = events_named(backed_up, "restore_finished")
    assert len(finished) == 1
    assert finished[0]["what"] == "mysql"
    assert finished[0]["outcome"] == "success"
    assert str(finished[0]["source_file"]).endswith(".sql.gz")
    assert target in str(finished[0]["target"])
    assert finished[0]["started_at"] and finished[0]["finished_at"]


def test_restore_into_a_non_empty_database_without_yes_refuses_and_changes_nothing(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    mariadb.execute("CREATE TABLE added_after_backup (id INT PRIMARY KEY)", database=fir_db)
    before = snapshot(mariadb, fir_db)

    result = run_cli(as_root(backed_up), "restore", "mysql")

    assert result.returncode == 2, result.stderr
    assert "is not empty" in result.stderr and "--yes" in result.stderr
    assert snapshot(mariadb, fir_db) == before
    assert not (Path(backed_up["BACKUP_DIR"]) / "safety").exists()
    failed = events_named(backed_up, "restore_failed")
    assert [event["what"] for event in failed] == ["mysql"]
    assert "not empty" in str(failed[0]["error"])


def test_restore_with_yes_saves_the_target_first_and_leaves_exactly_the_backup(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, make_database
) -> None:
    reference = make_database("reference")
    assert run_cli(as_root(backed_up), "restore", "mysql", "--target-db", reference).returncode == 0
    mariadb.execute("CREATE TABLE added_after_backup (id INT PRIMARY KEY)", database=fir_db)
    mariadb.execute("INSERT INTO added_after_backup VALUES (1), (2)", database=fir_db)
    changed = snapshot(mariadb, fir_db)

    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 0, result.stderr
    assert snapshot(mariadb, fir_db) == snapshot(mariadb, reference)
    safety = sorted((Path(backed_up["BACKUP_DIR"]) / "safety").glob("mysql_backup_*.sql.gz"))
    assert len(safety) == 1
    assert str(safety[0]) in result.stdout and "never pruned" in result.stdout
    assert (safety[0].parent / (safety[0].name + ".json")).is_file()
    # the safety backup holds the replaced state, and restores it
    saved = make_database("saved")
    assert not (Path(backed_up["BACKUP_DIR"]) / safety[0].name).exists()  # never the name of a regular backup
    restored = run_cli(as_root(backed_up), "restore", "mysql", f"safety/{safety[0].name}", "--target-db", saved)
    assert restored.returncode == 0, restored.stderr
    assert snapshot(mariadb, saved) == changed
    listing = json.loads(run_cli(backed_up, "list", "--json").stdout)
    assert [entry["name"] for entry in listing["backups"]["safety"]] == [safety[0].name]
    assert safety[0].name not in [entry["name"] for entry in listing["backups"]["mysql"]]
    finished = events_named(backed_up, "restore_finished")
    assert [event["safety_backup"] for event in finished] == [None, str(safety[0]), None]


def test_restore_with_no_safety_backup_logs_that_it_was_skipped(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    result = run_cli(as_root(backed_up), "restore", "mysql", "--yes", "--no-safety-backup")

    assert result.returncode == 0, result.stderr
    assert "no safety backup" in result.stdout
    assert not (Path(backed_up["BACKUP_DIR"]) / "safety").exists()
    assert [event["database"] for event in events_named(backed_up, "safety_backup_skipped")] == [fir_db]


def test_restore_without_create_privilege_says_which_privilege_is_missing(
    backed_up: dict[str, str], fir_db: str
) -> None:
    result = run_cli(backed_up, "restore", "mysql", "--target-db", f"{fir_db}_new")

    assert result.returncode == 1
    assert "lacks the CREATE privilege" in result.stderr
    assert "CREATE ROUTINE" in result.stderr
