"""What the MySQL user may do, read from SHOW GRANTS, and what a backup or a restore test still needs.

Some missing privileges make mysqldump fail loudly (SHOW VIEW). Others make it leave things out without a word,
because the server then hides them from the user: triggers without TRIGGER, events without EVENT, and routines
without the privilege that shows their bodies (MySQL 8.0.20+: SHOW_ROUTINE or a global SELECT; MariaDB 10.x:
SELECT on mysql.proc, which a global SELECT includes; MariaDB 11.3+ also SHOW CREATE ROUTINE). The manifest is
made from the same hidden view, so nothing downstream would notice. A backup therefore checks these first.

Point-in-time recovery (docs/pitr.md) is optional: what it needs (missing_for_pitr) is told apart and never fails a
backup.

Privileges that come through roles are read too (SHOW GRANTS ... USING on MySQL, SHOW GRANTS FOR <role> on
MariaDB). Where they cannot be read, the check says so and does not fail on a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pymysql

from afirgen_backup.config import Settings
from afirgen_backup.errors import MissingPrivileges
from afirgen_backup.logs import get_logger
from afirgen_backup.sources.mysql.server import Flavor, connect, quote_identifier, server_flavor
from afirgen_backup.sources.mysql.targets import LOAD_PRIVILEGES

GRANT_LINE = re.compile(r"^GRANT (?P<privileges>.+?) ON (?:(?:FUNCTION|PROCEDURE|TABLE) )?(?P<scope>\S+) TO ", re.S)
ROLE_LINE = re.compile(r"^GRANT (?P<roles>(?:`[^`]*`|'[^']*'|[^ ,]+)(?:@(?:`[^`]*`|'[^']*'|[^ ,]+))?(?:, ?.+?)?) TO ")
NAME = re.compile(r"`((?:[^`]|``)*)`|'((?:[^']|'')*)'|([^.`']+)")
OBJECT_PRIVILEGES = ("SELECT", "SHOW VIEW", "TRIGGER", "EVENT")


@dataclass(frozen=True)
class Grant:
    privileges: frozenset[str]
    database: str | None  # None: every database (*.*); else a pattern with the server's _ and % wildcards
    table: str | None = None


@dataclass
class Grants:
    grants: list[Grant] = field(default_factory=list)
    unread_roles: list[str] = field(default_factory=list)  # roles whose privileges could not be read

    def has(self, privilege: str, database: str | None = None, table: str | None = None) -> bool:
        """Whether `privilege` is granted globally, on `database` (a matching pattern), or on that table."""
        for grant in self.grants:
            if privilege not in grant.privileges and not grant.privileges & {"ALL", "ALL PRIVILEGES"}:
                continue
            if grant.database is None:
                return True
            if database is None or not matches(grant.database, database):
                continue
            if grant.table is None or (table is not None and grant.table == table):
                return True
        return False


@dataclass(frozen=True)
class Missing:
    """A privilege that is missing, what its absence does, and the GRANT that adds it."""

    what: str
    effect: str
    grant: str


def matches(pattern: str, database: str) -> bool:
    """A database-level grant's pattern, read as the server reads it: `_` any one character, `%` any, `\\` escapes."""
    wildcards = {"%": ".*", "_": "."}
    regex = "".join(wildcards.get(part) or re.escape(part[-1]) for part in re.findall(r"\\.|.", pattern, re.S))
    return re.fullmatch(regex, database, re.S) is not None


def split_privileges(text: str) -> frozenset[str]:
    """`SELECT, INSERT (`a`, `b`), SHOW VIEW` -> {SELECT, SHOW VIEW}: column privileges do not cover a table."""
    found, depth, current = set(), 0, ""
    for character in text + ",":
        if character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
        if character == "," and depth == 0:
            if "(" not in current:
                found.add(" ".join(current.split()).upper())
            current = ""
        else:
            current += character
    return frozenset(found)


def parse_scope(scope: str) -> tuple[str | None, str | None] | None:
    """`*.*` -> (None, None); `db`.* -> (db, None); `db`.`t` -> (db, t); None for what is not understood."""
    if scope == "*.*":
        return None, None
    parts = [next(g for g in m.groups() if g is not None) for m in NAME.finditer(scope)]
    if len(parts) == 2:
        database = parts[0].replace("``", "`")
        return database, None if parts[1] == "*" else parts[1].replace("``", "`")
    return None


