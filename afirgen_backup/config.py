"""Settings: read once from the environment and an optional .env file, validated before any work starts.

Real environment variables win over the .env file. The .env file is read without interpolation, so a `$`
in a password survives. Every error names the variable, what is wrong with its value and what is allowed,
and never repeats a password.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from afirgen_backup.errors import ConfigError

WHOLE_NUMBER = re.compile(r"-?[0-9]+")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

DEFAULT_BACKUP_DIR = "/app/backups"
DEFAULT_COMPRESS_LEVEL = 2  # chosen from the measured size/time table in the README (issue #5)
# One compressor thread keeps up with mysqldump (ISA-L compresses several times faster than mysqldump dumps), and
# on two cores a second one only competes with mysqldump and the server: 1.36x the bare dump against 1.48x.
DEFAULT_COMPRESS_THREADS = 1


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

    @property
    def enabled_kinds(self) -> tuple[str, ...]:
        kinds = []
        if self.mysql_enabled:
            kinds.append("mysql")
        if self.sessions_enabled:
            kinds.append("sessions")
        return tuple(kinds)


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment laid over the .env file (BACKUP_ENV_FILE, default ./.env)."""
    env = dict(os.environ if environ is None else environ)
    env_file = env.get("BACKUP_ENV_FILE")
    path = Path(env_file) if env_file else Path.cwd() / ".env"
    if env_file and not path.is_file():
        raise ConfigError(f"BACKUP_ENV_FILE: {str(path)!r} is not a readable file; point it at a .env file or unset it")
    if path.is_file():
        from_file = {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}
        from_file.update(env)
        env = from_file
    return env


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

    sessions_db_path = None
    raw_sessions = env.get("SESSIONS_DB_PATH", "").strip()
    if raw_sessions:
        sessions_db_path = Path(raw_sessions)
    elif sessions_enabled:
        raise ConfigError(
            "SESSIONS_DB_PATH is not set: give the path of sessions.db (e.g. /data/sessions/sessions.db), "
            "or set BACKUP_SESSIONS_ENABLED=false"
        )

    mysql_user = text("MYSQL_USER", "root")
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
    )
    if check_dirs:
        check_backup_dir(settings.backup_dir, create=create_dirs)
    return settings


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
    return env.get("MYSQL_PASSWORD", "")


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
    """BACKUP_DIR must be a writable directory; a missing one is created private (0700).

    Only a directory created here is given mode 0700: an existing one (a mount point, a shared directory such as
    /tmp) keeps its mode, and the files written into it are 0600 anyway. With create=False nothing is created or
    changed (check-config): a missing BACKUP_DIR must have an existing ancestor it can be created in.
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
