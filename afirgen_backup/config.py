"""Settings: read once from the environment and an optional .env file, validated before any work starts.

Real environment variables win over the .env file. The .env file is read without interpolation, so a `$`
in a password survives. Every error names the variable, what is wrong with its value and what is allowed,
and never repeats a password. A .env line that python-dotenv cannot parse (it would skip it with a warning) is
an error naming its line, and so is a name under MYSQL_, MYSQLDUMP_, BACKUP_ or SESSIONS_ that is none of the
known names (KNOWN_NAMES), in the file or in the environment: a typo is refused, not ignored.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shlex
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream

from afirgen_backup.errors import ConfigError

WHOLE_NUMBER = re.compile(r"-?[0-9]+")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

DEFAULT_BACKUP_DIR = "/app/backups"
DEFAULT_COMPRESS_LEVEL = 2  # chosen from the measured size/time table in the README (issue #5)
# One compressor thread keeps up with mysqldump (ISA-L compresses several times faster than mysqldump dumps), and
# on two cores a second one only competes with mysqldump and the server: 1.36x the bare dump against 1.48x.
DEFAULT_COMPRESS_THREADS = 1
# How long the sessions part waits for a sessions.db that another process holds locked (a write transaction in
# rollback-journal mode keeps readers out). The application's own write transactions last milliseconds; a minute
# outlasts any of them, even a VACUUM of a large sessions.db, and is still nothing next to a 6-hour schedule. A lock
# held longer is a stuck application, which the part then reports instead of waiting for it without end.
DEFAULT_SESSIONS_LOCK_TIMEOUT = 60

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
    "SESSIONS_DB_PATH",
    "BACKUP_DIR",
    "BACKUP_RETENTION_DAYS",
    "BACKUP_KEEP_LAST",
    "BACKUP_MYSQL_ENABLED",
    "BACKUP_SESSIONS_ENABLED",
    "BACKUP_SESSIONS_LOCK_TIMEOUT",
    "BACKUP_ALLOW_EMPTY",
    "BACKUP_LOG_FILE",
    "BACKUP_LOG_FORMAT",
    "BACKUP_COMPRESS_LEVEL",
    "BACKUP_COMPRESS_THREADS",
    "BACKUP_NICE",
    "BACKUP_YIELD_CPU",
    "BACKUP_MAX_AGE_HOURS",
    "BACKUP_ENV_FILE",
)
# Another name for a setting: the AFIRGen application calls sessions.db's path SESSION_DB_PATH.
ALIASES = {"SESSION_DB_PATH": "SESSIONS_DB_PATH"}
# The container entrypoint's own settings (backup_scheduler.sh, and docker-compose's ${BACKUP_CGROUP_PARENT}).
ENTRYPOINT_SETTINGS = ("BACKUP_SCHEDULE", "BACKUP_ON_START", "BACKUP_STOP_TIMEOUT", "BACKUP_CGROUP_PARENT")
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


@dataclass(frozen=True)
class Settings:
    mysql_host: str = "mysql"
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = field(default="", repr=False)
    mysql_db: str = "fir_db"
    sessions_db_path: Path | None = None
    backup_dir: Path = Path(DEFAULT_BACKUP_DIR)
    retention_days: int = 7
    keep_last: int = 4
    mysql_enabled: bool = True
    sessions_enabled: bool = True
    log_file: Path = Path(DEFAULT_BACKUP_DIR) / "backup.log"
    mysqldump_bin: str = "mysqldump"
    mysql_bin: str = "mysql"
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    compress_threads: int = DEFAULT_COMPRESS_THREADS
    nice: int = 10  # the backup yields the CPU to the application it shares the machine with
    yield_cpu: bool = True  # while the application writes, the MySQL dump leaves it a CPU (yielding.py)
    max_age_hours: int = 7
    log_format: str = "console"  # how events look on stdout/stderr: console or json
    sessions_lock_timeout: int = DEFAULT_SESSIONS_LOCK_TIMEOUT  # seconds to wait for a locked sessions.db
    allow_empty: bool = False  # BACKUP_ALLOW_EMPTY

    @property
    def enabled_kinds(self) -> tuple[str, ...]:
        kinds = []
        if self.mysql_enabled:
            kinds.append("mysql")
        if self.sessions_enabled:
            kinds.append("sessions")
        return tuple(kinds)


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


def load_settings(
    environ: Mapping[str, str] | None = None, *, check_dirs: bool = True, create_dirs: bool = True
) -> Settings:
    """Build validated Settings, or raise ConfigError naming the first bad variable.

    check_dirs: check BACKUP_DIR; create_dirs: create it when it is missing (with False, nothing is created or
    changed: a missing BACKUP_DIR only needs a parent it can be created in).
    """
    env = read_environment(environ)

    def text(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value if value else default

    backup_dir = Path(text("BACKUP_DIR", DEFAULT_BACKUP_DIR))
    if not backup_dir.is_absolute():
        backup_dir = Path.cwd() / backup_dir
    mysql_enabled = parse_bool(env, "BACKUP_MYSQL_ENABLED", True)
    sessions_enabled = parse_bool(env, "BACKUP_SESSIONS_ENABLED", True)
    if not (mysql_enabled or sessions_enabled):
        raise ConfigError(
            "BACKUP_MYSQL_ENABLED and BACKUP_SESSIONS_ENABLED are both false: nothing to back up; enable at least one"
        )

    sessions_db_path = parse_sessions_db_path(env)
    if sessions_db_path is None and sessions_enabled:
        raise ConfigError(
            "SESSIONS_DB_PATH is not set: give the path of sessions.db (e.g. /data/sessions/sessions.db; "
            "SESSION_DB_PATH, the application's name for it, is read too), or set BACKUP_SESSIONS_ENABLED=false"
        )

    mysql_user = utf8_text("MYSQL_USER", text("MYSQL_USER", "root"))
    password = read_password(env) if mysql_enabled or env.get("MYSQL_PASSWORD_FILE") else ""

    settings = Settings(
        mysql_host=text("MYSQL_HOST", "mysql"),
        mysql_port=parse_int(env, "MYSQL_PORT", 3306, minimum=1, maximum=65535, what="a TCP port"),
        mysql_user=mysql_user,
        mysql_password=password,
        mysql_db=parse_db_name(env),
        sessions_db_path=sessions_db_path,
        backup_dir=backup_dir,
        retention_days=parse_int(env, "BACKUP_RETENTION_DAYS", 7, minimum=0, maximum=36500, what="a number of days"),
        keep_last=parse_int(env, "BACKUP_KEEP_LAST", 4, minimum=1, maximum=10000, what="a number of backups"),
        mysql_enabled=mysql_enabled,
        sessions_enabled=sessions_enabled,
        log_file=Path(text("BACKUP_LOG_FILE", str(backup_dir / "backup.log"))),
        mysqldump_bin=find_client(env, "MYSQLDUMP_BIN", ("mysqldump", "mariadb-dump"), needed=mysql_enabled),
        mysql_bin=find_client(env, "MYSQL_BIN", ("mysql", "mariadb"), needed=False),
        compress_level=parse_int(
            env, "BACKUP_COMPRESS_LEVEL", DEFAULT_COMPRESS_LEVEL, minimum=0, maximum=3, what="an ISA-L gzip level"
        ),
        compress_threads=parse_int(
            env,
            "BACKUP_COMPRESS_THREADS",
            DEFAULT_COMPRESS_THREADS,
            minimum=1,
            maximum=64,
            what="a number of compression threads",
        ),
        nice=parse_int(env, "BACKUP_NICE", 10, minimum=0, maximum=19, what="a niceness"),
        yield_cpu=parse_bool(env, "BACKUP_YIELD_CPU", True),
        max_age_hours=parse_int(env, "BACKUP_MAX_AGE_HOURS", 7, minimum=1, maximum=100000, what="a number of hours"),
        log_format=parse_choice(env, "BACKUP_LOG_FORMAT", "console", ("console", "json")),
        sessions_lock_timeout=parse_int(
            env,
            "BACKUP_SESSIONS_LOCK_TIMEOUT",
            DEFAULT_SESSIONS_LOCK_TIMEOUT,
            minimum=0,
            maximum=3600,
            what="a number of seconds",
        ),
        allow_empty=parse_bool(env, "BACKUP_ALLOW_EMPTY", False),
    )
    if check_dirs:
        check_backup_dir(settings.backup_dir, create=create_dirs)
    return settings


def parse_sessions_db_path(env: Mapping[str, str]) -> Path | None:
    """SESSIONS_DB_PATH, else its alias SESSION_DB_PATH (the application's name); both set must agree."""
    values = {name: env.get(name, "").strip() for name in ("SESSIONS_DB_PATH", "SESSION_DB_PATH")}
    given = {name: value for name, value in values.items() if value}
    if len({Path(value) for value in given.values()}) > 1:
        both = " and ".join(f"{name}={value!r}" for name, value in given.items())
        raise ConfigError(
            f"{both} differ: SESSION_DB_PATH is the application's name for SESSIONS_DB_PATH; allowed: set one of "
            "them, or both to the same path"
        )
    return Path(next(iter(given.values()))) if given else None


def parse_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int, what: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # Plain ASCII digits only: int() would also take `1_0` (10), `+3` and other scripts' digits such as `٣` (3).
    # A minus sign is read, so that `-1` is reported as out of range rather than as not a number.
    if not WHOLE_NUMBER.fullmatch(raw):
        raise ConfigError(f"{name}={raw!r} is not a whole number; allowed: {what} from {minimum} to {maximum}")
    value = int(raw, 10)
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} is out of range; allowed: {what} from {minimum} to {maximum}")
    return value


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={env[name]!r} is not a boolean; allowed: true/false, yes/no, on/off, 1/0")


