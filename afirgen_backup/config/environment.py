"""The names of the configuration, and where values come from: the process environment laid over a .env file.

Real environment variables win over the .env file. The .env file is read as python-dotenv reads it, without
interpolation, so a `$` in a password survives. A .env line that python-dotenv cannot parse (it would skip it with
a warning) is an error naming its line, and so is a name under MYSQL_, MYSQLDUMP_, BACKUP_ or SESSIONS_ that is
none of the known names (KNOWN_NAMES), in the file or in the environment: a typo is refused, not ignored.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv.parser import parse_stream

from afirgen_backup.config.alerts import ALERT_SETTINGS
from afirgen_backup.config.offsite import AWS_SETTINGS, OFFSITE_SETTINGS
from afirgen_backup.errors import ConfigError

# --- the names of the configuration, in one place ---------------------------------------------------------------
# A variable whose name starts with one of these prefixes must be one of the names below: anything else is a typo
# (BACKUP_RETENTION_DAY), refused with the closest known name rather than silently ignored.
CHECKED_PREFIXES = ("MYSQL_", "MYSQLDUMP_", "BACKUP_", "SESSIONS_")
# The settings this package reads (load_settings reads no other name; a unit test holds it to that).
SETTINGS = (
    "MYSQL_HOST",
    "MYSQL_PORT",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_PASSWORD_FILE",
    "MYSQL_DB",
    "MYSQLDUMP_BIN",
    "MYSQL_BIN",
    "MYSQLBINLOG_BIN",
    "BACKUP_BINLOG_SERVER_ID",
    "SESSIONS_DB_PATH",
    "BACKUP_DIR",
    "BACKUP_RETENTION_DAYS",
    "BACKUP_KEEP_LAST",
    "BACKUP_MYSQL_ENABLED",
    "BACKUP_SESSIONS_ENABLED",
    "BACKUP_SESSIONS_LOCK_TIMEOUT",
    "BACKUP_SESSIONS_SNAPSHOT_HOURS",
    "BACKUP_SCHEDULE",  # cron runs the backups (backup_scheduler.sh); the engine checks it against the max age
    "BACKUP_SESSIONS_SCHEDULE",  # cron runs the snapshots; the engine reads it for status
    "BACKUP_ALLOW_EMPTY",
    "BACKUP_LOG_FILE",
    "BACKUP_LOG_FORMAT",
    "BACKUP_COMPRESS_LEVEL",
    "BACKUP_COMPRESS_THREADS",
    "BACKUP_NICE",
    "BACKUP_YIELD_CPU",
    "BACKUP_MAX_AGE_HOURS",
    "BACKUP_ENV_FILE",
    *OFFSITE_SETTINGS,
    *AWS_SETTINGS,
    *ALERT_SETTINGS,
)
# Another name for a setting: the AFIRGen application calls sessions.db's path SESSION_DB_PATH.
ALIASES = {"SESSION_DB_PATH": "SESSIONS_DB_PATH"}
# The container entrypoint's own settings (backup_scheduler.sh, and docker-compose's ${BACKUP_CGROUP_PARENT}).
ENTRYPOINT_SETTINGS = (
    "BACKUP_ON_START",
    "BACKUP_STOP_TIMEOUT",
    "BACKUP_CGROUP_PARENT",
)
# Accepted and ignored: what a .env shared with the official mysql/mariadb images may hold (their entrypoints'
# variables, with the *_FILE forms they read, and the versions their Dockerfiles set), and the environment
# variables MySQL's and MariaDB's own client programs read. None of them is passed to a child (process.py scrubs
# the environment). One block of text rather than a list of quoted names: they are no settings of ours, and
# tests/unit/test_docs.py asks the README to document every quoted name in this file.
FOREIGN_NAMES = tuple(
    """
    MYSQL_ROOT_PASSWORD MYSQL_ROOT_PASSWORD_FILE MYSQL_ROOT_HOST MYSQL_ROOT_HOST_FILE MYSQL_DATABASE
    MYSQL_DATABASE_FILE MYSQL_USER_FILE MYSQL_ALLOW_EMPTY_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD MYSQL_ONETIME_PASSWORD
    MYSQL_INITDB_SKIP_TZINFO MYSQL_MAJOR MYSQL_VERSION MYSQL_SHELL_VERSION
    MYSQL_PWD MYSQL_TCP_PORT MYSQL_UNIX_PORT MYSQL_HISTFILE MYSQL_HISTIGNORE MYSQL_PS1 MYSQL_HOME
    MYSQL_TEST_LOGIN_FILE MYSQL_TEST_TRACE_CRASH MYSQL_TEST_TRACE_DEBUG MYSQL_DEBUG MYSQL_GROUP_SUFFIX
    MYSQL_SERVER_PREPARE MYSQL_OPENSSL_UDF_DH_BITS_THRESHOLD MYSQL_OPENSSL_UDF_DSA_BITS_THRESHOLD
    MYSQL_OPENSSL_UDF_RSA_BITS_THRESHOLD
    """.split()  # noqa: SIM905
)
KNOWN_NAMES = frozenset((*SETTINGS, *ALIASES, *ENTRYPOINT_SETTINGS, *FOREIGN_NAMES))
SUGGESTION_CUTOFF = 0.75  # difflib ratio: BACKUP_RETENTION_DAY finds BACKUP_RETENTION_DAYS, BACKUP_FOO nothing
ENV_FILE_SYNTAX = "KEY=value, KEY=\"value\" or KEY='value', a # comment, or an empty line"


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment laid over the .env file (BACKUP_ENV_FILE, default ./.env).

    A line of the file that is not KEY=value, and a name under one of the CHECKED_PREFIXES that is no known
    name, in the file or in the environment, are configuration errors.
    """
    env = dict(os.environ if environ is None else environ)
    env_file = env.get("BACKUP_ENV_FILE")
    path = Path(env_file) if env_file else Path.cwd() / ".env"
    if env_file and not path.is_file():
        raise ConfigError(f"BACKUP_ENV_FILE: {str(path)!r} is not a readable file; point it at a .env file or unset it")
    from_file: dict[str, str] = {}
    if path.is_file():
        names_and_lines, from_file = read_env_file(path)
        check_names((name, f" (line {line} of {path})") for name, line in names_and_lines)
    check_names((name, "") for name in sorted(env))
    from_file.update(env)
    return from_file


