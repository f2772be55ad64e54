"""Loading a dump back into MySQL/MariaDB: the client's argv, the target database, the streaming load, and
the comparison of what was loaded with what the manifest recorded.

The dump was made without --databases, so it holds no CREATE DATABASE or USE: the database named on the
client's command line receives it, whatever its name. That name comes from the operator (--target-db) and is
checked before anything is touched, by the one rule for database names (names.py).
"""

from __future__ import annotations

from typing import Any

import pymysql

from afirgen_backup import process
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError
from afirgen_backup.sources.mysql.server import Inventory, quote_identifier, schema_charset

# What loading a dump takes on the target database (mysqldump writes LOCK TABLES around each table's rows).
LOAD_PRIVILEGES = (
    "SELECT",
    "INSERT",
    "CREATE",
    "DROP",
    "ALTER",
    "INDEX",
    "REFERENCES",
    "LOCK TABLES",
    "CREATE TEMPORARY TABLES",  # the rows of MySQL tables with generated columns go through a temporary table
    "CREATE VIEW",
    "SHOW VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "TRIGGER",
    "EVENT",
)
DEFINER_NOTE = (
    "objects whose DEFINER is another account also need SET USER (MariaDB) or SET_ANY_DEFINER (MySQL 8.2+; "
    "SET_USER_ID before) and SYSTEM_USER where the DEFINER has it; `check-grants` names what is missing"
)
ACCESS_DENIED_CODES = frozenset({1044, 1142, 1143, 1227, 1370})
NAME_KINDS = ("tables", "views", "procedures", "functions", "triggers", "events", "sequences")


def describe_privileges(database: str) -> str:
    return f"it needs {', '.join(LOAD_PRIVILEGES)} on {quote_identifier(database)}.*; {DEFINER_NOTE}"


def build_load_argv(settings: Settings, defaults_file_arg: str, database: str) -> list[str]:
    """The client command line; the credentials are in the defaults file, which must come first.

    The database is given as `--database=<name>`, never as a bare word: a name that begins with `-` would
    otherwise be read as one more option (`--database=victim` would load into `victim`).
    """
    return [
        settings.mysql_bin,
        defaults_file_arg,
        f"--host={settings.mysql_host}",
        f"--port={settings.mysql_port}",
        "--protocol=TCP",
        "--default-character-set=utf8mb4",
        "--max-allowed-packet=1G",
        f"--database={database}",
    ]


def is_access_denied(error: pymysql.MySQLError) -> bool:
    return bool(error.args) and error.args[0] in ACCESS_DENIED_CODES


def database_exists(connection: pymysql.Connection, database: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        return int(cursor.fetchone()[0]) > 0


def count_objects(connection: pymysql.Connection, database: str) -> int:
    """Tables, views, sequences, routines and events in `database` (0 for an empty or missing one)."""
    total = 0
    with connection.cursor() as cursor:
        for sql in (
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
            "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
        ):
            cursor.execute(sql, (database,))
            total += int(cursor.fetchone()[0])
    return total


def execute_ddl(connection: pymysql.Connection, sql: str, database: str, privilege: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except pymysql.MySQLError as error:
        code, message = (error.args + (None, ""))[:2]
        if is_access_denied(error):
            raise BackupError(
                f"the MySQL user lacks the {privilege} privilege on {quote_identifier(database)}: ({code}) {message}; "
                f"{describe_privileges(database)}"
            ) from None
        raise BackupError(f"{sql.split(' ', 2)[0]} {quote_identifier(database)} failed: ({code}) {message}") from None


def create_database(connection: pymysql.Connection, database: str, charset: str = "utf8mb4") -> None:
    execute_ddl(connection, f"CREATE DATABASE {quote_identifier(database)} CHARACTER SET {charset}", database, "CREATE")


def drop_database(connection: pymysql.Connection, database: str) -> None:
    execute_ddl(connection, f"DROP DATABASE IF EXISTS {quote_identifier(database)}", database, "DROP")


def charset_of(connection: pymysql.Connection, database: str) -> str | None:
    """`<charset> COLLATE <collation>` of an existing database, or None."""
    found = schema_charset(connection, database)
    return None if found is None else f"{found[0]} COLLATE {found[1]}"


def charset_for_copy(connection: pymysql.Connection, manifest: dict[str, Any]) -> str:
    """The source database's default character set and collation, for a database that will receive its dump.

    Tables carry their own, but sequences, routines and events take the database's. From the manifest
    (source.default_character_set / default_collation), else from the source database when it is on this
    server, else utf8mb4 with the server's default collation for it.
    """
    source = manifest.get("source") or {}
    charset, collation = source.get("default_character_set"), source.get("default_collation")
    if charset and collation and str(charset).isidentifier() and str(collation).isidentifier():
        return f"{charset} COLLATE {collation}"
    name = source.get("database")
    return (charset_of(connection, name) if name else None) or "utf8mb4"


def empty_database(connection: pymysql.Connection, database: str) -> None:
    """Drop and create `database` again with its default character set and collation.

    SIGTERM/SIGINT wait until both are done: cut in between, the database would be gone rather than empty.
    """
    charset = charset_of(connection, database) or "utf8mb4"
    with process.signals_deferred():
        drop_database(connection, database)
        create_database(connection, database, charset)


def differences_from_manifest(inventory: Inventory, manifest: dict[str, Any]) -> list[str]:
    """What the loaded database lacks or has beyond the manifest: object names and per-table row counts."""
    found = inventory.names()
    expected_names = manifest.get("names") or {}
    differences = []
    for kind in NAME_KINDS:
        expected = set(expected_names.get(kind) or [])
        actual = set(found.get(kind) or [])
        if expected - actual:
            differences.append(f"{kind} missing: {', '.join(sorted(expected - actual))}")
        if actual - expected:
            differences.append(f"{kind} not in the backup: {', '.join(sorted(actual - expected))}")
    after = manifest.get("row_counts_after_dump") or {}
    for table, before in sorted((manifest.get("row_counts") or {}).items()):
        loaded = inventory.row_counts.get(table)
        low, high = sorted((before, after.get(table, before)))
        if loaded is not None and not low <= loaded <= high:
            recorded = f"{before}" if low == high else f"{low} to {high} (written during the dump)"
            differences.append(f"table {table}: {recorded} rows in the manifest, {loaded} loaded")
    return differences
