"""Point-in-time recovery: the archived binary log replayed onto a restored dump, up to a time or a position.

A restore to a point picks the newest good dump whose snapshot came before it (the manifest's `binlog`
coordinates), loads it into a staging database as any restore does, and then replays the archive from those
coordinates: plan_replay finds the files (sealed ones, then the stream's raw files), refuses a gap, a missing
file, a broken chain of files and a point beyond what the archive holds; prepare_files copies them into a private
directory, each checked against its manifest; check_events reads every event that will be replayed and refuses
what a restore must not run; replay pipes the flavor's mysqlbinlog into the mysql client, rewritten to the
staging database. Only then does the staging database take the target's place.

The archive is untrusted input, as every file in BACKUP_DIR is: a binary log can hold any statement, for any
database. Replayed are only the events of the dumped database (mysqlbinlog --database, --rewrite-db), and among
them a statement event (the server writes rows as row events: binlog_format=ROW) must be transaction control or
a table's DDL that names no other database (QUERY_ALLOWED); anything else, and any event of a kind this module
does not know, stops the restore before anything is replayed. MySQL's mysqlbinlog filters by the name it rewrites
to, so there the log must hold nothing under the staging database's own name; and a transaction MySQL compressed
(TRANSACTION_PAYLOAD, binlog_transaction_compression) cannot be read to check it: refused.

Times: event timestamps are whole UTC seconds; `--to-time T` replays every event of second T and stops at the
first event after it (mysqlbinlog --stop-datetime=T+1s, run with TZ=UTC so that the client's zone shifts nothing).
A transaction cut by that point has no COMMIT in what is replayed and is rolled back when the client ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from afirgen_backup import process
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, ConfigError, UsageError, VerificationFailed
from afirgen_backup.files import READ_CHUNK, lstat_or_none, open_regular_for_reading, sha256_of_file
from afirgen_backup.names import database_name_problem
from afirgen_backup.publish import iter_gzip
from afirgen_backup.sources.mysql import binlog_archive
from afirgen_backup.sources.mysql.binlog_events import TABLE_MAP_EVENT, PreparedXa, check_event, check_not_on
from afirgen_backup.sources.mysql.binlog_file import (
    FORMAT_DESCRIPTION_EVENT,
    QUERY_EVENT,
    BinlogDamaged,
    BinlogFacts,
    EventScanner,
    binlog_sequence,
    open_binlog,
    read_binlog,
)
from afirgen_backup.sources.mysql.load import SKIP_BINLOG, LoadClient, may_skip_binlog
from afirgen_backup.sources.mysql.server import Flavor, connect, detect_binlog_client
from afirgen_backup.sources.mysql.targets import build_load_argv
from afirgen_backup.sources.mysql.verify import source_of

WORKDIR_PREFIX = ".pitr-"  # then the pid and a random part: BACKUP_DIR/.pitr-<pid>-xxxx, removed afterwards


class PointInTimeUnreachable(VerificationFailed):
    """The archive cannot bring a restore to the point asked for (a gap, a missing file, not that far)."""


@dataclass(frozen=True)
class Point:
    """Where a restore stops: after every event of second `time` (UTC), or at `position` in `file` (for a GTID,
    binlog_gtid.gtid_point: right after its transaction)."""

    time: datetime | None = None
    file: str | None = None
    position: int | None = None
    gtid: str | None = None

    def describe(self) -> str:
        if self.time is not None:
            return self.time.strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.gtid is not None:
            return f"GTID {self.gtid} (up to {self.file}:{self.position})"
        return f"{self.file}:{self.position}"


@dataclass(frozen=True)
class ReplayFile:
    name: str
    path: Path
    sealed: bool  # a .gz with a manifest; else a raw file of the stream (the newest may still be written)
    manifest: dict[str, Any] | None = None
    whole_bytes: int = 0  # of a raw file: how far its whole events went when the plan read it


@dataclass(frozen=True)
class ReplayPlan:
    start_file: str
    start_position: int
    files: tuple[ReplayFile, ...]
    point: Point
    reaches: str  # what the archive holds up to, in words
    current_until: datetime | None = None  # the stream, running, had written all the server sent until then


def parse_point_in_time(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (UTC) or with an offset or `Z` (`...+05:30`, `...Z`); a `T` may stand for the space."""
    allowed = "allowed: 'YYYY-MM-DD HH:MM:SS' (UTC), optionally with a zone offset such as +05:30 or Z"
    cleaned = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?", cleaned):
        raise UsageError(f"--to-time {text[:60]!r} is not a point in time; {allowed}")
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--to-time {text[:60]!r} is no such time; {allowed}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_position(text: str) -> tuple[str, int]:
    allowed = "allowed: FILE:POSITION, a binary log file and a position in it, e.g. mysql-bin.000042:1234"
    name, _, number = text.strip().rpartition(":")
    if binlog_sequence(name) is None or not number.isdigit() or int(number) < 4:
        raise UsageError(f"--to-position {text[:80]!r} is not a binary log position; {allowed}")
    return name, int(number)


