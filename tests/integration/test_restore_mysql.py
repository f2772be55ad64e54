"""restore mysql through the tool: round trip on the FIR fixture, refusals, safety backups, audit events,
unusable target names and clients, errors and signals on the way.

The round trips, refusals and signals run on every server/client pairing (helpers.PAIRINGS); what depends on
MariaDB alone (sequences, the driver's errors, the name checks) runs there.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbcompare import (
    all_differences,
    data_differences,
    event_status,
    history_digests,
    object_lists,
    schema_differences,
    table_checksums,
)
from helpers import (
    Pairing,
    add_bulk_table,
    as_root,
    assert_refused,
    bytes_of,
    command_name,
    descendants,
    describe,
    events_named,
    finish,
    frozen,
    newest_backup,
    on_pairings,
    process_state,
    run_cli,
    start_cli,
    stderr_errors,
    wait_for,
)
from mariadb_server import MariaDBServer

from afirgen_backup.config import load_settings
from afirgen_backup.sources.mysql import load as mysql_load
from afirgen_backup.sources.mysql import server as mysql
from afirgen_backup.sources.mysql import targets as mysql_restore
from afirgen_backup.sources.mysql.policy import DumpPolicy

REPO = Path(__file__).resolve().parents[2]


def snapshot(server: MariaDBServer, db: str) -> tuple[object, ...]:
    with server.connect() as conn:
        return table_checksums(conn, db), object_lists(conn, db), history_digests(conn, db)


def enable_events_as_in(server: MariaDBServer, source: str, copy: str) -> list[str]:
    """ENABLE in `copy` the events ENABLED in `source` (a restore under another name creates them DISABLED)."""
    with server.connect() as conn:
        enabled = [name for name, status in event_status(conn, source).items() if status == "ENABLED"]
        assert set(event_status(conn, copy).values()) <= {"DISABLED"}, "a copy's events never run"
    server.execute(*(f"ALTER EVENT `{name}` ENABLE" for name in enabled), database=copy)
    return enabled


@on_pairings()
def test_restore_into_a_new_database_gives_back_every_table_row_and_object(backed_up_pairing: Pairing) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    target = backed_up_pairing.make_database("restored")
    server.execute(f"DROP DATABASE `{target}`")  # the tool creates a missing target (make_database drops it later)

    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", "--target-db", target)

    assert result.returncode == 0, result.stderr
    assert f"into database {target}" in result.stdout
    with server.connect() as conn:
        assert table_checksums(conn, target) == table_checksums(conn, fir_db)
    enabled = enable_events_as_in(server, fir_db, target)  # all that differs: events of a copy are DISABLED
    assert len(enabled) == (1 if backed_up_pairing.flavor == "mysql" else 0)
    assert snapshot(server, target) == snapshot(server, fir_db)
    with server.connect() as conn:
        assert schema_differences(conn, fir_db, target) == []  # sequence defaults name the new database
        assert data_differences(conn, fir_db, target) == []
        assert all_differences(conn, fir_db, target) == []
    finished = events_named(backed_up, "restore_finished")
    assert len(finished) == 1
    assert finished[0]["what"] == "mysql"
    assert finished[0]["outcome"] == "success"
    assert str(finished[0]["source_file"]).endswith(".sql.gz")
    assert target in str(finished[0]["target"])
    assert finished[0]["started_at"] and finished[0]["finished_at"]


@on_pairings()
def test_restore_into_a_non_empty_database_without_yes_refuses_and_changes_nothing(
    backed_up_pairing: Pairing,
) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    server.execute("CREATE TABLE added_after_backup (id INT PRIMARY KEY)", database=fir_db)
    before = snapshot(server, fir_db)

    result = run_cli(as_root(backed_up), "restore", "mysql")

    assert result.returncode == 2, result.stderr
    assert "is not empty" in result.stderr and "--yes" in result.stderr
    assert snapshot(server, fir_db) == before
    assert not (Path(backed_up["BACKUP_DIR"]) / "safety").exists()
    failed = events_named(backed_up, "restore_failed")
    assert [event["what"] for event in failed] == ["mysql"]
    assert "not empty" in str(failed[0]["error"])


@on_pairings()
def test_restore_with_yes_saves_the_target_first_and_leaves_exactly_the_backup(backed_up_pairing: Pairing) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    backed_up_state = snapshot(server, fir_db)
    reference = backed_up_pairing.make_database("reference")
    assert run_cli(as_root(backed_up), "restore", "mysql", "--target-db", reference).returncode == 0
    server.execute("CREATE TABLE added_after_backup (id INT PRIMARY KEY)", database=fir_db)
    server.execute("INSERT INTO added_after_backup VALUES (1), (2)", database=fir_db)
    changed = snapshot(server, fir_db)

    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", "--yes")

    assert result.returncode == 0, result.stderr
    assert snapshot(server, fir_db) == backed_up_state  # its events as they were: it is the database backed up
    enable_events_as_in(server, fir_db, reference)
    assert snapshot(server, fir_db) == snapshot(server, reference)
    with server.connect() as conn:
        assert all_differences(conn, reference, fir_db) == []
    safety = sorted((Path(backed_up["BACKUP_DIR"]) / "safety").glob("mysql_backup_*.sql.gz"))
    assert len(safety) == 1
    assert str(safety[0]) in result.stdout and "never pruned" in result.stdout
    assert (safety[0].parent / (safety[0].name + ".json")).is_file()
    # the safety backup holds the replaced state, and restores it
    saved = backed_up_pairing.make_database("saved")
    assert not (Path(backed_up["BACKUP_DIR"]) / safety[0].name).exists()  # never the name of a regular backup
    restored = run_cli(as_root(backed_up), "restore", "mysql", f"safety/{safety[0].name}", "--target-db", saved)
    assert restored.returncode == 0, restored.stderr
    enable_events_as_in(server, fir_db, saved)
    assert snapshot(server, saved) == changed
    listing = json.loads(run_cli(backed_up, "list", "--json").stdout)
    assert [entry["name"] for entry in listing["backups"]["safety"]] == [safety[0].name]
    assert safety[0].name not in [entry["name"] for entry in listing["backups"]["mysql"]]
    finished = events_named(backed_up, "restore_finished")
    assert [event["safety_backup"] for event in finished] == [None, str(safety[0]), None]


@on_pairings()
def test_restore_with_no_safety_backup_logs_that_it_was_skipped(backed_up_pairing: Pairing) -> None:
    fir_db, backed_up = backed_up_pairing.db, backed_up_pairing.env
    result = run_cli(as_root(backed_up), "restore", "mysql", "--yes", "--no-safety-backup")

    assert result.returncode == 0, result.stderr
    assert "no safety backup" in result.stdout
    assert not (Path(backed_up["BACKUP_DIR"]) / "safety").exists()
    assert [event["database"] for event in events_named(backed_up, "safety_backup_skipped")] == [fir_db]


@on_pairings()
def test_restore_without_create_privilege_says_which_privilege_is_missing(backed_up_pairing: Pairing) -> None:
    fir_db, backed_up = backed_up_pairing.db, backed_up_pairing.env
    result = run_cli(backed_up, "restore", "mysql", "--target-db", f"{fir_db}_new")

    assert result.returncode == 1
    assert "lacks the CREATE privilege" in result.stderr
    assert "CREATE ROUTINE" in result.stderr
    assert f"{fir_db}_new" not in database_names(backed_up_pairing.server)


# --- the target database's name ----------------------------------------------------------------------------


def database_names(mariadb: MariaDBServer) -> list[str]:
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        return [str(row[0]) for row in cur.fetchall()]


def change_after_backup(mariadb: MariaDBServer, db: str) -> tuple[object, ...]:
    """Make `db` differ from its backup (a new table, a deleted row); its snapshot afterwards."""
    mariadb.execute("CREATE TABLE added_after_backup (id INT PRIMARY KEY)", database=db)
    mariadb.execute("INSERT INTO added_after_backup VALUES (1)", "DELETE FROM police_stations LIMIT 1", database=db)
    return snapshot(mariadb, db)


def assert_refused_untouched(result: subprocess.CompletedProcess[str], env: dict[str, str], *words: str) -> None:
    """Exit 2 with exactly one `error:` line holding `words`, no traceback, no safety backup, no restore begun."""
    assert_refused(result, *words)
    assert not (Path(env["BACKUP_DIR"]) / "safety").exists()
    assert events_named(env, "restore_started") == []


def test_a_target_name_that_reads_as_a_client_option_is_refused_and_nothing_is_touched(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    odd = f"--database={fir_db}"
    changed = change_after_backup(mariadb, fir_db)
    databases = database_names(mariadb)
    try:
        result = run_cli(as_root(backed_up), "restore", "mysql", "latest", f"--target-db={odd}")

        assert_refused_untouched(result, backed_up, "--target-db", "starts with '-'", "allowed:")
        assert database_names(mariadb) == databases  # no database named `--database=...` either
        assert snapshot(mariadb, fir_db) == changed
    finally:
        mariadb.execute(f"DROP DATABASE IF EXISTS `{odd}`")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("-x", "starts with '-'"),
        ("n" * 65, "65 characters"),
        ("trailing ", "ends with a space"),
        ("two\nlines", "control character"),
        ("\udcff", "not valid UTF-8"),  # the byte 0xff on the command line
        ("mysql", "system schema"),
        ("MySQL", "system schema"),
        ("information_schema", "system schema"),
        ("PERFORMANCE_SCHEMA", "system schema"),
        ("sys", "system schema"),
    ],
)
def test_an_unusable_target_name_is_refused_even_with_yes_and_nothing_is_touched(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, name: str, problem: str
) -> None:
    changed = change_after_backup(mariadb, fir_db)
    databases = database_names(mariadb)
    with mariadb.connect() as conn:
        system_tables = object_lists(conn, "mysql")

    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", f"--target-db={name}", "--yes")

    assert_refused_untouched(result, backed_up, "--target-db", problem, "allowed:")
    assert database_names(mariadb) == databases
    assert snapshot(mariadb, fir_db) == changed  # an empty name does not fall back to MYSQL_DB
    with mariadb.connect() as conn:
        assert object_lists(conn, "mysql") == system_tables


def test_the_client_is_given_the_database_as_an_option_never_as_a_bare_word(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, make_database
) -> None:
    victim = make_database("victim")
    odd = f"--database={victim}"  # the check refuses such names; the client must not misread them either
    mariadb.execute(f"CREATE DATABASE `{odd}`")
    try:
        settings = load_settings(as_root(backed_up))

        client = mysql_load.inspect_client(settings)
        policy = DumpPolicy(source=fir_db, target=odd)

        mysql_load.load_dump(settings, newest_backup(backed_up), odd, client=client, policy=policy)

        with mariadb.connect() as conn:
            assert object_lists(conn, victim)["tables"] == []
            assert table_checksums(conn, odd) == table_checksums(conn, fir_db)
    finally:
        mariadb.execute(f"DROP DATABASE IF EXISTS `{odd}`")


def test_row_text_quoting_a_sequence_reference_comes_back_exactly_under_another_name(
    mariadb: MariaDBServer, backup_env: dict[str, str], fir_db: str, make_database
) -> None:
    notes = [
        (1, f"copied from the schema: DEFAULT nextval(`{fir_db}`.`evidence_id_seq`)"),
        (2, f"lastval(`{fir_db}`.`evidence_id_seq`) and nextval(`{fir_db}`.`x`)"),
        (3, "CREATE TABLE nothing (\n) in a row"),
    ]
    mariadb.execute(
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL)",
        "CREATE VIEW next_evidence_id AS SELECT nextval(evidence_id_seq) AS n",  # stored qualified, like a default
        database=fir_db,
    )
    with mariadb.connect(fir_db) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO notes VALUES (%s, %s)", notes)
    assert run_cli(backup_env, "backup").returncode == 0
    target = make_database("renamed")
    mariadb.execute(f"DROP DATABASE `{target}`")

    result = run_cli(as_root(backup_env), "restore", "mysql", "--target-db", target)

    assert result.returncode == 0, describe(result)
    with mariadb.connect(target) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, body FROM notes ORDER BY id")
        assert [tuple(row) for row in cur.fetchall()] == notes
        cur.execute("SHOW CREATE TABLE evidence_items")
        assert f"nextval(`{target}`.`evidence_id_seq`)" in cur.fetchone()[1]
        cur.execute("SHOW CREATE VIEW next_evidence_id")
        assert f"nextval(`{target}`.`evidence_id_seq`)" in cur.fetchone()[1]


# --- failures on the way: one line, and the target left as it was (or said where its content is) ------------


@pytest.mark.parametrize("client", ["/nonexistent/mysql", "/bin/true"])
def test_an_unusable_mysql_client_is_found_before_the_target_is_dropped(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, client: str
) -> None:
    changed = change_after_backup(mariadb, fir_db)

    result = run_cli(dict(as_root(backed_up), MYSQL_BIN=client), "restore", "mysql", "--yes")

    assert_refused_untouched(result, backed_up, "MYSQL_BIN", client, "allowed:")
    assert snapshot(mariadb, fir_db) == changed


def test_a_file_system_error_ends_the_restore_in_one_line_before_the_drop(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    changed = change_after_backup(mariadb, fir_db)
    (Path(backed_up["BACKUP_DIR"]) / "safety").write_text("a file where the safety directory belongs\n")

    result = run_cli(as_root(backed_up), "restore", "mysql", "--yes")

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr
    errors = stderr_errors(result)
    assert len(errors) == 1 and fir_db in errors[0] and "File exists" in errors[0], describe(result)
    assert snapshot(mariadb, fir_db) == changed


@pytest.fixture
def limited_root(mariadb: MariaDBServer) -> Iterator[tuple[str, str]]:
    """An account with every privilege that may run one statement an hour: its second one fails in the driver."""
    user = f"limited_{secrets.token_hex(4)}"
    mariadb.execute(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_QUERIES_PER_HOUR 1",
        f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'",
    )
    yield user, "pw"
    mariadb.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_server_error_inside_restore_is_one_line_not_a_traceback(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, limited_root: tuple[str, str]
) -> None:
    changed = change_after_backup(mariadb, fir_db)
    env = dict(backed_up, MYSQL_USER=limited_root[0], MYSQL_PASSWORD=limited_root[1])

    result = run_cli(env, "restore", "mysql", "--yes")

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr
    errors = stderr_errors(result)
    assert len(errors) == 1 and "max_queries_per_hour" in errors[0] and fir_db in errors[0], describe(result)
    assert snapshot(mariadb, fir_db) == changed
    assert [e["what"] for e in events_named(backed_up, "restore_failed")] == ["mysql"]


def test_a_server_error_inside_verify_is_one_line_not_a_traceback(
    backed_up: dict[str, str], limited_root: tuple[str, str]
) -> None:
    env = dict(backed_up, MYSQL_USER=limited_root[0], MYSQL_PASSWORD=limited_root[1])

    result = run_cli(env, "verify", "--restore-test")

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr
    errors = stderr_errors(result)
    assert len(errors) == 1 and "max_queries_per_hour" in errors[0], describe(result)


def find_load_client(cli_pid: int) -> int:
    """The pid of the mysql/mariadb client that loads the dump (not a `--version` run: it reads credentials)."""

    def client() -> int | None:
        for pid in descendants(cli_pid):
            cmdline = bytes_of(Path(f"/proc/{pid}/cmdline"))
            if command_name(pid) in ("mysql", "mariadb") and b"--defaults-extra-file=" in cmdline:
                return pid
        return None

    return int(wait_for(client, 60, "the CLI to start the mysql client", interval=0.002))


@on_pairings()
def test_sigterm_mid_load_leaves_the_target_untouched_and_drops_the_staging_copy(pairing: Pairing) -> None:
    """The dump loads into a staging database first: cut there, the target is as it was."""
    server, fir_db, backup_env = pairing.server, pairing.db, pairing.env
    add_bulk_table(server, fir_db, rows=300)  # ~20 MB of SQL: the load outlasts the pipe's buffer
    assert run_cli(backup_env, "backup").returncode == 0
    before = snapshot(server, fir_db)
    databases = database_names(server)
    cli = start_cli(as_root(backup_env), "restore", "mysql", "--yes")
    client = find_load_client(cli.pid)
    with frozen(client):  # the client reads nothing: the CLI is stuck writing the dump into its stdin
        time.sleep(0.5)
        cli.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    result = finish(cli)

    assert result.returncode == 143, describe(result)
    [started] = events_named(backup_env, "restore_started")
    [failed] = events_named(backup_env, "restore_failed")
    staging = next(iter(set(database_names(server)) ^ set(databases)), None)
    assert staging is None, f"staging database {staging} left behind"
    said = f"database {fir_db} on {server.host}:{server.port} was not touched (the staging database {fir_db}_restore_"
    assert "SIGTERM" in failed["error"] and said in failed["error"], failed
    assert snapshot(server, fir_db) == before
    assert len(sorted((Path(backup_env["BACKUP_DIR"]) / "safety").glob("mysql_backup_*.sql.gz"))) == 1
    assert process_state(client) is None, "the client was stopped and reaped"
    assert started["target"] == failed["target"]


def test_a_signal_between_drop_and_create_waits_until_the_database_exists_again(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stopped(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    real_drop = mysql_restore.drop_database

    def drop_then_signal(connection: object, database: str) -> None:
        real_drop(connection, database)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(mysql_restore, "drop_database", drop_then_signal)
    previous = signal.signal(signal.SIGTERM, stop)
    # Another thread, as a restore has (draining a child's stderr): the kernel may hand it the signal.
    done = threading.Event()
    bystander = threading.Thread(target=done.wait, daemon=True)
    bystander.start()
    try:
        with pytest.raises(Stopped), mysql.connect(load_settings(as_root(backed_up))) as connection:
            mysql_restore.empty_database(connection, fir_db)
    finally:
        signal.signal(signal.SIGTERM, previous)
        done.set()

    assert fir_db in database_names(mariadb)
