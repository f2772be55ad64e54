"""The names of the configuration: a .env line that cannot be parsed, an unknown name (a typo), the alias
SESSION_DB_PATH, and the settings added with them (BACKUP_SESSIONS_LOCK_TIMEOUT, BACKUP_ALLOW_EMPTY)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from afirgen_backup import config
from afirgen_backup.config import load_settings
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


def with_env_file(env: dict[str, str], tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.env"
    path.write_text(text, encoding="utf-8")
    env["BACKUP_ENV_FILE"] = str(path)
    return path


def refusal(env: Mapping[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


# --- a .env line that cannot be parsed --------------------------------------------------------------------------

ALLOWED = "allowed: KEY=value, KEY=\"value\" or KEY='value', a # comment, or an empty line"


@pytest.mark.parametrize(
    ("text", "line", "named"),
    [
        ("MYSQL_HOST=db\nthis is not a setting\nMYSQL_PORT=3306\n", 2, ""),
        ('MYSQL_HOST=db\nMYSQL_PASSWORD="s3cret-unterminated\nMYSQL_PORT=3306\n', 2, " (MYSQL_PASSWORD)"),
        ("# comment\n\n\n=no-name\n", 4, ""),
        ("MYSQL_HOST=db\r\n\r\n\r\nMYSQL_DB='fir_db' trailing words\r\n", 4, " (MYSQL_DB)"),
        ("\ufeffexport MYSQL_USER = 'backup' oops\n", 1, " (MYSQL_USER)"),
    ],
)
def test_a_line_that_cannot_be_parsed_is_refused_by_its_line_number(env, tmp_path, text, line, named):
    path = with_env_file(env, tmp_path, text)
    message = refusal(env)
    assert message == f"{path} line {line}{named} cannot be parsed; {ALLOWED}"
    assert "s3cret" not in message, "the value is never repeated: it may be a password"


def test_what_python_dotenv_parses_is_read_as_before(env, tmp_path):
    with_env_file(
        env,
        tmp_path,
        "# a comment\n\nexport MYSQL_HOST=db  # inline comment\nMYSQL_DB='fir_db'\n"
        'MYSQL_PASSWORD="a $b \\"c\\" #d"\nMYSQL_USER=\nMYSQL_PORT\n',
    )
    del env["MYSQL_PASSWORD"]
    settings = load_settings(env)
    assert (settings.mysql_host, settings.mysql_db, settings.mysql_port) == ("db", "fir_db", 3306)
    assert settings.mysql_password == 'a $b "c" #d'
    assert settings.mysql_user == "root"


def test_an_env_file_that_is_not_utf8_is_refused(env, tmp_path):
    path = tmp_path / "latin1.env"
    path.write_bytes("MYSQL_PASSWORD=pässwörd\n".encode("latin-1"))
    env["BACKUP_ENV_FILE"] = str(path)
    assert refusal(env) == f"{path} is not UTF-8 text; allowed: a UTF-8 .env file"


# --- unknown names ----------------------------------------------------------------------------------------------


def test_a_typo_in_the_environment_names_the_closest_setting(env):
    env["BACKUP_RETENTION_DAY"] = "14"
    assert refusal(env) == "BACKUP_RETENTION_DAY is not a setting; did you mean BACKUP_RETENTION_DAYS?"


def test_a_typo_in_the_env_file_names_the_closest_setting_and_its_line(env, tmp_path):
    path = with_env_file(env, tmp_path, "MYSQL_HOST=db\n\nSESSIONS_DB_PAHT=/data/sessions.db\n")
    assert refusal(env) == (f"SESSIONS_DB_PAHT is not a setting; did you mean SESSIONS_DB_PATH? (line 3 of {path})")


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("MYSQL_PASS", "MYSQL_PASSWORD"),
        ("MYSQL_PASSWORDFILE", "MYSQL_PASSWORD_FILE"),
        ("MYSQLDUMP_BINARY", "MYSQLDUMP_BIN"),
        ("BACKUP_SCHEDUEL", "BACKUP_SCHEDULE"),
        ("BACKUP_SESSION_LOCK_TIMEOUT", "BACKUP_SESSIONS_LOCK_TIMEOUT"),
        ("backup_dir", "BACKUP_DIR"),
        ("Mysql_Host", "MYSQL_HOST"),
    ],
)
def test_the_closest_known_name_is_suggested(env, name, closest):
    env[name] = "x"
    assert refusal(env) == f"{name} is not a setting; did you mean {closest}?"


def test_a_name_close_to_none_says_where_the_settings_are_listed(env):
    env["BACKUP_FOO"] = "1"
    assert refusal(env) == (
        "BACKUP_FOO is not a setting; allowed: the settings listed in .env.example (every name starting with "
        "MYSQL_, MYSQLDUMP_, BACKUP_ or SESSIONS_ must be one of them)"
    )


ACCEPTED = [
    # the container entrypoint's own, and docker-compose's (BACKUP_SCHEDULE is read by the engine too)
    "BACKUP_ON_START",
    "BACKUP_STOP_TIMEOUT",
    "BACKUP_CGROUP_PARENT",
    # the official mysql/mariadb images'
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_ROOT_PASSWORD_FILE",
    "MYSQL_DATABASE",
    "MYSQL_ALLOW_EMPTY_PASSWORD",
    "MYSQL_RANDOM_ROOT_PASSWORD",
    "MYSQL_ONETIME_PASSWORD",
    "MYSQL_ROOT_HOST",
    "MYSQL_INITDB_SKIP_TZINFO",
    # the MySQL client's
    "MYSQL_PWD",
    "MYSQL_TCP_PORT",
    "MYSQL_UNIX_PORT",
    "MYSQL_HISTFILE",
    "MYSQL_PS1",
    "MYSQL_HOME",
    "MYSQL_TEST_LOGIN_FILE",
    "MYSQL_DEBUG",
    "MYSQL_GROUP_SUFFIX",
    # names outside the checked prefixes are none of the tool's business
    "SESSION_SECRET",
    "MARIADB_ROOT_PASSWORD",
    "MYSQLX_TCP_PORT",
    "HOME",
]


@pytest.mark.parametrize("where", ["environment", "env file"])
def test_the_neighbours_names_are_accepted_and_ignored(env, tmp_path, where):
    names = {name: "ignored" for name in ACCEPTED}
    if where == "environment":
        env.update(names)
    else:
        with_env_file(env, tmp_path, "".join(f"{name}=ignored\n" for name in names))
    settings = load_settings(env)
    assert settings.mysql_password == "pw", "MYSQL_PWD is not read as the password"
    assert settings.mysql_port == 3306, "MYSQL_TCP_PORT is not read as the port"


class Recording(dict[str, str]):
    """An environment that records every name looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        return super().__iter__()