def recorded_coordinates(entry: BackupEntry) -> tuple[str, int, datetime] | None:
    """(file, position, snapshot_before) a dump's manifest records, when they are well formed."""
    record = (entry.manifest or {}).get("binlog")
    if not isinstance(record, dict):
        return None
    name, position, before = record.get("file"), record.get("position"), record.get("snapshot_before")
    if not isinstance(name, str) or binlog_sequence(name) is None:
        return None
    if not isinstance(position, int) or isinstance(position, bool) or position < 4 or not isinstance(before, str):
        return None
    try:
        moment = datetime.fromisoformat(before)
    except ValueError:
        return None
    return name, position, moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def choose_backup(entries: list[BackupEntry], point: Point) -> BackupEntry:
    """The newest good dump with binary log coordinates from before the point."""
    candidates = []
    for entry in entries:
        coordinates = recorded_coordinates(entry)
        if not entry.good or coordinates is None:
            continue
        name, position, before = coordinates
        if point.time is not None and before >= point.time + timedelta(seconds=1):
            continue
        if point.file is not None and point.position is not None:
            here, there = binlog_sequence(name), binlog_sequence(point.file)
            if here is None or there is None or (here, position) > (there, point.position):
                continue
        candidates.append((before, entry))
    if not candidates:
        raise PointInTimeUnreachable(
            f"no good MySQL backup with binary log coordinates was taken before {point.describe()}: a restore to "
            "that point needs one (backups record them while the server writes a binary log)"
        )
    return max(candidates, key=lambda found: found[0])[1]


def plan_replay(settings: Settings, start_file: str, start_position: int, point: Point) -> ReplayPlan:
    """The archive's files from `start_file` on, in order, up to the point; PointInTimeUnreachable when it does
    not hold all of them or does not reach the point."""
    start_sequence = binlog_sequence(start_file)
    assert start_sequence is not None
    state = stream_state(settings)
    try:
        files = archive_files(settings.backup_dir, start_file, point)
    except PointInTimeUnreachable:
        check_gaps(state, start_sequence, None)  # a recorded gap is why a file is missing: say that
        raise
    check_gaps(state, start_sequence, binlog_sequence(files[-1].name))
    current_until = None
    if not files[-1].sealed and state.get("current_file") == files[-1].name:
        with contextlib.suppress(TypeError, ValueError):  # the stream found the archive as long as the server's log
            current_until = datetime.fromisoformat(str(state.get("current_as_of"))).astimezone(UTC)
    return ReplayPlan(start_file, start_position, tuple(files), point, describe_end(files), current_until)


def archive_files(backup_dir: Path, start_file: str, point: Point) -> list[ReplayFile]:
    """The chain of files from `start_file` on: sealed ones, each naming the next, then the stream's raw file."""
    sealed, _problems = binlog_archive.scan_archive(backup_dir)
    start_sequence = binlog_sequence(start_file)
    assert start_sequence is not None
    refuse_twins(backup_dir, start_sequence)
    files: list[ReplayFile] = []
    expected = start_file
    last_gtid: object = None
    for item in sealed:
        if item.sequence < start_sequence:
            continue
        if item.name != expected:
            raise PointInTimeUnreachable(f"the binary log archive has no {expected} (next there: {item.name})")
        check_continuity(files, item.name, last_gtid, item.manifest.get("first_gtid"))
        last_gtid = item.manifest.get("last_gtid") or last_gtid
        files.append(ReplayFile(item.name, item.path, True, item.manifest))
        following = item.next_file
        if following is None:
            raise PointInTimeUnreachable(f"{item.name} in the archive does not say which file came after it")
        expected = following
        if point.file is not None and item.name == point.file:
            break
    if point.file is None or not files or files[-1].name != point.file:
        raws = [raw for raw in binlog_archive.raw_files(backup_dir) if raw_sequence(raw) >= start_sequence]
        for index, raw in enumerate(raws):
            if raw.name != expected:
                raise PointInTimeUnreachable(f"the binary log archive has no {expected} (next there: {raw.name})")
            facts = read_binlog(raw, allow_partial_tail=True)  # the newest still written, the others being sealed
            check_continuity(files, raw.name, last_gtid, facts.first_gtid)
            last_gtid = facts.last_gtid or last_gtid
            files.append(ReplayFile(raw.name, raw, False, whole_bytes=facts.size))
            if index == len(raws) - 1 or raw.name == point.file:
                break
            following = binlog_archive.following(raw.name, facts.ends_with, facts.next_file)
            if following is None:
                raise PointInTimeUnreachable(f"{raw.name} in the stream does not say which file came after it")
            expected = following
    if not files:
        raise PointInTimeUnreachable(
            f"the binary log archive holds nothing from {start_file} on (is binlog-stream running?)"
        )
    return files


