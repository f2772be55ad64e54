"""verify: is a backup file what its manifest says, complete, and (optionally) loadable?

Checks, each named in the result: `manifest` (a readable manifest exists), `checksum` (sha256 and size),
`stream` (the gzip stream decodes to its end: a truncated or corrupt file fails here), and each source's own
(sources/*/verify.py): `trailer` (MySQL: the dump ends with `-- Dump completed`), `statements` (MySQL: every
statement is one a restore may run, read as the mysql client reads it, and the dump creates the objects the
manifest lists; a file changed after the backup, manifest recomputed or not, fails here), `integrity` (sessions:
PRAGMA integrity_check of the decompressed copy), `tables` (sessions: the tables and row counts the manifest
recorded) and, with --restore-test, `restore-test` (MySQL: the dump loads into a scratch database whose objects
and row counts match the manifest).

verify takes no lock: it only reads backup files, which never change once published, and a restore test
works on a scratch database of its own. So a scheduled backup is never turned away (exit 75) because a long
verify runs. The result is stored in the backup's manifest for `list` and `status` (checks.record_result).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from afirgen_backup import catalog, sources
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.checks import Check, Verification, record_result
from afirgen_backup.config import Settings
from afirgen_backup.display import write_json
from afirgen_backup.errors import EXIT_FAILED, EXIT_OK, BackupError, UsageError, VerificationFailed, describe_error
from afirgen_backup.logs import get_logger

Tester = Callable[[BackupEntry], Check]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "verify",
        help="check backups: checksum, complete gzip stream, dump trailer and statements, SQLite integrity",
        description="Check backups against their manifests (default: the newest backup with a manifest of each "
        "enabled kind, damaged or not). Exit 0 only when every check passed. The result is stored in the manifest.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="backup file names (or paths) to verify")
    parser.add_argument("--all", action="store_true", help="verify every backup in BACKUP_DIR")
    parser.add_argument(
        "--restore-test",
        action="store_true",
        help="also load each MySQL dump into a scratch database <MYSQL_DB>_verify_<time>, compare it with the "
        "manifest, and drop it",
    )
    parser.add_argument(
        "--remote",
        action="store_true",
        help="verify the off-site copies instead: download (and decrypt) each, check it against the manifest that "
        "went with it, then as a local backup (default: the newest copy of each enabled kind)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (logs go to stderr)")
    parser.set_defaults(handler=run, backup_dir_use="write")


def run(settings: Settings, args: argparse.Namespace, run_id: str) -> int:
    if args.all and args.names:
        raise UsageError("verify: give backup names or --all, not both")
    # With --json, stdout carries only the JSON document: the log's console lines go to stderr meanwhile.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        if args.remote:
            results, problems = verify_remote(settings, args.names, args.all, args.restore_test)
        else:
            entries, problems = select_backups(settings, args.names, args.all)
            testers = restore_testers(settings, entries) if args.restore_test else {}
            results = [verify_backup(entry, testers.get(entry.kind)) for entry in entries]
        if settings.alerts.metrics_file is not None:  # its verification times are metrics too
            from afirgen_backup.alerts.hooks import write_metrics

            write_metrics(settings)
    failed = [r for r in results if not r.ok]
    ok = not failed and not problems and bool(results)
    if args.json:
        write_json(
            {
                "ok": ok,
                "problems": problems,
                "backups": [dict(r.as_record(), name=r.entry.name, path=str(r.entry.path)) for r in results],
            }
        )
        return EXIT_OK if ok else EXIT_FAILED
    for result in results:
        if result.ok:
            checks = ", ".join(check.name for check in result.checks)
            sys.stdout.write(f"ok      {result.entry.name} ({checks})\n")
        else:
            sys.stdout.write(f"FAILED  {result.entry.name}\n")
            for failure in result.failures:
                sys.stdout.write(f"        {failure}\n")
    for problem in problems:
        sys.stdout.write(f"FAILED  {problem}\n")
    if ok:
        sys.stdout.write(f"{len(results)} backup(s) verified ok\n")
        return EXIT_OK
    bad = [f"{r.entry.name} ({', '.join(f.split(':', 1)[0] for f in r.failures)})" for r in failed] + problems
    sys.stdout.write(f"verify failed: {'; '.join(bad) or 'no backup to verify'}\n")
    return EXIT_FAILED


def restore_testers(settings: Settings, entries: list[BackupEntry]) -> dict[str, Tester]:
    """The restore test of each kind among `entries` that has one (prepared once: the MySQL client is looked at
    before the first dump is read)."""
    testers = {}
    for kind in dict.fromkeys(entry.kind for entry in entries):
        tester = sources.by_kind(kind).restore_tester(settings)
        if tester is not None:
            testers[kind] = tester
    return testers


def verify_backup(entry: BackupEntry, restore_test: Tester | None = None) -> Verification:
    """Check one backup, and when its checks pass and a restore test is given, run that too."""
    log = get_logger()
    log.info("verify_started", file=entry.name, kind=entry.kind, restore_test=restore_test is not None)
    verification = Verification(entry, restore_test=restore_test is not None)
    try:
        verification.checks = sources.by_kind(entry.kind).check_file(entry)
        if restore_test is not None and verification.ok:
            verification.checks.append(restore_test(entry))
    except (OSError, pymysql.MySQLError) as error:
        # one line through cli.main (exit 1), not a traceback; the scratch database was dropped on the way out
        raise BackupError(f"cannot verify {entry.name}: {describe_error(error)}") from None
    record_result(verification)
    event = log.info if verification.ok else log.error
    event("verify_finished", file=entry.name, ok=verification.ok, failures=verification.failures)
    return verification


def select_backups(settings: Settings, names: list[str], every: bool) -> tuple[list[BackupEntry], list[str]]:
    """The backups to verify, and the problems found while choosing (a kind without any backup)."""
    if names:
        return [catalog.locate_backup(settings, name) for name in names], []
    found = catalog.scan(settings.backup_dir)
    if every:
        return sorted(found.backups, key=lambda e: (e.kind, e.time), reverse=True), []
    chosen, problems = [], []
    for kind in settings.enabled_kinds:
        newest = found.newest_published(kind)  # damaged or not: verify is how the damage is found and reported
        if newest is None:
            problems.append(f"no {kind} backup with a manifest in {settings.backup_dir}")
        else:
            chosen.append(newest)
    return chosen, problems


def record_remote_verification(settings: Settings, verification: Verification) -> None:
    """Keep the outcome in the local manifest's record of the copy (`offsite.verification`), when this host has
    the backup: the fetched copy's own manifest goes with its private directory."""
    from afirgen_backup.offsite.copies import is_copied

    assert settings.offsite is not None
    local = catalog.entry_for(settings.backup_dir / verification.entry.name)
    if isinstance(local, BackupEntry) and local.offsite is not None and is_copied(local, settings.offsite):
        record = {key: value for key, value in verification.as_record().items() if key != "checks"}
        catalog.record_offsite(local.path, dict(local.offsite, verification=record))


