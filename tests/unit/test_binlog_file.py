"""sources/mysql/binlog_file.py: the facts of binary logs built byte by byte here (MariaDB's and MySQL's GTIDs,
CRC32 on and off, rotation, shutdown, a file still being written), and every kind of damage refused with the
file's name, the byte offset and what is wrong."""

from __future__ import annotations

import struct
import uuid
import zlib
from pathlib import Path

import pytest

from afirgen_backup.files import UnsafeFile
from afirgen_backup.sources.mysql import binlog_file
from afirgen_backup.sources.mysql.binlog_file import (
    BinlogDamaged,
    BinlogFacts,
    binlog_sequence,
    iter_events,
    read_binlog,
)

T0 = 1_760_000_000
MARIADB = "10.11.19-MariaDB-0+deb12u1-log"
SERVER_UUID = uuid.UUID("3e11fa47-71ca-11e1-9e33-c80aa9429562")


class BinlogBuilder:
    """A binary log as a server writes it: magic, a format description, then events with CRC32s (unless alg 0)."""

    def __init__(self, *, checksum_alg: int = 1, version: str = MARIADB, in_use: bool = False) -> None:
        self.data = bytearray(b"\xfebin")
        self.crc = checksum_alg == 1
        body = struct.pack("<H50sIB", 4, version.encode(), T0, 19) + bytes(range(1, 41)) + bytes([checksum_alg])
        self.add(15, body, flags=1 if in_use else 0, crc=True)

    def add(self, type_code: int, body: bytes, *, timestamp: int = T0, server_id: int = 1, **options: int) -> int:
        """Append an event; returns its offset. Options: log_pos (default: the event's end), flags, crc (0/1)."""
        offset = len(self.data)
        crc = bool(options.get("crc", self.crc))
        size = 19 + len(body) + (4 if crc else 0)
        log_pos = options.get("log_pos", offset + size)
        flags = options.get("flags", 0)
        event = struct.pack("<IBIIIH", timestamp, type_code, server_id, size, log_pos, flags) + body
        if crc:  # a format description's CRC is of its bytes with the in-use flag clear
            covered = event[:17] + struct.pack("<H", flags & ~1) + event[19:] if type_code == 15 else event
            event += struct.pack("<I", zlib.crc32(covered))
        self.data += event
        return offset

    def mariadb_gtid(self, seq_no: int, domain_id: int = 0, server_id: int = 1, timestamp: int = T0) -> int:
        return self.add(
            162, struct.pack("<QIB", seq_no, domain_id, 0) + bytes(6), server_id=server_id, timestamp=timestamp
        )

    def mysql_gtid(self, gno: int, timestamp: int = T0) -> int:
        return self.add(33, b"\x01" + SERVER_UUID.bytes + struct.pack("<q", gno) + bytes(17), timestamp=timestamp)

    def query(self, sql: bytes = b"INSERT INTO t VALUES (1)", timestamp: int = T0) -> int:
        return self.add(2, bytes(13) + b"fir_db\0" + sql, timestamp=timestamp)

    def xid(self, timestamp: int = T0) -> int:
        return self.add(16, struct.pack("<Q", 77), timestamp=timestamp)

    def rotate(self, next_file: str = "mysql-bin.000043", **options: int) -> int:
        return self.add(4, struct.pack("<Q", 4) + next_file.encode(), **options)

    def write(self, path: Path) -> Path:
        path.write_bytes(bytes(self.data))
        return path


def mariadb_file() -> BinlogBuilder:
    """A MariaDB file closed by rotation: two transactions at T0+10 and T0+20, GTIDs 0-1-7 and 0-1-8."""
    log = BinlogBuilder()
    log.add(163, struct.pack("<I", 0))  # GTID_LIST
    log.add(161, struct.pack("<I", 16) + b"mysql-bin.000042")  # BINLOG_CHECKPOINT
    log.mariadb_gtid(7, timestamp=T0 + 10)
    log.query(timestamp=T0 + 10)
    log.xid(timestamp=T0 + 10)
    log.mariadb_gtid(8, timestamp=T0 + 20)
    log.query(timestamp=T0 + 20)
    log.xid(timestamp=T0 + 20)
    log.rotate(timestamp=T0 + 20)
    return log


def damage(path: Path, *, allow_partial_tail: bool = False) -> str:
    with pytest.raises(BinlogDamaged) as caught:
        read_binlog(path, allow_partial_tail=allow_partial_tail)
    return str(caught.value)