def parse_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigError(f"{name}={env[name]!r} is not allowed; allowed: {', '.join(choices)}")
    return raw


def parse_db_name(env: Mapping[str, str]) -> str:
    name = env.get("MYSQL_DB", "").strip() or "fir_db"
    unusable = any(c in name for c in "`/\\.") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    if len(name) > 64 or unusable or name != name.strip() or name.startswith("-"):
        # mysqldump takes the name as a word of its own: one starting with '-' would be read as an option
        raise ConfigError(
            f"MYSQL_DB={name!r} is not a usable database name; allowed: up to 64 characters, not starting "
            "with '-', without backtick, slash, backslash, dot or control characters"
        )
    return name


def read_password(env: Mapping[str, str]) -> str:
    """MYSQL_PASSWORD_FILE (a Docker secret) wins over MYSQL_PASSWORD; one trailing newline is dropped."""
    path = env.get("MYSQL_PASSWORD_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read()
        except FileNotFoundError:
            raise ConfigError(
                f"MYSQL_PASSWORD_FILE={path!r} does not exist; allowed: a readable file holding the password"
            ) from None
        except OSError as error:
            raise ConfigError(
                f"MYSQL_PASSWORD_FILE={path!r} cannot be read ({error.strerror}); "
                "allowed: the path of a readable file holding the password"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"MYSQL_PASSWORD_FILE={path!r} is not UTF-8 text; allowed: a UTF-8 text file") from None
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
        return value
    return utf8_text("MYSQL_PASSWORD", env.get("MYSQL_PASSWORD", ""))


def utf8_text(name: str, value: str) -> str:
    """The value, when it can be sent as UTF-8 (an environment variable's bytes that are not UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{name} is not UTF-8 text; allowed: any text in UTF-8") from None
    return value


def find_client(env: Mapping[str, str], name: str, candidates: tuple[str, ...], *, needed: bool) -> str:
    """The configured client program, or the first of the candidates that is on PATH."""
    raw = env.get(name, "").strip()
    if raw:
        found = shutil.which(raw)
        if found is None and needed:
            raise ConfigError(f"{name}={raw!r} is not an executable program; allowed: a program name on PATH or a path")
        return found or raw
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    if needed:
        raise ConfigError(
            f"{name} is not set and none of {', '.join(candidates)} is on PATH; install the MariaDB/MySQL client "
            f"or set {name}"
        )
    return candidates[0]


def check_backup_dir(path: Path, *, create: bool = True) -> None:
    """BACKUP_DIR must be a writable directory that no other user can write to; a missing one is created private
    (0700).

    Only a directory created here is given mode 0700: an existing one (a mount point) keeps its mode, and the files
    written into it are 0600 anyway. One that others may write to (group- or world-writable, such as /tmp) is
    refused before anything is written there. With create=False nothing is created or changed (check-config): a
    missing BACKUP_DIR must have an existing ancestor it can be created in.
    """
    if not create:
        inspect_backup_dir(path)
        return
    try:
        path.mkdir(mode=0o700, parents=True)
        created = True
    except FileExistsError:
        created = False
    except OSError as error:
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({error.strerror}); allowed: a writable directory"
        ) from None
    if not path.is_dir():
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not a directory; allowed: a writable directory")
    refuse_shared_backup_dir(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not writable; allowed: a writable directory")
    try:
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} is not writable ({error.strerror}); allowed: a writable directory"
        ) from None
    if created:
        with contextlib.suppress(OSError):  # mkdir's mode went through the umask
            os.chmod(path, 0o700)


def inspect_backup_dir(path: Path) -> None:
    """check_backup_dir without creating or writing anything: what it can tell from stat and access(2)."""
    if path.is_dir():
        refuse_shared_backup_dir(path)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"BACKUP_DIR={str(path)!r} is not writable; allowed: a writable directory")
        return
    if path.exists() or path.is_symlink():
        raise ConfigError(f"BACKUP_DIR={str(path)!r} is not a directory; allowed: a writable directory")
    ancestor = path.parent
    while not (ancestor.exists() or ancestor.is_symlink()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({ancestor} is not a directory); allowed: a writable directory"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} cannot be created ({ancestor} is not writable); allowed: a writable directory"
        )


def refuse_shared_backup_dir(path: Path) -> None:
    """Refuse a BACKUP_DIR that users other than its owner may write to: one of them could plant a symlink where
    the next backup, manifest or log goes, or files that look like backups (the sticky bit of /tmp stops neither)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"BACKUP_DIR={str(path)!r} is writable by users other than its owner (mode {mode:04o}), who could plant "
            f"symlinks and files among the backups; allowed: a directory only its owner can write to: run "
            f"`chmod go-w {shlex.quote(str(path))}`"
        )