def parse_lines(lines: Iterable[str]) -> tuple[list[Grant], list[str]]:
    """The grants of SHOW GRANTS lines, and the roles granted (as SHOW GRANTS names them)."""
    grants: list[Grant] = []
    roles: list[str] = []
    for line in lines:
        granted = GRANT_LINE.match(line)
        if granted:
            scope = parse_scope(granted.group("scope"))
            if scope is not None:
                grants.append(Grant(split_privileges(granted.group("privileges")), *scope))
            continue
        role = ROLE_LINE.match(line)
        if role and " ON " not in role.group("roles"):
            roles.extend(r.strip() for r in role.group("roles").split(",") if r.strip())
    return grants, roles


def read_grants(connection: pymysql.Connection, flavor: Flavor) -> Grants:
    """The current user's grants, with those of its roles where the server shows them."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        grants, roles = parse_lines(str(row[0]) for row in cursor.fetchall())
        result = Grants(grants)
        if not roles:
            return result
        statements = (
            [f"SHOW GRANTS FOR {role}" for role in roles]
            if flavor.is_mariadb
            else [f"SHOW GRANTS FOR CURRENT_USER() USING {', '.join(roles)}"]
        )
        for statement in statements:
            try:
                cursor.execute(statement)
            except pymysql.MySQLError:
                result.unread_roles.append(statement.split(" FOR ", 1)[1])
                continue
            result.grants.extend(parse_lines(str(row[0]) for row in cursor.fetchall())[0])
    return result


def routines_readable(grants: Grants, flavor: Flavor, database: str) -> bool:
    if flavor.is_mariadb:
        if flavor.version >= (11, 3) and grants.has("SHOW CREATE ROUTINE", database):
            return True
        return grants.has("SELECT", "mysql", "proc")
    return grants.has("SHOW_ROUTINE") or grants.has("SELECT")


def missing_for_backup(grants: Grants, flavor: Flavor, database: str, account: str) -> list[Missing]:
    """What the backup user lacks to dump `database` whole: each privilege, what leaving it out costs, the fix."""
    on_database = f"{quote_identifier(database)}.*"
    effects = {
        "SELECT": "mysqldump cannot read the tables",
        "SHOW VIEW": "mysqldump cannot read the views",
        "TRIGGER": "triggers are left out of the dump without a word",
        "EVENT": "events are left out of the dump without a word",
    }
    missing = [
        Missing(f"{privilege} on {on_database}", effect, f"GRANT {privilege} ON {on_database} TO {account}")
        for privilege, effect in effects.items()
        if not grants.has(privilege, database)
    ]
    if not routines_readable(grants, flavor, database):
        if flavor.is_mariadb:
            fix = f"GRANT SELECT ON `mysql`.`proc` TO {account}"
            what = "SELECT on mysql.proc (or a global SELECT)"
        else:
            fix = f"GRANT SHOW_ROUTINE ON *.* TO {account}"
            what = "SHOW_ROUTINE (or a global SELECT)"
        missing.append(Missing(what, "procedures and functions are left out of the dump without a word", fix))
    return missing


def missing_for_binlog_position(grants: Grants, flavor: Flavor, account: str) -> list[Missing]:
    """What a MySQL dump lacks to record its binary log coordinates (mysqldump --source-data: FLUSH TABLES WITH
    READ LOCK for a moment, then SHOW BINARY LOG STATUS). MariaDB's dump reads them from its snapshot: nothing."""
    if flavor.is_mariadb:
        return []
    effect = "the dump records no binary log coordinates: no point-in-time recovery from it"
    missing = []
    if not any(grants.has(option) for option in ("RELOAD", "FLUSH_TABLES")):
        missing.append(Missing("RELOAD (or FLUSH_TABLES)", effect, f"GRANT RELOAD ON *.* TO {account}"))
    if not any(grants.has(option) for option in ("REPLICATION CLIENT", "SUPER")):
        missing.append(Missing("REPLICATION CLIENT", effect, f"GRANT REPLICATION CLIENT ON *.* TO {account}"))
    return missing


