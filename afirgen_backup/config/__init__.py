"""Settings: read once from the environment and an optional .env file, validated before any work starts.

Every error names the variable, what is wrong with its value and what is allowed, and never repeats a password.
Where the values come from and which names exist: environment.py; BACKUP_DIR's own checks: backup_dir.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from afirgen_backup.config.alerts import AlertSettings, parse_alerts
from afirgen_backup.config.backup_dir import check_backup_dir
from afirgen_backup.config.environment import (
    ALIASES,
    CHECKED_PREFIXES,
    ENTRYPOINT_SETTINGS,
    FOREIGN_NAMES,
    KNOWN_NAMES,
    SETTINGS,
    read_env_file,
    read_environment,
)
from afirgen_backup.config.offsite import OffsiteSettings, parse_offsite
from afirgen_backup.config.schedule import Schedule, parse_schedule_setting
from afirgen_backup.config.values import parse_bool, parse_choice, parse_int, read_secret, utf8_text
from afirgen_backup.errors import ConfigError
from afirgen_backup.names import database_name_problem, describe_refusal

DEFAULT_BACKUP_DIR = "/app/backups"
DEFAULT_LOG_NAME = "backup.log"  # in BACKUP_DIR, unless BACKUP_LOG_FILE names another file
DEFAULT_COMPRESS_LEVEL = 2  # chosen from the size/time table of docs/performance.md
# One compressor thread keeps up with mysqldump (ISA-L compresses faster than mysqldump dumps), and on two cores a
# second one only competes with mysqldump and the server (docs/performance.md has the measurements).
DEFAULT_COMPRESS_THREADS = 1
# How long the sessions part waits for a sessions.db that another process holds locked (a write transaction in
# rollback-journal mode keeps readers out). The application's own write transactions last milliseconds; a minute
# outlasts any of them, even a VACUUM of a large sessions.db, and is still nothing next to a 6-hour schedule. A lock
# held longer is a stuck application, which the part then reports instead of waiting for it without end.
DEFAULT_SESSIONS_LOCK_TIMEOUT = 60
# The replica id binlog-stream connects as: the server drops an older connection with the same id, so it must be
# no real replica's (and no second stream's).
DEFAULT_BINLOG_SERVER_ID = 4_200_000_001
DEFAULT_SCHEDULE = "0 */6 * * *"  # backup_scheduler.sh's DEFAULT_SCHEDULE (a unit test holds them equal)


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
    log_file: Path = Path(DEFAULT_BACKUP_DIR) / DEFAULT_LOG_NAME
    mysqldump_bin: str = "mysqldump"
    mysql_bin: str = "mysql"
    binlog_bin: str = "mysqlbinlog"  # the streamer of `binlog-stream` (mariadb-binlog or mysqlbinlog)
    binlog_server_id: int = DEFAULT_BINLOG_SERVER_ID  # the replica id `binlog-stream` connects as
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    compress_threads: int = DEFAULT_COMPRESS_THREADS
    nice: int = 10  # the backup yields the CPU to the application it shares the machine with
    yield_cpu: bool = True  # while the application writes, the MySQL dump leaves it a CPU (cpu.py)
    max_age_hours: int = 7
    log_format: str = "console"  # how events look on stdout/stderr: console or json
    sessions_lock_timeout: int = DEFAULT_SESSIONS_LOCK_TIMEOUT  # seconds to wait for a locked sessions.db
    sessions_snapshot_hours: int = 24  # how long frequent sessions snapshots (BACKUP_SESSIONS_SCHEDULE) are kept
    sessions_schedule: Schedule | None = None  # BACKUP_SESSIONS_SCHEDULE: status tells when its snapshots stop
    schedule: Schedule | None = None  # BACKUP_SCHEDULE, on which the container's cron runs `backup`
    allow_empty: bool = False  # BACKUP_ALLOW_EMPTY
    offsite: OffsiteSettings | None = None  # None: off-site copies are off (config/offsite.py)
    alerts: AlertSettings = AlertSettings()  # notifications, pings, metrics (config/alerts.py)

    @property
    def enabled_kinds(self) -> tuple[str, ...]:
        kinds = []
        if self.mysql_enabled:
            kinds.append("mysql")
        if self.sessions_enabled:
            kinds.append("sessions")
        return tuple(kinds)


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
    password = read_secret(env, "MYSQL_PASSWORD") if mysql_enabled or env.get("MYSQL_PASSWORD_FILE") else ""

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
        log_file=Path(text("BACKUP_LOG_FILE", str(backup_dir / DEFAULT_LOG_NAME))),
        mysqldump_bin=find_client(env, "MYSQLDUMP_BIN", ("mysqldump", "mariadb-dump"), needed=mysql_enabled),
        mysql_bin=find_client(env, "MYSQL_BIN", ("mysql", "mariadb"), needed=False),
        binlog_bin=find_client(env, "MYSQLBINLOG_BIN", ("mysqlbinlog", "mariadb-binlog"), needed=False),
        binlog_server_id=parse_int(
            env,
            "BACKUP_BINLOG_SERVER_ID",
            DEFAULT_BINLOG_SERVER_ID,
            minimum=1,
            maximum=4294967295,
            what="a server id no replica of the server uses",
        ),
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
        sessions_snapshot_hours=parse_int(
            env, "BACKUP_SESSIONS_SNAPSHOT_HOURS", 24, minimum=1, maximum=8760, what="a number of hours"
        ),
        sessions_schedule=parse_schedule_setting("BACKUP_SESSIONS_SCHEDULE", env.get("BACKUP_SESSIONS_SCHEDULE", "")),
        schedule=parse_schedule_setting("BACKUP_SCHEDULE", env.get("BACKUP_SCHEDULE", "").strip() or DEFAULT_SCHEDULE),
        allow_empty=parse_bool(env, "BACKUP_ALLOW_EMPTY", False),
        offsite=parse_offsite(env),
        alerts=parse_alerts(env),
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


def parse_db_name(env: Mapping[str, str]) -> str:
    name = env.get("MYSQL_DB", "").strip() or "fir_db"
    problem = database_name_problem(name)
    if problem is not None:
        raise ConfigError(describe_refusal("MYSQL_DB", name, problem))
    return name


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


__all__ = [
    "ALIASES",
    "CHECKED_PREFIXES",
    "DEFAULT_BACKUP_DIR",
    "DEFAULT_LOG_NAME",
    "DEFAULT_SCHEDULE",
    "ENTRYPOINT_SETTINGS",
    "FOREIGN_NAMES",
    "KNOWN_NAMES",
    "SETTINGS",
    "Settings",
    "load_settings",
    "read_env_file",
    "read_environment",
]
