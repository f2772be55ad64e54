"""End to end: what backup_database.py does when things go wrong, with a real server wherever one can show it.

Mid-dump faults use a bulky first table (`a_bulk`, far larger than the pipe and socket buffers) and freeze
the CLI (SIGSTOP) as soon as it has started mysqldump: nobody drains the dump then, so mysqldump and the
server are caught in the middle of that table, as the server's processlist confirms. The fault is injected
there and the CLI is let go (SIGCONT).

In every failure: the exit code and the error say which part failed and why, nothing that looks like a
backup is published, no `.partial` file is left, and the other part is still backed up.

The faults of the MySQL part that a real server shows run on every server/client pairing (helpers.PAIRINGS).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixture_schema import create_fixture
from fixture_schema_mysql import create_fixture as create_mysql_fixture
from helpers import (
    FAKES,
    MYSQL_PAIRINGS,
    REPO_ROOT,
    Pairing,
    add_bulk_table,
    as_root,
    backups_of,
    bytes_of,
    cli_argv,
    command_name,
    descendants,
    describe,
    events_named,
    finish,
    leftovers_in,
    log_events,
    names_in,
    on_pairings,
    plant_backup,
    process_state,
    read_manifest,
    run_cli,
    running_queries,
    small_tmpfs,
    stalled_mid_dump,
    start_cli,
    stderr_errors,
    utc_stamp,
    wait_for,
)
from mariadb_server import BACKUP_PASSWORD, BACKUP_PRIVILEGES, BACKUP_USER, MariaDBServer
from mysql_server import BACKUP_DB_PRIVILEGES, create_backup_user, grant_backup_privileges

#: a_bulk for the mid-dump tests: 24 MB of text, several times the pipe (1 MB) plus both socket buffers.
BULK_ROWS = 384
#: a_bulk for the disk-full test: 6 MB of random bytes, over 6 MB gzipped as hex, on a 4 MB tmpfs.
RANDOM_BULK_ROWS = 6
RANDOM_ROW_BYTES = 1024 * 1024


@pytest.fixture
def bulky(pairing: Pairing) -> Pairing:
    """The pairing, with its fir_db holding a bulky table that mysqldump dumps first."""
    add_bulk_table(pairing.server, pairing.db, BULK_ROWS)
    return pairing


def assert_mysql_failed_cleanly(backup_dir: Path, result: object) -> None:
    """Nothing of the mysql kind was published and nothing partial is left; sessions.db was still backed up."""
    assert backups_of(backup_dir, "mysql") == [], describe(result)  # type: ignore[arg-type]
    assert not [n for n in names_in(backup_dir) if n.startswith("mysql_backup_")], names_in(backup_dir)
    assert leftovers_in(backup_dir) == []
    [sessions] = backups_of(backup_dir, "sessions")
    assert read_manifest(sessions)["sqlite"]["integrity_check"] == "ok"


def the_mysql_error(result: object) -> str:
    """The single `error: mysql backup failed: ...` line of a run."""
    errors = stderr_errors(result)  # type: ignore[arg-type]
    mysql_errors = [line for line in errors if line.startswith("error: mysql backup failed")]
    assert len(mysql_errors) == 1, describe(result)  # type: ignore[arg-type]
    return mysql_errors[0]


@on_pairings()
def test_a_wrong_password_fails_the_mysql_part_with_the_servers_words_and_still_backs_up_sessions(
    pairing: Pairing,
) -> None:
    backup_env = pairing.env
    backup_env["MYSQL_PASSWORD"] = "not the password"

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    error = the_mysql_error(result)
    assert "Access denied for user" in error
    assert BACKUP_USER in error
    assert_mysql_failed_cleanly(Path(backup_env["BACKUP_DIR"]), result)


@on_pairings(*MYSQL_PAIRINGS)
def test_a_mysql_user_without_show_routine_fails_the_part_rather_than_leave_the_routines_out(pairing: Pairing) -> None:
    """The README's grant narrowed to the database: both dump programs would exit 0 without the routines."""
    account = ("narrow_backup", "n4rrow pass")
    pairing.server.execute(
        f"CREATE USER '{account[0]}'@'%' IDENTIFIED BY '{account[1]}'",
        f"GRANT {', '.join(BACKUP_DB_PRIVILEGES)} ON `{pairing.db}`.* TO '{account[0]}'@'%'",
    )
    try:
        result = run_cli(dict(pairing.env, MYSQL_USER=account[0], MYSQL_PASSWORD=account[1]))
    finally:
        pairing.server.execute(f"DROP USER '{account[0]}'@'%'")

    assert result.returncode == 2, describe(result)  # a setting to fix, not a fault of the run
    error = the_mysql_error(result)
    assert "lacks SHOW_ROUTINE" in error and f"GRANT SHOW_ROUTINE ON *.* TO '{account[0]}'@'%'" in error, error
    assert_mysql_failed_cleanly(Path(pairing.env["BACKUP_DIR"]), result)


