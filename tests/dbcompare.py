"""Compare two databases on MariaDB or MySQL, and load a gzipped dump the way an operator would.

All helpers take a PyMySQL connection with read access to both databases (the
test server's root) and fully qualify every name, so one connection can look at
a source database and its restored copy side by side. They ask the server which
it is (MariaDB or MySQL) where the two name things differently.

"Identical" means `all_differences(conn, source, copy) == []`: the same tables
with the same CHECKSUM TABLE ... EXTENDED, views, routines, triggers (with their
timing and ACTION_ORDER), events (with their STATUS), sequences and history, and
the same column, index, constraint, view, trigger, routine and event definitions.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Protocol

#: information_schema.TABLES.TABLE_TYPE values that hold rows (system-versioned tables are not 'BASE TABLE').
DATA_TABLE_TYPES = ("BASE TABLE", "SYSTEM VERSIONED")
#: The hidden period columns of a table declared `WITH SYSTEM VERSIONING` without explicit columns.
IMPLICIT_PERIOD_COLUMNS = ("row_start", "row_end")


class ClientServer(Protocol):
    """What `load_dump_with_client` needs from a server (MariaDBServer and MySQLServer fit)."""

    def client_command(self, program: str = ...) -> list[str]:
        """argv prefix for a command-line tool logged in as root."""
        ...


class DumpLoadError(AssertionError):
    """Loading a dump with the mariadb client failed; the message carries the client's stderr."""


def quote_identifier(name: str) -> str:
    """Backtick-quote a MariaDB identifier."""
    return "`" + name.replace("`", "``") + "`"


def qualified(db: str, name: str) -> str:
    """`db`.`name`, both quoted."""
    return f"{quote_identifier(db)}.{quote_identifier(name)}"


