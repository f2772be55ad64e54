"""binlog-stream: archive the MySQL server's binary log continuously, for point-in-time recovery (issue #14).

A long-running command, the container's second service: it holds BACKUP_DIR/binlog/.stream.lock (one stream per
archive; backups and prune run beside it) and runs sources/mysql/binlog_stream.py until SIGTERM/SIGINT, which
stop the streaming client, seal what the server closed, and end it with 143/130.
"""

from __future__ import annotations

import argparse
from typing import Any

from afirgen_backup.config import Settings
from afirgen_backup.errors import EXIT_OK, UsageError
from afirgen_backup.lock import exclusive_lock
from afirgen_backup.sources.mysql.binlog_archive import archive_dir, stream_dir
from afirgen_backup.sources.mysql.binlog_stream import BinlogStream

LOCK_NAME = ".stream.lock"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "binlog-stream",
        help="stream the MySQL binary log into BACKUP_DIR/binlog/ until stopped (point-in-time recovery)",
        description="Run the flavor's mysqlbinlog/mariadb-binlog as a replica, restarting it when it exits; seal "
        "(compress, checksum, manifest) each file once the server has rotated past it. Runs until SIGTERM.",
    )
    parser.set_defaults(handler=run, backup_dir_use="write")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    if not settings.mysql_enabled:
        raise UsageError("binlog-stream: BACKUP_MYSQL_ENABLED is false; allowed: with the MySQL part on")
    archive_dir(settings.backup_dir).mkdir(exist_ok=True, mode=0o700)
    stream_dir(settings.backup_dir).mkdir(exist_ok=True, mode=0o700)
    with exclusive_lock(archive_dir(settings.backup_dir) / LOCK_NAME, "another binlog-stream", "after stopping it"):
        BinlogStream(settings).run()
    return EXIT_OK