def refuse_twins(backup_dir: Path, start: tuple[str, int]) -> None:
    """PointInTimeUnreachable when a file from `start` on is in the archive twice, sealed and in the stream, as two
    different files: which of them a dump's coordinates or a point name cannot be told."""
    doubled = [name for name in binlog_archive.twins(backup_dir) if (binlog_sequence(name) or ("", 0)) >= start]
    if doubled:
        raise PointInTimeUnreachable(
            f"the binary log archive holds {', '.join(doubled)} twice, sealed and in binlog/.stream/, as different "
            "files: the server's binary log was reset (RESET MASTER) or a file was put there; move the archive "
            "aside and take a backup to start a new range"
        )


def check_continuity(files: list[ReplayFile], name: str, last_gtid: object, first_gtid: object) -> None:
    """PointInTimeUnreachable when `name` does not go on where the files before it stopped (its first GTID is not
    after their last: the server's binary log was reset and numbers its files again)."""
    if files and not binlog_archive.gtid_continues(last_gtid, first_gtid):
        raise PointInTimeUnreachable(
            f"{name} in the binary log archive does not follow {files[-1].name} (GTID {first_gtid} after "
            f"{last_gtid}): the server's binary log was reset (RESET MASTER); no restore crosses that, a backup "
            "after it starts a new range"
        )


def stream_state(settings: Settings) -> dict[str, Any]:
    from afirgen_backup.sources.mysql.binlog_stream import read_state

    state, _ = read_state(settings)
    return state or {}


def raw_sequence(path: Path) -> tuple[str, int]:
    found = binlog_sequence(path.name)
    assert found is not None  # raw_files takes no other name
    return found


def check_gaps(state: dict[str, Any], start: tuple[str, int], last: tuple[str, int] | None) -> None:
    """PointInTimeUnreachable naming a recorded gap between `start` and `last` (None: any after `start`)."""
    for gap in state.get("gaps") or []:
        missing = binlog_sequence(str(gap.get("missing_from"))) if isinstance(gap, dict) else None
        if missing is not None and start <= missing and (last is None or missing <= last):
            raise PointInTimeUnreachable(
                f"the binary log archive has a gap: the server purged {gap.get('missing_from')} and what followed "
                f"before they were archived (the archive goes on at {gap.get('resumed_at')}); no restore can cross "
                "it: a backup taken after it starts a new range"
            )


def describe_end(files: list[ReplayFile]) -> str:
    last = files[-1]
    if last.sealed and last.manifest is not None:
        return f"{last.name}, last event at {last.manifest.get('last_event_time')}"
    return f"{last.name} (being written by binlog-stream)"


@contextlib.contextmanager
def private_workdir(backup_dir: Path) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=backup_dir))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def prepare_files(plan: ReplayPlan, workdir: Path) -> list[Path]:
    """The plan's files as plain binary logs in `workdir`: a sealed one decompressed and checked against its
    manifest (the .gz's sha256, the raw file's), a raw one copied as far as its whole events went when planned
    (check_events reads the copy whole again)."""
    prepared = []
    for index, item in enumerate(plan.files):
        target = workdir / item.name
        if item.sealed:
            facts = copy_sealed(item, target)
            planned = plan.files[index + 1].name if index + 1 < len(plan.files) else None
            read = binlog_archive.following(item.name, facts.ends_with, facts.next_file)
            if planned is not None and read != planned:
                raise VerificationFailed(
                    f"{item.path.name}'s own events say {read} follows it, but the chain goes on with {planned}: "
                    "the manifest does not describe the file"
                )
        else:
            with open_regular_for_reading(item.path) as source, open(target, "xb") as sink:
                left = item.whole_bytes  # what the plan read: the stream may have written more since
                while left and (chunk := source.read(min(READ_CHUNK, left))):
                    sink.write(chunk)
                    left -= len(chunk)
        prepared.append(target)
    return prepared


