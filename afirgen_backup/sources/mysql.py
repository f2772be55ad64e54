"""The MySQL/MariaDB side: what server and client we have, the mysqldump argv for that pair, the inventory
of the database for the manifest, and the streaming dump itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql

from afirgen_backup import process
from afirgen_backup.archive import GzipPublisher, WrittenFile
from afirgen_backup.config import Settings
from afirgen_backup.errors import DumpIncomplete, SourceUnavailable, UnrestorableDump
from afirgen_backup.sources.mysql_policy import DumpPolicy, GeneratedTable
from afirgen_backup.sources.mysql_script import ScriptReader, ScriptRefused

TRAILER = b"-- Dump completed"
TAIL_KEEP = 512
PIPE_SIZE = 1 << 20
READ_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

# Options every dump gets: a consistent snapshot without table locks, row by row, with every object.
# --skip-add-locks: no LOCK TABLES around each table's INSERTs in the dump. On MariaDB a table whose column
# defaults to NEXT VALUE FOR a sequence cannot be loaded under such a lock ("Table '<sequence>' was not locked
# with LOCK TABLES"), so a dump with them does not load back with `gunzip -c | mariadb`.
BASE_DUMP_OPTIONS = (
    "--single-transaction",
    "--quick",
    "--skip-lock-tables",
    "--skip-add-locks",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--no-tablespaces",
    "--default-character-set=utf8mb4",
    "--max-allowed-packet=1G",
)


@dataclass(frozen=True)
class Flavor:
    """A server or client program: 'mysql' or 'mariadb', and its version."""

    name: str
    version: tuple[int, ...]
    text: str = ""

    @property
    def is_mariadb(self) -> bool:
        return self.name == "mariadb"

    def describe(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.version))}"


def parse_version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return (0,)
    return tuple(int(part) for part in match.groups() if part is not None)


def parse_server_version(version: str, comment: str = "") -> Flavor:
    """From SELECT VERSION() and @@version_comment: '10.11.19-MariaDB-0+deb12u1' or '8.0.40'."""
    text = f"{version} {comment}"
    name = "mariadb" if "mariadb" in text.lower() else "mysql"
    # MariaDB 10.x behind replication proxies may report '5.5.5-10.11.19-MariaDB'
    if name == "mariadb" and version.startswith("5.5.5-"):
        version = version[len("5.5.5-") :]
    return Flavor(name, parse_version(version), version)


def parse_client_version(output: str) -> Flavor:
    """From `mysqldump --version`.

    MariaDB: 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)'
             'mariadb-dump from 11.4.2-MariaDB, client 10.19 for linux-systemd (x86_64)'
    MySQL:   'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)'
             'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)'
    """
    text = output.strip()
    mariadb = re.search(r"(?:Distrib|from)\s+(\d+\.\d+\.\d+)-MariaDB", text)
    if mariadb:
        return Flavor("mariadb", parse_version(mariadb.group(1)), text)
    distrib = re.search(r"Distrib\s+(\d+\.\d+\.\d+)", text)
    if distrib:
        return Flavor("mysql", parse_version(distrib.group(1)), text)
    ver = re.search(r"Ver\s+(\d+\.\d+\.\d+)", text)
    if ver:
        return Flavor("mysql", parse_version(ver.group(1)), text)
    return Flavor("unknown", (0,), text)


def detect_client(mysqldump_bin: str) -> Flavor:
    return parse_client_version(process.run((mysqldump_bin, "--version"), what="mysqldump --version"))


@dataclass(frozen=True)
class Inventory:
    """What the database holds: object names and each table's row count."""

    tables: tuple[str, ...]
    views: tuple[str, ...]
    procedures: tuple[str, ...]
    functions: tuple[str, ...]
    triggers: tuple[str, ...]
    events: tuple[str, ...]
    sequences: tuple[str, ...]
    versioned_tables: tuple[str, ...]
    row_counts: dict[str, int]
    default_character_set: str = ""
    default_collation: str = ""
    generated: dict[str, GeneratedTable] = field(default_factory=dict)  # tables with generated columns

    def counts(self) -> dict[str, int]:
        return {
            "tables": len(self.tables),
            "views": len(self.views),
            "routines": len(self.procedures) + len(self.functions),
            "procedures": len(self.procedures),
            "functions": len(self.functions),
            "triggers": len(self.triggers),
            "events": len(self.events),
            "sequences": len(self.sequences),
            "system_versioned_tables": len(self.versioned_tables),
        }

    def names(self) -> dict[str, list[str]]:
        return {
            "tables": list(self.tables),
            "views": list(self.views),
            "procedures": list(self.procedures),
            "functions": list(self.functions),
            "triggers": list(self.triggers),
            "events": list(self.events),
            "sequences": list(self.sequences),
        }