def read_env_file(path: Path) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """([(name, line)] of every binding, {name: value}) of a .env file, read as python-dotenv reads it (without
    interpolation); a line python-dotenv cannot parse, which it would skip with a warning, is a ConfigError."""
    try:
        with open(path, encoding="utf-8") as stream:
            bindings = list(parse_stream(stream))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; allowed: a UTF-8 .env file") from None
    except OSError as error:
        raise ConfigError(f"{path} cannot be read ({error.strerror}); allowed: a readable .env file") from None
    names, values = [], {}
    for binding in bindings:
        line = binding_line(binding.original.string, binding.original.line)
        if binding.error:
            raise ConfigError(
                f"{path} line {line}{named_in(binding.original.string)} cannot be parsed; allowed: {ENV_FILE_SYNTAX}"
            )
        if binding.key is not None:
            names.append((binding.key, line))
            if binding.value is not None:
                values[binding.key] = binding.value
    return names, values


def binding_line(text: str, first_line: int) -> int:
    """The line a binding's statement is on: python-dotenv counts from the empty lines before it."""
    leading = text[: len(text) - len(text.lstrip())]
    return first_line + leading.count("\n") + leading.replace("\r\n", "\n").count("\r")


def named_in(text: str) -> str:
    """` (NAME)` when a line that cannot be parsed still starts like `NAME=`; its value is never repeated."""
    match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", text)
    return f" ({match.group(1)})" if match else ""


def closest_name(name: str) -> list[str]:
    """[the known name closest to `name`] (a setting of ours before a neighbour's: MYSQL_PASS is MYSQL_PASSWORD
    mistyped rather than the client's MYSQL_PS1), or [] when none is close."""
    ours = sorted((*SETTINGS, *ALIASES, *ENTRYPOINT_SETTINGS))
    for candidates in (ours, sorted(FOREIGN_NAMES)):
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=SUGGESTION_CUTOFF)
        if close:
            return close
    return []


def check_names(names_and_places: Iterable[tuple[str, str]]) -> None:
    """Refuse a name under CHECKED_PREFIXES (in any case) that is not a known one, naming the closest known one.

    Each name comes with where it was found (` (line N of FILE)`, or nothing for the environment)."""
    for name, place in names_and_places:
        upper = name.upper()
        if not upper.startswith(CHECKED_PREFIXES) or name in KNOWN_NAMES:
            continue
        close = closest_name(upper)
        if close:
            raise ConfigError(f"{name} is not a setting; did you mean {close[0]}?{place}")
        raise ConfigError(
            f"{name} is not a setting{place}; allowed: the settings listed in .env.example (every name starting "
            f"with {', '.join(CHECKED_PREFIXES[:-1])} or {CHECKED_PREFIXES[-1]} must be one of them)"
        )