def copy_sealed(item: ReplayFile, target: Path) -> BinlogFacts:
    """Unpack a sealed file into `target`, checked: the .gz and the raw file are the ones its manifest describes,
    the file ends closed, and what the manifest says of its GTIDs and the file after it is what its events say (a
    manifest someone changed must not steer the chain past a file). Returns what the read found."""
    assert item.manifest is not None
    if sha256_of_file(item.path)[0] != item.manifest.get("sha256"):
        raise VerificationFailed(f"{item.path.name} is not the file its manifest describes (sha256 differs)")
    raw_digest = hashlib.sha256()
    with open(target, "xb") as sink:
        for chunk in iter_gzip(item.path):
            raw_digest.update(chunk)
            sink.write(chunk)
    if raw_digest.hexdigest() != item.manifest.get("raw_sha256"):
        raise VerificationFailed(f"{item.path.name} does not unpack into the binary log its manifest describes")
    facts = read_binlog(target, allow_partial_tail=False)
    if facts.ends_with == "open":  # seal() takes only closed files
        raise VerificationFailed(f"{item.path.name} does not end with a ROTATE or STOP event, as a sealed file does")
    read = binlog_archive.describe(facts)
    wrong = [key for key in DESCRIBED if item.manifest.get(key) != read[key]]
    if wrong:
        raise VerificationFailed(
            f"{item.path.name}'s manifest does not describe the file: its {', '.join(wrong)} differ from what its "
            "events say"
        )
    return facts


DESCRIBED = ("first_gtid", "last_gtid", "first_event_time", "last_event_time", "ends_with", "next_file")
PITR_DIR = re.compile(r"^\.pitr-(\d+)-")


def owns_leftover(name: str) -> bool:
    """A replay's private directory whose process is gone (the leftovers of a killed restore)."""
    from afirgen_backup.offsite.fetch import process_gone

    match = PITR_DIR.match(name)
    return match is not None and process_gone(int(match.group(1)))


def remove_leftover(path: Path) -> None:
    """A killed replay's directory: the unpacked binary logs in it, then the directory (anything else stays)."""
    for item in path.iterdir():
        if binlog_sequence(item.name) is not None and lstat_or_none(item) is not None and item.is_file():
            item.unlink()
    path.rmdir()


def check_events(paths: list[Path], plan: ReplayPlan, source_db: str, unrewritten_db: str | None = None) -> str | None:
    """Read every event that will be replayed; VerificationFailed for one a restore must not run, and
    PointInTimeUnreachable when the archive ends before the point. Returns the time of the last event replayed.

    `unrewritten_db`: a database whose events would be replayed as they are (MySQL's mysqlbinlog filters by the
    name --rewrite-db gives, the staging database's): the log must have none."""
    stop_at = int((plan.point.time + timedelta(seconds=1)).timestamp()) if plan.point.time is not None else None
    last_time: int | None = None
    reached = False
    prepared = PreparedXa()
    for index, path in enumerate(paths):
        first = index == 0
        with open_binlog(path) as handle:
            scanner = EventScanner(
                handle,
                path.name,
                allow_partial_tail=not plan.files[index].sealed,
                whole_bodies=frozenset({QUERY_EVENT, TABLE_MAP_EVENT}),
            )
            post_headers = b""
            for header, body in scanner.events():
                if header.type_code == FORMAT_DESCRIPTION_EVENT:
                    post_headers = body[57:]
                    continue
                if first and header.offset < plan.start_position:
                    continue
                if stop_at is not None and header.timestamp >= stop_at and not header.artificial:
                    reached = True
                    break
                if plan.point.file == path.name and header.offset >= (plan.point.position or 0):
                    reached = True
                    break
                where = f"{path.name} at {header.offset}"
                check_event(header.type_code, body, post_headers, source_db, where)
                prepared.see(header.type_code, body, post_headers, where)
                if unrewritten_db is not None:
                    check_not_on(unrewritten_db, header.type_code, body, post_headers, where)
                if header.timestamp:
                    last_time = header.timestamp
            # every event before the position was read: a GTID's transaction may end the file the stream writes
            reached = reached or (plan.point.file == path.name and scanner.whole_bytes >= (plan.point.position or 0))
        if reached:
            break
    current = (  # the archive held all the server logged at a moment after the whole second of the point
        plan.current_until is not None
        and plan.point.time is not None
        and plan.current_until >= plan.point.time + timedelta(seconds=1)
    )
    if not reached and not current:  # no event after the point, and the stream was not known current at it
        raise PointInTimeUnreachable(
            f"the binary log archive does not reach {plan.point.describe()}: it ends with {plan.reaches}"
        )
    prepared.check(plan.point.describe())
    return datetime.fromtimestamp(last_time, UTC).isoformat() if last_time is not None else None


