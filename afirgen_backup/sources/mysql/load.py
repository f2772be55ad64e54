"""Loading a dump into a database through the mysql client, with every byte read first (script.py), and
moving a checked copy into place (the last step of a restore).

The client is run in its safe mode where it has one: MariaDB's `--sandbox` (10.5.25/10.6.18/10.11.8 and later),
MySQL's `--commands=OFF --system-command=OFF` (8.0.40/8.4.3/9.1 and later); the reader refuses client commands
whether or not it has one. A dump is never loaded straight into the database it restores: it is loaded into a
staging database, checked against its manifest, and only then moved in (restore.py: move_into_place).

Binary log: a load into a scratch database (a restore test) is kept out of the server's binary log where the user
may do that (SET SESSION sql_log_bin needs SUPER or BINLOG ADMIN on MariaDB, SYSTEM_VARIABLES_ADMIN or
SESSION_VARIABLES_ADMIN on MySQL), so that it never reaches a replica. A restore is logged, staging and all, so
that replicas end up with the same database as the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pymysql

from afirgen_backup import process
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, ConfigError
from afirgen_backup.logs import get_logger
from afirgen_backup.names import derived_name
from afirgen_backup.publish import iter_gzip
from afirgen_backup.sources.mysql.policy import DumpPolicy
from afirgen_backup.sources.mysql.script import ScriptReader, ScriptRefused
from afirgen_backup.sources.mysql.server import Flavor, parse_client_version, quote_identifier
from afirgen_backup.sources.mysql.targets import ACCESS_DENIED_CODES, build_load_argv, describe_privileges

Progress = Callable[[int], None]
SKIP_BINLOG = "--init-command=SET SESSION sql_log_bin=0"
CLIENT_ALLOWED = "allowed: the mysql or mariadb client, as a program name on PATH or a path"


@dataclass(frozen=True)
class LoadClient:
    """The mysql/mariadb client a load runs, and the options that keep it from running client commands."""

    program: str
    flavor: Flavor
    guards: tuple[str, ...]

    @property
    def reads_sandbox_marker(self) -> bool:
        """MariaDB's client takes the `/*M!999999\\- ...*/` first line of a mariadb-dump file; others may not."""
        return self.flavor.is_mariadb


def inspect_client(settings: Settings) -> LoadClient:
    """Run `MYSQL_BIN --version` and `--help`; raise ConfigError (exit 2) when it is no MySQL/MariaDB client.

    Found before anything is created or dropped, so that a wrong client never leaves a half-done restore."""
    program = settings.mysql_bin
    try:
        version = process.run((program, "--version"), what=f"{program} --version")
        usage = process.run((program, "--help"), what=f"{program} --help")
    except CommandFailed as error:
        raise ConfigError(f"MYSQL_BIN={program!r} cannot be used: {error}; {CLIENT_ALLOWED}") from None
    flavor = parse_client_version(version)
    if flavor.name == "unknown":
        raise ConfigError(
            f"MYSQL_BIN={program!r} does not answer --version like a MySQL/MariaDB client "
            f"({process.last_line(version)}); {CLIENT_ALLOWED}"
        )
    return LoadClient(program, flavor, client_guards(usage))


def client_guards(usage: str) -> tuple[str, ...]:
    """The options of this client (from its --help) that turn its own commands off."""
    options = set(re.findall(r"^\s+(--[a-z-]+)", usage, re.M))
    if "--sandbox" in options:
        return ("--sandbox",)
    return tuple(f"{option}=OFF" for option in ("--commands", "--system-command") if option in options)