def verify_remote(
    settings: Settings, names: list[str], every: bool, restore_test: bool
) -> tuple[list[Verification], list[str]]:
    """Fetch each chosen off-site copy (offsite/fetch.py) and verify it; a copy whose object is not the one that
    was uploaded, or that cannot be decrypted, fails its `object` check."""
    from afirgen_backup.offsite.fetch import fetched
    from afirgen_backup.offsite.remote import scan_remote
    from afirgen_backup.offsite.store import Store

    if settings.offsite is None:
        raise UsageError("verify --remote: off-site copies are off; allowed: set BACKUP_S3_URL to verify its copies")
    store = Store(settings.offsite)
    with store.watched():
        remote = scan_remote(store)
    problems: list[str] = []
    if names:
        chosen = names
    elif every:
        ordered = sorted(remote.backups, key=lambda b: (b.kind, b.time), reverse=True)
        chosen = list(dict.fromkeys(copy.name for copy in ordered))
    else:
        chosen = []
        for kind in settings.enabled_kinds:
            if ahead := remote.ahead_of_the_clock(kind):
                get_logger().warning("remote_copies_in_the_future_skipped", files=ahead)
            newest = remote.newest_good(kind)
            if newest is None:
                problems.append(f"no complete {kind} copy in {store.where}")
            else:
                chosen.append(newest.name)
    results = []
    for name in chosen:
        try:
            with fetched(settings, name) as entry:
                testers = restore_testers(settings, [entry]) if restore_test else {}
                results.append(verify_backup(entry, testers.get(entry.kind)))
            record_remote_verification(settings, results[-1])
        except (VerificationFailed, UsageError) as error:
            if isinstance(error, UsageError) and names:  # a name given that is not there: the command's mistake
                raise
            # this copy only: damaged or changed in the bucket, or incomplete there
            parsed = catalog.parse_backup_name(name)
            placeholder = BackupEntry(parsed[0] if parsed else "?", name, Path(name), datetime.now(UTC), 0)
            failed = Verification(placeholder, [Check("object", False, str(error))])
            get_logger().error("verify_finished", file=name, remote=True, ok=False, failures=failed.failures)
            results.append(failed)
            if parsed is not None:
                record_remote_verification(settings, failed)
    return results, problems
