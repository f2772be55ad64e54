"""restore --to-gtid: one transaction's GTID, found in the binary log archive and turned into the position right
after that transaction, where a restore to a position stops (binlog_replay.py does the rest).

A GTID names a transaction, not a place: the archive has to be read to find it. The sealed files whose manifest
rules the GTID out (its first and last GTID are of the same domain and server, or server uuid, and the number lies
outside them) are skipped; any other is unpacked and checked against its manifest (binlog_replay.copy_sealed), and
read event by event as every file of the archive is (binlog_file.EventScanner). The transaction ends where the next
one begins (a GTID event), or at the file's ROTATE or STOP; at the end of a raw file of the stream (the one it is
writing) it has ended only when its last event says so (an XID, a COMMIT, a prepared XA transaction, the one
statement of a standalone transaction): the rest of it may not have been received yet.

Everything that cannot lead to a restore is refused before anything is loaded, as a usage error (exit 2): text that
is no GTID, a GTID the archive does not hold (the message says what it holds), one committed before every good
dump's snapshot, one after a gap that no dump follows.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError, VerificationFailed
from afirgen_backup.sources.mysql import binlog_archive
from afirgen_backup.sources.mysql.binlog_events import post_header_length
from afirgen_backup.sources.mysql.binlog_file import (
    FORMAT_DESCRIPTION_EVENT,
    GTID_LOG_EVENT,
    GTID_TAGGED_LOG_EVENT,
    HEAD_LIMIT,
    MARIADB_GTID_EVENT,
    QUERY_EVENT,
    ROTATE_EVENT,
    STOP_EVENT,
    XID_EVENT,
    BinlogDamaged,
    EventHeader,
    EventScanner,
    binlog_sequence,
    gtid_of,
    open_binlog,
    read_binlog,
)
from afirgen_backup.sources.mysql.binlog_replay import (
    Point,
    PointInTimeUnreachable,
    ReplayFile,
    check_gaps,
    choose_backup,
    copy_sealed,
    private_workdir,
    recorded_coordinates,
    stream_state,
)

MARIADB_GTID = re.compile(r"([0-9]{1,10})-([0-9]{1,10})-([0-9]{1,20})", re.ASCII)
MYSQL_GTID = re.compile(r"([0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}):([0-9]{1,19})", re.ASCII)
ALLOWED = (
    "allowed: one transaction's GTID, MariaDB's domain-server-sequence (e.g. 0-1-1234) or MySQL's uuid:number "
    "(e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:23), untagged"
)
#: Events that begin another transaction, or end the file: the transaction before them ended there.
BOUNDARIES = frozenset({STOP_EVENT, ROTATE_EVENT, GTID_LOG_EVENT, 34, GTID_TAGGED_LOG_EVENT, MARIADB_GTID_EVENT})
BINLOG_CHECKPOINT_EVENT = 161  # MariaDB writes it between transactions: part of none
XA_PREPARE_LOG_EVENT = 38
#: Events that annotate the statement after them: not a statement of their own.
ANNOTATIONS = frozenset({29, 160})
FL_STANDALONE = 0x01  # a MariaDB GTID event's flags2: no COMMIT follows its one statement (DDL)
ENDS_TRANSACTION = re.compile(rb"\s*(COMMIT|ROLLBACK)\s*;?\s*", re.I)
OPENS_TRANSACTION = re.compile(rb"\s*(BEGIN|XA\s+(START|BEGIN))\b|.*\bSTART\s+TRANSACTION\s*$", re.I | re.S)


def canonical_gtid(text: str) -> str | None:
    """The GTID as binlog_file.gtid_of writes it (numbers without leading zeros, the uuid in lower case), or None
    when `text` is not one transaction's GTID."""
    if match := MARIADB_GTID.fullmatch(text):
        domain, server, sequence = (int(part) for part in match.groups())
        return f"{domain}-{server}-{sequence}" if domain < 2**32 and server < 2**32 and sequence < 2**64 else None
    if match := MYSQL_GTID.fullmatch(text):
        number = int(match.group(2))
        return f"{match.group(1).lower()}:{number}" if 1 <= number < 2**63 else None
    return None


def parse_gtid(text: str) -> str:
    """The GTID --to-gtid names, as the archive's files write it; UsageError (exit 2) for anything else."""
    found = canonical_gtid(text.strip())
    if found is None:
        raise UsageError(f"--to-gtid {text[:80]!r} is not a GTID; {ALLOWED}")
    return found


def gtid_parts(gtid: object) -> tuple[str, int] | None:
    """(domain-server or server uuid, number) of a GTID read from the archive, None for anything else."""
    if not isinstance(gtid, str) or canonical_gtid(gtid) is None:
        return None
    source, _, number = gtid.rpartition(":" if ":" in gtid else "-")
    return source, int(number)