# What MariaDB 11.0.1 took out of SUPER (MDEV-29668), of the privileges point-in-time recovery needs.
SPLIT_FROM_SUPER = frozenset({"BINLOG ADMIN", "BINLOG REPLAY"})


def super_covers(flavor: Flavor, privilege: str) -> bool:
    """Whether SUPER includes `privilege`: on MySQL it does (deprecated); on MariaDB, before 11.0 or when 11.0 left
    it in SUPER."""
    return not flavor.is_mariadb or flavor.version < (11, 0) or privilege not in SPLIT_FROM_SUPER


def has_any(grants: Grants, flavor: Flavor, options: Sequence[str]) -> bool:
    """Whether one of `options` is granted globally, SUPER counted where it covers them."""
    return any(grants.has(option) for option in options) or (super_covers(flavor, options[0]) and grants.has("SUPER"))


def either(options: Sequence[str]) -> str:
    """`A (or B, C)`: the privilege a fix grants, and what would do as well."""
    return options[0] + (f" (or {', '.join(options[1:])})" if len(options) > 1 else "")


@dataclass(frozen=True)
class BinaryLog:
    """What the server says of its binary log: log_bin, and binlog_format ('' where the server has none)."""

    enabled: bool
    binlog_format: str

    def describe(self) -> str:
        return f"log_bin {'ON' if self.enabled else 'OFF'}, binlog_format {self.binlog_format or 'unknown'}"


def missing_for_binary_log(log: BinaryLog) -> list[Missing]:
    """What the server lacks for point-in-time recovery: a binary log (binlog-stream's source), in row format
    (a restore replays row events; binlog_events.py refuses statement-format changes)."""
    fix = "as an administrator, start the server with log_bin, binlog_format=ROW and a server_id (docs/pitr.md)"
    if not log.enabled:
        return [Missing("log_bin OFF on the server", "there is no binary log to stream or replay", fix)]
    if log.binlog_format.upper() != "ROW":
        effect = "a restore to a point in time refuses the changes the log holds as statements"
        return [Missing(f"binlog_format {log.binlog_format or 'unknown'}, not ROW", effect, fix)]
    return []


def missing_for_stream(grants: Grants, flavor: Flavor, account: str) -> list[Missing]:
    """What binlog-stream lacks: REPLICATION SLAVE to read the log as a replica (nothing else includes it), and
    what SHOW BINARY LOGS and SHOW MASTER STATUS / SHOW BINARY LOG STATUS take (binlog_stream.py): BINLOG MONITOR
    on MariaDB 10.5+ (REPLICATION CLIENT is its old name), REPLICATION CLIENT on MySQL."""
    missing = []
    if not grants.has("REPLICATION SLAVE") and not grants.has("REPLICATION REPLICA"):
        missing.append(
            Missing(
                "REPLICATION SLAVE",
                "binlog-stream cannot read the binary log",
                f"GRANT REPLICATION SLAVE ON *.* TO {account}",
            )
        )
    monitor = ("BINLOG MONITOR", "REPLICATION CLIENT") if flavor.is_mariadb else ("REPLICATION CLIENT",)
    if not has_any(grants, flavor, monitor):
        missing.append(
            Missing(
                either(monitor),
                "binlog-stream cannot list the server's files nor see how far the server has written",
                f"GRANT {monitor[0]} ON *.* TO {account}",
            )
        )
    return missing


def missing_for_pitr_restore(grants: Grants, flavor: Flavor, account: str) -> list[Missing]:
    """What `restore --to-time` lacks besides what any restore needs: SET SESSION sql_log_bin=0 on every session
    (restore.UNLOGGED, binlog_replay.require_unlogged_sessions), and the replayed log's BINLOG statements and
    session variables (server id, GTID, pseudo_thread_id)."""
    needs: tuple[tuple[tuple[str, ...], str], ...]
    if flavor.is_mariadb:
        needs = (
            (("BINLOG ADMIN",), "restore --to-time may not keep its work out of the binary log (refused, exit 2)"),
            (("BINLOG REPLAY",), "restore --to-time cannot replay the binary log"),
        )
    else:
        needs = (
            (
                ("SESSION_VARIABLES_ADMIN", "SYSTEM_VARIABLES_ADMIN"),
                "restore --to-time may not keep its work out of the binary log (refused, exit 2)",
            ),
            (("BINLOG_ADMIN",), "restore --to-time cannot replay the binary log's row events"),
        )
    return [
        Missing(either(options), effect, f"GRANT {options[0]} ON *.* TO {account}")
        for options, effect in needs
        if not has_any(grants, flavor, options)
    ]