@on_pairings()
def test_mysqldump_killed_mid_dump_publishes_nothing_and_says_so(bulky: Pairing) -> None:
    cli = start_cli(bulky.env)
    with stalled_mid_dump(cli, bulky.server, bulky.user.user) as dump_pid:
        assert command_name(dump_pid) == bulky.dump_program
        os.kill(dump_pid, signal.SIGKILL)
    result = finish(cli)

    assert result.returncode == 1, describe(result)
    assert "mysqldump exited with signal SIGKILL" in the_mysql_error(result)
    assert_mysql_failed_cleanly(Path(bulky.env["BACKUP_DIR"]), result)


@pytest.fixture
def private_server_env(
    pairing: Pairing, request: pytest.FixtureRequest
) -> Iterator[tuple[MariaDBServer, dict[str, str]]]:
    """A server of the test's own, of the pairing's kind (it gets killed), with the backup user and a bulky fir_db."""
    if pairing.flavor == "mariadb":
        server = request.getfixturevalue("private_mariadb")
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (BACKUP_USER, BACKUP_PASSWORD))
            cur.execute(f"GRANT {', '.join(BACKUP_PRIVILEGES)} ON *.* TO %s@'%%'", (BACKUP_USER,))
        with server.connect() as conn:
            create_fixture(conn, "fir_db")
    else:
        server = request.getfixturevalue("private_mysql")
        create_backup_user(server)
        with server.connect() as conn:
            create_mysql_fixture(conn, "fir_db")
        grant_backup_privileges(server, "fir_db")
    add_bulk_table(server, "fir_db", BULK_ROWS)
    yield server, {**pairing.env, "MYSQL_PORT": str(server.port), "MYSQL_DB": "fir_db"}


@on_pairings()
def test_the_server_killed_mid_dump_fails_the_mysql_part_and_publishes_nothing(
    private_server_env: tuple[MariaDBServer, dict[str, str]],
) -> None:
    server, env = private_server_env
    cli = start_cli(env)
    with stalled_mid_dump(cli, server, BACKUP_USER):
        server.kill()
    result = finish(cli)

    assert result.returncode == 1, describe(result)
    error = the_mysql_error(result)
    assert "mysqldump exited with status" in error
    # the image's client speaks TLS to MySQL: there a lost connection reads as the TLS stream ending
    assert any(
        words in error for words in ("Lost connection", "server has gone away", "TLS/SSL error: unexpected eof")
    ), error
    assert_mysql_failed_cleanly(Path(env["BACKUP_DIR"]), result)

    server.start()  # the server recovers, and so does the next backup
    again = run_cli(env)
    assert again.returncode == 0, describe(again)
    assert len(backups_of(Path(env["BACKUP_DIR"]), "mysql")) == 1


def test_a_full_disk_during_the_write_fails_the_mysql_part_with_no_space_and_leaves_no_partial(
    mariadb: MariaDBServer, fir_db: str, backup_env: dict[str, str], tmp_path: Path
) -> None:
    add_bulk_table(mariadb, fir_db, RANDOM_BULK_ROWS, RANDOM_ROW_BYTES, random=True)
    backup_dir = tmp_path / "small-disk"
    listing = tmp_path / "left-on-the-small-disk.txt"
    backup_env["BACKUP_DIR"] = str(backup_dir)

    result = run_cli(backup_env, wrapper=small_tmpfs(backup_dir, "4m", listing=listing))

    assert result.returncode == 1, describe(result)
    error = the_mysql_error(result)
    assert "No space left on device" in error
    left = listing.read_text().split()
    assert not [name for name in left if name.startswith("mysql_backup_") or name.endswith(".partial")], left
    assert len([name for name in left if name.startswith("sessions_backup_")]) == 2, (
        "the space freed by removing the partial dump let the sessions backup and its manifest through"
    )