def may_hold(first: object, last: object, gtid: str) -> bool:
    """Whether a file whose first and last GTIDs are these may hold `gtid`: not when both are of its domain and
    server (MariaDB) or its server (MySQL) and its number lies outside them. Anything else may hold it (another
    domain's transactions in between, no GTIDs recorded): the file is read."""
    wanted, bounds = gtid_parts(gtid), [gtid_parts(first), gtid_parts(last)]
    if wanted is None or bounds[0] is None or bounds[1] is None:
        return True
    if bounds[0][0] != wanted[0] or bounds[1][0] != wanted[0]:
        return True
    return bounds[0][1] <= wanted[1] <= bounds[1][1]


@dataclass
class Transaction:
    """The events of one transaction as the file is read, from its GTID event on."""

    mariadb: bool
    standalone: bool  # a MariaDB GTID event that says no COMMIT follows
    end: int  # right after its last event so far
    statements: int = 0  # its events other than annotations
    last_type: int = 0
    last_query: bytes | None = None  # the text of its last event when that is a statement read whole
    first_query: bytes | None = None

    def add(self, header: EventHeader, head: bytes, post_headers: bytes) -> None:
        if header.type_code == BINLOG_CHECKPOINT_EVENT or header.artificial:
            return
        self.end = header.offset + header.size
        if header.type_code in ANNOTATIONS:
            return
        self.statements += 1
        self.last_type = header.type_code
        self.last_query = query_text(head, post_headers) if header.type_code == QUERY_EVENT else None
        if self.statements == 1:
            self.first_query = self.last_query

    @property
    def complete(self) -> bool:
        """Whether its last event ends it: an XID, a COMMIT or ROLLBACK, a prepared XA transaction, or the one
        statement of a standalone transaction (DDL: MariaDB flags its GTID so; MySQL's opens no transaction)."""
        if self.last_type in (XID_EVENT, XA_PREPARE_LOG_EVENT):
            return True
        if self.last_query is not None and ENDS_TRANSACTION.fullmatch(self.last_query):
            return True
        if self.statements != 1 or self.last_type != QUERY_EVENT:
            return False
        if self.mariadb:
            return self.standalone
        return self.first_query is not None and not OPENS_TRANSACTION.match(self.first_query)


def query_text(head: bytes, post_headers: bytes) -> bytes | None:
    """A statement event's text when its head holds all of it (a COMMIT does), else None."""
    post_header = post_header_length(post_headers, QUERY_EVENT, 13)
    if len(head) >= HEAD_LIMIT or post_header < 13 or len(head) < post_header:
        return None
    (status_len,) = struct.unpack_from("<H", head, 11)
    start = post_header + status_len + head[8] + 1
    return head[start:] if start <= len(head) else None


def transaction_end(path: Path, gtid: str, *, streamed: bool) -> int | None:
    """The position right after the transaction `gtid` in the binary log at `path`, None when it is not there.

    streamed: a raw file of the stream, which may end in the middle of a transaction (the newest is being written,
    an older one may have been cut): UsageError when it holds only the start of that one."""
    with open_binlog(path) as handle:
        scanner = EventScanner(handle, path.name, allow_partial_tail=streamed)
        post_headers = b""
        transaction: Transaction | None = None
        for header, head in scanner.events():
            if header.type_code == FORMAT_DESCRIPTION_EVENT:
                post_headers = head[57:]
            elif transaction is None:
                if not header.artificial and gtid_of(header, head, path.name) == gtid:
                    mariadb = header.type_code == MARIADB_GTID_EVENT
                    standalone = mariadb and len(head) > 12 and bool(head[12] & FL_STANDALONE)
                    transaction = Transaction(mariadb, standalone, header.offset + header.size)
            elif header.type_code in BOUNDARIES:
                refuse_prepared(transaction, gtid)
                return transaction.end
            else:
                transaction.add(header, head, post_headers)
    if transaction is None:
        return None
    if not streamed:  # copy_sealed found it closed by a ROTATE or STOP: a transaction open at its end is a forgery
        raise VerificationFailed(f"{path.name} in the archive ends inside the transaction {gtid}: damaged")
    if transaction.complete:
        refuse_prepared(transaction, gtid)
        return transaction.end
    raise UsageError(
        f"--to-gtid {gtid}: the archive holds only the start of that transaction ({path.name} in the stream ends "
        "before it does); allowed: wait until binlog-stream has received the rest of it, or an earlier GTID"
    )


def refuse_prepared(transaction: Transaction, gtid: str) -> None:
    """UsageError when the transaction ends with XA PREPARE: replayed to there it would stay prepared on the
    server (its XA COMMIT is another transaction, with a GTID of its own)."""
    if transaction.last_type == XA_PREPARE_LOG_EVENT or (
        transaction.last_query is not None and re.match(rb"\s*XA\s+PREPARE\b", transaction.last_query, re.I)
    ):
        raise UsageError(
            f"--to-gtid {gtid} is an XA transaction's XA PREPARE: a restore to it would leave that transaction "
            "prepared on the server; allowed: the GTID of its XA COMMIT (or XA ROLLBACK), or one before it"
        )


