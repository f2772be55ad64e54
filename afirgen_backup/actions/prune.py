"""prune: apply the retention policy to BACKUP_DIR (or, with --dry-run, only say what it would delete).

A file that cannot be deleted (no permission, an I/O error, a directory where a manifest should be) is logged
as `prune_failed` and left; the others are still pruned, and the result names every failure.

prune --future-dated deletes nothing: it moves every backup dated in the future, with its manifest, into
BACKUP_DIR/misdated/ (never pruned, never `latest`, listed in its own group, restorable as `misdated/<name>`),
so that `status` stops counting it once the clock is right. It leaves in place a backup that is still the
newest good one of its kind by sequence (moving it would make `latest` older data): after the next backup it
can be moved too. A name already taken in misdated/ is never written over.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog, process
from afirgen_backup.config import Settings
from afirgen_backup.display import format_age
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, describe_os_error
from afirgen_backup.files import fsync_directory, require_directory_or_absent
from afirgen_backup.lock import backup_dir_lock
from afirgen_backup.logs import get_logger
from afirgen_backup.retention import Decision, RetentionPolicy, plan_retention


def register(commands: Any) -> None:
    parser = commands.add_parser("prune", help="delete backups that the retention policy no longer keeps")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be deleted (or moved)")
    parser.add_argument(
        "--future-dated",
        action="store_true",
        help="delete nothing: move backups dated in the future (and their manifests) into BACKUP_DIR/misdated/, "
        "where they are kept, listed, never pruned and never 'latest'",
    )
    parser.set_defaults(handler=run, backup_dir_use="write")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    if args.future_dated:
        return run_future_dated(settings, args)
    with backup_dir_lock(settings.backup_dir):
        # A kind whose last scheduled backup failed keeps every old copy, as it does in that run's own prune.
        failing = catalog.failing_kinds(settings.backup_dir)
        result = prune_backups(settings, dry_run=args.dry_run, skip_kinds=failing)
    verb = "would delete" if args.dry_run else "deleted"
    doomed = [d for d in result.decisions if d.delete and (args.dry_run or d.backup.name in result.deleted)]
    for decision in doomed:
        sys.stdout.write(f"{verb} {decision.backup.name} ({decision.reason})\n")
    kept = sum(1 for d in result.decisions if not d.delete)
    failed = f", {len(result.failures)} could not be deleted" if result.failures else ""
    sys.stdout.write(f"{len(doomed)} {verb}, {kept} kept{failed}\n")
    if result.binlogs:
        sys.stdout.write(
            f"{verb} {len(result.binlogs)} archived binary log file(s) no kept backup needs: "
            f"{', '.join(result.binlogs)}\n"
        )
    if result.error:
        sys.stderr.write(f"error: {result.error}\n")
        return EXIT_FAILED
    return EXIT_OK


def run_future_dated(settings: Settings, args: argparse.Namespace) -> int:
    with backup_dir_lock(settings.backup_dir):
        result = move_future_dated(settings, dry_run=args.dry_run)
    verb = "would move" if args.dry_run else "moved"
    for name, why in result.moved.items():
        sys.stdout.write(f"{verb} {name} to {catalog.MISDATED_DIR_NAME}/ ({why})\n")
    sys.stdout.write(f"{len(result.moved)} {verb} to {catalog.misdated_path(settings.backup_dir)}\n")
    if result.error:
        sys.stderr.write(f"error: {result.error}\n")
        return EXIT_FAILED
    return EXIT_OK


@dataclass
class PruneResult:
    decisions: list[Decision]
    deleted: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # file name -> why it could not be deleted
    binlogs: list[str] = field(default_factory=list)  # archived binary log files deleted (or, dry run, to delete)

    @property
    def error(self) -> str | None:
        """One line naming every file that could not be deleted, or None when there is none."""
        if not self.failures:
            return None
        files = "; ".join(f"{name} ({reason})" for name, reason in self.failures.items())
        return f"prune could not delete {files}"


def prune_backups(
    settings: Settings,
    *,
    dry_run: bool = False,
    skip_kinds: Collection[str] = (),
    only_kinds: Collection[str] | None = None,
    now: datetime | None = None,
) -> PruneResult:
    """Delete what the policy says (backup file, then its manifest); return every decision and every failure.

    `only_kinds`: the kinds to prune (a sessions snapshot prunes sessions backups only), None for all of them and
    the binary log archive."""
    log = get_logger()
    now = now or datetime.now(UTC)
    found = catalog.scan(settings.backup_dir)
    policy = RetentionPolicy(settings.retention_days, settings.keep_last, settings.sessions_snapshot_hours)
    candidates = [b for b in found.backups if only_kinds is None or b.kind in only_kinds]
    result = PruneResult(plan_retention(candidates, policy, now, skip_kinds=skip_kinds))
    removed_any = False
    for decision in result.decisions:
        if not decision.delete:
            continue
        backup = found.find(decision.backup.name)
        assert backup is not None
        if dry_run:
            log.info("prune_would_delete", file=backup.name, reason=decision.reason)
            continue
        gone = delete_with_manifest(backup.path, result, reason=decision.reason)
        removed_any = removed_any or gone > 0
        if gone == 2:
            result.deleted.append(backup.name)
            log.info("pruned", file=backup.name, reason=decision.reason)
    if removed_any:
        fsync_directory(settings.backup_dir)
    if only_kinds is None or "mysql" in only_kinds:
        kept = [
            b
            for b in found.of_kind("mysql")
            if b.name not in result.deleted and not (dry_run and planned_for_deletion(b, result))
        ]
        prune_binlog_archive(settings, kept, result, dry_run=dry_run)
    log.info(
        "prune_finished" if not dry_run else "prune_dry_run",
        deleted=len(result.deleted),
        would_delete=sum(1 for d in result.decisions if d.delete) if dry_run else 0,
        failed=len(result.failures),
        kept=sum(1 for d in result.decisions if not d.delete),
        skipped_kinds=sorted(skip_kinds),
    )
    return result


def delete_with_manifest(path: Path, result: PruneResult, **fields: Any) -> int:
    """Delete a file, then its manifest (never a file left without its manifest); how many of the two went. A
    failure stops there: it is logged (`prune_failed`, with `fields`) and kept in `result.failures`."""
    gone = 0
    for victim in (path, catalog.manifest_path(path)):
        try:
            with contextlib.suppress(FileNotFoundError):
                victim.unlink()
        except OSError as error:
            result.failures[victim.name] = error.strerror or str(error)
            get_logger().error("prune_failed", file=victim.name, error=describe_os_error(error), **fields)
            break
        gone += 1
    return gone


def planned_for_deletion(backup: catalog.BackupEntry, result: PruneResult) -> bool:
    return any(d.delete and d.backup.name == backup.name for d in result.decisions)


def prune_binlog_archive(
    settings: Settings, kept: list[catalog.BackupEntry], result: PruneResult, *, dry_run: bool
) -> None:
    """Delete the archived binary log files that no kept MySQL backup needs: those before the coordinates of the
    oldest kept good dump that records some. With none that does, nothing goes (nothing says what is needed)."""
    from afirgen_backup.sources.mysql.binlog_archive import archive_dir, files_before
    from afirgen_backup.sources.mysql.binlog_replay import recorded_coordinates

    starts = [(c[2], c[0]) for b in kept if b.good and (c := recorded_coordinates(b)) is not None]
    if not starts:
        return
    first_needed = min(starts)[1]
    log = get_logger(part="binlog")
    for item in files_before(settings.backup_dir, first_needed):
        if dry_run:
            result.binlogs.append(item.name)
            log.info("binlog_prune_would_delete", file=item.path.name, needed_from=first_needed)
            continue
        if delete_with_manifest(item.path, result) == 2:
            result.binlogs.append(item.name)
            log.info("binlog_pruned", file=item.path.name, needed_from=first_needed)
    if result.binlogs and not dry_run:
        fsync_directory(archive_dir(settings.backup_dir))


@dataclass
class MoveResult:
    """What prune --future-dated did (or, in a dry run, would do): file name -> why."""

    moved: dict[str, str] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)  # left in place on purpose, or because the move failed

    @property
    def error(self) -> str | None:
        if not self.left:
            return None
        return "left in place: " + "; ".join(f"{name} ({why})" for name, why in self.left.items())


def move_future_dated(settings: Settings, *, dry_run: bool = False, now: datetime | None = None) -> MoveResult:
    """Move backups dated in the future, with their manifests, into BACKUP_DIR/misdated/ (call it under the lock)."""
    log = get_logger()
    now = now or datetime.now(UTC)
    found = catalog.scan(settings.backup_dir)
    result = MoveResult()
    planned: list[catalog.BackupEntry] = []
    for kind in catalog.KINDS:
        newest = found.newest_good(kind, now)
        for entry in found.in_future(kind, now):
            ahead = f"dated {format_age((entry.time - now).total_seconds())} in the future"
            if entry is newest:
                result.left[entry.name] = (
                    f"{ahead}, but it is the newest good {kind} backup (published last, sequence {entry.sequence}): "
                    "take a backup first, then run prune --future-dated again"
                )
            else:
                planned.append(entry)
                result.moved[entry.name] = ahead
    target = catalog.misdated_path(settings.backup_dir)
    stranded = [
        m
        for m in found.orphan_manifests
        if catalog.is_real_directory(target) and catalog.is_regular_file(target / backup_of(m))
    ]
    if dry_run or not (planned or stranded):
        for name, why in result.moved.items():
            log.info("would_move_future_dated", file=name, reason=why)
        return result
    with directory_fd(settings.backup_dir) as source, misdated_directory_fd(target) as destination:
        for manifest in stranded:  # a move cut short by a crash: the manifest follows its backup
            move_names(source, destination, [manifest.name], result, backup_of(manifest))
        for entry in planned:
            names = [entry.name]
            if catalog.is_regular_file(catalog.manifest_path(entry.path)):
                names.append(catalog.manifest_path(entry.path).name)
            if move_names(source, destination, names, result, entry.name):
                log.info("moved_future_dated", file=entry.name, to=str(target), reason=result.moved[entry.name])
        os.fsync(destination)
        os.fsync(source)
    return result


def backup_of(manifest: Path) -> str:
    return manifest.name[: -len(catalog.MANIFEST_SUFFIX)]


def move_names(source: int, destination: int, names: list[str], result: MoveResult, backup: str) -> bool:
    """Rename `names` from BACKUP_DIR into misdated/ (directory fds: no link on the way is followed), never over
    an existing name; False, with the reason in result.left, when they were not moved."""
    taken = [name for name in names if exists_at(destination, name)]
    if taken:
        result.moved.pop(backup, None)
        result.left[backup] = f"{catalog.MISDATED_DIR_NAME}/{taken[0]} exists already"
        return False
    try:
        with process.signals_deferred():  # a backup and its manifest move together
            for name in names:
                os.rename(name, name, src_dir_fd=source, dst_dir_fd=destination)
    except OSError as error:
        result.moved.pop(backup, None)
        result.left[backup] = describe_os_error(error)
        get_logger().error("move_failed", file=backup, error=describe_os_error(error))
        return False
    return True


def exists_at(directory: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def directory_fd(path: Path, flags: int = 0) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | flags)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def misdated_directory_fd(path: Path) -> Iterator[int]:
    """BACKUP_DIR/misdated, created private when missing; a link or anything else of that name is UnsafeFile."""
    if not require_directory_or_absent(path):
        with contextlib.suppress(FileExistsError):  # made meanwhile: the O_NOFOLLOW open below checks it
            path.mkdir(mode=0o700)
        fsync_directory(path.parent)
    with directory_fd(path, os.O_NOFOLLOW) as fd:
        yield fd