@on_pairings()
def test_sigterm_mid_dump_stops_mysqldump_removes_the_partial_file_and_exits_143(bulky: Pairing) -> None:
    backup_dir = Path(bulky.env["BACKUP_DIR"])
    cli = start_cli(bulky.env)
    with stalled_mid_dump(cli, bulky.server, bulky.user.user) as dump_pid:
        assert [n for n in names_in(backup_dir) if n.endswith(".sql.gz.partial")], "the dump is being written"
        os.kill(cli.pid, signal.SIGTERM)
    result = finish(cli)

    assert result.returncode == 143, describe(result)
    assert process_state(dump_pid) is None, "mysqldump was stopped and reaped, not left behind"
    assert leftovers_in(backup_dir) == []
    assert backups_of(backup_dir, "mysql") == [] and backups_of(backup_dir, "sessions") == []
    events = [event["event"] for event in log_events(backup_dir / "backup.log")]
    assert "backup_interrupted" in events or "interrupted" in events, events
    wait_for(lambda: not running_queries(bulky.server, bulky.user.user), 10, "the server to drop the dump query")


@on_pairings()
def test_a_run_killed_with_sigkill_leaves_a_partial_file_that_the_next_run_removes(bulky: Pairing) -> None:
    backup_dir = Path(bulky.env["BACKUP_DIR"])
    cli = start_cli(bulky.env)
    with stalled_mid_dump(cli, bulky.server, bulky.user.user):
        cli.kill()
    finish(cli)
    [partial] = [n for n in names_in(backup_dir) if n.endswith(".partial")]

    result = run_cli(bulky.env)

    assert result.returncode == 0, describe(result)
    assert partial not in names_in(backup_dir)
    assert leftovers_in(backup_dir) == []
    assert len(backups_of(backup_dir, "mysql")) == 1 and len(backups_of(backup_dir, "sessions")) == 1
    removed = [event for event in log_events(backup_dir / "backup.log") if event["event"] == "removed_leftovers"]
    assert [event["files"] for event in removed] == [[partial]]


@on_pairings()
def test_the_password_is_in_no_childs_command_line_or_environment_and_in_no_output(bulky: Pairing) -> None:
    password = bulky.user.password.encode()
    seen: dict[int, bytes] = {}
    cli = start_cli(bulky.env)
    with stalled_mid_dump(cli, bulky.server, bulky.user.user) as dump_pid:
        children = descendants(cli.pid)
        assert dump_pid in children
        for pid in children:
            seen[pid] = bytes_of(Path(f"/proc/{pid}/cmdline"))
            for part in ("cmdline", "environ"):
                text = bytes_of(Path(f"/proc/{pid}/{part}"))
                assert password not in text, f"the password is in /proc/{pid}/{part}"
            environment = bytes_of(Path(f"/proc/{pid}/environ")).split(b"\0")
            assert not [v for v in environment if v.startswith((b"MYSQL_PWD=", b"MYSQL_PASSWORD"))], environment
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                assert password not in bytes_of(Path(f"/proc/{entry}/cmdline")), f"in /proc/{entry}/cmdline"
    result = finish(cli)

    assert result.returncode == 0, describe(result)
    assert any(b"--defaults-extra-file=/dev/fd/" in cmdline for cmdline in seen.values()), seen
    backup_dir = Path(bulky.env["BACKUP_DIR"])
    assert bulky.user.password not in result.stdout + result.stderr
    for name in names_in(backup_dir):
        if not name.endswith(".gz"):
            assert bulky.user.password not in (backup_dir / name).read_text(errors="replace"), name


def test_a_mysqldump_that_exits_0_without_the_completed_trailer_publishes_nothing(
    backup_env: dict[str, str],
) -> None:
    backup_env["MYSQLDUMP_BIN"] = str(FAKES / "mysqldump-without-trailer")

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    assert "Dump completed" in the_mysql_error(result)
    assert_mysql_failed_cleanly(Path(backup_env["BACKUP_DIR"]), result)