def locate(backup_dir: Path, gtid: str, workdir: Path) -> tuple[str, int] | None:
    """(file, position right after the transaction `gtid`) in the archive, the sealed files first, then the
    stream's; None when the archive does not hold it."""
    doubled = binlog_archive.twins(backup_dir)
    if doubled:
        raise UsageError(
            f"--to-gtid {gtid}: the binary log archive holds {', '.join(doubled)} twice, sealed and in "
            "binlog/.stream/, as different files (the server's binary log was reset, or a file was put there), so "
            "where a GTID lies cannot be told; allowed: move the archive aside and take a backup to start a new range"
        )
    sealed, _problems = binlog_archive.scan_archive(backup_dir)
    for item in sealed:
        if not may_hold(item.manifest.get("first_gtid"), item.manifest.get("last_gtid"), gtid):
            continue
        copy = workdir / item.name
        copy_sealed(ReplayFile(item.name, item.path, True, item.manifest), copy)
        try:
            end = transaction_end(copy, gtid, streamed=False)
        finally:
            copy.unlink()
        if end is not None:
            return item.name, end
    for raw in binlog_archive.raw_files(backup_dir):
        end = transaction_end(raw, gtid, streamed=True)
        if end is not None:
            return raw.name, end
    return None


def describe_held(backup_dir: Path) -> str:
    """Which GTIDs the archive holds, in words: from the oldest file's first to the newest file's last."""
    found: list[object] = []
    for item in binlog_archive.scan_archive(backup_dir)[0]:
        found += [item.manifest.get("first_gtid"), item.manifest.get("last_gtid")]
    for raw in binlog_archive.raw_files(backup_dir):
        try:
            facts = read_binlog(raw, allow_partial_tail=True)
        except (BinlogDamaged, OSError):
            continue
        found += [facts.first_gtid, facts.last_gtid]
    held = [gtid for gtid in found if gtid_parts(gtid) is not None]
    if not held:
        return "which holds no GTID"
    return f"which holds {held[0]} to {held[-1]}"


def not_held(settings: Settings, gtid: str) -> UsageError:
    """The refusal of a GTID the archive does not hold: what it holds, and the gaps the GTID may have been in."""
    gaps = [gap for gap in stream_state(settings).get("gaps") or [] if isinstance(gap, dict)]
    lost = "".join(
        f"; a gap lost {str(gap.get('missing_from'))[:80]} and what followed up to {str(gap.get('resumed_at'))[:80]}"
        for gap in gaps
    )
    return UsageError(
        f"--to-gtid {gtid} is not in the binary log archive, {describe_held(settings.backup_dir)}{lost}; allowed: "
        "a GTID of a transaction binlog-stream has archived"
    )


def gtid_point(settings: Settings, gtid: str, dumps: list[BackupEntry]) -> Point:
    """The point a restore to `gtid` stops at: right after its transaction. UsageError when no restore can reach
    it: not in the archive, committed before every good dump's snapshot, or after a gap no dump follows."""
    with private_workdir(settings.backup_dir) as workdir:
        try:
            found = locate(settings.backup_dir, gtid, workdir)
        except BinlogDamaged as error:
            raise VerificationFailed(f"the binary log archive is damaged: {error}") from None
    if found is None:
        raise not_held(settings, gtid)
    name, position = found
    point = Point(file=name, position=position, gtid=gtid)
    try:
        entry = choose_backup(dumps, point)
    except PointInTimeUnreachable:
        raise UsageError(
            f"--to-gtid {gtid} (ending at {name}:{position}) was committed before the snapshot of every good MySQL "
            f"backup with binary log coordinates; allowed: {after_oldest(dumps)}"
        ) from None
    start = recorded_coordinates(entry)
    assert start is not None  # choose_backup takes only dumps that record them
    sequence, last = binlog_sequence(start[0]), binlog_sequence(name)
    assert sequence is not None and last is not None
    try:
        check_gaps(stream_state(settings), sequence, last)
    except PointInTimeUnreachable as error:
        raise UsageError(f"--to-gtid {gtid} ({name}) lies after a gap that no good backup follows: {error}") from None
    return point


def after_oldest(dumps: list[BackupEntry]) -> str:
    """What a GTID must follow, in words: the snapshot of the oldest good dump that records its coordinates."""
    starts: list[tuple[datetime, str, str]] = []
    for entry in dumps:
        coordinates = recorded_coordinates(entry)
        if entry.good and coordinates is not None:
            starts.append((coordinates[2], entry.name, f"{coordinates[0]}:{coordinates[1]}"))
    if not starts:
        return "a backup taken while the server writes a binary log first (none records its coordinates)"
    _, name, where = min(starts)
    return f"a GTID committed after the snapshot of {name} (at {where})"
