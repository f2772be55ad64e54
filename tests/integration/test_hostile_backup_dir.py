"""BACKUP_DIR as untrusted input: links, FIFOs, sockets, directories and crafted files where the tool reads or writes.

Each command runs as a real process with a timeout (a FIFO that is opened blocks forever). Only the sessions part
is backed up: the files of BACKUP_DIR are the subject here, not MariaDB. What a link points to must never change.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import backups_of, describe, plant_backup, run_cli, stderr_errors

TIMEOUT = 60  # seconds; a command that blocks on a FIFO never ends
LOCK_NAME = ".afirgen-backup.lock"
TARGET_TEXT = "somebody else's file\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Settings for sessions-only runs (no MariaDB needed); BACKUP_DIR exists and is empty."""
    sessions = tmp_path / "sessions.db"
    connection = sqlite3.connect(sessions)
    connection.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, data TEXT)")
    connection.execute("INSERT INTO sessions (data) VALUES ('one')")
    connection.commit()
    connection.close()
    (tmp_path / "empty.env").write_text("")
    (tmp_path / "backups").mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_ENV_FILE": str(tmp_path / "empty.env"),
        "SESSIONS_DB_PATH": str(sessions),
        "BACKUP_MYSQL_ENABLED": "false",
        "BACKUP_YIELD_CPU": "false",
        "MYSQLDUMP_BIN": "/bin/true",
    }


def backup_dir_of(env: dict[str, str]) -> Path:
    return Path(env["BACKUP_DIR"])


def outside_target(tmp_path: Path) -> Path:
    """A file outside BACKUP_DIR that a planted link points to."""
    target = tmp_path / "elsewhere" / "precious.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text(TARGET_TEXT)
    return target


def cli(env: dict[str, str], *args: str):  # noqa: ANN201 - subprocess.CompletedProcess[str]
    result = run_cli(env, *args, timeout=TIMEOUT)
    assert "Traceback" not in result.stderr, describe(result)
    return result


@contextlib.contextmanager
def unix_socket_at(path: Path) -> Iterator[None]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.chdir(path.parent):  # a socket's path is limited to 107 bytes: bind it by its name
            server.bind(path.name)
        yield
    finally:
        server.close()


def make_special(path: Path, what: str, tmp_path: Path) -> contextlib.AbstractContextManager[None]:
    """Put a FIFO, a socket, a directory or a link to an outside file at `path`."""
    if what == "fifo":
        os.mkfifo(path)
    elif what == "socket":
        return unix_socket_at(path)
    elif what == "directory":
        path.mkdir()
    elif what == "symlink":
        path.symlink_to(outside_target(tmp_path))
    return contextlib.nullcontext()


SPECIAL = ["fifo", "socket", "directory", "symlink"]
DESCRIBED = {"fifo": "a FIFO", "socket": "a socket", "directory": "a directory", "symlink": "a symbolic link"}


# --- item 1: nothing is written through a link ------------------------------------------------------------


def test_a_link_at_last_run_json_fails_the_backup_in_words_keeps_the_backup_and_leaves_its_target_alone(
    env: dict[str, str], tmp_path: Path
) -> None:
    backup_dir = backup_dir_of(env)
    target = outside_target(tmp_path)
    (backup_dir / "last_run.json").symlink_to(target)

    result = cli(env, "backup")

    assert result.returncode == 1, describe(result)
    assert stderr_errors(result) == [
        f"error: {backup_dir / 'last_run.json'} is a symbolic link; refusing to write through it: remove it"
    ]
    assert target.read_text() == TARGET_TEXT
    assert (backup_dir / "last_run.json").is_symlink()
    assert len(backups_of(backup_dir, "sessions")) == 1, "the backup itself was taken: nothing is lost"
    status = cli(env, "status")
    assert status.returncode == 1 and "last_run.json is a symbolic link" in status.stdout, describe(status)