def test_every_name_the_settings_are_read_from_is_a_known_one(env, monkeypatch):
    recording = Recording(env)
    monkeypatch.setattr(config, "read_environment", lambda environ=None: recording)
    load_settings(env)
    assert recording.read - set(config.KNOWN_NAMES) == set()
    assert set(config.SETTINGS) - {"BACKUP_ENV_FILE"} <= recording.read, "a listed setting that nothing reads"


def test_the_job_env_file_of_the_container_holds_only_known_names(env, tmp_path):
    """The cron job reads the file backup_scheduler.sh writes: every name of that prefix filter must pass."""
    known = sorted(config.KNOWN_NAMES)
    path = with_env_file(env, tmp_path, "".join(f"{name}=\n" for name in known if name != "BACKUP_ENV_FILE"))
    assert load_settings(env)
    assert path.is_file()


# --- SESSION_DB_PATH, the application's name for SESSIONS_DB_PATH ----------------------------------------------


def test_session_db_path_is_read_when_sessions_db_path_is_unset(env, tmp_path):
    del env["SESSIONS_DB_PATH"]
    env["SESSION_DB_PATH"] = str(tmp_path / "app" / "sessions.db")
    assert load_settings(env).sessions_db_path == tmp_path / "app" / "sessions.db"


def test_an_empty_sessions_db_path_counts_as_unset(env, tmp_path):
    env["SESSIONS_DB_PATH"] = " "
    env["SESSION_DB_PATH"] = str(tmp_path / "app" / "sessions.db")
    assert load_settings(env).sessions_db_path == tmp_path / "app" / "sessions.db"