def missing_for_pitr(grants: Grants, flavor: Flavor, account: str, log: BinaryLog) -> list[Missing]:
    """Everything point-in-time recovery lacks, each privilege named once (on MySQL, REPLICATION CLIENT serves
    both the stream and the dump's coordinates): the server's binary log, binlog-stream, the dump's coordinates,
    restore --to-time."""
    merged: dict[str, Missing] = {}
    for item in [
        *missing_for_binary_log(log),
        *missing_for_stream(grants, flavor, account),
        *missing_for_binlog_position(grants, flavor, account),
        *missing_for_pitr_restore(grants, flavor, account),
    ]:
        known = merged.get(item.grant)
        merged[item.grant] = (
            item if known is None else Missing(known.what, f"{known.effect}; {item.effect}", known.grant)
        )
    return list(merged.values())


def missing_for_restore_test(
    grants: Grants,
    flavor: Flavor,
    scratch: str,
    pattern: str,
    account: str,
    load_privileges: Sequence[str],
    *,
    other_definers: bool,
    binary_log: bool,
    stored_programs: bool = False,
    trusts_creators: bool = False,
) -> list[Missing]:
    """What `verify --restore-test` needs on its scratch databases (`scratch` is one such name, `pattern` all)."""
    lacking = [p for p in load_privileges if not grants.has(p, scratch)]
    missing = []
    if lacking:
        missing.append(
            Missing(
                f"{', '.join(lacking)} on {pattern}",
                "a restore test cannot load the dump into its scratch database",
                f"GRANT {', '.join(lacking)} ON {pattern} TO {account}",
            )
        )
    if other_definers:
        options = ("SET USER", "SUPER") if flavor.is_mariadb else ("SET_ANY_DEFINER", "SET_USER_ID", "SUPER")
        if not any(grants.has(option) for option in options):
            missing.append(
                Missing(
                    f"{options[0]} (objects have another DEFINER)",
                    "views, triggers, routines and events of another DEFINER cannot be created",
                    f"GRANT {options[0]} ON *.* TO {account}"
                    + ("" if flavor.is_mariadb else f"; and GRANT SYSTEM_USER ON *.* TO {account} if a DEFINER has it"),
                )
            )
    if binary_log and stored_programs and not trusts_creators and not grants.has("SUPER"):
        missing.append(
            Missing(
                "SUPER, or log_bin_trust_function_creators=1 on the server (the binary log is on)",
                "while the server writes a binary log it refuses triggers and routines from a user without SUPER "
                "(ERROR 1419), whatever the session's sql_log_bin",
                f"GRANT SUPER ON *.* TO {account}; or, as an administrator, SET PERSIST "
                "log_bin_trust_function_creators = 1 (SET GLOBAL on MariaDB)",
            )
        )
    if binary_log:
        options = (
            ("BINLOG ADMIN", "SUPER")
            if flavor.is_mariadb
            else ("SESSION_VARIABLES_ADMIN", "SYSTEM_VARIABLES_ADMIN", "SUPER")
        )
        if not any(grants.has(option) for option in options):
            missing.append(
                Missing(
                    f"{options[0]} (the server writes a binary log)",
                    "restore tests are written to the binary log and reach replicas",
                    f"GRANT {options[0]} ON *.* TO {account}",
                )
            )
    return missing


DEFINER_QUERIES = (
    "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
)


@dataclass
class GrantsReport:
    account: str
    server: Flavor
    database: str
    backup: list[Missing] = field(default_factory=list)
    restore_test: list[Missing] = field(default_factory=list)
    binary_log: BinaryLog = BinaryLog(False, "")
    pitr: list[Missing] = field(default_factory=list)
    unread_roles: list[str] = field(default_factory=list)