def replay_argv(
    settings: Settings,
    client: Flavor,
    plan: ReplayPlan,
    paths: list[Path],
    source_db: str,
    target_db: str,
) -> list[str]:
    """The flavor's mysqlbinlog over the plan's files, only `source_db`'s events, rewritten to `target_db`.

    - MariaDB's filters (--database) by the logged name, then rewrites; MySQL's rewrites first and filters by the
      name it gives: --database is the target there (check_events refuses events logged under that name).
    - MariaDB's: --skip-annotate-row-events (the statements behind row events, as comments: not needed).
    - MySQL's: --skip-gtids. Replayed with their GTIDs, the transactions would be skipped as done by the server
      that logged them (the same server, most often), and setting GTID_NEXT takes a privilege more.
    """
    argv = [settings.binlog_bin, "--no-defaults", f"--start-position={plan.start_position}"]
    if plan.point.time is not None:
        stop = plan.point.time + timedelta(seconds=1)
        argv.append(f"--stop-datetime={stop:%Y-%m-%d %H:%M:%S}")
    if plan.point.position is not None:
        argv.append(f"--stop-position={plan.point.position}")
    filtered = source_db if client.is_mariadb else target_db
    argv += [f"--database={filtered}", f"--rewrite-db={source_db}->{target_db}"]
    argv.append("--skip-annotate-row-events" if client.is_mariadb else "--skip-gtids")
    return [*argv, *(str(path) for path in paths)]


def replay(
    settings: Settings,
    client: LoadClient,
    binlog_client: Flavor,
    plan: ReplayPlan,
    paths: list[Path],
    source_db: str,
    target_db: str,
) -> None:
    """Pipe mysqlbinlog's output for the plan into the mysql client, into `target_db`."""
    reader = process.spawn(
        replay_argv(settings, binlog_client, plan, paths, source_db, target_db), extra_env={"TZ": "UTC"}
    )
    try:
        with process.credentials_pipe(settings.mysql_user, settings.mysql_password) as (defaults_arg, fd):
            argv = build_load_argv(settings, defaults_arg, target_db)
            argv[-1:-1] = [*client.guards, "--binary-mode", SKIP_BINLOG]
            loader = process.spawn(argv, stdin=reader.stdout, stdout=subprocess.DEVNULL, pass_fds=(fd,))
        reader.stdout.close()
        loaded = loader.wait()
        read = reader.wait()
    except BaseException:
        reader.stop()
        raise
    if read != 0:
        raise CommandFailed(
            f"{os.path.basename(settings.binlog_bin)} failed reading the archive: {error_lines(reader.stderr.tail())}"
        )
    if loaded != 0:
        said = error_lines(loader.stderr.tail())
        hint = (
            "; the restoring user needs BINLOG REPLAY (MariaDB), or BINLOG_ADMIN and SESSION_VARIABLES_ADMIN (MySQL)"
            if "denied" in said
            else ""
        )
        raise CommandFailed(f"replaying the binary log into {target_db} failed: {said}{hint}")


def error_lines(tail: str) -> str:
    """Every ERROR line of a client's stderr (the first is the cause, the last often only its echo), else its
    last line."""
    errors = [line.strip() for line in tail.splitlines() if "ERROR" in line]
    return "; ".join(errors[:5]) if errors else process.last_line(tail)


