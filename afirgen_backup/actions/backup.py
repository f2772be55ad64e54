"""backup: one run backs up every enabled source, publishes each part with its manifest, then prunes.

`backup --sessions-snapshot` (the container's cron runs it on BACKUP_SESSIONS_SCHEDULE) is the frequent kind of
run: sessions.db only, its manifest marked as a snapshot (kept BACKUP_SESSIONS_SNAPSHOT_HOURS, never copied
off-site), pruning sessions backups only, and recorded in last_snapshot.json so that it never hides the outcome
of the last full run. When a full run holds the lock it waits for it, at most SNAPSHOT_LOCK_WAIT_S.

The run never names a database: it takes the enabled sources from the registry (sources/__init__.py) and asks
each for its part (sources/base.py: Source.back_up). A part that fails does not stop the other; the run's outcome
is recorded in BACKUP_DIR/last_run.json for `status`, whatever ends the run once it holds the lock, and every
step is logged with the run's id.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from afirgen_backup import catalog, cpu, process, sources
from afirgen_backup.actions import check_config
from afirgen_backup.actions.prune import prune_backups
from afirgen_backup.alerts import hooks
from afirgen_backup.config import Settings
from afirgen_backup.errors import (
    EXIT_FAILED,
    EXIT_OK,
    BackupError,
    CommandFailed,
    ConfigError,
    Interrupted,
    describe_error,
    describe_os_error,
)
from afirgen_backup.files import UnsafeFile
from afirgen_backup.leftovers import remove_leftovers
from afirgen_backup.lock import SNAPSHOT_ROLE, backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.copies import OffsiteResult, copy_offsite
from afirgen_backup.sources.base import BackupJob, PartResult, Watch, iso, unused_stamp

# How long a sessions snapshot waits for a full run that holds the lock: most full runs end within it; one that
# copies off-site for longer makes the snapshot give way (exit 75) rather than pile up behind it.
SNAPSHOT_LOCK_WAIT_S = 240
# How long a full run waits for a sessions snapshot that holds the lock, beyond the snapshot's own wait for a locked
# sessions.db (BACKUP_SESSIONS_LOCK_TIMEOUT): a snapshot takes seconds, and the scheduled run never gives way to it.
SNAPSHOT_RUN_BOUND_S = 300


def run_lock(settings: Settings, *, snapshot: bool) -> contextlib.AbstractContextManager[None]:
    """The lock on BACKUP_DIR for a run: a full run fails at once (exit 75) when another full run or a command
    holds it, but waits out a sessions snapshot; a snapshot waits for any holder, at most SNAPSHOT_LOCK_WAIT_S."""
    if snapshot:
        return backup_dir_lock(
            settings.backup_dir, wait_s=SNAPSHOT_LOCK_WAIT_S, role=SNAPSHOT_ROLE, snapshot_wait_s=SNAPSHOT_LOCK_WAIT_S
        )
    bound = settings.sessions_lock_timeout + SNAPSHOT_RUN_BOUND_S
    return backup_dir_lock(settings.backup_dir, role="run", snapshot_wait_s=bound)


def register(commands: Any) -> None:
    parser = commands.add_parser("backup", help="back up MySQL and sessions.db, then prune (the default)")
    parser.add_argument("--check", action="store_true", help="only validate the configuration, like check-config")
    parser.add_argument(
        "--sessions-snapshot",
        action="store_true",
        help="only a frequent snapshot of sessions.db (cron runs it on BACKUP_SESSIONS_SCHEDULE): kept "
        "BACKUP_SESSIONS_SNAPSHOT_HOURS, not copied off-site, recorded in last_snapshot.json; waits up to "
        f"{SNAPSHOT_LOCK_WAIT_S // 60} minutes for a running backup",
    )
    parser.set_defaults(handler=run, backup_dir_use="write")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    snapshot = bool(getattr(args, "sessions_snapshot", False))
    if snapshot and not settings.sessions_enabled:
        refusal = ConfigError(
            "backup --sessions-snapshot: BACKUP_SESSIONS_ENABLED is false, so there is no sessions.db to snapshot; "
            "allowed: enable sessions backups, or leave BACKUP_SESSIONS_SCHEDULE empty"
        )
        if not args.check:
            raise refusal  # a scheduled run: logged in backup.log too
        sys.stderr.write(f"error: {refusal}\n")  # the entrypoint's check at start: one line, as check-config's
        return refusal.exit_code
    if args.check:
        return check_config.run(settings, args, run_id)
    cpu.lower_priority(settings.nice)
    result = run_backup(settings, run_id, snapshot=snapshot)
    # A link (or FIFO ...) at last_run.json was not written through: the run is not recorded, so it fails.
    errors = [*result.errors, *filter(None, [catalog.last_run_refusal(settings.backup_dir, snapshot=snapshot)])]
    if not errors:
        return EXIT_OK
    for error in errors:
        sys.stderr.write(f"error: {error}\n")
    return max(EXIT_FAILED, result.exit_code)


@dataclass
class RunResult:
    run_id: str
    started_at: datetime
    parts: dict[str, PartResult] = field(default_factory=dict)
    prune_error: str | None = None  # retention could not delete some files (they are named in it)
    offsite: OffsiteResult | None = None  # what the off-site step did, when off-site copies are on
    offsite_error: str | None = None  # why an off-site copy failed (a kind's upload, a remote deletion)
    offsite_exit_code: int = 0  # 1, or 2 when a setting must change (credentials, bucket)
    snapshot: bool = False  # a frequent sessions snapshot (backup --sessions-snapshot)
    clock: float = field(default_factory=time.monotonic)  # for the duration: started_at is whole seconds

    @property
    def ok(self) -> bool:
        parts_ok = all(part.ok for part in self.parts.values())
        return parts_ok and self.prune_error is None and self.offsite_error is None

    @property
    def exit_code(self) -> int:
        """0 when every part, the off-site copies and retention succeeded, else the highest exit code of what
        failed (at least 1)."""
        if self.ok:
            return 0
        return max([1, self.offsite_exit_code, *(part.exit_code for part in self.parts.values() if not part.ok)])

    @property
    def errors(self) -> list[str]:
        """Every error of the run: each failed part's, the off-site copies', then retention's."""
        errors = [part.error for part in self.parts.values() if part.error]
        if self.offsite_error:
            errors.append(self.offsite_error)
        if self.prune_error:
            errors.append(self.prune_error)
        return errors