def needs_dump_history(client: Flavor, server: Flavor, inventory: Inventory) -> bool:
    return client.is_mariadb and client.version >= (10, 11) and server.is_mariadb and bool(inventory.versioned_tables)


def build_dump_argv(
    settings: Settings, client: Flavor, server: Flavor, inventory: Inventory, defaults_file_arg: str
) -> list[str]:
    """The mysqldump command line for this client/server pair. No password: it is in the defaults file.

    - MySQL 8 client, any server: --set-gtid-purged=OFF (no GTID statements that stop the dump from loading
      into another database, and no FLUSH TABLES WITH READ LOCK that 8.0.32+ takes for GTIDs).
    - MySQL 8 client, MariaDB server: --column-statistics=0 (MariaDB has no COLUMN_STATISTICS table).
    - MariaDB 10.11+ client, MariaDB server with system-versioned tables: --dump-history, so that the tables'
      history is kept (a plain dump keeps only the current rows).
    The database is named without --databases, so the dump has no CREATE DATABASE/USE and loads into any name.
    """
    argv = [settings.mysqldump_bin, defaults_file_arg]
    argv += [f"--host={settings.mysql_host}", f"--port={settings.mysql_port}", "--protocol=TCP"]
    argv += BASE_DUMP_OPTIONS
    if client.name == "mysql" and client.version >= (5, 6):
        argv.append("--set-gtid-purged=OFF")
    if client.name == "mysql" and client.version >= (8,) and server.is_mariadb:
        argv.append("--column-statistics=0")
    if needs_dump_history(client, server, inventory):
        argv.append("--dump-history")
    argv.append(settings.mysql_db)
    return argv


def check_pair(client: Flavor, server: Flavor, inventory: Inventory) -> None:
    """Refuse a client that would silently lose what this database holds (exit 2: set MYSQLDUMP_BIN)."""
    if server.is_mariadb and not client.is_mariadb:
        lost = []
        if inventory.sequences:
            lost.append(f"sequences ({', '.join(inventory.sequences)})")
        if inventory.versioned_tables:
            lost.append(f"system-versioned history ({', '.join(inventory.versioned_tables)})")
        if lost:
            raise UnrestorableDump(
                f"MYSQLDUMP_BIN is MySQL's mysqldump ({client.describe()}), which cannot dump MariaDB "
                f"{' and '.join(lost)}; set MYSQLDUMP_BIN to mariadb-dump"
            )
    if (
        inventory.versioned_tables
        and server.is_mariadb
        and client.is_mariadb
        and not needs_dump_history(client, server, inventory)
    ):
        raise UnrestorableDump(
            f"mysqldump {client.describe()} cannot dump the history of system-versioned tables "
            f"({', '.join(inventory.versioned_tables)}); use a MariaDB 10.11 or newer client"
        )


@contextlib.contextmanager
def connect(settings: Settings, database: str | None = None, **options: Any) -> Iterator[pymysql.Connection]:
    """A PyMySQL connection with the settings' credentials, or SourceUnavailable naming the server and user.

    The password goes as UTF-8 bytes, as the clients send it from their option file: PyMySQL would encode a str
    as latin-1, which sends `pässwörd` wrong and cannot send `密码€` at all."""
    try:
        connection = pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=settings.mysql_user,
            password=settings.mysql_password.encode("utf-8"),
            database=database,
            charset="utf8mb4",
            connect_timeout=15,
            autocommit=True,
            **options,
        )
    except pymysql.err.OperationalError as error:
        code, message = error.args[0], error.args[1] if len(error.args) > 1 else ""
        raise SourceUnavailable(
            f"cannot connect to MySQL at {settings.mysql_host}:{settings.mysql_port} as {settings.mysql_user}: "
            f"({code}) {message}"
        ) from None
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def server_flavor(connection: pymysql.Connection) -> Flavor:
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@version_comment")
        version, comment = cursor.fetchone()
    return parse_server_version(str(version), str(comment or ""))


def schema_charset(connection: pymysql.Connection, database: str) -> tuple[str, str] | None:
    """(default character set, default collation) of a database, or None when it does not exist."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = %s",
            (database,),
        )
        row = cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def take_inventory(connection: pymysql.Connection, database: str) -> Inventory:
    """Names of every object and each table's row count, read in one consistent snapshot."""

    def names(sql: str) -> tuple[str, ...]:
        cursor.execute(sql, (database,))
        return tuple(sorted(str(row[0]) for row in cursor.fetchall()))

    schema = schema_charset(connection, database)
    if schema is None:
        raise SourceUnavailable(f"database {database!r} does not exist on the server (MYSQL_DB)")
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        try:
            table_sql = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN "
            tables = names(table_sql + "('BASE TABLE', 'SYSTEM VERSIONED')")
            versioned = names(table_sql + "('SYSTEM VERSIONED')")
            sequences = names(table_sql + "('SEQUENCE')")
            views = names(table_sql + "('VIEW')")
            routine_sql = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND "
            procedures = names(routine_sql + "ROUTINE_TYPE = 'PROCEDURE'")
            functions = names(routine_sql + "ROUTINE_TYPE = 'FUNCTION'")
            triggers = names("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s")
            events = names("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s")
            row_counts = count_rows(cursor, database, tables)
            generated = generated_tables(cursor, database, tables)
        finally:
            cursor.execute("COMMIT")
    return Inventory(
        tables, views, procedures, functions, triggers, events, sequences, versioned, row_counts, *schema, generated
    )