def require_unlogged_sessions(settings: Settings) -> None:
    """A point-in-time restore keeps all it does out of the binary log: replayed there, the archive's events
    would be logged again under their old GTIDs (out of order, refused by gtid_strict_mode, and sent to replicas
    as duplicates), and the archive would take in the restore itself. ConfigError when the user may not."""
    with connect(settings) as connection:
        if may_skip_binlog(connection):
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@log_bin")
            if not int(cursor.fetchone()[0] or 0):
                return  # no binary log: nothing to keep out
    raise ConfigError(
        f"a restore to a point in time must keep its work out of the server's binary log, and {settings.mysql_user} "
        "may not (SET SESSION sql_log_bin); allowed: a user with BINLOG ADMIN and BINLOG REPLAY (MariaDB), "
        "BINLOG_ADMIN and SESSION_VARIABLES_ADMIN (MySQL), see docs/pitr.md"
    )


def roll_forward(
    settings: Settings, client: LoadClient, entry: BackupEntry, point: Point, staging: str, facts: dict[str, Any]
) -> None:
    """Replay the archive onto `staging`, which holds `entry` loaded, up to `point`."""
    coordinates = recorded_coordinates(entry)
    if coordinates is None:
        raise BackupError(f"{entry.name} records no binary log coordinates")
    source_db = source_of(entry.manifest) or ""
    if database_name_problem(source_db) is not None or "->" in source_db:
        raise VerificationFailed(f"{entry.name}: its manifest names no database a binary log can be replayed for")
    plan = plan_replay(settings, coordinates[0], coordinates[1], point)
    binlog_client = detect_binlog_client(settings.binlog_bin)
    with private_workdir(settings.backup_dir) as workdir:
        try:
            paths = prepare_files(plan, workdir)
            last_event = check_events(paths, plan, source_db, None if binlog_client.is_mariadb else staging)
        except BinlogDamaged as error:
            raise VerificationFailed(f"the binary log archive is damaged: {error}") from None
        replay(settings, client, binlog_client, plan, paths, source_db, staging)
    facts.update(
        replayed_from=f"{coordinates[0]}:{coordinates[1]}",
        replayed_files=[item.name for item in plan.files],
        last_event_replayed=last_event,
        point=point.describe(),
    )


@dataclass
class CoveredRange:
    """A run of archived files, each naming the next: what a restore can replay without a break."""

    files: list[str]
    first_event: str | None
    last_event: str | None
    streaming: bool  # ends with the raw file the stream is writing
    current_as_of: str | None = None
    restorable_from: str | None = None  # the snapshot of the oldest good dump whose coordinates are in it
    backups: list[str] | None = None

    def as_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def covered_ranges(settings: Settings, dumps: list[BackupEntry]) -> list[CoveredRange]:
    """The archive's unbroken runs of files, oldest first, each with the good dumps that start in it."""
    sealed, _ = binlog_archive.scan_archive(settings.backup_dir)
    chain: list[tuple[str, str | None, str | None, str | None]] = []  # (name, first, last, next)
    for item in sealed:
        manifest = item.manifest
        chain.append((item.name, manifest.get("first_event_time"), manifest.get("last_event_time"), item.next_file))
    raws = binlog_archive.raw_files(settings.backup_dir)
    for raw in raws:
        try:
            facts = read_binlog(raw, allow_partial_tail=True)
        except (BinlogDamaged, OSError):
            continue
        first, last = (
            datetime.fromtimestamp(moment, UTC).isoformat() if moment is not None else None
            for moment in (facts.first_event_time, facts.last_event_time)
        )
        chain.append((raw.name, first, last, binlog_archive.following(raw.name, facts.ends_with, facts.next_file)))
    ranges: list[CoveredRange] = []
    expected: str | None = None
    for name, first, last, following in chain:
        if ranges and name == expected:
            ranges[-1].files.append(name)
            ranges[-1].last_event = last or ranges[-1].last_event
        else:
            ranges.append(CoveredRange([name], first, last, streaming=False))
        expected = following
    state = stream_state(settings)
    if ranges and raws and ranges[-1].files[-1] == raws[-1].name:
        ranges[-1].streaming = True
        if state.get("current_file") == raws[-1].name:
            ranges[-1].current_as_of = state.get("current_as_of")
    for covered in ranges:
        starting = [
            (coordinates[2], entry.name)
            for entry in dumps
            if entry.good
            and (coordinates := recorded_coordinates(entry)) is not None
            and coordinates[0] in covered.files
        ]
        covered.backups = [name for _, name in sorted(starting)]
        if starting:
            covered.restorable_from = min(starting)[0].isoformat(timespec="seconds")
    return ranges
