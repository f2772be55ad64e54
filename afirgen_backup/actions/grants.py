"""check-grants: what the MySQL user may do, and what a backup and a restore test still need (mysql_grants.py).

A backup checks the same before it dumps (backup.py): a privilege whose absence would leave triggers, events or
routines out of the dump without a word fails the MySQL part instead (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pymysql

from afirgen_backup.config import Settings
from afirgen_backup.errors import MissingPrivileges
from afirgen_backup.logs import get_logger
from afirgen_backup.sources import mysql, mysql_grants, mysql_restore

DEFINER_QUERIES = (
    "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
    "SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
)


@dataclass
class GrantsReport:
    account: str
    server: mysql.Flavor
    database: str
    backup: list[mysql_grants.Missing] = field(default_factory=list)
    restore_test: list[mysql_grants.Missing] = field(default_factory=list)
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


def require_backup_privileges(connection: pymysql.Connection, server: mysql.Flavor, database: str) -> None:
    """Raise MissingPrivileges (exit 2) when the user lacks what a whole dump of `database` takes. Where roles'
    privileges could not be read, what seems missing is only logged: a backup never fails on a guess."""
    current, account = quoted_account(connection)
    grants = mysql_grants.read_grants(connection, server)
    missing = mysql_grants.missing_for_backup(grants, server, database, account)
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


def collect_grants(settings: Settings) -> GrantsReport:
    from afirgen_backup.actions.verify import scratch_name

    database = settings.mysql_db
    with mysql.connect(settings) as connection:
        server = mysql.server_flavor(connection)
        current, account = quoted_account(connection)
        grants = mysql_grants.read_grants(connection, server)
        definers = other_definers(connection, database, current)
        logging_on, trusted = binary_logging(connection)
        programs = has_stored_programs(connection, database)
    report = GrantsReport(account, server, database, unread_roles=grants.unread_roles)
    report.backup = mysql_grants.missing_for_backup(grants, server, database, account)
    report.restore_test = mysql_grants.missing_for_restore_test(
        grants,
        server,
        scratch_name(database, datetime.now(UTC)),
        scratch_pattern(database),
        account,
        mysql_restore.LOAD_PRIVILEGES,
        other_definers=definers,
        binary_log=logging_on,
        stored_programs=programs,
        trusts_creators=trusted,
    )
    return report


def render_grants(report: GrantsReport, settings: Settings) -> str:
    lines = [
        f"MySQL user {report.account} on {settings.mysql_host}:{settings.mysql_port} "
        f"({report.server.describe()}), database {report.database}"
    ]
    for title, missing in (("backup", report.backup), ("restore test (verify --restore-test)", report.restore_test)):
        if not missing:
            lines.append(f"{title}: ok")
            continue
        lines.append(f"{title}: MISSING")
        for item in missing:
            lines.append(f"  {item.what}: {item.effect}")
            lines.append(f"    fix: {item.grant};")
    if report.unread_roles:
        lines.append(f"privileges of roles {', '.join(report.unread_roles)} could not be read: they are not counted")
    return "\n".join(lines) + "\n"
