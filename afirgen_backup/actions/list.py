"""list: what BACKUP_DIR holds, newest first per kind.

Safety backups (taken before a restore overwrites a database) live in BACKUP_DIR/safety, and backups that were
dated in the future when `prune --future-dated` moved them live in BACKUP_DIR/misdated: each is listed in its own
group, can be named for a restore (`safety/<name>`, `misdated/<name>`: catalog/lookup.py), but is never
`latest` and never pruned by retention. Names in BACKUP_DIR that look like ours but are not regular files (links,
FIFOs, sockets, directories) are listed as such and never opened.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.display import describe_verification, format_age, format_size, shown_name, write_json
from afirgen_backup.errors import EXIT_OK, UsageError

GROUPS = (*catalog.KINDS, "safety", "misdated")
SIDE_GROUPS = {
    "safety": "safety backups (taken before a restore; never pruned, never 'latest')",
    "misdated": "misdated backups (dated in the future when prune --future-dated moved them; never pruned, "
    "never 'latest')",
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "list",
        help="list every backup, newest first per kind, with its age, size and last verification",
        description="List the backups in BACKUP_DIR (and the safety and misdated backups beside them).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--remote", action="store_true", help="list the off-site copies in BACKUP_S3_URL instead")
    shown.add_argument(
        "--binlog",
        action="store_true",
        help="list the binary log archive instead: the time ranges a restore --to-time can reach",
    )
    parser.set_defaults(handler=run, backup_dir_use="read")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    if args.remote:
        return run_remote(settings, args)
    if args.binlog:
        return run_binlog(settings, args)
    listing = collect_listing(settings.backup_dir)
    if args.json:
        write_json(listing)
    else:
        sys.stdout.write(render_listing(listing))
    return EXIT_OK


def entry_as_dict(entry: BackupEntry, now: datetime) -> dict[str, Any]:
    return {
        "name": entry.name,
        "sequence": entry.sequence,
        "kind": entry.kind,
        "path": str(entry.path),
        "time": entry.time.isoformat(),
        "age_s": int((now - entry.time).total_seconds()),
        "size": entry.size,
        "good": entry.good,
        "problem": entry.flaw,
        "in_future": entry.in_future(now),
        "verification": entry.verification,
        "restore_test": (entry.manifest or {}).get(catalog.RESTORE_TEST_KEY),
        "offsite": entry.offsite,
    }


def scan_side_directory(path: Path) -> tuple[catalog.Catalog, list[tuple[Path, str]]]:
    """The catalog of safety/ or misdated/; a link or other non-directory of that name is not followed."""
    info = catalog.entry_kind(path)
    if info is None or info == "a directory":
        return catalog.scan(path), []
    return catalog.Catalog([], [], []), [(path, info)]


def collect_listing(backup_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """Every backup grouped by kind (and the safety and misdated backups), newest first, with leftovers, orphans
    and the names that are not regular files."""
    now = now or datetime.now(UTC)
    main = catalog.scan(backup_dir)
    safety, strange_safety = scan_side_directory(catalog.safety_path(backup_dir))
    misdated, strange_misdated = scan_side_directory(catalog.misdated_path(backup_dir))
    groups: dict[str, list[dict[str, Any]]] = {
        kind: [entry_as_dict(e, now) for e in main.of_kind(kind)] for kind in catalog.KINDS
    }
    for group, side in (("safety", safety), ("misdated", misdated)):
        groups[group] = [entry_as_dict(e, now) for e in sorted(side.backups, key=lambda e: e.time, reverse=True)]
    strangers = main.strangers + strange_safety + safety.strangers + strange_misdated + misdated.strangers
    return {
        "backup_dir": str(backup_dir),
        "generated_at": now.isoformat(timespec="seconds"),
        "backups": groups,
        "partials": [str(p) for p in main.partials + safety.partials + misdated.partials],
        "orphan_manifests": [
            str(p) for p in main.orphan_manifests + safety.orphan_manifests + misdated.orphan_manifests
        ],
        "not_regular_files": [{"path": str(path), "is": what} for path, what in strangers],
    }


def render_listing(listing: dict[str, Any]) -> str:
    lines = [f"Backups in {listing['backup_dir']} (times in UTC, newest first)"]
    for group in GROUPS:
        entries = listing["backups"].get(group, [])
        title = SIDE_GROUPS.get(group, group)
        lines.append("")
        lines.append(f"{title}: {len(entries)}")
        for entry in entries:
            when = entry["time"].replace("+00:00", "Z")
            status = describe_verification(entry["verification"])
            if not entry["good"]:
                status = f"NOT USABLE: {status if entry['problem'] == catalog.VERIFY_FAILED else entry['problem']}"
            restore_test = entry.get("restore_test")
            if isinstance(restore_test, dict) and restore_test.get("ok") is False:
                status += f"; RESTORE TEST FAILED at {restore_test.get('time', '?')}"
            if isinstance(entry.get("offsite"), dict):
                status += "; copied off-site"
            if entry["in_future"] and entry["sequence"] is None:
                status += "; DATED IN THE FUTURE (never taken as the newest)"
            elif entry["in_future"]:
                status += f"; DATED IN THE FUTURE (sequence {entry['sequence']} says when it was published)"
            lines.append(
                f"  {entry['name']}  {when}  {format_age(entry['age_s']):>7} ago  {format_size(entry['size']):>9}  "
                f"{status}"
            )
    for path in listing["partials"]:
        lines.append(f"leftover from an interrupted run (removed by the next backup): {path}")
    for path in listing["orphan_manifests"]:
        lines.append(f"manifest without its backup file: {path}")
    for stranger in listing["not_regular_files"]:
        lines.append(f"not a regular file, never opened: {stranger['path']} ({stranger['is']})")
    return "\n".join(lines) + "\n"


def run_remote(settings: Settings, args: argparse.Namespace) -> int:
    from afirgen_backup.offsite.remote import scan_remote
    from afirgen_backup.offsite.store import Store

    if settings.offsite is None:
        raise UsageError("list --remote: off-site copies are off; allowed: set BACKUP_S3_URL to list its copies")
    store = Store(settings.offsite)
    with store.watched():
        remote = scan_remote(store)
    now = datetime.now(UTC)
    listing: dict[str, Any] = {
        "url": settings.offsite.url,
        "endpoint": settings.offsite.endpoint_url,
        "generated_at": now.isoformat(timespec="seconds"),
        "backups": {
            kind: [
                {
                    "name": b.name,
                    "time": b.time.isoformat(),
                    "age_s": int((now - b.time).total_seconds()),
                    "size": b.size,
                    "encrypted": b.encrypted,
                    "complete": b.good,
                    "key": b.data.key if b.data else None,
                    "manifest_key": b.manifest.key if b.manifest else None,
                }
                for b in remote.of_kind(kind)
            ]
            for kind in catalog.KINDS
        },
        "others": [item.key for item in remote.others],
    }
    if args.json:
        write_json(listing)
        return EXIT_OK
    lines = [f"Off-site copies in {store.where} (times in UTC, newest first)"]
    for kind, copies in listing["backups"].items():
        lines += ["", f"{kind}: {len(copies)}"]
        for copy in copies:
            state = "age-encrypted" if copy["encrypted"] else "in the clear"
            if not copy["complete"]:
                state += "; INCOMPLETE: " + ("no manifest" if copy["key"] else "no data object")
            when = copy["time"].replace("+00:00", "Z")
            lines.append(
                f"  {copy['name']}  {when}  {format_age(copy['age_s']):>7} ago  {format_size(copy['size']):>9}  {state}"
            )
    lines += [f"not a backup, left alone: {shown_name(key)}" for key in listing["others"]]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def run_binlog(settings: Settings, args: argparse.Namespace) -> int:
    from afirgen_backup.sources.mysql.binlog_replay import covered_ranges, stream_state

    ranges = covered_ranges(settings, catalog.scan(settings.backup_dir).of_kind("mysql"))
    gaps = [gap for gap in stream_state(settings).get("gaps") or [] if isinstance(gap, dict)]
    if args.json:
        write_json({"ranges": [covered.as_record() for covered in ranges], "gaps": gaps})
        return EXIT_OK
    lines = ["Binary log archive (times in UTC): what restore mysql --to-time can reach"]
    if not ranges:
        lines.append("  nothing archived (is binlog-stream running? docs/pitr.md)")
    for covered in ranges:
        end = covered.last_event or "?"
        if covered.streaming and covered.current_as_of:
            end = f"{covered.current_as_of} (streaming, current then)"
        elif covered.streaming:
            end = f"{end} (streaming)"
        files = covered.files[0] if len(covered.files) == 1 else f"{covered.files[0]} to {covered.files[-1]}"
        if covered.restorable_from:
            lines.append(f"  restorable from {covered.restorable_from} to {end}")
            lines.append(f"    {files}; dumps starting in it: {', '.join(covered.backups or [])}")
        else:
            lines.append(f"  {covered.first_event or '?'} to {end}: no good dump starts in it, not restorable")
            lines.append(f"    {files}")
    for gap in gaps:
        lines.append(
            f"  gap: {str(gap.get('missing_from'))[:80]} and what followed were purged by the server before they "
            f"were archived (noticed {gap.get('detected_at')}; the archive goes on at {gap.get('resumed_at')})"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
