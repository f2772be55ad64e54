"""What a backup run and a health check tell the alert channels (alerts/__init__.py says how they are bounded).

A run: a `start` ping when it holds the lock; at its end a `success` or `fail` ping (an interrupted run pings
`fail` too: it made no backup), the notification its outcome calls for (state.py), and the metrics file. A health
check (`status --notify`, which the container's cron runs between backups): `stale` when the backups turned
unhealthy without a run saying so (cron stopped, the host's clock jumped), its reminders, and `recovery` when
health returns.

A frequent sessions snapshot (`backup --sessions-snapshot`) pings nothing (the dead-man switch times the
scheduled full runs: a snapshot's `fail` would leave it down until the next full run, its `success` would hide a
dead schedule); its failure is notified like a run's. Its success is never announced as such, and ends a failure
or staleness only when `status` finds everything healthy: a snapshot every few minutes must not announce a
recovery the MySQL part has not made.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.alerts import notify, state
from afirgen_backup.alerts.channels import bounded
from afirgen_backup.alerts.ping import ping, redacted
from afirgen_backup.config import Settings
from afirgen_backup.display import format_age
from afirgen_backup.files import free_space, measure_directory
from afirgen_backup.logs import get_logger

COMMAND = "docker exec afirgen-backup python3 /app/backup_database.py"
NEXT_STEPS = {
    "failure": f"See `docker logs afirgen-backup` or backup.log for the whole story. Once fixed, run `{COMMAND}` "
    f"to back up now, then `{COMMAND} status`.",
    "stale": f"No run reported a failure: run `{COMMAND} status` to see why, and check that the container (and its "
    "cron) is running.",
    "recovery": "Nothing to do: backups are good again.",
    "success": "Nothing to do.",
}
TITLES = {
    "failure": "AFIRGen backup FAILED on {host}",
    "stale": "AFIRGen backups are STALE on {host}",
    "recovery": "AFIRGen backups recovered on {host}",
    "success": "AFIRGen backup succeeded on {host}",
}


@dataclass
class RunSummary:
    """What a run's end tells the channels."""

    run_id: str
    outcome: str  # success, failed or interrupted
    error: str | None = None
    parts: dict[str, tuple[bool, str | None]] = field(default_factory=dict)  # kind -> (ok, error)
    snapshot: bool = False  # a frequent sessions snapshot, not a full run


def run_started(settings: Settings, run_id: str) -> None:
    url = settings.alerts.ping_url
    if url is not None:
        problem = bounded(lambda: ping(url, "start", run_id))
        if problem is not None:
            get_logger().warning("ping_failed", channel=redacted(url), signal="start", error=problem)


def run_finished(settings: Settings, summary: RunSummary) -> None:
    if summary.snapshot:
        snapshot_finished(settings, summary)
        return
    alerts = settings.alerts
    log = get_logger()
    url = alerts.ping_url
    if url is not None:
        signal = "success" if summary.outcome == "success" else "fail"
        body = None if signal == "success" else describe_run(settings, summary)
        problem = bounded(lambda: ping(url, signal, summary.run_id, body))
        if problem is not None:
            log.warning("ping_failed", channel=redacted(url), signal=signal, error=problem)
    if alerts.notify_urls and summary.outcome != "interrupted":
        current = "ok" if summary.outcome == "success" else "failed"
        previous = state.load(settings.backup_dir)
        announce(settings, previous, current, lambda event: describe_run(settings, summary, event))
    if alerts.metrics_file is not None:
        write_metrics(settings)


def snapshot_finished(settings: Settings, summary: RunSummary) -> None:
    """A sessions snapshot's end: a failure is announced as a run's; a success only ends an alert when `status`
    finds everything healthy (alerts.json's state is `failed` or `stale` and nothing else is wrong)."""
    if settings.alerts.notify_urls and summary.outcome != "interrupted":
        previous = state.load(settings.backup_dir)

        def describe(event: str) -> str:
            return describe_run(settings, summary, event)

        if summary.outcome != "success":
            announce(settings, previous, "failed", describe)
        elif previous.state != "ok" and healthy_now(settings):
            announce(settings, previous, "ok", describe)
    if settings.alerts.metrics_file is not None:
        write_metrics(settings)


def healthy_now(settings: Settings) -> bool:
    from afirgen_backup.actions.status import collect_status

    return bool(collect_status(settings)["healthy"])


def health_checked(settings: Settings, healthy: bool, problems: list[str]) -> None:
    """`status --notify`: announce staleness, its reminders and its end."""
    if not settings.alerts.notify_urls:
        return
    previous = state.load(settings.backup_dir)
    if healthy and previous.state != "stale":
        return  # fine, or a failed run that only a successful run ends
    current = "ok" if healthy else ("failed" if previous.state == "failed" else "stale")
    announce(settings, previous, current, lambda event: describe_health(settings, problems, event))


def announce(settings: Settings, previous: state.AlertState, current: str, describe: Any) -> None:
    """Move the alert state from `previous` (as alerts.json holds it) to `current` and send the event that calls
    for, if BACKUP_NOTIFY_ON asks for it."""
    log = get_logger()
    alerts = settings.alerts
    now = datetime.now(UTC)
    new, event = state.next_state(previous, current, now, timedelta(hours=alerts.repeat_hours))
    try:
        state.save(settings.backup_dir, new)
    except OSError as error:
        log.warning("alert_state_not_saved", error=str(error))
    if event is None or event not in alerts.notify_on:
        return
    host = socket.gethostname()
    failures = notify.send(alerts.notify_urls, event, TITLES[event].format(host=host), describe(event))
    for channel, problem in failures.items():
        log.warning("notify_failed", channel=channel, alert=event, error=problem)
    if len(failures) < len(alerts.notify_urls):
        log.info("notified", alert=event, channels=len(alerts.notify_urls) - len(failures))


def newest_backups(settings: Settings) -> list[str]:
    found = catalog.scan(settings.backup_dir)
    now = datetime.now(UTC)
    lines = []
    for kind in settings.enabled_kinds:
        newest = found.newest_good(kind, now)
        if newest is None:
            lines.append(f"newest good {kind} backup: none")
        else:
            age = format_age((now - newest.time).total_seconds())
            lines.append(f"newest good {kind} backup: {newest.name}, {age} old")
    return lines


def describe_run(settings: Settings, summary: RunSummary, event: str = "failure") -> str:
    what = "sessions snapshot" if summary.snapshot else "run"
    lines = [f"host: {socket.gethostname()}", f"{what}: {summary.run_id} ({summary.outcome})"]
    for kind, (ok, error) in summary.parts.items():
        lines.append(f"{kind}: ok" if ok else f"{kind}: FAILED: {error}")
    if summary.error and summary.outcome != "success":
        lines.append(f"error: {summary.error}")
    lines += newest_backups(settings)
    lines.append(NEXT_STEPS.get(event, NEXT_STEPS["failure"]))
    return "\n".join(lines)


def describe_health(settings: Settings, problems: list[str], event: str) -> str:
    lines = [f"host: {socket.gethostname()}"]
    lines += [f"problem: {problem}" for problem in problems]
    lines += newest_backups(settings)
    lines.append(NEXT_STEPS[event])
    return "\n".join(lines)


def write_metrics(settings: Settings) -> None:
    from afirgen_backup.alerts.metrics import write

    path = settings.alerts.metrics_file
    assert path is not None
    _, total = measure_directory(settings.backup_dir)

    def deliver() -> None:
        write(settings, path, total, free_space(settings.backup_dir))

    problem = bounded(deliver)
    if problem is not None:
        get_logger().warning("metrics_failed", file=str(path), error=problem)
