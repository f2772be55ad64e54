"""restore --to-gtid (sources/mysql/binlog_gtid.py): the GTID read from the command line, only in MariaDB's and
MySQL's forms and written as the archive writes it; a file's manifest ruling it out only when it surely does; and
where its transaction ends in binary logs built byte by byte: at the next transaction, at the file's rotation, or
at the end of a raw file of the stream only when its last event ends it."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_binlog_file import MARIADB, SERVER_UUID, T0, BinlogBuilder

from afirgen_backup.errors import EXIT_USAGE, UsageError, VerificationFailed
from afirgen_backup.sources.mysql.binlog_gtid import may_hold, parse_gtid, transaction_end

UUID = str(SERVER_UUID)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-1-1234", "0-1-1234"),
        (" 0-1-1234\n", "0-1-1234"),
        ("00-01-0001234", "0-1-1234"),
        ("4294967295-4294967295-18446744073709551615", "4294967295-4294967295-18446744073709551615"),
        (f"{UUID}:23", f"{UUID}:23"),
        (f"{UUID.upper()}:0023", f"{UUID}:23"),
        (f"{UUID}:9223372036854775807", f"{UUID}:9223372036854775807"),
    ],
)
def test_a_gtid_is_read_as_the_archive_writes_it(text: str, expected: str) -> None:
    assert parse_gtid(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0-1",
        "0-1-2-3",
        "0-1-",
        "-1-5",
        "a-b-c",
        "0-1-1234,0-2-5",
        "0 - 1 - 1234",
        "4294967296-1-1",
        "0-4294967296-1",
        "0-1-18446744073709551616",
        "\u0663-1-1",  # an Arabic-Indic digit: a digit to Python, not to a server
        f"{UUID}:0",
        f"{UUID}:9223372036854775808",
        f"{UUID}:1-5",
        f"{UUID}:tag:5",
        f"{UUID}",
        f"{UUID[:-1]}:5",
        "mysql-bin.000042:1234",
        "0-1-1'; DROP DATABASE fir_db; --",
    ],
)
def test_anything_else_is_refused_in_one_line_with_what_is_allowed(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_gtid(text)

    said = str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
    assert said.startswith("--to-gtid ") and "is not a GTID; allowed: " in said and "\n" not in said
    assert "domain-server-sequence" in said and "uuid:number" in said


@pytest.mark.parametrize(
    ("first", "last", "gtid", "expected"),
    [
        ("0-1-10", "0-1-20", "0-1-15", True),
        ("0-1-10", "0-1-20", "0-1-10", True),
        ("0-1-10", "0-1-20", "0-1-20", True),
        ("0-1-10", "0-1-20", "0-1-9", False),
        ("0-1-10", "0-1-20", "0-1-21", False),
        ("0-1-10", "0-1-20", "1-1-15", True),  # another domain's transactions may lie between them
        ("0-1-10", "0-2-20", "0-1-99", True),
        (None, None, "0-1-5", True),  # no GTID recorded (MySQL's tagged ones are not decoded): read the file
        ("garbage", "0-1-20", "0-1-99", True),
        (f"{UUID}:5", f"{UUID}:9", f"{UUID}:7", True),
        (f"{UUID}:5", f"{UUID}:9", f"{UUID}:10", False),
    ],
)
def test_a_manifest_rules_a_gtid_out_only_when_it_surely_does(
    first: object, last: object, gtid: str, expected: bool
) -> None:
    assert may_hold(first, last, gtid) is expected


class Log(BinlogBuilder):
    """A BinlogBuilder whose format description gives a statement event its real post-header length (13)."""

    def __init__(self) -> None:
        self.data = bytearray(b"\xfebin")
        self.crc = True
        post_headers = bytes([56, 13, *range(3, 41)])
        self.add(15, struct.pack("<H50sIB", 4, MARIADB.encode(), T0, 19) + post_headers + bytes([1]), crc=True)

    def statement(self, sql: bytes, db: bytes = b"fir_db") -> int:
        return self.add(2, struct.pack("<IIBHH", 7, 0, len(db), 0, 0) + db + b"\0" + sql)

    def gtid(self, seq_no: int, *, standalone: bool = False) -> int:
        return self.add(162, struct.pack("<QIB", seq_no, 0, 1 if standalone else 0) + bytes(6))

    def rows(self) -> None:
        self.add(19, bytes(8) + b"\x06fir_db\x00\x03fir\x00")  # TABLE_MAP
        self.add(30, bytes(16))  # WRITE_ROWS

    def transaction(self, seq_no: int) -> None:
        self.gtid(seq_no)
        self.statement(b"BEGIN")
        self.rows()
        self.xid()


def test_a_transaction_ends_where_the_next_one_begins(tmp_path: Path) -> None:
    log = Log()
    log.transaction(7)
    log.add(161, struct.pack("<I", 16) + b"mysql-bin.000042")  # BINLOG_CHECKPOINT: part of no transaction
    next_one = log.gtid(8)
    log.statement(b"BEGIN")
    path = log.write(tmp_path / "mysql-bin.000042")

    end = transaction_end(path, "0-1-7", streamed=True)

    assert end is not None and end < next_one
    assert end == next_one - (19 + 4 + 4 + 16), "right after the XID, not after the checkpoint"


def test_the_last_transaction_of_a_rotated_file_ends_at_the_rotation(tmp_path: Path) -> None:
    log = Log()
    log.transaction(7)
    rotation = log.rotate()
    path = log.write(tmp_path / "mysql-bin.000042")

    assert transaction_end(path, "0-1-7", streamed=False) == rotation
    assert transaction_end(path, "0-1-8", streamed=False) is None
    assert transaction_end(path, "1-1-7", streamed=False) is None


@pytest.mark.parametrize(
    ("ending", "complete"),
    [
        ("xid", True),
        ("commit", True),
        ("rows", False),
        ("begin", False),
        ("ddl", True),
        ("ddl-not-standalone", False),  # MariaDB's CREATE TABLE ... SELECT: rows and a COMMIT follow
    ],
)
def test_at_the_end_of_a_streamed_file_a_transaction_counts_only_when_its_last_event_ends_it(
    tmp_path: Path, ending: str, complete: bool
) -> None:
    log = Log()
    log.transaction(6)
    log.gtid(7, standalone=ending == "ddl")
    if ending.startswith("ddl"):
        log.statement(b"CREATE TABLE queue (id INT PRIMARY KEY)")
    else:
        log.statement(b"BEGIN")
        if ending != "begin":
            log.rows()
        if ending == "xid":
            log.xid()
        elif ending == "commit":
            log.statement(b"COMMIT")
    path = log.write(tmp_path / "mysql-bin.000042")

    if complete:
        assert transaction_end(path, "0-1-7", streamed=True) == len(log.data)
    else:
        with pytest.raises(UsageError, match="holds only the start of that transaction"):
            transaction_end(path, "0-1-7", streamed=True)
    with pytest.raises(VerificationFailed, match="ends inside the transaction 0-1-7: damaged"):
        transaction_end(path, "0-1-7", streamed=False)  # a sealed file ends with a ROTATE or STOP: this one was cut


def mysql_gtid(log: Log, gno: int) -> int:
    return log.add(33, b"\x01" + SERVER_UUID.bytes + struct.pack("<q", gno) + bytes(17))


@pytest.mark.parametrize(
    ("statements", "complete"),
    [
        ([b"CREATE TABLE queue (id INT PRIMARY KEY)"], True),
        ([b"BEGIN"], False),
        ([b"CREATE TABLE copy (id INT) START TRANSACTION"], False),  # MySQL's CREATE TABLE ... SELECT
    ],
)
def test_a_mysql_statement_alone_is_a_whole_transaction_unless_it_opens_one(
    tmp_path: Path, statements: list[bytes], complete: bool
) -> None:
    log = Log()
    mysql_gtid(log, 41)
    for sql in statements:
        log.statement(sql)
    path = log.write(tmp_path / "mysql-bin.000042")

    if complete:
        assert transaction_end(path, f"{UUID}:41", streamed=True) == len(log.data)
    else:
        with pytest.raises(UsageError):
            transaction_end(path, f"{UUID}:41", streamed=True)


# --- what a hostile review found: a prepared XA transaction, a sealed file cut short, a name held twice -----------


def test_the_gtid_of_an_xa_prepare_is_refused_it_would_stay_prepared(tmp_path: Path) -> None:
    log = Log()
    log.gtid(7)
    log.statement(b"XA START X'7831',X'',1")
    log.rows()
    log.statement(b"XA END X'7831',X'',1")
    log.add(38, bytes(9) + b"x1")  # XA_PREPARE_LOG_EVENT
    log.transaction(8)
    log.rotate()
    path = log.write(tmp_path / "mysql-bin.000042")

    with pytest.raises(UsageError, match="is an XA transaction's XA PREPARE") as refused:
        transaction_end(path, "0-1-7", streamed=False)
    assert refused.value.exit_code == EXIT_USAGE
    assert transaction_end(path, "0-1-8", streamed=False) is not None


def test_a_replay_that_would_stop_between_xa_prepare_and_xa_commit_is_refused() -> None:
    from afirgen_backup.sources.mysql.binlog_events import PreparedXa

    post_headers = bytes([56, 13, *range(3, 41)])

    def query(sql: bytes) -> bytes:
        return struct.pack("<IIBHH", 7, 0, 6, 0, 0) + b"fir_db\0" + sql

    seen = PreparedXa()
    seen.see(38, bytes(11), post_headers, "mysql-bin.000042 at 400")
    with pytest.raises(VerificationFailed, match="between an XA transaction's XA PREPARE") as refused:
        seen.check("2026-12-05 10:00:00 UTC")
    assert refused.value.exit_code == EXIT_USAGE
    seen.see(2, query(b"XA COMMIT X'7831',X'',1"), post_headers, "mysql-bin.000042 at 900")
    seen.check("2026-12-05 10:00:00 UTC")  # committed before the point: nothing left prepared
    seen.see(2, query(b"XA COMMIT X'7832',X'',1 ONE PHASE"), post_headers, "at 1000")  # no prepare before it
    seen.see(2, query(b"XA ROLLBACK X'7833',X'',1"), post_headers, "at 1100")  # prepared before the dump
    seen.check("2026-12-05 10:00:00 UTC")


def sealed_archive(backup_dir: Path, seq_no: int) -> Log:
    """An archive holding mysql-bin.000042 sealed (one transaction, then a rotation); the log it was made of."""
    from afirgen_backup.sources.mysql.binlog_archive import seal, stream_dir

    stream = stream_dir(backup_dir)
    stream.mkdir(parents=True, mode=0o700)
    log = Log()
    log.transaction(seq_no)
    log.rotate()
    seal(log.write(stream / "mysql-bin.000042"), backup_dir, level=1)  # seal removes the raw file
    return log


def test_a_name_held_twice_sealed_and_in_the_stream_as_different_files_stops_a_point_in_time_restore(
    tmp_path: Path,
) -> None:
    from afirgen_backup.sources.mysql.binlog_archive import twins
    from afirgen_backup.sources.mysql.binlog_replay import Point, PointInTimeUnreachable, archive_files

    raw = sealed_archive(tmp_path, 7).write(tmp_path / "binlog" / ".stream" / "mysql-bin.000042")
    assert twins(tmp_path) == [], "the moment between sealing a file and removing it: the same file twice"
    other = Log()
    other.transaction(7)  # the same GTID in another file of the same name: a reset server, or a planted file
    other.statement(b"COMMIT")
    other.write(raw)

    assert twins(tmp_path) == ["mysql-bin.000042"]
    with pytest.raises(PointInTimeUnreachable, match="holds mysql-bin.000042 twice"):
        archive_files(tmp_path, "mysql-bin.000042", Point(file="mysql-bin.000042", position=300))


def test_a_sealed_file_that_does_not_end_with_a_rotation_is_refused_before_it_is_replayed(tmp_path: Path) -> None:
    import gzip
    import hashlib
    import json

    from afirgen_backup.sources.mysql.binlog_archive import scan_archive
    from afirgen_backup.sources.mysql.binlog_replay import ReplayFile, copy_sealed

    sealed_archive(tmp_path, 7)
    [item] = scan_archive(tmp_path)[0]
    cut = Log()
    cut.transaction(7)  # the file cut after its transaction, the rotation gone, the manifest made to match
    item.path.write_bytes(gzip.compress(bytes(cut.data)))
    item.manifest["sha256"] = hashlib.sha256(item.path.read_bytes()).hexdigest()
    item.manifest["raw_sha256"] = hashlib.sha256(bytes(cut.data)).hexdigest()
    item.path.with_name(item.path.name + ".json").write_text(json.dumps(item.manifest))

    with pytest.raises(VerificationFailed, match="does not end with a ROTATE or STOP event"):
        copy_sealed(ReplayFile(item.name, item.path, True, item.manifest), tmp_path / "copy")