def is_generated(extra: str) -> bool:
    """A generated column by its information_schema EXTRA: `VIRTUAL GENERATED` or `STORED GENERATED` (MySQL also
    writes `DEFAULT_GENERATED` for an expression default such as CURRENT_TIMESTAMP: a column like any other)."""
    words = extra.upper()
    return "VIRTUAL GENERATED" in words or "STORED GENERATED" in words


def generated_tables(cursor: Any, database: str, tables: tuple[str, ...]) -> dict[str, GeneratedTable]:
    """Every table with generated columns: all its columns in order (invisible ones too), and the generated."""
    cursor.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (database,),
    )
    columns: dict[str, list[tuple[str, bool]]] = {}
    for table, column, extra in cursor.fetchall():
        if str(table) in tables:
            columns.setdefault(str(table), []).append((str(column), is_generated(str(extra or ""))))
    return {
        table: GeneratedTable(tuple(c for c, _ in found), frozenset(c for c, generated in found if generated))
        for table, found in columns.items()
        if any(generated for _, generated in found)
    }


def count_rows(cursor: Any, database: str, tables: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote_identifier(database)}.{quote_identifier(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def count_rows_in_snapshot(connection: pymysql.Connection, database: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Each table's row count, all read in one consistent snapshot."""
    with connection.cursor() as cursor:
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        try:
            return count_rows(cursor, database, tables)
        finally:
            cursor.execute("COMMIT")


@dataclass(frozen=True)
class DumpResult:
    written: WrittenFile
    uncompressed_size: int
    trailer: str


def ends_with_trailer(tail: bytes) -> str | None:
    lines = [line for line in tail.splitlines() if line.strip()]
    if lines and lines[-1].startswith(TRAILER):
        return lines[-1].decode("utf-8", "replace").strip()
    return None


def dump_policy(client: Flavor, server: Flavor, inventory: Inventory, database: str) -> DumpPolicy:
    """How the dump is read while it is written: every statement must be one a restore will run, and, for
    MariaDB's dump program against a MySQL server, the rows of tables with generated columns go through a
    temporary table (mariadb-dump writes their generated values, which MySQL refuses at load: ERROR 3105)."""
    generated = inventory.generated if server.name == "mysql" and client.is_mariadb else {}
    return DumpPolicy(source=database, target=database, generated=generated)


def stream_dump(
    argv: list[str],
    pass_fds: tuple[int, ...],
    publisher: GzipPublisher,
    policy: DumpPolicy,
    adopt: Callable[[int], None] | None = None,
) -> DumpResult:
    """Run mysqldump and stream its stdout, read by `policy`, through the publisher; finish the file only for a
    complete dump that a restore will run.

    `adopt` is told mysqldump's pid once it runs (the CPU yielder confines it with the tool's threads)."""
    reader = ScriptReader(policy, trusted_rows=True)
    child = process.spawn(argv, pass_fds=pass_fds)
    if adopt is not None:
        adopt(child.process.pid)
    try:
        stdout_fd = child.stdout.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(stdout_fd, F_SETPIPE_SZ, PIPE_SIZE)
        tail = b""
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        while True:
            count = os.readv(stdout_fd, [buffer])
            if count == 0:
                break
            out = reader.feed(view[:count])
            publisher.write(out)
            tail = (tail + out[-TAIL_KEEP:])[-TAIL_KEEP:]
        returncode = child.wait()
    except ScriptRefused as error:
        child.stop()
        raise UnrestorableDump(f"{error}; nothing was published") from None
    except BaseException:
        child.stop()
        raise
    if returncode != 0:
        raise process.command_failed("mysqldump", returncode, child.stderr.tail())
    try:
        last = reader.finish()
    except ScriptRefused as error:
        raise UnrestorableDump(f"{error}; nothing was published") from None
    publisher.write(last)
    tail = (tail + last)[-TAIL_KEEP:]
    trailer = ends_with_trailer(tail)
    if trailer is None:
        raise DumpIncomplete("mysqldump exited 0 but its output does not end with the '-- Dump completed' trailer")
    written = publisher.finish()
    return DumpResult(written, publisher.uncompressed_size, trailer)


def redact_argv(argv: list[str]) -> list[str]:
    return [arg for arg in argv if not arg.startswith("--defaults-extra-file=")]