def _rows(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    """Run a query and return all rows as tuples."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [tuple(row) for row in cur.fetchall()]


def is_mariadb(conn: Any) -> bool:
    """Whether the connection is to MariaDB (else it is MySQL)."""
    return "mariadb" in str(_rows(conn, "SELECT VERSION()")[0][0]).lower()


def _names(conn: Any, sql: str, db: str) -> list[str]:
    """Sorted first column of a query taking the database name as its only parameter."""
    return sorted(str(row[0]) for row in _rows(conn, sql, (db,)))


def data_tables(conn: Any, db: str) -> list[str]:
    """Sorted names of the tables that hold rows (base and system-versioned; no views, no sequences)."""
    placeholders = ", ".join(["%s"] * len(DATA_TABLE_TYPES))
    return sorted(
        row[0]
        for row in _rows(
            conn,
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            f" WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN ({placeholders})",
            (db, *DATA_TABLE_TYPES),
        )
    )


def versioned_tables(conn: Any, db: str) -> list[str]:
    """Sorted names of the system-versioned tables."""
    return _names(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'SYSTEM VERSIONED'",
        db,
    )


def table_checksums(conn: Any, db: str) -> dict[str, int | None]:
    """`CHECKSUM TABLE ... EXTENDED` of every data table.

    For a system-versioned table this covers only the current rows: compare
    `history_counts` / `history_digests` too.
    """
    result: dict[str, int | None] = {}
    for table in data_tables(conn, db):
        rows = _rows(conn, f"CHECKSUM TABLE {qualified(db, table)} EXTENDED")
        result[table] = None if rows[0][1] is None else int(rows[0][1])
    return result


def row_counts(conn: Any, db: str) -> dict[str, int]:
    """`COUNT(*)` of every data table (current rows only for system-versioned tables)."""
    return {
        table: int(_rows(conn, f"SELECT COUNT(*) FROM {qualified(db, table)}")[0][0]) for table in data_tables(conn, db)
    }


def history_counts(conn: Any, db: str) -> dict[str, int]:
    """Row count including history (`FOR SYSTEM_TIME ALL`) of every system-versioned table."""
    return {
        table: int(_rows(conn, f"SELECT COUNT(*) FROM {qualified(db, table)} FOR SYSTEM_TIME ALL")[0][0])
        for table in versioned_tables(conn, db)
    }


def _all_columns(conn: Any, db: str, table: str) -> list[str]:
    """Every column of a table, invisible ones included, plus the implicit period columns if any."""
    rows = _rows(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
        " ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    columns = [str(row[0]) for row in rows]
    if not any(name.lower() in IMPLICIT_PERIOD_COLUMNS for name in columns):
        columns.extend(IMPLICIT_PERIOD_COLUMNS)
    return columns


def history_digests(conn: Any, db: str) -> dict[str, str]:
    """SHA-256 over every row version (with its period timestamps) of each system-versioned table.

    Unlike CHECKSUM TABLE this sees history rows and their row_start/row_end,
    so a restore that lost or re-stamped history is caught.
    """
    digests: dict[str, str] = {}
    for table in versioned_tables(conn, db):
        columns = ", ".join(quote_identifier(c) for c in _all_columns(conn, db, table))
        digest = hashlib.sha256()
        for row in _rows(conn, f"SELECT {columns} FROM {qualified(db, table)} FOR SYSTEM_TIME ALL ORDER BY {columns}"):
            digest.update(repr(row).encode())
        digests[table] = digest.hexdigest()
    return digests


def sequence_names(conn: Any, db: str) -> list[str]:
    """Sorted sequence names."""
    return _names(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'SEQUENCE'",
        db,
    )


def trigger_order(conn: Any, db: str) -> list[tuple[str, str, str, int, str]]:
    """(table, timing, event, ACTION_ORDER, name) of every trigger: the order in which they fire."""
    rows = _rows(
        conn,
        "SELECT EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, TRIGGER_NAME"
        " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
        (db,),
    )
    return sorted((str(t), str(timing), str(event), int(order), str(name)) for t, timing, event, order, name in rows)


def event_status(conn: Any, db: str) -> dict[str, str]:
    """STATUS (ENABLED, DISABLED, ...) of every event."""
    rows = _rows(conn, "SELECT EVENT_NAME, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s", (db,))
    return {str(name): str(status) for name, status in sorted(rows)}


def object_lists(conn: Any, db: str) -> dict[str, Any]:
    """Sorted names of tables, views, procedures, functions, triggers, events and sequences, plus row counts,
    the triggers' timing and order (`trigger_order`) and the events' STATUS (`event_status`)."""
    routine_sql = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND ROUTINE_TYPE = "
    return {
        "tables": data_tables(conn, db),
        "views": _names(conn, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s", db),
        "procedures": _names(conn, routine_sql + "'PROCEDURE'", db),
        "functions": _names(conn, routine_sql + "'FUNCTION'", db),
        "triggers": _names(conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", db),
        "events": _names(conn, "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s", db),
        "sequences": sequence_names(conn, db),
        "row_counts": row_counts(conn, db),
        "trigger_order": trigger_order(conn, db),
        "event_status": event_status(conn, db),
    }


def sequence_states(conn: Any, db: str) -> dict[str, tuple[Any, ...]]:
    """The stored row of every sequence: (next_not_cached_value, min, max, start, increment, cache, cycle, rounds).

    Reading it does not consume a value; a dump restores exactly this row via SETVAL.
    """
    return {name: _rows(conn, f"SELECT * FROM {qualified(db, name)}")[0] for name in sequence_names(conn, db)}


def next_sequence_values(conn: Any, db: str) -> dict[str, int]:
    """`NEXTVAL` of every sequence. This CONSUMES a value from each."""
    return {name: int(_rows(conn, f"SELECT NEXTVAL({qualified(db, name)})")[0][0]) for name in sequence_names(conn, db)}


def sequences_not_behind(conn: Any, source_db: str, copy_db: str) -> dict[str, tuple[int, int]]:
    """Draw NEXTVAL from each sequence in both databases; return those where the copy would reuse a value.

    A restored sequence may be ahead of its source (the dump writes the
    not-yet-cached value) but never behind: an empty result means all is well.
    Both databases lose one value per sequence.
    """
    source = next_sequence_values(conn, source_db)
    copy = next_sequence_values(conn, copy_db)
    behind = {}
    for name, value in source.items():
        increment = int(
            _rows(conn, f"SELECT increment FROM {qualified(source_db, name)}")[0][0]  # sign tells the direction
        )
        copied = copy.get(name)
        if copied is None or (copied < value if increment > 0 else copied > value):
            behind[name] = (value, -1 if copied is None else copied)
    return behind


def schema_details(conn: Any, db: str) -> dict[str, list[tuple[Any, ...]]]:
    """Definitions that a restore must keep, with this database's own name replaced by `<db>`.

    Covers columns (types, defaults, generated expressions, INVISIBLE), indexes,
    CHECK constraints, foreign keys, table engines/options/AUTO_INCREMENT, view
    definitions and check options, triggers, routines and events. A reference to
    ANOTHER database (e.g. a sequence default still naming the source database)
    stays visible as a difference. On MySQL also the SRID of spatial columns, the
    expression and visibility of (functional) indexes and whether a CHECK is enforced.
    """
    queries = mariadb_schema_queries() if is_mariadb(conn) else mysql_schema_queries()
    if not is_mariadb(conn):
        with conn.cursor() as cur:
            cur.execute("SET SESSION information_schema_stats_expiry = 0")  # AUTO_INCREMENT as it is now
    own_name = re.compile(r"`" + re.escape(db.replace("`", "``")) + r"`\.")
    details: dict[str, list[tuple[Any, ...]]] = {}
    for kind, sql in queries.items():
        rows = [
            tuple(own_name.sub("`<db>`.", value) if isinstance(value, str) else value for value in row)
            for row in _rows(conn, sql, (db,))
        ]
        if kind == "foreign_keys":
            rows = [(*row[:2], "<db>" if row[2] == db else row[2], *row[3:]) for row in rows]
        details[kind] = sorted(rows, key=repr)
    return details


def common_schema_queries() -> dict[str, str]:
    """The information_schema queries both servers answer alike."""
    return {
        "foreign_keys": (
            "SELECT TABLE_NAME, CONSTRAINT_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, UPDATE_RULE,"
            " DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s"
        ),
        "tables": (
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, ROW_FORMAT, AUTO_INCREMENT, TABLE_COLLATION, CREATE_OPTIONS,"
            " TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
        ),
        "triggers": (
            "SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_ORDER, ACTION_TIMING,"
            " ACTION_STATEMENT, SQL_MODE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s"
        ),
        "routines": (
            "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC,"
            " SQL_DATA_ACCESS, SECURITY_TYPE, SQL_MODE, ROUTINE_COMMENT"
            " FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s"
        ),
        "parameters": (
            "SELECT SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER"
            " FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = %s"
        ),
        "events": (
            "SELECT EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, EXECUTE_AT, INTERVAL_VALUE, INTERVAL_FIELD, STARTS,"
            " ENDS, STATUS, ON_COMPLETION, EVENT_COMMENT FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s"
        ),
    }


def mariadb_schema_queries() -> dict[str, str]:
    """schema_details' queries on MariaDB (IGNORED indexes, CHECK constraints with their LEVEL, view ALGORITHM)."""
    return {
        "columns": (
            "SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,"
            " GENERATION_EXPRESSION, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT"
            " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
        ),
        "indexes": (
            "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE, IGNORED"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s"
        ),
        "check_constraints": (
            "SELECT TABLE_NAME, CONSTRAINT_NAME, LEVEL, CHECK_CLAUSE"
            " FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s"
        ),
        "views": (
            "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, IS_UPDATABLE, SECURITY_TYPE, ALGORITHM,"
            " CHARACTER_SET_CLIENT, COLLATION_CONNECTION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s"
        ),
        **common_schema_queries(),
    }


def mysql_schema_queries() -> dict[str, str]:
    """schema_details' queries on MySQL (SRIDs, functional and invisible indexes, enforced CHECKs)."""
    return {
        "columns": (
            "SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,"
            " GENERATION_EXPRESSION, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT, SRS_ID"
            " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
        ),
        "indexes": (
            "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, EXPRESSION, NON_UNIQUE, SUB_PART, INDEX_TYPE,"
            " COLLATION, IS_VISIBLE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s"
        ),
        "check_constraints": (
            "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, t.ENFORCED, c.CHECK_CLAUSE"
            " FROM information_schema.CHECK_CONSTRAINTS c JOIN information_schema.TABLE_CONSTRAINTS t"
            " ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME"
            " AND t.CONSTRAINT_TYPE = 'CHECK' WHERE c.CONSTRAINT_SCHEMA = %s"
        ),
        "views": (
            "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, IS_UPDATABLE, SECURITY_TYPE,"
            " CHARACTER_SET_CLIENT, COLLATION_CONNECTION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s"
        ),
        **common_schema_queries(),
    }


def schema_differences(conn: Any, db_a: str, db_b: str) -> list[str]:
    """Human-readable differences between the `schema_details` of two databases (empty when alike)."""
    a, b = schema_details(conn, db_a), schema_details(conn, db_b)
    differences = []
    for kind in a:
        only_a = sorted(set(a[kind]) - set(b[kind]), key=repr)
        only_b = sorted(set(b[kind]) - set(a[kind]), key=repr)
        differences.extend(f"{kind}: only in {db_a}: {row!r}" for row in only_a)
        differences.extend(f"{kind}: only in {db_b}: {row!r}" for row in only_b)
    return differences


def data_differences(conn: Any, db_a: str, db_b: str) -> list[str]:
    """Differences in object names, row counts, checksums, history and sequences (empty when alike)."""
    differences = []
    checks = {
        "objects": object_lists,
        "checksums": table_checksums,
        "history counts": history_counts,
        "history digests": history_digests,
        "sequences": sequence_states,
    }
    for label, helper in checks.items():
        left, right = helper(conn, db_a), helper(conn, db_b)
        if left != right:
            differences.append(f"{label} differ: {db_a}={left!r} {db_b}={right!r}")
    return differences


def all_differences(conn: Any, db_a: str, db_b: str) -> list[str]:
    """Everything `data_differences` and `schema_differences` find: empty when the databases are identical."""
    return data_differences(conn, db_a, db_b) + schema_differences(conn, db_a, db_b)


def load_dump_with_client(
    gz_path: Path | str, server: ClientServer, db: str, timeout: float = 600, *, program: str | None = None
) -> None:
    """Load a gzipped SQL dump into `db` with exactly `gunzip -c FILE | CLIENT ... DB` in a shell.

    CLIENT is `server.client_command(program)`: the server's default client when `program` is None (`mariadb`
    for MariaDB, MySQL's own `mysql` for MySQL), or the one named (`mariadb` loads into MySQL as the image would).
    Runs under bash with `pipefail` so a corrupt archive fails too; raises DumpLoadError carrying stderr on any
    failure.
    """
    argv = server.client_command() if program is None else server.client_command(program)
    client = " ".join(shlex.quote(part) for part in argv)
    pipeline = f"set -o pipefail; gunzip -c {shlex.quote(str(gz_path))} | {client} {shlex.quote(db)}"
    result = subprocess.run(
        ["bash", "-c", pipeline], capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise DumpLoadError(f"loading {gz_path} into {db} failed ({result.returncode}):\n{result.stderr[-4000:]}")