@contextlib.contextmanager
def cpu_yielder(settings: Settings) -> Iterator[cpu.Yielder | None]:
    """The CPU yielder of one run (cpu.py), watching what each enabled source says shows the application's
    activity; None when yielding is off or there is only one CPU."""
    if not settings.yield_cpu or cpu.cpus_to_keep(os.sched_getaffinity(0)) is None:
        yield None
        return
    watches: list[Watch] = [w for w in (s.activity(settings) for s in sources.enabled(settings)) if w is not None]
    yielder = cpu.Yielder(lambda: tuple(read() for read in watches))
    yielder.start()
    try:
        yield yielder
    finally:
        yielder.stop()
        for watch in watches:
            watch.close()


def describe_yield(yielder: cpu.Yielder | None) -> dict[str, Any] | None:
    if yielder is None:
        return None
    return {
        "times": yielder.confinements,
        "seconds": round(yielder.confined_seconds, 1),
        "cpus": sorted(yielder.keep or ()),
    }


def run_backup(settings: Settings, run_id: str, *, now: datetime | None = None, snapshot: bool = False) -> RunResult:
    """Back up every enabled kind under the lock, prune what may be pruned, record the outcome (with `snapshot`:
    a frequent sessions snapshot, see the module's docstring).

    Once the lock is held every run is recorded, however it ends: interrupted by a signal, or failed by an error
    outside the parts (a directory it cannot read, a bug), which is then raised on; an OSError as a BackupError
    that names it.
    """
    log = get_logger()
    with run_lock(settings, snapshot=snapshot):
        run = RunResult(run_id, now or datetime.now(UTC).replace(microsecond=0), snapshot=snapshot)
        kinds = ["sessions"] if snapshot else list(settings.enabled_kinds)
        log.info("backup_started", kinds=kinds, backup_dir=str(settings.backup_dir), sessions_snapshot=snapshot)
        if not snapshot:  # the start ping times a scheduled run; the snapshots in between would blur it
            hooks.run_started(settings, run_id)
        try:
            cpu_yield = back_up_and_prune(settings, run, pick_stamp=now is None)
        except Interrupted as interruption:
            record_run(settings, run, outcome="interrupted", error=str(interruption))
            log.error("backup_interrupted", reason=str(interruption))
            tell_alerts(settings, run, "interrupted", str(interruption))
            raise
        except Exception as error:
            message = f"backup failed: {describe_error(error, settings.backup_dir)}"
            record_run(settings, run, outcome="failed", error="; ".join([*run.errors, message]))
            log.error("backup_finished", outcome="failed", error=message, **run_totals(run))
            tell_alerts(settings, run, "failed", "; ".join([*run.errors, message]))
            if isinstance(error, OSError):
                raise BackupError(message) from error
            raise
        outcome = "success" if run.ok else "failed"
        record_run(settings, run, outcome=outcome, error="; ".join(run.errors) or None)
        log.info("backup_finished", outcome=outcome, **run_totals(run), cpu_yield=cpu_yield)
        tell_alerts(settings, run, outcome, "; ".join(run.errors) or None)
        return run