def may_skip_binlog(connection: pymysql.Connection) -> bool:
    """Whether this session can keep its statements out of the binary log: False where there is no binary log
    (nothing to keep out) or the user may not (then the load is logged, and the caller says so)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@log_bin")
        if not int(cursor.fetchone()[0] or 0):
            return False
        try:
            cursor.execute("SET SESSION sql_log_bin = 0")
        except pymysql.MySQLError as error:
            if error.args and error.args[0] in ACCESS_DENIED_CODES:
                return False
            raise
        return True


def load_dump(
    settings: Settings,
    dump: Path,
    database: str,
    *,
    client: LoadClient,
    policy: DumpPolicy,
    skip_binlog: bool = False,
    progress: Progress | None = None,
) -> int:
    """Stream a .sql.gz dump, read and adjusted by `policy`, into the client; return the bytes of SQL read."""
    return load_stream(
        settings,
        iter_gzip(dump),
        dump.name,
        database,
        client=client,
        policy=policy,
        skip_binlog=skip_binlog,
        progress=progress,
    )


def load_stream(
    settings: Settings,
    chunks: Iterable[bytes],
    what: str,
    database: str,
    *,
    client: LoadClient,
    policy: DumpPolicy,
    skip_binlog: bool = False,
    progress: Progress | None = None,
) -> int:
    """Feed SQL, read and adjusted by `policy`, into the client; return the bytes read.

    A dump the reader refuses raises ScriptRefused: the client is killed first, so that it never runs the
    statement it was in the middle of (at the end of its input it would run it). A client that fails raises
    CommandFailed with its last words."""
    read = 0
    reader = ScriptReader(policy)
    with process.credentials_pipe(settings.mysql_user, settings.mysql_password) as (defaults_arg, fd):
        argv = build_load_argv(settings, defaults_arg, database)
        argv[-1:-1] = [*client.guards, *([SKIP_BINLOG] if skip_binlog else [])]
        child = process.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(fd,))
        try:
            with contextlib.suppress(BrokenPipeError):  # the client stopped reading: its status and stderr say why
                for chunk in chunks:
                    child.stdin.write(reader.feed(chunk))
                    read += len(chunk)
                    if progress is not None:
                        progress(read)
                child.stdin.write(reader.finish())
            with contextlib.suppress(BrokenPipeError):
                child.stdin.close()
            returncode = child.wait()
        except ScriptRefused:
            kill_now(child)
            raise
        except BaseException:
            child.stop()
            raise
    if returncode != 0:
        tail = child.stderr.tail()
        hint = f"; {describe_privileges(database)}" if "Access denied" in tail else ""
        if "ERROR 1419" in tail:
            hint = (
                "; while the server writes a binary log it creates triggers and routines only for a user with SUPER, "
                "or with log_bin_trust_function_creators=1 on the server (check-grants)"
            )
        raise CommandFailed(
            f"{Path(argv[0]).name} exited with {process.describe_returncode(returncode)} while loading "
            f"{what} into {quote_identifier(database)}: {process.last_line(tail)}{hint}",
            returncode=returncode,
            stderr_tail=tail,
        )
    return read


def kill_now(child: process.Child) -> None:
    """SIGKILL the client and its group (it leads one): no chance to run the statement it holds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signal.SIGKILL)
    child.wait()


# --- staging and moving in ---------------------------------------------------------------------------------------


def staging_name(target: str, stamp: str, taken: Callable[[str], bool]) -> str:
    """`<target>_restore_<stamp>` (names.derived_name), with `_2`, `_3`, ... when that name exists."""
    for number in range(1, 1000):
        suffix = f"_restore_{stamp}" + (f"_{number}" if number > 1 else "")
        name = derived_name(target, suffix)
        if not taken(name):
            return name
    raise BackupError(f"no free staging database name for {target}: drop the old {target}_restore_* databases")


@dataclass(frozen=True)
class Moved:
    tables: int
    sequence_defaults: int


def table_names(connection: pymysql.Connection, database: str) -> list[str]:
    """Base tables, system-versioned tables and sequences: what RENAME TABLE moves (views are re-created)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE <> 'VIEW'",
            (database,),
        )
        return sorted(str(row[0]) for row in cursor.fetchall())


def trigger_names(connection: pymysql.Connection, database: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (database,))
        return sorted(str(row[0]) for row in cursor.fetchall())


def sequence_defaults(connection: pymysql.Connection, database: str) -> list[tuple[str, str, str]]:
    """(table, column, default) of the columns whose default draws from a sequence (MariaDB)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND (COLUMN_DEFAULT LIKE %s OR COLUMN_DEFAULT LIKE %s)",
            (database, "%nextval(%", "%lastval(%"),
        )
        return [(str(t), str(c), str(d)) for t, c, d in cursor.fetchall()]


def move_tables(connection: pymysql.Connection, staging: str, target: str) -> Moved:
    """Move every table of `staging` into `target` in one RENAME TABLE (all or none), after dropping the staging
    copy's triggers (the server refuses to move a table with triggers into another database; the objects are
    created in the target afterwards, from the dump). Sequence defaults that named the staging database are
    pointed at the target."""
    with connection.cursor() as cursor:
        for trigger in trigger_names(connection, staging):
            cursor.execute(f"DROP TRIGGER {quote_identifier(staging)}.{quote_identifier(trigger)}")
        defaults = sequence_defaults(connection, staging)
        tables = table_names(connection, staging)
        if tables:
            pairs = ", ".join(
                f"{quote_identifier(staging)}.{quote_identifier(t)} TO {quote_identifier(target)}.{quote_identifier(t)}"
                for t in tables
            )
            cursor.execute(f"RENAME TABLE {pairs}")
        qualified = quote_identifier(staging) + "."
        for table, column, default in defaults:
            retargeted = default.replace(qualified, quote_identifier(target) + ".")
            cursor.execute(
                f"ALTER TABLE {quote_identifier(target)}.{quote_identifier(table)} "
                f"ALTER COLUMN {quote_identifier(column)} SET DEFAULT {retargeted}"
            )
    return Moved(len(tables), len(defaults))


def log_binlog_choice(skip: bool, connection: pymysql.Connection, what: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@log_bin")
        logging_on = bool(int(cursor.fetchone()[0] or 0))
    if logging_on and not skip:
        get_logger().warning(
            "load_written_to_binary_log",
            what=what,
            reason="the MySQL user may not SET SESSION sql_log_bin (it needs SUPER or BINLOG ADMIN on MariaDB, "
            "SYSTEM_VARIABLES_ADMIN or SESSION_VARIABLES_ADMIN on MySQL); replicas receive it",
        )
