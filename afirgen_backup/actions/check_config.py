"""check-config: validate the configuration and say what a backup would do; creates and changes nothing.

The settings were read and checked before this runs (config.load_settings, with BACKUP_DIR checked but not
created: cli.py); a bad one never gets here (exit 2 with one line naming it). With off-site copies on, the bucket
is asked whether it exists and answers to the credentials: credentials it refuses, or a bucket that is not there,
are exit 2 naming the setting; a store that does not answer is said in a line, and is no configuration error (the
backups go on locally, and each run reports the off-site copy it could not make).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from afirgen_backup.config import Settings
from afirgen_backup.config.schedule import never_comes_refusal
from afirgen_backup.display import format_age
from afirgen_backup.errors import EXIT_OK


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check-config", help="validate the configuration and exit (0 ok, 2 bad); creates and changes nothing"
    )
    parser.add_argument(
        "--errors-only",
        action="store_true",
        help="no warnings (the container's entrypoint checks twice, as root and as the job's user)",
    )
    parser.set_defaults(handler=run, backup_dir_use="check")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    for name, schedule in (
        ("BACKUP_SCHEDULE", settings.schedule),
        ("BACKUP_SESSIONS_SCHEDULE", settings.sessions_schedule),
    ):
        refusal = never_comes_refusal(name, schedule)
        if refusal is not None:  # the container runs check-config at start: it does not start with such a schedule
            sys.stderr.write(f"error: {refusal}\n")
            return refusal.exit_code
    kinds = ", ".join(settings.enabled_kinds)
    target = f"{settings.mysql_user}@{settings.mysql_host}:{settings.mysql_port}/{settings.mysql_db}"
    lines = [
        f"configuration ok: backing up {kinds}",
        f"  mysql: {target if settings.mysql_enabled else 'disabled'} with {settings.mysqldump_bin}",
        f"  sessions: {settings.sessions_db_path if settings.sessions_enabled else 'disabled'}",
        f"  backups: {settings.backup_dir} (keep {settings.retention_days} days, at least the newest "
        f"{settings.keep_last} good of each kind), log {settings.log_file}",
    ]
    if settings.offsite is not None:
        lines += describe_offsite(settings)
    # check-config creates nothing: it says what the first backup will create
    for directory in dict.fromkeys((settings.backup_dir, settings.log_file.parent)):
        if not directory.is_dir():
            lines.append(f"  {directory} does not exist yet: the first backup creates it")
    sys.stdout.write("\n".join(lines) + "\n")
    warning = max_age_warning(settings)
    if warning and not getattr(args, "errors_only", False) and not getattr(args, "sessions_snapshot", False):
        sys.stderr.write(f"warning: {warning}\n")  # the entrypoint runs this at start: the line is in docker logs
    return EXIT_OK


def max_age_warning(settings: Settings) -> str | None:
    """BACKUP_MAX_AGE_HOURS no longer than BACKUP_SCHEDULE's longest interval: `status` (the HEALTHCHECK, the stale
    alerts) would turn unhealthy before every scheduled backup, however well each one runs. Allowed (the container
    may be run by hand, or on another schedule) but said, with the value that fits."""
    if settings.schedule is None:
        return None
    interval = settings.schedule.longest_gap().total_seconds()
    if settings.max_age_hours * 3600 > interval:
        return None
    fitting = math.ceil(interval / 3600) + 1
    return (
        f"BACKUP_MAX_AGE_HOURS={settings.max_age_hours} is not longer than the longest interval of BACKUP_SCHEDULE "
        f"({settings.schedule.text!r}: {format_age(interval)}), so status turns unhealthy before every backup; "
        f"set it to {fitting} (the interval plus an hour) or more"
    )


def describe_offsite(settings: Settings) -> list[str]:
    from afirgen_backup.offsite.store import OffsiteFailed, Store

    offsite = settings.offsite
    assert offsite is not None
    how = f"age-encrypted for {len(offsite.recipients)} recipient(s)" if offsite.encrypted else "NOT encrypted"
    lines = [f"  off-site: {offsite.url}{f' at {offsite.endpoint_url}' if offsite.endpoint_url else ''}, {how}"]
    try:
        store = Store(offsite, quick=True)
        with store.watched():
            store.check()
    except OffsiteFailed as error:
        lines.append(f"  off-site store not reachable now ({error}): each backup run will retry")
    else:
        lines.append("  off-site bucket: reachable with these credentials")
    return lines