def quoted_account(connection: pymysql.Connection) -> tuple[str, str]:
    """CURRENT_USER() as the server shows it (`user@host`) and as a GRANT names it (`'user'@'host'`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        current = str(cursor.fetchone()[0])
    user, _, host = current.rpartition("@")
    return current, "'{}'@'{}'".format(user.replace("'", "''"), host.replace("'", "''"))


def other_definers(connection: pymysql.Connection, database: str, current: str) -> bool:
    with connection.cursor() as cursor:
        for query in DEFINER_QUERIES:
            cursor.execute(query, (database,))
            if any(str(row[0]) != current for row in cursor.fetchall()):
                return True
    return False


def binary_logging(connection: pymysql.Connection) -> tuple[bool, bool]:
    """(the server writes a binary log, it trusts the creators of stored programs: log_bin_trust_function_creators)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@log_bin, @@log_bin_trust_function_creators")
        logging_on, trusted = cursor.fetchone()
    return bool(int(logging_on or 0)), bool(int(trusted or 0))


def read_binary_log(connection: pymysql.Connection) -> BinaryLog:
    """log_bin and binlog_format through SHOW GLOBAL VARIABLES, which leaves out a variable a server has not
    (MySQL deprecates binlog_format) instead of failing."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format')")
        values = {str(name).lower(): str(value) for name, value in cursor.fetchall()}
    return BinaryLog(values.get("log_bin", "OFF").upper() in ("ON", "1"), values.get("binlog_format", ""))


def has_stored_programs(connection: pymysql.Connection, database: str) -> bool:
    """Triggers, procedures or functions in `database` (what MySQL and MariaDB guard while they write a binlog)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s) + "
            "(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s)",
            (database, database),
        )
        return int(cursor.fetchone()[0]) > 0


def scratch_pattern(database: str) -> str:
    """The grant pattern of every scratch database of `verify --restore-test`: `<db>\\_verify\\_%`."""
    escaped = (database + "_verify_").replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"`{escaped}%`.*"


def require_backup_privileges(connection: pymysql.Connection, server: Flavor, database: str) -> None:
    """Raise MissingPrivileges (exit 2) when the user lacks what a whole dump of `database` takes. Where roles'
    privileges could not be read, what seems missing is only logged: a backup never fails on a guess."""
    current, account = quoted_account(connection)
    grants = read_grants(connection, server)
    missing = missing_for_backup(grants, server, database, account)
    if not missing:
        return
    if grants.unread_roles:
        get_logger(part="mysql").warning(
            "privileges_may_be_missing",
            missing=[m.what for m in missing],
            unread_roles=grants.unread_roles,
        )
        return
    details = "; ".join(f"{m.what} ({m.effect}; fix: {m.grant})" for m in missing)
    raise MissingPrivileges(f"the MySQL user {current} lacks {details}; check-grants lists every privilege")


def lacking_for_binlog_position(connection: pymysql.Connection, server: Flavor) -> list[Missing]:
    """missing_for_binlog_position for the current user. What roles may hold but cannot be read counts as
    missing: mysqldump fails without it, and the dump is not to fail on a guess."""
    _, account = quoted_account(connection)
    return missing_for_binlog_position(read_grants(connection, server), server, account)


def collect_grants(settings: Settings) -> GrantsReport:
    from afirgen_backup.sources.mysql.verify import scratch_name

    database = settings.mysql_db
    with connect(settings) as connection:
        server = server_flavor(connection)
        current, account = quoted_account(connection)
        grants = read_grants(connection, server)
        definers = other_definers(connection, database, current)
        logging_on, trusted = binary_logging(connection)
        programs = has_stored_programs(connection, database)
        log = read_binary_log(connection)
    report = GrantsReport(account, server, database, binary_log=log, unread_roles=grants.unread_roles)
    report.backup = missing_for_backup(grants, server, database, account)
    report.restore_test = missing_for_restore_test(
        grants,
        server,
        scratch_name(database, datetime.now(UTC)),
        scratch_pattern(database),
        account,
        LOAD_PRIVILEGES,
        other_definers=definers,
        binary_log=logging_on,
        stored_programs=programs,
        trusts_creators=trusted,
    )
    report.pitr = missing_for_pitr(grants, server, account, log)
    return report