def test_session_db_path_in_the_env_file_is_read_too(env, tmp_path):
    del env["SESSIONS_DB_PATH"]
    with_env_file(env, tmp_path, f"SESSION_DB_PATH={tmp_path}/app/sessions.db\n")
    assert load_settings(env).sessions_db_path == tmp_path / "app" / "sessions.db"


def test_both_names_for_the_same_file_are_fine(env):
    env["SESSION_DB_PATH"] = env["SESSIONS_DB_PATH"] + "/"
    assert load_settings(env).sessions_db_path == Path(env["SESSIONS_DB_PATH"])


def test_both_names_for_different_files_are_refused_naming_both(env, tmp_path):
    env["SESSIONS_DB_PATH"] = "/data/sessions/sessions.db"
    env["SESSION_DB_PATH"] = "/srv/app/sessions.db"
    assert refusal(env) == (
        "SESSIONS_DB_PATH='/data/sessions/sessions.db' and SESSION_DB_PATH='/srv/app/sessions.db' differ: "
        "SESSION_DB_PATH is the application's name for SESSIONS_DB_PATH; allowed: set one of them, or both to the "
        "same path"
    )


def test_neither_name_set_is_still_refused_naming_both(env):
    del env["SESSIONS_DB_PATH"]
    message = refusal(env)
    assert message.startswith("SESSIONS_DB_PATH is not set") and "SESSION_DB_PATH" in message


# --- the new settings -------------------------------------------------------------------------------------------


def test_the_new_settings_have_their_defaults(env):
    settings = load_settings(env)
    assert settings.sessions_lock_timeout == 60
    assert settings.allow_empty is False


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (" 5 ", 5), ("3600", 3600)])
def test_the_sessions_lock_timeout_is_a_number_of_seconds(env, value, expected):
    env["BACKUP_SESSIONS_LOCK_TIMEOUT"] = value
    assert load_settings(env).sessions_lock_timeout == expected


@pytest.mark.parametrize(
    ("value", "problem"), [("-1", "is out of range"), ("3601", "is out of range"), ("1.5", "is not a whole number")]
)
def test_a_bad_sessions_lock_timeout_is_refused_like_the_other_numbers(env, value, problem):
    env["BACKUP_SESSIONS_LOCK_TIMEOUT"] = value
    assert refusal(env) == (
        f"BACKUP_SESSIONS_LOCK_TIMEOUT={value!r} {problem}; allowed: a number of seconds from 0 to 3600"
    )


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("YES", True), ("0", False), ("off", False)])
def test_allow_empty_is_a_boolean(env, value, expected):
    env["BACKUP_ALLOW_EMPTY"] = value
    assert load_settings(env).allow_empty is expected


def test_a_bad_allow_empty_is_refused_like_the_other_booleans(env):
    env["BACKUP_ALLOW_EMPTY"] = "maybe"
    assert refusal(env).startswith("BACKUP_ALLOW_EMPTY='maybe' is not a boolean; allowed: true/false")


# --- passwords --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["pässwörd", "密码€", "p a\"s'$w`\\o#rd!密码€"])
def test_a_utf8_password_is_read_as_it_is(env, password):
    env["MYSQL_PASSWORD"] = password
    assert load_settings(env).mysql_password == password


def test_a_password_that_is_not_utf8_in_the_environment_is_refused_without_repeating_it(env):
    env["MYSQL_PASSWORD"] = b"p\xe4ss".decode("utf-8", "surrogateescape")  # a latin-1 byte in the environment
    assert refusal(env) == "MYSQL_PASSWORD is not UTF-8 text; allowed: any text in UTF-8"