def tell_alerts(settings: Settings, run: RunResult, outcome: str, error: str | None) -> None:
    """The run's end to the alert channels (alerts/hooks.py); nothing they do changes the run's outcome."""
    parts = {kind: (part.ok, part.error) for kind, part in run.parts.items()}
    if run.offsite_error:
        parts["offsite"] = (False, run.offsite_error)
    try:
        hooks.run_finished(settings, hooks.RunSummary(run.run_id, outcome, error, parts, snapshot=run.snapshot))
    except Exception as failure:  # noqa: BLE001 - a bug in a channel must not turn a backup into a failure
        get_logger().error("alerts_failed", error=f"{type(failure).__name__}: {failure}")


def back_up_and_prune(settings: Settings, run: RunResult, *, pick_stamp: bool) -> dict[str, Any] | None:
    """The steps of a run under the lock; returns what the CPU yielder did (describe_yield)."""
    if pick_stamp:
        run.started_at = unused_stamp(settings.backup_dir)
    removed = remove_leftovers(settings.backup_dir)
    if removed:
        get_logger().warning("removed_leftovers", files=removed)
    if run.snapshot:
        job = BackupJob(settings, run.started_at, run.run_id, snapshot=True)
        run_part(job, run, sources.by_kind("sessions"))
        failed = [kind for kind, part in run.parts.items() if not part.ok]
        run.prune_error = prune_backups(settings, skip_kinds=failed, only_kinds=("sessions",)).error
        return None
    with cpu_yielder(settings) as yielder:
        job = BackupJob(settings, run.started_at, run.run_id, yielder)
        for source in sources.enabled(settings):
            run_part(job, run, source)
    failed = [kind for kind, part in run.parts.items() if not part.ok]
    if settings.offsite is not None:
        copy_offsite_step(settings, run, failed)
    run.prune_error = prune_backups(settings, skip_kinds=failed).error
    return describe_yield(yielder)


def copy_offsite_step(settings: Settings, run: RunResult, failed: list[str]) -> None:
    """Upload what is not off-site yet, then prune the remote copies (offsite/copies.py). A failure is the run's
    (exit 1, or 2 for a setting) and never stops the local retention that follows."""
    log = get_logger(part="offsite")
    try:
        run.offsite = copy_offsite(settings, run.started_at, skip_kinds=failed)
    except Interrupted:
        raise
    except (BackupError, OSError) as error:
        if (interruption := process.interrupted_instead(error)) is not None:
            raise interruption from error
        run.offsite_error = f"off-site copy failed: {describe_error(error, settings.backup_dir)}"
        run.offsite_exit_code = error.exit_code if isinstance(error, BackupError) else 1
        log.error("offsite_failed", error=run.offsite_error)
        return
    except Exception as error:  # noqa: BLE001 - a library's surprise fails the copy, never the local retention
        if (interruption := process.interrupted_instead(error)) is not None:
            raise interruption from error
        run.offsite_error = f"off-site copy failed: {type(error).__name__}: {str(error)[:300]}"
        run.offsite_exit_code = 1
        log.error("offsite_failed", error=run.offsite_error)
        return
    run.offsite_error = run.offsite.error
    run.offsite_exit_code = 1 if run.offsite_error else 0
    log.info(
        "offsite_finished",
        uploaded=run.offsite.uploaded,
        failed=sorted(run.offsite.failures),
        damaged=sorted(run.offsite.damaged),
        pruned=run.offsite.pruned,
        aborted_uploads=run.offsite.aborted,
    )


