"""End to end, without a server: configuration the CLI refuses with exit 2 and one line, before it writes anything.

A BACKUP_DIR other users may write to (every command that writes there, and check-config), a .env line that cannot
be parsed, an unknown name, and SESSIONS_DB_PATH and its alias SESSION_DB_PATH naming different files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_refused, describe, names_in, run_cli, stderr_errors

WRITING_COMMANDS = [
    (),
    ("backup",),
    ("backup", "--check"),
    ("check-config",),
    ("prune",),
    ("prune", "--dry-run"),
    ("verify",),
    ("verify", "--all", "--restore-test"),
    ("restore", "mysql", "latest", "--yes"),
    ("restore", "sessions", "latest", "--yes"),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Settings that pass validation without a server: the commands are refused before they would need one."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    sessions = tmp_path / "sessions.db"
    sessions.write_bytes(b"")
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BACKUP_ENV_FILE": str(empty),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "SESSIONS_DB_PATH": str(sessions),
        "MYSQLDUMP_BIN": "/bin/true",
        "MYSQL_BIN": "/bin/true",
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": "9",
    }


@pytest.mark.parametrize("command", WRITING_COMMANDS, ids=lambda c: " ".join(c) or "(default)")
@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775], ids="{:04o}".format)
def test_every_command_that_writes_refuses_a_backup_dir_others_may_write_to(
    env: dict[str, str], command: tuple[str, ...], mode: int
) -> None:
    shared = Path(env["BACKUP_DIR"])
    shared.mkdir()
    shared.chmod(mode)

    result = run_cli(env, *command)

    assert_refused(result, f"BACKUP_DIR={str(shared)!r} is writable by users other than its owner", "chmod go-w")
    assert stderr_errors(result)[0].endswith(f"run `chmod go-w {shared}`"), describe(result)
    assert names_in(shared) == [], "no lock, no log, no probe: nothing is written there"
    assert shared.stat().st_mode & 0o7777 == mode


@pytest.mark.parametrize("command", [("list",), ("status",)])
def test_read_only_commands_still_read_such_a_backup_dir(env: dict[str, str], command: tuple[str, ...]) -> None:
    shared = Path(env["BACKUP_DIR"])
    shared.mkdir()
    shared.chmod(0o777)

    result = run_cli(env, *command)

    assert result.returncode in (0, 1), describe(result)
    assert "writable by users other than its owner" not in result.stderr
    assert names_in(shared) == []


def test_the_same_directory_made_private_is_used(env: dict[str, str]) -> None:
    shared = Path(env["BACKUP_DIR"])
    shared.mkdir()
    shared.chmod(0o777)
    assert run_cli(env, "check-config").returncode == 2
    shared.chmod(0o755)  # chmod go-w

    result = run_cli(env, "check-config")

    assert result.returncode == 0, describe(result)


def test_a_missing_backup_dir_is_created_private(env: dict[str, str]) -> None:
    env["BACKUP_SESSIONS_ENABLED"] = "false"

    result = run_cli(env, "prune")

    assert result.returncode == 0, describe(result)
    assert Path(env["BACKUP_DIR"]).stat().st_mode & 0o7777 == 0o700


def test_a_line_of_the_env_file_that_cannot_be_parsed_stops_every_command(env: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text('MYSQL_HOST=db\n# a comment\nMYSQL_PASSWORD="unterminated secret\nBACKUP_KEEP_LAST=4\n')
    env["BACKUP_ENV_FILE"] = str(env_file)

    for command in [("check-config",), ("status",), ()]:
        result = run_cli(env, *command)

        assert_refused(result, f"{env_file} line 3 (MYSQL_PASSWORD) cannot be parsed; allowed: KEY=value")
        assert "unterminated secret" not in result.stderr and "python-dotenv" not in result.stderr
    assert not Path(env["BACKUP_DIR"]).exists()


def test_a_typo_in_the_env_file_is_refused_with_the_closest_setting(env: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("MYSQL_HOST=db\nBACKUP_RETENTION_DAY=14\n")
    env["BACKUP_ENV_FILE"] = str(env_file)

    result = run_cli(env, "check-config")

    assert_refused(result)
    assert stderr_errors(result) == [
        f"error: BACKUP_RETENTION_DAY is not a setting; did you mean BACKUP_RETENTION_DAYS? (line 2 of {env_file})"
    ]


def test_a_typo_in_the_environment_is_refused_with_the_closest_setting(env: dict[str, str]) -> None:
    env["BACKUP_RETENTION_DAY"] = "14"

    result = run_cli(env)

    assert_refused(result)
    assert stderr_errors(result) == [
        "error: BACKUP_RETENTION_DAY is not a setting; did you mean BACKUP_RETENTION_DAYS?"
    ]
    assert not Path(env["BACKUP_DIR"]).exists()


def test_sessions_db_path_and_its_alias_naming_different_files_are_refused(env: dict[str, str]) -> None:
    env["SESSION_DB_PATH"] = "/srv/app/sessions.db"

    result = run_cli(env, "check-config")

    assert_refused(result, f"SESSIONS_DB_PATH={env['SESSIONS_DB_PATH']!r}", "SESSION_DB_PATH='/srv/app/sessions.db'")


def test_the_alias_alone_names_sessions_db(env: dict[str, str]) -> None:
    env["SESSION_DB_PATH"] = env.pop("SESSIONS_DB_PATH")

    result = run_cli(env, "check-config")

    assert result.returncode == 0, describe(result)
    assert f"sessions: {env['SESSION_DB_PATH']}" in result.stdout
