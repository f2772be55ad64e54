"""What an interrupted or killed run leaves in BACKUP_DIR, and its removal at the start of the next run.

Every kind leaves the same things: `.partial` files, manifest and last_run.json temp files (files.temp_path's
names), and a manifest whose backup was never renamed into place (its `.partial` is still there). A source may
leave its own besides (sources/base.py: owns_leftover), such as the sessions copy's private directory, and so may
a fetch of an off-site copy (offsite/fetch.py). The same
is looked for in BACKUP_DIR/safety, where a restore writes its safety backup. What cannot be removed (a link, a
directory named like a leftover, a file we may not delete) is logged and left there: it never stops a backup.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Protocol

from afirgen_backup import catalog, sources
from afirgen_backup.errors import describe_os_error
from afirgen_backup.files import fsync_directory
from afirgen_backup.logs import get_logger
from afirgen_backup.publish import PARTIAL_SUFFIX

# files.temp_path's names: `.<name>.<pid>.<random>.tmp`, or `.<name>.<pid>.tmp` before the random part
MANIFEST_TEMP = re.compile(r"^\.(.+)\.json\.\d+(?:\.[0-9a-f]{8})?\.tmp$")


class LeftoverOwner(Protocol):
    def owns_leftover(self, name: str) -> bool: ...

    def remove_leftover(self, path: Path) -> None: ...


def owner_of(name: str) -> LeftoverOwner | None:
    """The source (or off-site fetch, or point-in-time replay) whose killed run leaves a file or directory of that
    name."""
    from afirgen_backup.offsite import fetch
    from afirgen_backup.sources.mysql import binlog_replay

    owners: list[LeftoverOwner] = [*sources.SOURCES, fetch, binlog_replay]  # type: ignore[list-item]  # modules
    return next((owner for owner in owners if owner.owns_leftover(name)), None)


def is_leftover(directory: Path, name: str) -> bool:
    if name.endswith(PARTIAL_SUFFIX):
        return catalog.parse_backup_name(name[: -len(PARTIAL_SUFFIX)]) is not None
    if owner_of(name) is not None:
        return True
    temp_manifest = MANIFEST_TEMP.match(name)
    if temp_manifest:
        stem = temp_manifest.group(1)
        records = tuple(name[: -len(".json")] for name in (*catalog.RECORD_NAMES, catalog.ALERTS_NAME))
        return stem in records or catalog.parse_backup_name(stem) is not None
    if name.endswith(catalog.MANIFEST_SUFFIX):
        backup = name[: -len(catalog.MANIFEST_SUFFIX)]
        return (
            catalog.parse_backup_name(backup) is not None
            and catalog.is_regular_file(directory / (backup + PARTIAL_SUFFIX))
            and not os.path.lexists(directory / backup)  # a published backup's manifest, whatever squats beside it
        )
    return False


def remove_leftovers(backup_dir: Path) -> list[str]:
    """Remove the leftovers in BACKUP_DIR and BACKUP_DIR/safety; the names removed, those in the safety
    directory as `safety/<name>`."""
    removed = remove_leftovers_in(backup_dir, backup_dir)
    safety = catalog.safety_path(backup_dir)
    what = catalog.entry_kind(safety)
    if what == "a directory":
        removed += remove_leftovers_in(safety, backup_dir)
    elif what is not None:  # a link named safety is not followed: what it points to is not ours
        get_logger().warning("leftovers_not_checked", directory=str(safety), error=f"it is {what}, not followed")
    return removed


def remove_leftovers_in(directory: Path, backup_dir: Path) -> list[str]:
    log = get_logger()
    try:
        # manifests before `.partial` files: whether a manifest is a leftover depends on its `.partial`
        entries = sorted(directory.iterdir(), key=lambda p: p.name.endswith(PARTIAL_SUFFIX))
    except OSError as error:
        log.warning("leftovers_not_checked", directory=str(directory), error=describe_os_error(error))
        return []
    removed = []
    for path in entries:
        if not is_leftover(directory, path.name):
            continue
        name = str(path.relative_to(backup_dir))
        what = catalog.entry_kind(path)
        if what not in (None, "a regular file", "a directory"):  # a link, a FIFO ...: not what a run leaves
            log.warning("leftover_not_removed", file=name, error=f"it is {what}, not a regular file: left in place")
            continue
        owner = owner_of(path.name)
        try:
            with contextlib.suppress(FileNotFoundError):
                if owner is not None:
                    owner.remove_leftover(path)
                else:
                    path.unlink()  # a directory fails here (EISDIR) and is left, named in the warning
        except OSError as error:
            log.warning("leftover_not_removed", file=name, error=describe_os_error(error))
            continue
        removed.append(name)
    if removed:
        with contextlib.suppress(OSError):  # they are gone; that it may not survive a crash changes nothing
            fsync_directory(directory)
    return removed