def run_totals(run: RunResult) -> dict[str, Any]:
    return {
        "files": [part.file for part in run.parts.values() if part.file],
        "total_size": sum(part.size for part in run.parts.values()),
        "duration_s": round(time.monotonic() - run.clock, 3),
    }


def run_part(job: BackupJob, run: RunResult, source: sources.Source) -> None:
    clock = time.monotonic()
    kind = source.kind
    try:
        run.parts[kind] = source.back_up(job)
        if process.received is not None:  # a signal whose Interrupted was lost on the way: stop all the same
            raise Interrupted(process.received)
    except Interrupted:
        raise
    except Exception as error:  # noqa: BLE001 - one part's failure must not stop the other
        if (interruption := process.interrupted_instead(error)) is not None:
            raise interruption from error
        message = f"{kind} backup failed: {describe_error(error, job.settings.backup_dir)}"
        code = error.exit_code if isinstance(error, BackupError) else 1
        run.parts[kind] = PartResult(kind, False, error=message, duration_s=time.monotonic() - clock, exit_code=code)
        details = {"stderr_tail": error.stderr_tail} if isinstance(error, CommandFailed) else {}
        get_logger().error("part_failed", part=kind, error=message, **details)


def record_run(settings: Settings, run: RunResult, *, outcome: str, error: str | None) -> None:
    """Write BACKUP_DIR/last_run.json for `status`.

    When it cannot be written (a full disk), the previous record must not go on speaking for this run: this
    record is written over it in place (catalog.overwrite_last_run: that needs no new block); failing that, it
    is removed (an unlink needs no space, and frees some) and the write is tried once more. If that fails too
    there is no record, which `status` shows as none recorded, never as the previous run's success.
    """
    record: dict[str, Any] = {
        "run_id": run.run_id,
        "started_at": iso(run.started_at),
        "finished_at": iso(datetime.now(UTC)),
        "outcome": outcome,
        "error": error,
        "record_sequence": catalog.next_record_sequence(settings.backup_dir),
        "parts": {
            kind: {"ok": part.ok, "file": part.file, "error": part.error, "size": part.size}
            for kind, part in run.parts.items()
        },
    }
    if run.snapshot:
        record["sessions_snapshot"] = True
    if run.prune_error:
        record["prune_error"] = run.prune_error
    if run.offsite is not None or run.offsite_error:
        record["offsite"] = {
            "ok": run.offsite_error is None,
            "uploaded": run.offsite.uploaded if run.offsite else [],
            "error": run.offsite_error,
        }
    log = get_logger()
    directory, snapshot = settings.backup_dir, run.snapshot
    try:
        catalog.write_last_run(directory, record, snapshot=snapshot)
        return
    except UnsafeFile as refusal:  # a link (or FIFO ...) at last_run.json: never written through, never removed
        log.error("cannot_record_run", error=str(refusal))
        return
    except OSError as failure:
        first = describe_os_error(failure)
    if catalog.overwrite_last_run(directory, record, snapshot=snapshot):
        log.warning("run_recorded_in_place", error=first)
        return
    previous = catalog.last_run_path(directory, snapshot=snapshot)
    try:
        with contextlib.suppress(FileNotFoundError):
            previous.unlink()
    except OSError as failure:
        log.error("cannot_record_run", error=first, removing_previous_record=describe_os_error(failure))
        return
    try:
        catalog.write_last_run(directory, record, snapshot=snapshot)
    except OSError as failure:
        log.error("cannot_record_run", error=first, retry=describe_os_error(failure), previous_record="removed")
        return
    log.warning("run_recorded_on_retry", error=first, previous_record="removed")