def test_a_file_closed_by_rotation_gives_every_fact(tmp_path: Path) -> None:
    path = mariadb_file().write(tmp_path / "mysql-bin.000042")

    facts = read_binlog(path, allow_partial_tail=False)

    assert facts == BinlogFacts(
        size=path.stat().st_size,
        events=10,
        server_version=MARIADB,
        server_id=1,
        checksums=True,
        in_use=False,
        first_event_time=T0,
        last_event_time=T0 + 20,
        first_gtid="0-1-7",
        last_gtid="0-1-8",
        ends_with="rotate",
        next_file="mysql-bin.000043",
        last_position=path.stat().st_size,
        truncated_bytes=0,
    )


def test_iter_events_gives_each_header_at_its_offset(tmp_path: Path) -> None:
    log = mariadb_file()
    path = log.write(tmp_path / "mysql-bin.000042")

    headers = list(iter_events(path))

    assert [h.type_name for h in headers[:4]] == [
        "FORMAT_DESCRIPTION_EVENT",
        "GTID_LIST_EVENT",
        "BINLOG_CHECKPOINT_EVENT",
        "GTID_EVENT",
    ]
    assert headers[0].offset == 4
    assert all(h.offset + h.size == h.log_pos for h in headers)
    assert headers[-1].type_name == "ROTATE_EVENT" and headers[-1].log_pos == len(log.data)


def test_mysql_gtids_read_as_uuid_and_number(tmp_path: Path) -> None:
    log = BinlogBuilder(version="9.7.0")
    log.add(35, struct.pack("<Q", 0))  # PREVIOUS_GTIDS
    for gno in (41, 42):
        log.mysql_gtid(gno)
        log.query()
        log.xid()
    log.add(34, bytes(42))  # ANONYMOUS_GTID: no GTID
    log.query()

    facts = read_binlog(log.write(tmp_path / "binlog.000001"), allow_partial_tail=False)

    assert (facts.first_gtid, facts.last_gtid) == (f"{SERVER_UUID}:41", f"{SERVER_UUID}:42")
    assert facts.server_version == "9.7.0"
    assert facts.ends_with == "open" and facts.next_file is None


def test_tagged_mysql_gtids_leave_first_and_last_unknown(tmp_path: Path) -> None:
    log = BinlogBuilder(version="9.7.0")
    log.mysql_gtid(1)
    log.query()
    log.add(42, bytes(60))  # GTID_TAGGED_LOG_EVENT
    log.query()

    facts = read_binlog(log.write(tmp_path / "binlog.000001"), allow_partial_tail=False)

    assert (facts.first_gtid, facts.last_gtid, facts.events) == (None, None, 5)


def test_a_mariadb_gtid_takes_the_server_id_from_the_header_and_the_domain_from_the_body(tmp_path: Path) -> None:
    log = BinlogBuilder()
    log.mariadb_gtid(100, domain_id=3, server_id=12)
    log.query()

    facts = read_binlog(log.write(tmp_path / "mysql-bin.000001"), allow_partial_tail=False)

    assert facts.first_gtid == facts.last_gtid == "3-12-100"
    assert facts.server_id == 12  # the first event after the format description


def test_a_file_the_server_closed_at_shutdown_ends_with_stop(tmp_path: Path) -> None:
    log = mariadb_file()
    log.data = log.data[: -(19 + 8 + 16 + 4)]  # the rotate event out
    log.add(3, b"", timestamp=T0 + 30)

    facts = read_binlog(log.write(tmp_path / "mysql-bin.000042"), allow_partial_tail=False)

    assert (facts.ends_with, facts.next_file, facts.last_event_time) == ("stop", None, T0 + 30)


def test_a_file_still_being_written_is_open_and_in_use(tmp_path: Path) -> None:
    log = BinlogBuilder(in_use=True)
    log.mariadb_gtid(1)
    log.query()

    facts = read_binlog(log.write(tmp_path / "mysql-bin.000001"), allow_partial_tail=True)

    assert (facts.ends_with, facts.in_use, facts.truncated_bytes) == ("open", True, 0)
    assert facts.last_position == len(log.data)


def test_artificial_events_count_for_neither_server_id_nor_times(tmp_path: Path) -> None:
    log = BinlogBuilder()
    log.add(4, struct.pack("<Q", 4) + b"mysql-bin.000001", timestamp=0, server_id=99, log_pos=0, flags=0x20)
    log.add(163, struct.pack("<I", 0), timestamp=T0 + 999, server_id=98, log_pos=0)
    log.mariadb_gtid(5, server_id=7, timestamp=T0 + 5)
    log.query(timestamp=T0 + 5)

    facts = read_binlog(log.write(tmp_path / "mysql-bin.000001"), allow_partial_tail=False)

    assert facts.server_id == 7
    assert (facts.first_event_time, facts.last_event_time) == (T0, T0 + 5)
    assert facts.ends_with == "open"  # the fake rotate was not the last event


