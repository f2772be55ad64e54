"""check-grants: what the MySQL user may do, and what a backup, a restore test and point-in-time recovery still need
(sources/mysql/grants.py).

A backup checks the same before it dumps: a privilege whose absence would leave triggers, events or routines out of
the dump without a word fails the MySQL part instead (exit 2). Exit 0 when the backup has what it needs, 1 when
not or when the server cannot be reached. Point-in-time recovery is optional: what it lacks is told, never counted
in the exit code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from afirgen_backup.config import Settings
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK
from afirgen_backup.sources.mysql.grants import GrantsReport, Missing, collect_grants


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check-grants",
        help="connect as MYSQL_USER and say which privileges a backup, a restore test and point-in-time recovery "
        "still lack",
        description="Read the MySQL user's privileges (SHOW GRANTS, roles included) and name each one a backup of "
        "MYSQL_DB needs but lacks (some would leave triggers, events or routines out of the dump without a word), "
        "what `verify --restore-test` needs, and what point-in-time recovery (binlog-stream, restore --to-time) "
        "needs of the server and the user, each with the GRANT that adds it. Exit 0 when the backup has what it "
        "needs (point-in-time recovery is optional and does not count), 1 when not or when the server cannot be "
        "reached.",
    )
    parser.set_defaults(handler=run, backup_dir_use="read")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    report = collect_grants(settings)
    sys.stdout.write(render_grants(report, settings))
    return EXIT_FAILED if report.backup else EXIT_OK


PITR_TITLE = "point-in-time recovery (binlog-stream, restore --to-time)"


def render_grants(report: GrantsReport, settings: Settings) -> str:
    lines = [
        f"MySQL user {report.account} on {settings.mysql_host}:{settings.mysql_port} "
        f"({report.server.describe()}), database {report.database}"
    ]
    lines += render_section("backup", report.backup)
    lines += render_section("restore test (verify --restore-test)", report.restore_test)
    pitr = render_section(PITR_TITLE, report.pitr, note="not needed unless you use point-in-time recovery")
    lines += [pitr[0], f"  server: {report.binary_log.describe()}", *pitr[1:]]
    if report.unread_roles:
        lines.append(f"privileges of roles {', '.join(report.unread_roles)} could not be read: they are not counted")
    return "\n".join(lines) + "\n"


def render_section(title: str, missing: list[Missing], *, note: str = "") -> list[str]:
    """`title: ok`, or `title: MISSING` and each item with its fix; `note` says why a section does not count in the
    exit code (an optional one)."""
    if not missing:
        return [f"{title}: ok"]
    lines = [f"{title}: MISSING" + (f", {note}" if note else "")]
    for item in missing:
        lines.append(f"  {item.what}: {item.effect}")
        lines.append(f"    fix: {item.grant};")
    return lines