@pytest.mark.parametrize("command", [("backup",), ("prune",), ("prune", "--future-dated")])
def test_a_link_at_the_lock_file_stops_a_writing_command_at_once_and_leaves_its_target_alone(
    env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    backup_dir = backup_dir_of(env)
    target = outside_target(tmp_path)
    (backup_dir / LOCK_NAME).symlink_to(target)

    result = cli(env, *command)

    assert result.returncode == 1, describe(result)
    assert stderr_errors(result) == [
        f"error: {backup_dir / LOCK_NAME} is a symbolic link; refusing to write through it: remove it"
    ]
    assert target.read_text() == TARGET_TEXT
    assert backups_of(backup_dir, "sessions") == []


def test_a_link_at_backup_log_is_never_written_through_and_the_run_exits_1_naming_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    backup_dir = backup_dir_of(env)
    target = outside_target(tmp_path)
    (backup_dir / "backup.log").symlink_to(target)

    result = cli(env, "backup")

    assert result.returncode == 1, describe(result)
    refusal = f"{backup_dir / 'backup.log'} is a symbolic link; refusing to write through it: remove it"
    assert stderr_errors(result) == [f"error: {refusal}"]
    assert f"warning: {refusal}; logging to the console only" in result.stderr
    assert "backup_finished" in result.stdout, "the console still has every event"
    assert target.read_text() == TARGET_TEXT
    assert len(backups_of(backup_dir, "sessions")) == 1


def test_a_link_named_safety_is_not_followed_by_the_leftover_cleanup(env: dict[str, str], tmp_path: Path) -> None:
    backup_dir = backup_dir_of(env)
    elsewhere = tmp_path / "elsewhere-dir"
    elsewhere.mkdir()
    looks_left_over = elsewhere / "mysql_backup_20260101_000000.sql.gz.partial"
    looks_left_over.write_text(TARGET_TEXT)
    (backup_dir / "safety").symlink_to(elsewhere)

    result = cli(env, "backup")

    assert result.returncode == 0, describe(result)
    assert looks_left_over.read_text() == TARGET_TEXT
    assert "leftovers_not_checked" in result.stderr, describe(result)
    status = cli(env, "status")
    assert f"{backup_dir / 'safety'} is a symbolic link, not a directory" in status.stdout, describe(status)


def test_a_link_named_misdated_stops_prune_future_dated_and_nothing_moves(env: dict[str, str], tmp_path: Path) -> None:
    backup_dir = backup_dir_of(env)
    elsewhere = tmp_path / "elsewhere-dir"
    elsewhere.mkdir()
    (backup_dir / "misdated").symlink_to(elsewhere)
    ahead = plant_backup(backup_dir, "sessions", -timedelta(days=3))
    plant_backup(backup_dir, "sessions", timedelta(hours=1))

    result = cli(env, "prune", "--future-dated")

    assert result.returncode == 1, describe(result)
    assert stderr_errors(result) == [
        f"error: {backup_dir / 'misdated'} is a symbolic link; refusing to write through it: remove it"
    ]
    assert ahead.exists() and list(elsewhere.iterdir()) == []


# --- item 2: what is not a regular file is never opened ---------------------------------------------------


@pytest.mark.parametrize("what", SPECIAL)
def test_a_special_file_named_like_a_manifest_makes_its_backup_unusable_without_hanging_any_reader(
    env: dict[str, str], tmp_path: Path, what: str
) -> None:
    backup_dir = backup_dir_of(env)
    older = plant_backup(backup_dir, "sessions", timedelta(hours=2))
    newest = plant_backup(backup_dir, "sessions", timedelta(minutes=5), manifest=False)
    manifest = newest.with_name(newest.name + ".json")

    with make_special(manifest, what, tmp_path):
        listed = cli(env, "list")
        status = cli(env, "status", "--json")
        verified = cli(env, "verify", newest.name)
        verified_all = cli(env, "verify", "--all")

    problem = f"manifest unreadable: {manifest.name} is {DESCRIBED[what]}, never opened: remove it"
    line = next(line for line in listed.stdout.splitlines() if newest.name in line)
    assert line.endswith(f"NOT USABLE: {problem}"), describe(listed)
    document = json.loads(status.stdout)
    assert document["kinds"][0]["newest"] == older.name, "the damaged one is not the newest good backup"
    assert verified.returncode == 1 and verified_all.returncode == 1, describe(verified)
    assert "no readable manifest" in verified.stdout, describe(verified)
    if what == "symlink":
        assert (tmp_path / "elsewhere" / "precious.txt").read_text() == TARGET_TEXT


@pytest.mark.parametrize("what", SPECIAL)
def test_a_special_file_named_like_a_backup_is_listed_as_such_and_never_counted(
    env: dict[str, str], tmp_path: Path, what: str
) -> None:
    backup_dir = backup_dir_of(env)
    planted = plant_backup(backup_dir, "sessions", timedelta(minutes=5))
    manifest = json.loads(planted.with_name(planted.name + ".json").read_text())
    planted.unlink()  # the name of a good backup, with its manifest, but no regular file behind it

    with make_special(planted, what, tmp_path):
        listed = cli(env, "list")
        status = cli(env, "status")
        restored = cli(env, "restore", "sessions", planted.name, "--target", str(tmp_path / "restored.db"))

    assert f"not a regular file, never opened: {planted} ({DESCRIBED[what]})" in listed.stdout, describe(listed)
    assert status.returncode == 1 and "NO GOOD BACKUP" in status.stdout, describe(status)
    assert restored.returncode == 2, describe(restored)
    assert stderr_errors(restored) == [
        f"error: {planted} is {DESCRIBED[what]}, not a backup file; it is not opened (remove it)"
    ]
    assert manifest["file"] == planted.name


@pytest.mark.parametrize("what", ["fifo", "socket", "directory"])
def test_a_special_file_at_last_run_json_makes_status_unhealthy_at_once_and_the_backup_fails_in_words(
    env: dict[str, str], tmp_path: Path, what: str
) -> None:
    backup_dir = backup_dir_of(env)
    with make_special(backup_dir / "last_run.json", what, tmp_path):
        status = cli(env, "status")
        result = cli(env, "backup")

    assert status.returncode == 1, describe(status)
    assert f"last_run.json is {DESCRIBED[what]}, never opened: remove it" in status.stdout.splitlines()[-1]
    assert result.returncode == 1, describe(result)
    assert stderr_errors(result) == [
        f"error: {backup_dir / 'last_run.json'} is {DESCRIBED[what]}, not a regular file; refusing to use it: remove it"
    ]


@pytest.mark.parametrize("where", [LOCK_NAME, "backup.log"])
def test_a_fifo_at_the_lock_or_the_log_never_blocks_a_backup(env: dict[str, str], where: str) -> None:
    backup_dir = backup_dir_of(env)
    os.mkfifo(backup_dir / where)

    result = cli(env, "backup")

    assert result.returncode == 1, describe(result)
    assert stderr_errors(result) == [
        f"error: {backup_dir / where} is a FIFO, not a regular file; refusing to use it: remove it"
    ]


def crafted_manifests() -> dict[str, tuple[bytes, str]]:
    """Manifest contents, and the problem `list` names for each."""
    return {
        "too-deep": (b"[" * 20_000 + b"]" * 20_000, "is nested too deeply"),
        "too-many-values": (b'{"x": [' + b"{}," * 200_000 + b"{}]}", "holds more values than a manifest or record"),
        "deep-but-parsable": (b'{"a":' * 200 + b"1" + b"}" * 200, "is nested more than 32 levels deep"),
        "too-big": (b'{"file": "' + b"x" * (16 << 20) + b'"}', "is larger than 16 MiB"),
        "not-an-object": (b"[1, 2, 3]", "is not a JSON object"),
        "not-utf-8": (b'{"file": "\xff\xfe"}', "is not UTF-8 text"),
        "nan": (b'{"size": NaN}', "is not valid JSON (NaN is not a number JSON allows)"),
        "huge-integer": (b'{"size": ' + b"9" * 5000 + b"}", "is not valid JSON (Exceeds the limit"),
        "bad-sequence": (b'{"file": "%s", "size": 1, "sequence": "7"}', "its sequence '7' is not a whole number"),
    }


def test_crafted_manifests_are_reported_damaged_by_list_and_never_counted_by_status(env: dict[str, str]) -> None:
    backup_dir = backup_dir_of(env)
    good = plant_backup(backup_dir, "sessions", timedelta(hours=3))
    planted = {}
    for minutes, (label, (content, _)) in enumerate(crafted_manifests().items(), start=1):
        backup = plant_backup(backup_dir, "sessions", timedelta(minutes=minutes), manifest=False)
        backup.with_name(backup.name + ".json").write_bytes(content.replace(b"%s", backup.name.encode()))
        planted[label] = backup

    listed = cli(env, "list")
    status = cli(env, "status", "--json")

    assert listed.returncode == 0, describe(listed)
    for label, (_, problem) in crafted_manifests().items():
        line = next(line for line in listed.stdout.splitlines() if planted[label].name in line)
        assert "NOT USABLE: manifest unreadable: " in line and problem in line, (label, line)
    assert json.loads(status.stdout)["kinds"][0]["newest"] == good.name


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[" * 20_000, "last_run.json is nested too deeply"),
        (b'{"outcome": "success"}' + b" " * (16 << 20), "last_run.json is larger than 16 MiB"),
        (b'{"outcome": NaN}', "last_run.json is not a valid record (damaged?)"),
    ],
)
def test_a_crafted_last_run_json_is_an_unhealthy_status_in_words(
    env: dict[str, str], content: bytes, problem: str
) -> None:
    backup_dir = backup_dir_of(env)
    plant_backup(backup_dir, "sessions", timedelta(minutes=5))
    (backup_dir / "last_run.json").write_bytes(content)

    status = cli(env, "status")

    assert status.returncode == 1, describe(status)
    assert status.stdout.splitlines()[-1] == f"UNHEALTHY: {problem}", describe(status)
