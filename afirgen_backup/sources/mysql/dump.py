"""The dump: the mysqldump command line for a client/server pair, what a pair cannot do, and the streaming dump
itself, read while it is written (script.py, policy.py) and published only when complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from afirgen_backup import process
from afirgen_backup.checks import TAIL_KEEP
from afirgen_backup.config import Settings
from afirgen_backup.errors import DumpIncomplete, UnrestorableDump
from afirgen_backup.publish import GzipPublisher, WrittenFile
from afirgen_backup.sources.mysql.policy import DumpPolicy
from afirgen_backup.sources.mysql.script import ScriptReader, ScriptRefused
from afirgen_backup.sources.mysql.server import Flavor, Inventory, parse_client_version

TRAILER = b"-- Dump completed"


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


def detect_client(mysqldump_bin: str) -> Flavor:
    return parse_client_version(process.run((mysqldump_bin, "--version"), what="mysqldump --version"))


def records_binlog_position(client: Flavor, server: Flavor, inventory: Inventory, *, may_lock: bool = False) -> bool:
    """A dump of a server that writes a binary log records the snapshot's place in it, for point-in-time recovery.

    - MariaDB's dump of MariaDB: `--master-data=2 --gtid` writes it as comments, read from the snapshot's own status
      (Binlog_snapshot_file/position), so that neither a lock nor a privilege more is needed.
    - MySQL's mysqldump 8.0.26+ of MySQL: `--source-data=2` takes FLUSH TABLES WITH READ LOCK for the moment it
      starts its snapshot and reads SHOW BINARY LOG STATUS, which needs RELOAD (or FLUSH_TABLES) and REPLICATION
      CLIENT: only when the user has them (`may_lock`), else the dump would fail.
    - Any other pair: not recorded (MariaDB's client reads SHOW MASTER STATUS, which MySQL 8.4 removed).
    """
    if not inventory.binary_log:
        return False
    if client.is_mariadb and server.is_mariadb:
        return True
    return client.name == "mysql" and server.name == "mysql" and client.version >= (8, 0, 26) and may_lock


def needs_dump_history(client: Flavor, server: Flavor, inventory: Inventory) -> bool:
    return client.is_mariadb and client.version >= (10, 11) and server.is_mariadb and bool(inventory.versioned_tables)


def build_dump_argv(
    settings: Settings,
    client: Flavor,
    server: Flavor,
    inventory: Inventory,
    defaults_file_arg: str,
    *,
    may_lock: bool = False,
) -> list[str]:
    """The mysqldump command line for this client/server pair. No password: it is in the defaults file.

    - MySQL 8 client, any server: --set-gtid-purged=OFF (no GTID statements that stop the dump from loading
      into another database, and no FLUSH TABLES WITH READ LOCK that 8.0.32+ takes for GTIDs).
    - MySQL 8 client, MariaDB server: --column-statistics=0 (MariaDB has no COLUMN_STATISTICS table).
    - MariaDB 10.11+ client, MariaDB server with system-versioned tables: --dump-history, so that the tables'
      history is kept (a plain dump keeps only the current rows).
    - A server that writes a binary log: its coordinates as comments (records_binlog_position).
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
    if records_binlog_position(client, server, inventory, may_lock=may_lock):
        argv += ["--master-data=2", "--gtid"] if client.is_mariadb else ["--source-data=2"]
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


@dataclass(frozen=True)
class DumpResult:
    written: WrittenFile
    uncompressed_size: int
    trailer: str
    binlog_position: dict[str, Any] | None = None  # where the snapshot stands in the binary log, when recorded


# The comments `--master-data=2 --gtid` writes near the top of a MariaDB dump (MySQL's `--source-data=2`: CHANGE
# REPLICATION SOURCE TO SOURCE_LOG_FILE=..., and no GTID, --set-gtid-purged=OFF).
BINLOG_FILE_COMMENT = re.compile(
    rb"^-- CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([A-Za-z0-9._-]{1,255})', "
    rb"(?:MASTER|SOURCE)_LOG_POS=(\d{1,20});$",
    re.M,
)
GTID_COMMENT = re.compile(rb"^-- SET GLOBAL gtid_slave_pos='([0-9,-]{0,4096})';$", re.M)
HEAD_KEEP = 64 * 1024  # the comments come before the first table


def binlog_position(head: bytes, tail: bytes, seen_at: datetime) -> dict[str, Any] | None:
    """The snapshot's binary log coordinates from the head of a dump, or None when it has none.

    `seen_at` is when the dump's first bytes were read: the snapshot was taken before it, so a point in time
    after it can be reached from this dump by replaying the binary log from these coordinates."""
    found = BINLOG_FILE_COMMENT.search(head)
    if found is None:
        return None
    gtid = GTID_COMMENT.search(tail) or GTID_COMMENT.search(head)  # mariadb-dump writes it near the end
    return {
        "file": found.group(1).decode(),
        "position": int(found.group(2)),
        "gtid": gtid.group(1).decode() if gtid else None,
        "snapshot_before": seen_at.isoformat(timespec="microseconds"),
    }


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
        tail = head = b""
        seen_at: datetime | None = None
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        while True:
            count = os.readv(stdout_fd, [buffer])
            if count == 0:
                break
            if len(head) < HEAD_KEEP:
                seen_at = seen_at or datetime.now(UTC)
                head += bytes(view[: min(count, HEAD_KEEP - len(head))])
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
    position = binlog_position(head, tail, seen_at) if seen_at is not None else None
    return DumpResult(written, publisher.uncompressed_size, trailer, position)


def redact_argv(argv: list[str]) -> list[str]:
    return [arg for arg in argv if not arg.startswith("--defaults-extra-file=")]
