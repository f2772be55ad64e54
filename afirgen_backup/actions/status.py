"""status: are the backups healthy? The container's HEALTHCHECK and outside monitors call it.

It only reads: BACKUP_DIR's listing, the manifests, last_run.json and the free space. No decompression, no
hashing, no lock, no log event, nothing written. Healthy (exit 0) when the newest good backup of every enabled
kind (catalog/entries.py says what is good) is younger than BACKUP_MAX_AGE_HOURS, none is dated in the
future, no backup's latest restore test failed, BACKUP_DIR can be read and the last run did not fail (nor the last
sessions snapshot, last_snapshot.json, when it came after that run). A
last_run.json that exists but cannot be read or parsed is unhealthy too, since it may be hiding a failure. An
interrupted last run is reported but is not by itself unhealthy (the age limit catches a run that keeps failing
to finish). A backup dated in the future is unhealthy because it would otherwise look fresh for as long as the
clock is wrong: status names each such file and the command that moves them out of the way (`prune
--future-dated`, into BACKUP_DIR/misdated/, nothing deleted). Ages are taken from the newest good backup not
dated in the future; `latest` (the highest sequence, catalog/entries.py) is named too when it is another file.

Nothing but regular files is ever opened (catalog/manifests.py reads manifests and last_run.json through
files.open_regular, bounded), so a FIFO planted in BACKUP_DIR cannot make the HEALTHCHECK hang. A link, FIFO
or directory where the lock, the log file, safety/ or misdated/ should be is unhealthy: the next run would refuse
it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import FUTURE_DATED_COMMAND
from afirgen_backup.config import Settings
from afirgen_backup.config.schedule import NeverComes
from afirgen_backup.display import describe_verification, format_age, format_size, printable_line, write_json
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, BackupError
from afirgen_backup.files import free_space, measure_directory
from afirgen_backup.lock import LOCK_NAME, SNAPSHOT_ROLE, current_holder


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "status",
        help="are backups healthy? exit 0 when each enabled kind has a fresh good backup and the last run did not fail",
        description="Newest good backup per kind, its age, size and verification; the last run; BACKUP_DIR usage "
        "and free space. Reads only: no lock, no decompression, nothing written. Exit 0 healthy, 1 not.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    parser.add_argument(
        "--prometheus", action="store_true", help="print the metrics in Prometheus's text format instead"
    )
    parser.add_argument(
        "--notify",
        action="store_true",
        help="also tell BACKUP_NOTIFY_URLS when backups turned unhealthy between runs (stale), or healthy again "
        "(the container's cron runs this; it writes BACKUP_DIR/alerts.json)",
    )
    parser.set_defaults(handler=run, backup_dir_use="read")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    status = collect_status(settings)
    if args.notify:
        from afirgen_backup.alerts.hooks import health_checked

        health_checked(settings, status["healthy"], status["problems"])
    if args.prometheus:
        from afirgen_backup.alerts.metrics import render

        directory = status["backup_dir"]
        sys.stdout.write(render(settings, directory["size"], directory["free"]).decode())
        return EXIT_OK if status["healthy"] else EXIT_FAILED
    if args.json:
        write_json(status)
    else:
        sys.stdout.write(render_status(status))
    return EXIT_OK if status["healthy"] else EXIT_FAILED


# How late the sessions snapshots of BACKUP_SESSIONS_SCHEDULE may be on top of twice the schedule's longest
# interval: a snapshot waits up to 240 s for a full run's lock (actions/backup.py), and takes seconds.
SNAPSHOT_MARGIN_S = 600
STREAM_SILENT_S = 120  # binlog-stream writes its state every second while it runs
STREAM_LAG_LIMIT_S = 300  # how long the archive may go without holding all the server logged


def describe_future(ahead: list[catalog.BackupEntry], now: datetime) -> str | None:
    if not ahead:
        return None
    furthest = format_age(max((b.time - now).total_seconds() for b in ahead))
    if len(ahead) == 1:
        return f"{ahead[0].name} is dated {furthest} in the future: is this host's clock right?"
    names = ", ".join(b.name for b in ahead)
    return f"{names} are dated up to {furthest} in the future: is this host's clock right?"


def kind_status(found: catalog.Catalog, kind: str, now: datetime, max_age_s: float) -> dict[str, Any]:
    ahead = found.in_future(kind, now)
    future = describe_future(ahead, now)
    entry = found.newest_current(kind, now)
    latest = found.newest_good(kind, now)
    other_latest = latest.name if latest is not None and latest is not entry else None
    if entry is None:
        missing = f"no good {kind} backup" + (" that is not dated in the future" if other_latest else "")
        missing += f"; {future}" if future else ""
        return {
            "kind": kind,
            "newest": None,
            "latest": other_latest,
            "future_dated": [b.name for b in ahead],
            "healthy": False,
            "problem": missing,
        }
    age = (now - entry.time).total_seconds()
    fresh = age <= max_age_s
    problem: str | None = (
        None if fresh else f"newest {kind} backup is {format_age(age)} old (limit {max_age_s / 3600:g}h)"
    )
    if future:
        problem = f"{problem}; {future}" if problem else future
    return {
        "kind": kind,
        "newest": entry.name,
        "time": entry.time.isoformat(),
        "age_s": int(age),
        "size": entry.size,
        "verification": entry.verification,
        "latest": other_latest,
        "future_dated": [b.name for b in ahead],
        "healthy": problem is None,
        "problem": problem,
    }


def offsite_status(settings: Settings, found: catalog.Catalog, kind: str, now: datetime) -> dict[str, Any]:
    """The newest off-site copy of `kind` as this host's manifests record it (status never asks the bucket: it is
    the HEALTHCHECK), and whether it lags by more than BACKUP_MAX_AGE_HOURS."""
    from afirgen_backup.offsite.copies import is_copied

    assert settings.offsite is not None
    copied = [b for b in found.of_kind(kind) if is_copied(b, settings.offsite) and not b.in_future(now)]
    newest = copied[0] if copied else None
    limit = settings.max_age_hours * 3600.0
    if newest is None:
        missing = f"no off-site copy of a {kind} backup in {settings.offsite.url}"
        return {"kind": kind, "newest": None, "problem": missing}
    age = (now - newest.time).total_seconds()
    problem: str | None = None
    if age > limit:
        problem = (
            f"newest off-site {kind} copy is {format_age(age)} old (limit {settings.max_age_hours}h): "
            "see the last run's off-site error"
        )
    record = newest.offsite or {}
    return {
        "kind": kind,
        "newest": newest.name,
        "age_s": int(age),
        "url": record.get("url"),
        "uploaded_at": record.get("uploaded_at"),
        "encrypted": record.get("encrypted"),
        "problem": problem,
    }


def binlog_status(settings: Settings, found: catalog.Catalog, now: datetime) -> dict[str, Any] | None:
    """The binary log stream as its state file says (None where binlog-stream never ran): unhealthy when it has
    not written its state for STREAM_SILENT_S, when the archive last held all the server logged more than
    STREAM_LAG_LIMIT_S ago, or when a gap came after the newest good MySQL backup (no restore can cross it until
    a backup after it starts a new range)."""
    from afirgen_backup.sources.mysql.binlog_stream import read_state

    state, problem = read_state(settings)
    if state is None and problem is None:
        return None
    if state is None:
        return {"problems": [f"binlog-stream's state: {problem}"], "running": False}

    def moment(name: str) -> datetime | None:
        with contextlib.suppress(TypeError, ValueError):
            return datetime.fromisoformat(str(state.get(name))).astimezone(UTC)
        return None

    updated, current = moment("updated_at"), moment("current_as_of")
    running = (
        state.get("running") is True and updated is not None and (now - updated).total_seconds() <= STREAM_SILENT_S
    )
    lag = int((now - current).total_seconds()) if current is not None else None
    problems = []
    if not running:
        seen = f"last seen {format_age((now - updated).total_seconds())} ago" if updated else "never seen"
        problems.append(f"binlog-stream is not running ({seen}): point-in-time recovery stops at its last file")
    elif lag is None or lag > STREAM_LAG_LIMIT_S:
        behind = f"{format_age(lag)}" if lag is not None else "since it started"
        problems.append(f"the binary log archive has not caught up with the server for {behind}")
    newest = found.newest_good("mysql", now)
    for gap in state.get("gaps") or []:
        if not isinstance(gap, dict):
            continue
        with contextlib.suppress(TypeError, ValueError):
            detected = datetime.fromisoformat(str(gap.get("detected_at"))).astimezone(UTC)
            if newest is None or newest.time <= detected:
                problems.append(
                    f"binary log gap: the server purged {str(gap.get('missing_from'))[:80]} before it was archived "
                    f"(noticed {gap.get('detected_at')}); a MySQL backup taken now starts a new range"
                )
    return {
        "running": running,
        "current_file": state.get("current_file"),
        "current_as_of": state.get("current_as_of"),
        "lag_s": lag,
        "gaps": len(state.get("gaps") or []),
        "last_error": state.get("last_error"),
        "problems": problems,
    }


def failed_restore_tests(found: catalog.Catalog, kinds: tuple[str, ...]) -> list[str]:
    """Backups whose latest restore test failed: each stays a problem until a restore test of it passes (a plain
    verify or a restore does not clear it) or retention deletes it."""
    problems = []
    for entry in sorted(found.backups, key=lambda b: b.time):
        record = (entry.manifest or {}).get(catalog.RESTORE_TEST_KEY)
        if entry.kind in kinds and isinstance(record, dict) and record.get("ok") is False:
            detail = str(record.get("detail") or "see backup.log")[:300]
            problems.append(
                f"the restore test of {entry.name} failed at {record.get('time', '?')}: {detail}; "
                f"once fixed, run `backup_database.py verify --restore-test {entry.name}`"
            )
    return problems


def state_file_problems(settings: Settings) -> list[str]:
    """A link or other wrong kind of file where the lock, the log, safety/ or misdated/ goes (lstat only)."""
    expected = [
        (settings.backup_dir / LOCK_NAME, "a regular file"),
        (settings.log_file, "a regular file"),
        (settings.backup_dir / catalog.SAFETY_DIR_NAME, "a directory"),
        (settings.backup_dir / catalog.MISDATED_DIR_NAME, "a directory"),
    ]
    problems = []
    for path, wanted in expected:
        found = catalog.entry_kind(path)
        if found is not None and found != wanted:
            problems.append(f"{path} is {found}, not {wanted}: runs refuse it until it is removed")
    return problems


def snapshot_problems(
    snapshot: dict[str, Any] | None, unreadable: str | None, last_run: dict[str, Any] | None
) -> list[str]:
    """last_snapshot.json that cannot be read, or that says the last sessions snapshot failed after the last full
    run (a later full run backed sessions.db up again)."""
    if unreadable:
        return [unreadable]
    if snapshot is None or snapshot.get("outcome") != "failed" or not catalog.snapshot_supersedes(snapshot, last_run):
        return []
    return [f"last sessions snapshot failed: {snapshot.get('error') or 'see backup.log'}"]


def snapshot_schedule_status(settings: Settings, found: catalog.Catalog, now: datetime) -> dict[str, Any] | None:
    """With BACKUP_SESSIONS_SCHEDULE set: unhealthy once no sessions backup (a snapshot, or a full run's) was copied
    within Schedule.overdue_after (twice the schedule's longest interval plus SNAPSHOT_MARGIN_S), which a failed
    snapshot alone does not show: cron not running them, a snapshot given up waiting for the lock (exit 75), one
    killed before its record. While another command holds the lock (a long full run, a verify) the snapshots wait
    or give way by design: that is said, not unhealthy (the age limit still catches a run that never ends). No
    sessions backup at all is kind_status's problem, not this one."""
    schedule = settings.sessions_schedule
    if schedule is None or not settings.sessions_enabled:
        return None
    try:
        every = schedule.longest_gap().total_seconds()
    except NeverComes:
        never = f"BACKUP_SESSIONS_SCHEDULE ({schedule.text!r}) never comes: no sessions snapshot will ever run"
        return {"schedule": schedule.text, "every_s": None, "limit_s": None, "age_s": None, "problem": never}
    limit = schedule.overdue_after(timedelta(seconds=SNAPSHOT_MARGIN_S)).total_seconds()
    newest = found.newest_current("sessions", now)
    age = (now - copied_at(newest, now)).total_seconds() if newest is not None else None
    problem: str | None = None
    waiting: str | None = None
    if age is not None and age > limit:
        holder = current_holder(settings.backup_dir / LOCK_NAME)
        if holder is not None and holder[1] != SNAPSHOT_ROLE:
            pid = f"pid {holder[0]}" if holder[0] is not None else "pid unknown"
            waiting = f"the last {format_age(age)} a {holder[1] or 'command'} ({pid}) held the lock they wait for"
        else:
            problem = (
                f"no sessions backup for {format_age(age)}, although BACKUP_SESSIONS_SCHEDULE ({schedule.text!r}) "
                f"takes a snapshot at least every {format_age(every)} (limit {format_age(limit)}): is cron running "
                "them? backup.log says why a snapshot did not run"
            )
    return {
        "schedule": schedule.text,
        "every_s": int(every),
        "limit_s": int(limit),
        "age_s": int(age) if age is not None else None,
        "waiting": waiting,
        "problem": problem,
    }


def copied_at(entry: catalog.BackupEntry, now: datetime) -> datetime:
    """When a sessions backup was taken: a full run's files are named by the run's start, and sessions.db is copied
    after the dump, so its manifest's finished_at is nearer the truth. Trusted only between the name's time and
    now (a manifest is untrusted input)."""
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        finished = datetime.fromisoformat(str((entry.manifest or {}).get("finished_at"))).astimezone(UTC)
        if entry.time <= finished <= now:
            return finished
    return entry.time


def collect_status(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    max_age_s = settings.max_age_hours * 3600.0
    unreadable: str | None = None
    try:
        found = catalog.scan(settings.backup_dir)
    except BackupError as error:  # unreadable: every kind is unknown, and that is the one problem to name
        found, unreadable = catalog.Catalog([], [], []), str(error)
    kinds = [kind_status(found, kind, now, max_age_s) for kind in settings.enabled_kinds]
    last_run, record_problem = catalog.load_last_run(settings.backup_dir)
    problems = [unreadable] if unreadable else [k["problem"] for k in kinds if k["problem"]]
    if record_problem and not unreadable:
        problems.append(record_problem)
    if last_run and last_run.get("outcome") == "failed":
        problems.append(f"last run failed: {last_run.get('error') or 'see backup.log'}")
    last_snapshot, snapshot_problem = catalog.load_last_run(settings.backup_dir, snapshot=True)
    if settings.sessions_enabled and not unreadable:
        problems += snapshot_problems(last_snapshot, snapshot_problem, last_run)
    snapshots = snapshot_schedule_status(settings, found, now) if not unreadable else None
    if snapshots is not None and snapshots["problem"]:
        problems.append(snapshots["problem"])
    offsite = None
    if settings.offsite is not None and not unreadable:
        offsite = [offsite_status(settings, found, kind, now) for kind in settings.enabled_kinds]
        problems += [copy["problem"] for copy in offsite if copy["problem"]]
    if not unreadable:
        problems += failed_restore_tests(found, settings.enabled_kinds)
        problems += state_file_problems(settings)
    binlog = binlog_status(settings, found, now) if settings.mysql_enabled and not unreadable else None
    if binlog is not None:
        problems += binlog["problems"]
    files, total = measure_directory(settings.backup_dir)
    future_dated = [name for k in kinds for name in k.get("future_dated", [])]
    return {
        "healthy": not problems,
        "checked_at": now.isoformat(timespec="seconds"),
        "max_age_hours": settings.max_age_hours,
        "kinds": kinds,
        "offsite": offsite,
        "binlog": binlog,
        "last_run": last_run,
        "last_run_problem": record_problem,
        "last_snapshot": last_snapshot,
        "last_snapshot_problem": snapshot_problem,
        "snapshot_schedule": snapshots,
        "backup_dir": {
            "path": str(settings.backup_dir),
            "files": files,
            "size": total,
            "free": free_space(settings.backup_dir),
        },
        "problems": problems,
        "future_dated": {"files": future_dated, "command": FUTURE_DATED_COMMAND} if future_dated else None,
    }


def render_status(status: dict[str, Any]) -> str:
    lines = []
    for kind in status["kinds"]:
        if kind["newest"] is None:
            lines.append(f"{kind['kind']}: NO GOOD BACKUP")
            continue
        lines.append(
            f"{kind['kind']}: {kind['newest']}, {format_age(kind['age_s'])} old, {format_size(kind['size'])}, "
            f"{describe_verification(kind['verification'])}"
        )
    for copy in status.get("offsite") or []:
        if copy["newest"] is None:
            lines.append(f"{copy['kind']} off-site: NO COPY")
        else:
            how = "age-encrypted" if copy.get("encrypted") else "in the clear"
            lines.append(f"{copy['kind']} off-site: {copy['newest']}, {format_age(copy['age_s'])} old, {how}")
    binlog = status.get("binlog")
    if binlog is not None:
        if binlog["running"]:
            lag = f"{format_age(binlog['lag_s'])} behind" if binlog.get("lag_s") is not None else "not caught up yet"
            lines.append(f"binlog: streaming {binlog.get('current_file')}, {lag}")
        else:
            lines.append("binlog: NOT STREAMING")
    last = status["last_run"]
    if last is None:
        lines.append("last run: unknown" if status["last_run_problem"] else "last run: none recorded")
    else:
        error = f": {last['error']}" if last.get("error") else ""
        lines.append(f"last run: {last.get('outcome')} (started {last.get('started_at')}){error}")
    snapshot = status.get("last_snapshot")
    if snapshot is not None:
        error = f": {snapshot['error']}" if snapshot.get("error") else ""
        lines.append(f"last sessions snapshot: {snapshot.get('outcome')} (started {snapshot.get('started_at')}){error}")
    snapshots = status.get("snapshot_schedule")
    if snapshots is not None and snapshots["every_s"] is not None:
        lines.append(
            f"sessions snapshots: {snapshots['schedule']!r}, at most {format_age(snapshots['every_s'])} apart; "
            f"unhealthy when the newest sessions backup is older than {format_age(snapshots['limit_s'])}"
            + (f"; waiting: {snapshots['waiting']}" if snapshots.get("waiting") else "")
        )
    for kind in status["kinds"]:
        if kind.get("latest"):
            lines.append(f"{kind['kind']}: latest (published last) is {kind['latest']}")
    future = status.get("future_dated")
    if future:
        waiting = [k["latest"] for k in status["kinds"] if k.get("latest") in k.get("future_dated", [])]
        lines.append(
            f"dated in the future: {', '.join(future['files'])}; once this host's clock is right, "
            f"`{future['command']}` moves them into BACKUP_DIR/{catalog.MISDATED_DIR_NAME}/ (kept, never pruned)"
            + "".join(f"; {name} only after the next backup (it is still the newest)" for name in waiting)
        )
    directory = status["backup_dir"]
    free = "unknown" if directory["free"] is None else format_size(directory["free"])
    lines.append(f"{directory['path']}: {directory['files']} files, {format_size(directory['size'])}, {free} free")
    if status["healthy"]:
        lines.append(f"healthy: every enabled kind has a good backup younger than {status['max_age_hours']}h")
    else:
        lines.append("UNHEALTHY: " + "; ".join(status["problems"]))
    return "\n".join(printable_line(line) for line in lines) + "\n"  # records' errors are BACKUP_DIR's words
