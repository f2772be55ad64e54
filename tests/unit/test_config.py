"""Settings: defaults, the .env file, and one clear error per bad value (never the password)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from afirgen_backup.config import check_backup_dir, load_settings
from afirgen_backup.errors import ConfigError


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return {
        "BACKUP_ENV_FILE": str(empty),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "SESSIONS_DB_PATH": str(tmp_path / "sessions.db"),
        "MYSQLDUMP_BIN": "/bin/true",
        "MYSQL_PASSWORD": "pw",
        "PATH": "/usr/bin:/bin",
    }


def test_defaults_follow_the_documented_values(env):
    settings = load_settings(env)
    assert (settings.mysql_host, settings.mysql_port, settings.mysql_db) == ("mysql", 3306, "fir_db")
    assert (settings.retention_days, settings.keep_last, settings.max_age_hours) == (7, 4, 7)
    assert settings.enabled_kinds == ("mysql", "sessions")
    assert settings.log_file == Path(env["BACKUP_DIR"]) / "backup.log"


def test_the_backup_dir_is_created_private(env):
    load_settings(env)
    assert Path(env["BACKUP_DIR"]).stat().st_mode & 0o777 == 0o700


def test_real_environment_variables_win_over_the_env_file(env, tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("MYSQL_DB=from_file\nMYSQL_HOST=file-host\n")
    env["BACKUP_ENV_FILE"] = str(env_file)
    env["MYSQL_HOST"] = "env-host"
    settings = load_settings(env)
    assert (settings.mysql_db, settings.mysql_host) == ("from_file", "env-host")


def test_a_dollar_and_quotes_in_the_env_file_survive(env, tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text('MYSQL_PASSWORD="p a\\"s\'s$HOME`x\\\\y#z"\n')
    env["BACKUP_ENV_FILE"] = str(env_file)
    del env["MYSQL_PASSWORD"]
    assert load_settings(env).mysql_password == "p a\"s's$HOME`x\\y#z"


def test_the_password_file_wins_and_loses_one_trailing_newline(env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-secret \n")
    env["MYSQL_PASSWORD_FILE"] = str(secret)
    assert load_settings(env).mysql_password == "from-secret "


def test_the_password_is_not_in_the_settings_repr(env):
    env["MYSQL_PASSWORD"] = "very-secret-value"
    assert "very-secret-value" not in repr(load_settings(env))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "BACKUP_RETENTION_DAYS",
            "abc",
            "BACKUP_RETENTION_DAYS='abc' is not a whole number; allowed: a number of days",
        ),
        ("BACKUP_RETENTION_DAYS", "-1", "BACKUP_RETENTION_DAYS='-1' is out of range; allowed: a number of days from 0"),
        ("BACKUP_KEEP_LAST", "0", "BACKUP_KEEP_LAST='0' is out of range; allowed: a number of backups from 1"),
        ("MYSQL_PORT", "notaport", "MYSQL_PORT='notaport' is not a whole number; allowed: a TCP port from 1 to 65535"),
        ("MYSQL_PORT", "70000", "MYSQL_PORT='70000' is out of range; allowed: a TCP port from 1 to 65535"),
        ("BACKUP_MYSQL_ENABLED", "maybe", "BACKUP_MYSQL_ENABLED='maybe' is not a boolean; allowed: true/false"),
        ("BACKUP_YIELD_CPU", "sometimes", "BACKUP_YIELD_CPU='sometimes' is not a boolean; allowed: true/false"),
        ("BACKUP_COMPRESS_LEVEL", "9", "BACKUP_COMPRESS_LEVEL='9' is out of range; allowed: an ISA-L gzip level"),
        ("MYSQL_DB", "mysql", "MYSQL_DB='mysql' is not a usable database name: it is a system schema"),
        ("MYSQL_DB", "--all-databases", "MYSQL_DB='--all-databases' is not a usable database name: it starts"),
        ("MYSQL_DB", "fir\x01db", "MYSQL_DB='fir\\x01db' is not a usable database name"),
        ("MYSQLDUMP_BIN", "/nonexistent/mysqldump", "MYSQLDUMP_BIN='/nonexistent/mysqldump' is not an executable"),
        ("MYSQL_PASSWORD_FILE", "/nonexistent/secret", "MYSQL_PASSWORD_FILE='/nonexistent/secret' does not exist"),
        ("BACKUP_LOG_FORMAT", "xml", "BACKUP_LOG_FORMAT='xml' is not allowed; allowed: console, json"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_allowed(env, name, value, expected):
    env[name] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_unwritable_backup_dir_is_refused(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env["BACKUP_DIR"] = str(blocker / "backups")
    with pytest.raises(
        ConfigError, match=r"^BACKUP_DIR='.*' cannot be created \(Not a directory\); allowed: a writable"
    ):
        load_settings(env)


def test_sessions_path_is_required_only_when_sessions_are_backed_up(env):
    del env["SESSIONS_DB_PATH"]
    with pytest.raises(ConfigError, match="^SESSIONS_DB_PATH is not set"):
        load_settings(env)
    env["BACKUP_SESSIONS_ENABLED"] = "false"
    assert load_settings(env).enabled_kinds == ("mysql",)


def test_disabling_both_kinds_is_an_error(env):
    env["BACKUP_SESSIONS_ENABLED"] = "no"
    env["BACKUP_MYSQL_ENABLED"] = "0"
    with pytest.raises(ConfigError, match="nothing to back up"):
        load_settings(env)


def test_a_missing_env_file_named_explicitly_is_an_error(env, tmp_path):
    env["BACKUP_ENV_FILE"] = str(tmp_path / "nope.env")
    with pytest.raises(ConfigError, match="^BACKUP_ENV_FILE: .* is not a readable file"):
        load_settings(env)


def test_no_error_message_repeats_the_password(env, tmp_path):
    env["MYSQL_PASSWORD"] = "hunter2-secret"
    for name, value in [("MYSQL_PORT", "x"), ("BACKUP_DIR", str(tmp_path / "f" / "x")), ("BACKUP_KEEP_LAST", "-3")]:
        if name == "BACKUP_DIR":
            (tmp_path / "f").write_text("")
        bad = dict(env, **{name: value})
        with pytest.raises(ConfigError) as caught:
            load_settings(bad)
        assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize("value", ["1_0", "٣", "+3", "３", "0x10", "1e2", "3.0", "- 3"])
def test_a_whole_number_is_plain_ascii_digits(env, value):
    env["BACKUP_RETENTION_DAYS"] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value) == (
        f"BACKUP_RETENTION_DAYS={value!r} is not a whole number; allowed: a number of days from 0 to 36500"
    )


@pytest.mark.parametrize(("value", "expected"), [("10", 10), (" 3 ", 3), ("\t07\n", 7), ("0", 0)])
def test_ascii_digits_with_surrounding_whitespace_are_a_whole_number(env, value, expected):
    env["BACKUP_RETENTION_DAYS"] = value
    assert load_settings(env).retention_days == expected


def test_a_backup_dir_that_is_a_file_is_not_a_directory(env, tmp_path):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("data")
    env["BACKUP_DIR"] = str(not_a_dir)
    for create in (True, False):
        with pytest.raises(ConfigError) as caught:
            load_settings(env, create_dirs=create)
        assert str(caught.value) == f"BACKUP_DIR={str(not_a_dir)!r} is not a directory; allowed: a writable directory"
    assert not_a_dir.read_text() == "data"


def test_an_existing_backup_dir_keeps_its_mode(tmp_path):
    # 0755, not a shared 1777 one like /tmp: a directory others may write to is refused (test_config_backup_dir.py)
    readable = tmp_path / "readable"
    readable.mkdir()
    readable.chmod(0o755)
    check_backup_dir(readable)
    assert readable.stat().st_mode & 0o7777 == 0o755
    assert list(readable.iterdir()) == []


def test_a_created_backup_dir_is_private_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        check_backup_dir(tmp_path / "new" / "backups")
    finally:
        os.umask(previous)
    assert (tmp_path / "new" / "backups").stat().st_mode & 0o7777 == 0o700


def test_without_create_a_missing_backup_dir_is_checked_but_not_created(env, tmp_path):
    env["BACKUP_DIR"] = str(tmp_path / "not" / "yet" / "backups")
    assert load_settings(env, create_dirs=False).backup_dir == tmp_path / "not" / "yet" / "backups"
    assert not (tmp_path / "not").exists()


def test_without_create_a_backup_dir_below_a_file_is_refused(env, tmp_path):
    (tmp_path / "a-file").write_text("")
    env["BACKUP_DIR"] = str(tmp_path / "a-file" / "backups")
    with pytest.raises(ConfigError, match=r"^BACKUP_DIR='.*' cannot be created \(.*a-file is not a directory\)"):
        load_settings(env, create_dirs=False)