def test_without_later_events_the_server_id_is_the_format_descriptions(tmp_path: Path) -> None:
    facts = read_binlog(BinlogBuilder().write(tmp_path / "mysql-bin.000001"), allow_partial_tail=False)

    assert (facts.events, facts.server_id, facts.first_gtid, facts.ends_with) == (1, 1, None, "open")


def test_a_partial_event_at_the_end_is_counted_when_allowed_and_refused_when_not(tmp_path: Path) -> None:
    log = mariadb_file()
    whole = len(log.data)
    log.query()
    log.data = log.data[: whole + 40]  # 40 bytes of an event being written
    path = log.write(tmp_path / "mysql-bin.000042")

    facts = read_binlog(path, allow_partial_tail=True)
    message = damage(path)

    assert (facts.size, facts.truncated_bytes, facts.ends_with) == (whole, 40, "rotate")
    assert message.startswith(f"binary log mysql-bin.000042 is damaged at byte {whole}: ")
    assert "runs past the end of the file (40 bytes left): the file was cut" in message


def test_a_tail_shorter_than_a_header_is_counted_when_allowed_and_refused_when_not(tmp_path: Path) -> None:
    log = mariadb_file()
    whole = len(log.data)
    log.data += b"\x01\x02\x03"
    path = log.write(tmp_path / "mysql-bin.000042")

    assert read_binlog(path, allow_partial_tail=True).truncated_bytes == 3
    assert damage(path) == (
        f"binary log mysql-bin.000042 is damaged at byte {whole}: 3 bytes follow the last event, "
        "less than an event header: the file was cut"
    )


def test_a_file_cut_inside_an_event_is_refused_at_that_event(tmp_path: Path) -> None:
    log = mariadb_file()
    rotate_at = len(log.data) - 47
    path = tmp_path / "mysql-bin.000042"
    path.write_bytes(bytes(log.data[:-7]))

    assert f"damaged at byte {rotate_at}: ROTATE_EVENT of 47 bytes runs past the end" in damage(path)
    assert read_binlog(path, allow_partial_tail=True).truncated_bytes == 40


def test_a_wrong_crc_names_the_event_type_and_its_offset(tmp_path: Path) -> None:
    log = mariadb_file()
    at = log.query(b"UPDATE t SET v = 1")
    log.data[at + 30] ^= 0x01
    path = log.write(tmp_path / "mysql-bin.000042")

    message = damage(path)

    assert message.startswith(f"binary log mysql-bin.000042 is damaged at byte {at}: the CRC32 of the QUERY_EVENT ")
    assert damage(path, allow_partial_tail=True) == message


def test_a_wrong_crc_of_the_format_description_is_refused(tmp_path: Path) -> None:
    log = mariadb_file()
    log.data[4 + 19 + 10] ^= 0x40  # in the server version
    assert "damaged at byte 4: the CRC32 of the FORMAT_DESCRIPTION_EVENT" in damage(log.write(tmp_path / "b.000001"))


def test_the_crc_of_the_format_description_ignores_the_in_use_flag(tmp_path: Path) -> None:
    log = mariadb_file()
    log.data[4 + 17] |= 0x01  # the server sets it on open and clears it on close without a new CRC
    assert read_binlog(log.write(tmp_path / "b.000001"), allow_partial_tail=False).in_use is True


def test_with_checksums_off_events_carry_no_crc(tmp_path: Path) -> None:
    log = BinlogBuilder(checksum_alg=0)
    log.mariadb_gtid(3)
    at = log.query()
    log.xid()
    log.rotate()
    log.data[at + 30] ^= 0x01  # nothing can tell

    facts = read_binlog(log.write(tmp_path / "mysql-bin.000001"), allow_partial_tail=False)

    assert (facts.checksums, facts.first_gtid, facts.ends_with) == (False, "0-1-3", "rotate")
    assert facts.next_file == "mysql-bin.000043"
    assert facts.size == len(log.data)


def test_an_unknown_checksum_algorithm_is_refused(tmp_path: Path) -> None:
    log = BinlogBuilder(checksum_alg=2)
    assert damage(log.write(tmp_path / "b.000001")).endswith("at byte 4: unknown checksum algorithm 2")


def test_bad_magic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mysql-bin.000001"
    path.write_bytes(b"-- MySQL dump\n" + bytes(100))
    assert damage(path) == (
        "binary log mysql-bin.000001 is damaged at byte 0: it does not start with the binary log magic bytes "
        "(found 2d2d204d)"
    )


def test_an_empty_file_and_an_encrypted_mysql_file_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "mysql-bin.000001"
    empty.write_bytes(b"")
    encrypted = tmp_path / "binlog.000002"
    encrypted.write_bytes(b"\xfdbin" + bytes(508))

    assert damage(empty, allow_partial_tail=True).endswith("magic bytes (found none)")
    assert "an encrypted MySQL binary log" in damage(encrypted)


