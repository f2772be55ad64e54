"""The backup of the MySQL/MariaDB database: check what can be checked first (the user's privileges, a database
with tables, a client that loses nothing of it), take the inventory the manifest records, then dump, read and
publish (dump.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pymysql

from afirgen_backup import process
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError
from afirgen_backup.logs import get_logger
from afirgen_backup.publish import GzipPublisher
from afirgen_backup.sources.base import BackupJob, PartResult, publish_backup, throughput
from afirgen_backup.sources.mysql import dump
from afirgen_backup.sources.mysql.grants import lacking_for_binlog_position, require_backup_privileges
from afirgen_backup.sources.mysql.server import (
    Flavor,
    Inventory,
    connect,
    count_rows_in_snapshot,
    server_flavor,
    take_inventory,
)

KIND = "mysql"
GENERATED_NOTE = (
    "the dump program wrote values for these tables' generated columns, which MySQL refuses at load: their rows "
    "are loaded into a temporary table and moved from there without the generated columns"
)
ROW_COUNTS_NOTE = (
    "row_counts: a consistent snapshot just before mysqldump's own; row_counts_after_dump: one just after it "
    "(null if it could not be taken). A table written meanwhile has its dumped row count between the two."
)


def count_rows_after_dump(settings: Settings, tables: tuple[str, ...]) -> dict[str, int] | None:
    """Row counts just after the dump, bracketing the dump's own with those taken before; None on failure.

    The dump is complete by then: failing to count (say the server just went away) must not fail the part.
    """
    try:
        with connect(settings) as connection:
            return count_rows_in_snapshot(connection, settings.mysql_db, tables)
    except (BackupError, pymysql.MySQLError) as error:
        get_logger(part=KIND).warning("row_count_after_dump_failed", error=str(error))
        return None


def may_record_binlog_position(
    connection: pymysql.Connection, client: Flavor, server: Flavor, inventory: Inventory
) -> bool:
    """Whether MySQL's mysqldump may take the brief lock that records the binary log coordinates (dump.py's
    records_binlog_position). Where it may not, the dump goes on without them and says once what it lacks."""
    if not (inventory.binary_log and client.name == "mysql" and server.name == "mysql"):
        return False
    lacking = lacking_for_binlog_position(connection, server)
    if lacking:
        get_logger(part=KIND).warning(
            "binlog_position_not_recorded",
            missing=[m.what for m in lacking],
            fix="; ".join(m.grant for m in lacking),
            note="point-in-time recovery (docs/pitr.md) needs a dump with binary log coordinates",
        )
    return not lacking


def back_up(job: BackupJob) -> PartResult:
    settings = job.settings
    log = get_logger(part=KIND)
    started, clock = datetime.now(UTC), time.monotonic()
    client = dump.detect_client(settings.mysqldump_bin)
    with connect(settings) as connection:
        server = server_flavor(connection)
        require_backup_privileges(connection, server, settings.mysql_db)
        inventory = take_inventory(connection, settings.mysql_db)
        may_lock = may_record_binlog_position(connection, client, server, inventory)
    if not inventory.tables and not settings.allow_empty:
        raise BackupError(
            f"{settings.mysql_db} has no tables: is MYSQL_DB the application's database? Nothing is pruned while "
            "this lasts; set BACKUP_ALLOW_EMPTY=true if an empty database is to be backed up"
        )
    dump.check_pair(client, server, inventory)
    policy = dump.dump_policy(client, server, inventory, settings.mysql_db)

    def write(publisher: GzipPublisher) -> dict[str, Any]:
        with process.credentials_pipe(settings.mysql_user, settings.mysql_password) as (defaults_arg, fd):
            argv = dump.build_dump_argv(settings, client, server, inventory, defaults_arg, may_lock=may_lock)
            log.info(
                "mysql_dump_started",
                database=settings.mysql_db,
                server=server.describe(),
                client=client.describe(),
                argv=dump.redact_argv(argv),
            )
            adopt = job.yielder.adopt if job.yielder else None
            result = dump.stream_dump(argv, (fd,), publisher, policy, adopt=adopt)
        facts: dict[str, Any] = {
            "source": {
                "host": settings.mysql_host,
                "port": settings.mysql_port,
                "database": settings.mysql_db,
                "default_character_set": inventory.default_character_set,
                "default_collation": inventory.default_collation,
            },
            "server": {"flavor": server.name, "version": server.text},
            "client": {"flavor": client.name, "version": ".".join(map(str, client.version)), "program": argv[0]},
            "dump_options": dump.redact_argv(argv)[1:-1],
            "objects": inventory.counts(),
            "names": inventory.names(),
            "row_counts": inventory.row_counts,
            "row_counts_after_dump": count_rows_after_dump(settings, inventory.tables),
            "row_counts_note": ROW_COUNTS_NOTE,
            "trailer": result.trailer,
        }
        if dump.records_binlog_position(client, server, inventory, may_lock=may_lock):
            facts["binlog"] = result.binlog_position
            if result.binlog_position is None:
                log.warning("binlog_position_missing", note="the dump has no binary log coordinates")
        if policy.contents.generated_rewritten:
            facts["dump_rewrites"] = {"generated_columns": policy.contents.generated_rewritten, "note": GENERATED_NOTE}
        return facts

    written, uncompressed, duration = publish_backup(job, KIND, write, started, clock)
    log.info(
        "mysql_backup_published",
        file=written.path.name,
        size=written.size,
        uncompressed_size=uncompressed,
        tables=len(inventory.tables),
        duration_s=round(duration, 3),
        throughput_mb_s=throughput(uncompressed, duration),
    )
    return PartResult(KIND, True, written.path.name, size=written.size, duration_s=duration)