def test_a_mysqldump_that_exits_2_has_its_stderr_in_the_error(backup_env: dict[str, str]) -> None:
    backup_env["MYSQLDUMP_BIN"] = str(FAKES / "mysqldump-failing")

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    error = the_mysql_error(result)
    assert "exited with status 2" in error
    assert "doesn't exist in engine (1932)" in error
    log = log_events(Path(backup_env["BACKUP_DIR"]) / "backup.log")
    [failure] = [event for event in log if event["event"] == "part_failed"]
    assert "Deprecated program name" in failure["stderr_tail"], "every stderr line is kept in the log"
    assert_mysql_failed_cleanly(Path(backup_env["BACKUP_DIR"]), result)


def test_backups_failing_longer_than_the_retention_period_delete_no_backup_of_that_kind(
    backup_env: dict[str, str],
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    old = {
        kind: [plant_backup(backup_dir, kind, timedelta(days=days)) for days in (21, 28, 35)]
        for kind in ("mysql", "sessions")
    }
    backup_env.update({"MYSQL_PASSWORD": "wrong", "BACKUP_RETENTION_DAYS": "7", "BACKUP_KEEP_LAST": "1"})

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    assert backups_of(backup_dir, "mysql") == sorted(old["mysql"]), "the last good mysql backups are all that is left"
    for path in old["mysql"]:
        assert path.with_name(path.name + ".json").exists()
    [fresh] = backups_of(backup_dir, "sessions")
    assert fresh not in old["sessions"], "sessions.db was backed up and its old backups pruned"
    assert not [n for n in names_in(backup_dir) if any(n.startswith(p.name) for p in old["sessions"])]


def test_a_corrupt_sessions_file_fails_that_part_clearly_and_mysql_is_still_backed_up(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt" / "sessions.db"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    backup_env["SESSIONS_DB_PATH"] = str(corrupt)

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    [error] = stderr_errors(result)
    assert error.startswith("error: sessions backup failed:") and str(corrupt) in error, error
    backup_dir = Path(backup_env["BACKUP_DIR"])
    assert backups_of(backup_dir, "sessions") == [] and leftovers_in(backup_dir) == []
    assert len(backups_of(backup_dir, "mysql")) == 1


def test_a_missing_sessions_file_fails_that_part_and_the_run_records_it(backup_env: dict[str, str]) -> None:
    backup_env["SESSIONS_DB_PATH"] = "/nonexistent/sessions.db"

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    [error] = stderr_errors(result)
    assert "sessions backup failed" in error and "/nonexistent/sessions.db" in error and "does not exist" in error
    backup_dir = Path(backup_env["BACKUP_DIR"])
    assert len(backups_of(backup_dir, "mysql")) == 1
    record = json.loads((backup_dir / "last_run.json").read_text())
    assert record["outcome"] == "failed" and record["parts"]["mysql"]["ok"] and not record["parts"]["sessions"]["ok"]
    assert not Path("/nonexistent").exists(), "reading the source never creates it"


def test_sigint_while_mysqldump_hangs_stops_it_and_exits_130(backup_env: dict[str, str]) -> None:
    backup_env["MYSQLDUMP_BIN"] = str(FAKES / "mysqldump-sleeping")
    backup_dir = Path(backup_env["BACKUP_DIR"])
    cli = start_cli(backup_env)
    hanging = wait_for(
        lambda: next((pid for pid in descendants(cli.pid) if command_name(pid) == "sleep"), None),
        30,
        "the hanging dump",
    )
    os.kill(cli.pid, signal.SIGINT)
    result = finish(cli)

    assert result.returncode == 130, describe(result)
    assert process_state(hanging) is None, "the hanging mysqldump was stopped and reaped"
    assert leftovers_in(backup_dir) == [] and backups_of(backup_dir, "mysql") == []
    record = json.loads((backup_dir / "last_run.json").read_text())
    assert record["outcome"] == "interrupted" and "SIGINT" in record["error"]


def test_a_full_disk_while_copying_sessions_fails_that_part_and_leaves_no_temporary_copy(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    backup_dir = tmp_path / "tiny-disk"
    listing = tmp_path / "left-on-the-tiny-disk.txt"
    backup_env.update({"BACKUP_DIR": str(backup_dir), "BACKUP_MYSQL_ENABLED": "false"})
    assert Path(backup_env["SESSIONS_DB_PATH"]).stat().st_size > 1024 * 1024

    result = run_cli(backup_env, wrapper=small_tmpfs(backup_dir, "512k", listing=listing))

    assert result.returncode == 1, describe(result)
    [error] = stderr_errors(result)
    assert error.startswith("error: sessions backup failed: cannot write the copy"), error
    assert str(backup_dir) in error and "database or disk is full" in error, error
    left = listing.read_text().split()
    assert not [name for name in left if name.startswith(("sessions_backup_", ".sessions-copy-"))], left


def test_a_manifest_that_cannot_be_written_takes_its_backup_file_away_too(backup_env: dict[str, str]) -> None:
    """In life the dump fills the disk and the manifest finds no room; here a directory takes its name."""
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_dir.mkdir(mode=0o700)
    now = datetime.now(UTC)
    for second in range(60):  # every name the run's manifest may get within the next minute
        squatter = backup_dir / f"mysql_backup_{utc_stamp(now + timedelta(seconds=second))}.sql.gz.json"
        squatter.mkdir()
        (squatter / "occupied").write_text("a directory where the manifest should go\n")

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    assert the_mysql_error(result).startswith("error: mysql backup failed:")
    assert backups_of(backup_dir, "mysql") == [], "no backup file without its manifest"
    assert [name for name in names_in(backup_dir) if name.startswith(".") and name.endswith(".tmp")] == []
    assert len(backups_of(backup_dir, "sessions")) == 1


# --- errors outside the two parts: the run goes on where it can, and is always recorded ------------------------


def test_a_directory_named_like_a_leftover_is_left_alone_and_the_backup_still_runs(backup_env: dict[str, str]) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    squatter = backup_dir / "mysql_backup_20260101_000000.sql.gz.partial"
    squatter.mkdir(parents=True)
    (squatter / "somebody's file").write_text("not ours\n")

    for _ in range(2):  # not just once: every run used to stop here
        result = run_cli(backup_env)

        assert result.returncode == 0, describe(result)
        assert "Traceback" not in result.stderr, describe(result)
    assert len(backups_of(backup_dir, "mysql")) == 2 and len(backups_of(backup_dir, "sessions")) == 2
    assert (squatter / "somebody's file").read_text() == "not ours\n", "a directory is never removed"
    skipped = events_named(backup_env, "leftover_not_removed")
    assert [event["file"] for event in skipped] == [squatter.name] * 2
    assert "Is a directory" in skipped[0]["error"], skipped[0]
    assert json.loads((backup_dir / "last_run.json").read_text())["outcome"] == "success"


def plant_undeletable_backup(backup_dir: Path, kind: str, age: timedelta) -> Path:
    """An old backup whose manifest's name is taken by a directory: prune can delete the file but not that."""
    backup = plant_backup(backup_dir, kind, age, manifest=False)
    manifest = backup.with_name(backup.name + ".json")
    manifest.mkdir()
    (manifest / "inside").write_text("a directory where the manifest should be\n")
    return manifest


def test_a_file_that_prune_cannot_delete_is_logged_the_rest_is_pruned_and_the_run_is_recorded_failed(
    backup_env: dict[str, str],
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    prunable = [plant_backup(backup_dir, kind, timedelta(days=20)) for kind in ("mysql", "sessions")]
    stuck = plant_undeletable_backup(backup_dir, "mysql", timedelta(days=30))
    backup_env.update({"BACKUP_RETENTION_DAYS": "7", "BACKUP_KEEP_LAST": "1"})

    result = run_cli(backup_env)

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    [error] = stderr_errors(result)
    assert error.startswith("error: prune could not delete ") and stuck.name in error and "Is a directory" in error
    assert len(backups_of(backup_dir, "mysql")) == 1 and len(backups_of(backup_dir, "sessions")) == 1
    assert not [path for path in prunable if path.exists() or path.with_name(path.name + ".json").exists()]
    assert (stuck / "inside").exists(), "what cannot be deleted stays as it was"
    [failed] = events_named(backup_env, "prune_failed")
    assert failed["file"] == stuck.name and "Is a directory" in failed["error"], failed
    assert sorted(event["file"] for event in events_named(backup_env, "pruned")) == sorted(p.name for p in prunable)
    [finished] = events_named(backup_env, "backup_finished")
    assert finished["outcome"] == "failed", finished
    record = json.loads((backup_dir / "last_run.json").read_text())
    assert record["outcome"] == "failed" and stuck.name in record["error"], record
    assert record["parts"]["mysql"]["ok"] and record["parts"]["sessions"]["ok"], "the backups themselves are good"


def test_a_full_disk_before_the_first_byte_fails_both_parts_in_words_without_a_traceback(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    """The pid in the lock file and the first gzip header are the first writes: both meet ENOSPC."""
    backup_dir = tmp_path / "full-disk"
    listing = tmp_path / "left-on-the-full-disk.txt"
    backup_env["BACKUP_DIR"] = str(backup_dir)

    result = run_cli(backup_env, wrapper=small_tmpfs(backup_dir, "256k", fill=True, listing=listing))

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    errors = stderr_errors(result)
    assert [line.split(":")[1].strip() for line in errors] == ["mysql backup failed", "sessions backup failed"], errors
    assert "No space left on device" in errors[0] and str(backup_dir) in errors[0], errors
    left = listing.read_text().split()
    assert not [name for name in left if name.endswith(".partial") or name.startswith("mysql_backup_")], left


def test_a_run_that_cannot_record_its_failure_leaves_no_earlier_success_standing(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    """One private tmpfs for three commands: a good backup, then (disk filled up) a failing one, then status."""
    backup_dir = tmp_path / "small-disk"
    out = tmp_path / "out"
    out.mkdir()
    backup_env["BACKUP_DIR"] = str(backup_dir)
    cli = shlex.join(cli_argv())
    steps = [
        f"{cli} > {out}/first.txt 2>&1",
        f"cp {backup_dir}/last_run.json {out}/first.json",
        f"dd if=/dev/zero of={backup_dir}/filler bs=64k > /dev/null 2>&1",
        f"{cli} > {out}/second.txt 2>&1; echo $? > {out}/second.rc",
        f"cp {backup_dir}/last_run.json {out}/second.json",
        f"{cli} status --json > {out}/status.json 2>&1; echo $? > {out}/status.rc",
    ]
    wrapper = small_tmpfs(backup_dir, "64m")
    subprocess.run([*wrapper, "sh", "-c", "; ".join(steps)], cwd=REPO_ROOT, env=backup_env, timeout=600, check=True)

    assert json.loads((out / "first.json").read_text())["outcome"] == "success", (out / "first.txt").read_text()
    second = (out / "second.txt").read_text()
    assert (out / "second.rc").read_text().strip() == "1", second
    assert "No space left on device" in second and "Traceback" not in second, second
    # The failed run's own record, written over the old one (or, where that cannot be done, after removing it).
    record = json.loads((out / "second.json").read_text())
    assert record["outcome"] == "failed" and "No space left on device" in record["error"], record
    status = json.loads((out / "status.json").read_text())
    assert (out / "status.rc").read_text().strip() == "1" and not status["healthy"], status
    assert any(problem.startswith("last run failed") for problem in status["problems"]), status


def test_a_safety_backup_killed_mid_dump_leaves_a_partial_that_the_next_backup_removes(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    backup_dir = Path(backed_up["BACKUP_DIR"])
    add_bulk_table(mariadb, fir_db, BULK_ROWS)  # what the restore's safety backup dumps first
    restore = start_cli(as_root(backed_up), "restore", "mysql", "latest", "--yes")
    with stalled_mid_dump(restore, mariadb, "root"):
        restore.kill()
    finish(restore)
    [partial] = [n for n in names_in(backup_dir / "safety") if n.endswith(".partial")]
    listed = run_cli(backed_up, "list")
    assert f"removed by the next backup): {backup_dir / 'safety' / partial}" in listed.stdout, describe(listed)

    result = run_cli(backed_up)

    assert result.returncode == 0, describe(result)
    assert leftovers_in(backup_dir / "safety") == []
    removed = events_named(backed_up, "removed_leftovers")
    assert [event["files"] for event in removed] == [[f"safety/{partial}"]]