def test_a_file_of_only_the_magic_holds_no_format_description(tmp_path: Path) -> None:
    path = tmp_path / "mysql-bin.000001"
    path.write_bytes(b"\xfebin")
    assert damage(path, allow_partial_tail=True).endswith("at byte 4: it holds no format description event")


def test_a_first_event_other_than_a_format_description_is_refused(tmp_path: Path) -> None:
    log = mariadb_file()
    log.data[4 + 4] = 2
    assert damage(log.write(tmp_path / "b.000001")).endswith(
        "at byte 4: the first event is a QUERY_EVENT, not a format description"
    )


def test_an_event_size_beyond_the_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    log = mariadb_file()
    at = log.xid()
    log.data[at + 9 : at + 13] = struct.pack("<I", 0xFFFFFFFF)
    path = log.write(tmp_path / "b.000001")

    assert f"at byte {at}: XID_EVENT of 4294967295 bytes runs past the end of the file (31 bytes left)" in damage(path)
    assert read_binlog(path, allow_partial_tail=True).truncated_bytes == 31  # a file being written can hold this


def test_an_event_size_below_a_header_is_refused(tmp_path: Path) -> None:
    log = mariadb_file()
    at = log.xid()
    log.data[at + 9 : at + 13] = struct.pack("<I", 20)
    message = damage(log.write(tmp_path / "b.000001"), allow_partial_tail=True)
    assert message.endswith(f"at byte {at}: XID_EVENT says it is 20 bytes, less than 23")


def test_a_log_position_going_back_is_refused(tmp_path: Path) -> None:
    log = mariadb_file()
    before = len(log.data)
    at = log.query(b"DELETE FROM t")
    log.data[at + 13 : at + 17] = struct.pack("<I", before - 10)
    log.data[-4:] = struct.pack("<I", zlib.crc32(bytes(log.data[at:-4])))
    message = damage(log.write(tmp_path / "b.000001"))
    assert message.endswith(f"at byte {at}: QUERY_EVENT ends at log position {before - 10}, before {before}")


def test_a_big_event_is_checked_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = mariadb_file()
    big = log.query(b"INSERT INTO t VALUES ('" + b"x" * 3_000_000 + b"')")
    path = log.write(tmp_path / "b.000001")
    assert read_binlog(path, allow_partial_tail=False).size == len(log.data)

    log.data[big + 2_999_000] ^= 0x01
    assert f"at byte {big}: the CRC32 of the QUERY_EVENT" in damage(log.write(path))


@pytest.mark.parametrize("read_size", [1, 7, 19, 23, 100])
def test_small_reads_give_the_same_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_size: int) -> None:
    path = mariadb_file().write(tmp_path / "b.000001")
    expected = read_binlog(path, allow_partial_tail=False)

    monkeypatch.setattr(binlog_file, "READ_SIZE", read_size)

    assert read_binlog(path, allow_partial_tail=False) == expected


def test_a_file_that_shrinks_while_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = mariadb_file().write(tmp_path / "b.000001")
    monkeypatch.setattr(binlog_file, "READ_SIZE", 100)
    events = iter_events(path)
    next(events)
    path.write_bytes(path.read_bytes()[:200])  # truncated in place, as the open handle sees it

    with pytest.raises(BinlogDamaged, match=r"at byte 200: the file ends before the \d+ bytes it had when opened"):
        list(events)


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    target = mariadb_file().write(tmp_path / "real.000001")
    link = tmp_path / "mysql-bin.000001"
    link.symlink_to(target)
    with pytest.raises(UnsafeFile):
        read_binlog(link, allow_partial_tail=False)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mysql-bin.000042", ("mysql-bin", 42)),
        ("binlog.000001", ("binlog", 1)),
        ("mariadb-bin.1000000", ("mariadb-bin", 1_000_000)),
        ("host.example_bin.000007", ("host.example_bin", 7)),
        ("mysql-bin.00042", None),
        ("mysql-bin.index", None),
        ("mysql-bin.000042.tmp", None),
        (".hidden.000001", None),
        ("a..b.000001", None),
        ("../mysql-bin.000001", None),
        ("dir/mysql-bin.000001", None),
        ("mysql-bin.000001\n", None),
        ("mysql-bin.٠٠٠٠٠١", None),
        ("x" * 65 + ".000001", None),
        ("", None),
    ],
)
def test_binlog_sequence_splits_only_binlog_names(name: str, expected: tuple[str, int] | None) -> None:
    assert binlog_sequence(name) == expected
