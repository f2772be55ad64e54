"""check-grants: what the MySQL user may do, and what a backup and a restore test still need (sources/mysql/grants.py).

A backup checks the same before it dumps: a privilege whose absence would leave triggers, events or routines out of
the dump without a word fails the MySQL part instead (exit 2). Exit 0 when the backup has what it needs, 1 when
not or when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from afirgen_backup.config import Settings
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK
from afirgen_backup.sources.mysql.grants import GrantsReport, collect_grants


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check-grants",
        help="connect as MYSQL_USER and say which privileges a backup and a restore test still lack",
        description="Read the MySQL user's privileges (SHOW GRANTS, roles included) and name each one a backup of "
        "MYSQL_DB needs but lacks (some would leave triggers, events or routines out of the dump without a word), "
        "and what `verify --restore-test` needs, each with the GRANT that adds it. Exit 0 when the backup has what "
        "it needs, 1 when not or when the server cannot be reached.",
    )
    parser.set_defaults(handler=run, backup_dir_use="read")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    report = collect_grants(settings)
    sys.stdout.write(render_grants(report, settings))
    return EXIT_FAILED if report.backup else EXIT_OK


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
