"""A MySQL/MariaDB binary log file, read as untrusted input: its structure checked event by event (magic, a
format description first, sizes within the file, every CRC32, positions that never go back) and the facts a
capture needs from it (server, times, first and last GTID, how it ends, the next file's name).

The file is read forward in READ_SIZE pieces: memory stays bounded whatever the file's size or its headers say,
and only the bytes the file had when opened are read. Binlog file names from a directory are split by
`binlog_sequence`, which accepts nothing that could be a path.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from afirgen_backup.files import open_regular

MAGIC = b"\xfebin"
ENCRYPTED_MAGIC = b"\xfdbin"  # MySQL 8.0.14+ with binlog_encryption: the events follow an encryption header
HEADER = struct.Struct("<IBIIIH")  # timestamp, type_code, server_id, event_size, log_pos, flags
HEADER_LEN = HEADER.size  # 19
CRC = struct.Struct("<I")
CRC_LEN = 4
READ_SIZE = 1 << 20
#: An event's first body bytes kept for decoding: post-headers, and a ROTATE event's file name (at most 512).
HEAD_LIMIT = 1024
#: The largest event body read whole (EventScanner's whole_bodies: a statement a restore checks before replaying).
WHOLE_BODY_LIMIT = 16 << 20
#: binlog_version u16, server_version 50 bytes, create_timestamp u32, common_header_len u8.
FDE_FIXED_LEN = 57
#: A format description holds one post-header length per event type (at most 255) beside the fixed part.
FDE_LIMIT = 1024

START_EVENT_V3 = 1
QUERY_EVENT = 2
STOP_EVENT = 3
ROTATE_EVENT = 4
FORMAT_DESCRIPTION_EVENT = 15
XID_EVENT = 16
GTID_LOG_EVENT = 33  # MySQL
GTID_TAGGED_LOG_EVENT = 42  # MySQL 8.4: a GTID with a tag, in another encoding; not decoded here
MARIADB_GTID_EVENT = 162
MARIADB_START_ENCRYPTION_EVENT = 164

EVENT_NAMES = {
    START_EVENT_V3: "START_EVENT_V3",
    QUERY_EVENT: "QUERY_EVENT",
    STOP_EVENT: "STOP_EVENT",
    ROTATE_EVENT: "ROTATE_EVENT",
    FORMAT_DESCRIPTION_EVENT: "FORMAT_DESCRIPTION_EVENT",
    XID_EVENT: "XID_EVENT",
    19: "TABLE_MAP_EVENT",
    23: "WRITE_ROWS_EVENT_V1",
    24: "UPDATE_ROWS_EVENT_V1",
    25: "DELETE_ROWS_EVENT_V1",
    27: "HEARTBEAT_LOG_EVENT",
    29: "ROWS_QUERY_LOG_EVENT",
    30: "WRITE_ROWS_EVENT",
    31: "UPDATE_ROWS_EVENT",
    32: "DELETE_ROWS_EVENT",
    GTID_LOG_EVENT: "GTID_LOG_EVENT",
    34: "ANONYMOUS_GTID_LOG_EVENT",
    35: "PREVIOUS_GTIDS_LOG_EVENT",
    40: "TRANSACTION_PAYLOAD_EVENT",
    GTID_TAGGED_LOG_EVENT: "GTID_TAGGED_LOG_EVENT",
    160: "ANNOTATE_ROWS_EVENT",
    161: "BINLOG_CHECKPOINT_EVENT",
    MARIADB_GTID_EVENT: "GTID_EVENT",
    163: "GTID_LIST_EVENT",
    MARIADB_START_ENCRYPTION_EVENT: "START_ENCRYPTION_EVENT",
    165: "QUERY_COMPRESSED_EVENT",
    166: "WRITE_ROWS_COMPRESSED_EVENT_V1",
    167: "UPDATE_ROWS_COMPRESSED_EVENT_V1",
    168: "DELETE_ROWS_COMPRESSED_EVENT_V1",
    169: "WRITE_ROWS_COMPRESSED_EVENT",
    170: "UPDATE_ROWS_COMPRESSED_EVENT",
    171: "DELETE_ROWS_COMPRESSED_EVENT",
}

LOG_EVENT_BINLOG_IN_USE_F = 0x1  # in the format description: the server has not closed the file
LOG_EVENT_ARTIFICIAL_F = 0x20  # made up by the server for a stream (a fake ROTATE), not from a file
CHECKSUM_OFF = 0
CHECKSUM_CRC32 = 1

BINLOG_NAME = re.compile(r"([A-Za-z0-9_-][A-Za-z0-9._-]{0,63})\.([0-9]{6,10})", re.ASCII)


class BinlogDamaged(ValueError):
    """A binary log file is not what a server writes: the message names the file, the byte offset and the problem."""

    def __init__(self, name: str, offset: int, problem: str) -> None:
        super().__init__(f"binary log {name} is damaged at byte {offset}: {problem}")
        self.name = name
        self.offset = offset
        self.problem = problem


class EventHeader(NamedTuple):
    """One whole event's common header, and where the event starts in the file."""

    offset: int
    timestamp: int
    type_code: int
    server_id: int
    size: int
    log_pos: int
    flags: int

    @property
    def type_name(self) -> str:
        return event_name(self.type_code)

    @property
    def artificial(self) -> bool:
        """Made up by the server for a replication stream (a fake ROTATE at its start), not read from a file."""
        return bool(self.flags & LOG_EVENT_ARTIFICIAL_F) or self.log_pos == 0


@dataclass(frozen=True)
class BinlogFormat:
    """What the format description event (always the first) says about the file."""

    binlog_version: int
    server_version: str
    checksum_alg: int | None  # None: a server from before checksums (MySQL < 5.6.1, MariaDB < 5.3)
    in_use: bool  # the server had not closed the file when it was read or copied (or it crashed)

    @property
    def checksums(self) -> bool:
        return self.checksum_alg == CHECKSUM_CRC32


@dataclass(frozen=True)
class BinlogFacts:
    """What a binary log file holds, from a read that checked all of it."""

    size: int  # bytes that form whole events (the file's size for a clean file)
    events: int
    server_version: str
    server_id: int | None  # of the first real event after the format description, else the format description's
    checksums: bool  # CRC32 on, and every event's verified
    in_use: bool  # the format description still says the server has the file open
    first_event_time: int | None  # unix seconds: the earliest nonzero timestamp of a real event
    last_event_time: int | None  # the latest nonzero timestamp of a real event
    first_gtid: str | None  # MariaDB "domain-server-seq" or MySQL "uuid:gno" of the first transaction (None when
    # there is none, or when MySQL's tagged GTIDs are among them: those are not decoded)
    last_gtid: str | None
    ends_with: str  # "rotate" (closed by rotation: see next_file), "stop" (server shut down) or "open"
    next_file: str | None  # the file a final ROTATE event names
    last_position: int  # log_pos of the last whole event that has one: its end in the server's file
    truncated_bytes: int  # bytes after the last whole event (a partial event still being written)


def event_name(type_code: int) -> str:
    return EVENT_NAMES.get(type_code, f"event type {type_code}")


def binlog_sequence(name: str) -> tuple[str, int] | None:
    """('mysql-bin', 42) from 'mysql-bin.000042'; None for any other name (a path, '..', a leading dot)."""
    match = BINLOG_NAME.fullmatch(name)
    if match is None or ".." in name:
        return None
    return match.group(1), int(match.group(2))


def read_binlog(path: Path, *, allow_partial_tail: bool) -> BinlogFacts:
    """Check a whole binary log file and return its facts; BinlogDamaged when it is not what a server writes.

    allow_partial_tail: the file is still being written, so an event cut at the end is reported in
    truncated_bytes; otherwise (a closed file) it is damage. Raises UnsafeFile or OSError when it cannot be opened.
    """
    with open_binlog(path) as handle:
        scanner = EventScanner(handle, path.name, allow_partial_tail=allow_partial_tail)
        facts = FactCollector(path.name)
        for header, head in scanner.events():
            facts.add(header, head)
        assert scanner.format is not None  # events() reads the format description first
        return facts.result(scanner)


def iter_events(path: Path, *, allow_partial_tail: bool = False) -> Iterator[EventHeader]:
    """The headers of a binary log's whole events, in file order, each checked as read_binlog checks it."""
    with open_binlog(path) as handle:
        for header, _head in EventScanner(handle, path.name, allow_partial_tail=allow_partial_tail).events():
            yield header


def open_binlog(path: Path) -> IO[bytes]:
    """The file for reading without its own buffer (EventScanner reads READ_SIZE at a time); never a link or FIFO."""
    return os.fdopen(open_regular(path), "rb", buffering=0)


class EventScanner:
    """Reads a binary log's events in order from an open file, checking each as it goes.

    Events are yielded as (header, head): head is the start of the body (at most HEAD_LIMIT bytes, the CRC
    excluded). After the first event, `format` holds what the format description said.
    """

    def __init__(
        self, handle: IO[bytes], name: str, *, allow_partial_tail: bool, whole_bodies: frozenset[int] = frozenset()
    ) -> None:
        """whole_bodies: the event types whose whole body is yielded (up to WHOLE_BODY_LIMIT), not only its head."""
        self.whole_bodies = whole_bodies
        self.handle = handle
        self.name = name
        self.allow_partial_tail = allow_partial_tail
        self.end = os.fstat(handle.fileno()).st_size  # what the file holds now; a growing file is read up to here
        self.buffer = b""
        self.buffer_start = 0  # the file offset of buffer[0]
        self.offset = 0  # the next byte to read
        self.format: BinlogFormat | None = None
        self.last_log_pos = 0
        self.truncated_bytes = 0
        self.crc_len = 0  # 4 once the format description says every event ends with a CRC32

    def events(self) -> Iterator[tuple[EventHeader, bytes]]:
        self.read_magic()
        first = self.read_header()
        if first is None:
            raise self.damaged(len(MAGIC), "it holds no format description event")
        yield first, self.read_format_description(first)
        while (header := self.read_header()) is not None:
            yield header, self.read_body(header)

    @property
    def whole_bytes(self) -> int:
        """Bytes read as whole events (with the magic), once events() is done."""
        return self.offset

    def damaged(self, offset: int, problem: str) -> BinlogDamaged:
        return BinlogDamaged(self.name, offset, problem)

    def read_magic(self) -> None:
        magic = self.take(min(len(MAGIC), self.end))
        if magic == ENCRYPTED_MAGIC:
            raise self.damaged(0, "it is an encrypted MySQL binary log (binlog_encryption), which cannot be checked")
        if magic != MAGIC:
            raise self.damaged(0, f"it does not start with the binary log magic bytes (found {magic.hex() or 'none'})")

    def read_header(self) -> EventHeader | None:
        """The next event's header, or None at the end of the whole events (a partial tail counted when allowed)."""
        offset = self.offset
        left = self.end - offset
        if left == 0:
            return None
        if left < HEADER_LEN:
            self.partial_tail(offset, f"{left} bytes follow the last event, less than an event header")
            return None
        if self.available() < HEADER_LEN:
            self.refill(HEADER_LEN)
        header = EventHeader(offset, *HEADER.unpack_from(self.buffer, offset - self.buffer_start))
        smallest = HEADER_LEN + self.crc_len
        if header.size < smallest:
            raise self.damaged(offset, f"{header.type_name} says it is {header.size} bytes, less than {smallest}")
        if header.size > left:
            self.partial_tail(
                offset, f"{header.type_name} of {header.size} bytes runs past the end of the file ({left} bytes left)"
            )
            return None
        if header.log_pos:
            if header.log_pos < self.last_log_pos:
                raise self.damaged(
                    offset, f"{header.type_name} ends at log position {header.log_pos}, before {self.last_log_pos}"
                )
            self.last_log_pos = header.log_pos
        self.offset += HEADER_LEN
        return header

    def partial_tail(self, offset: int, problem: str) -> None:
        if not self.allow_partial_tail:
            raise self.damaged(offset, f"{problem}: the file was cut")
        self.truncated_bytes = self.end - offset

    def read_format_description(self, header: EventHeader) -> bytes:
        if header.type_code != FORMAT_DESCRIPTION_EVENT:
            raise self.damaged(header.offset, f"the first event is a {header.type_name}, not a format description")
        if not HEADER_LEN + FDE_FIXED_LEN <= header.size <= FDE_LIMIT:
            raise self.damaged(header.offset, f"the format description is {header.size} bytes, which no server writes")
        body = self.take(header.size - HEADER_LEN)
        self.format = parse_format_description(header, body, self.name)
        self.crc_len = CRC_LEN if self.format.checksums else 0
        if self.format.checksum_alg is None:
            return body
        # Checksum-aware servers always put the algorithm and a CRC32 (of the event with the in-use flag clear,
        # so that closing the file does not change it) at the end of the format description.
        self.check_crc(header, body[:-CRC_LEN], body[-CRC_LEN:], zlib.crc32(header_for_crc(header)))
        return body[: -CRC_LEN - 1]

    def read_body(self, header: EventHeader) -> bytes:
        if header.type_code == MARIADB_START_ENCRYPTION_EVENT:
            raise self.damaged(
                header.offset, "the events after it are encrypted (encrypt_binlog): they cannot be checked"
            )
        body_len = header.size - HEADER_LEN - self.crc_len
        start = self.offset - self.buffer_start
        if header.type_code in self.whole_bodies:
            return self.read_whole_body(header, body_len)
        if start >= HEADER_LEN and start + body_len + self.crc_len <= len(self.buffer):
            return self.read_buffered_body(header, start, body_len)
        head = self.take(min(body_len, HEAD_LIMIT))
        if not self.crc_len:
            self.skip(body_len - len(head))
            return head
        crc = zlib.crc32(head, zlib.crc32(header_for_crc(header)))
        crc = self.crc_of_next(body_len - len(head), crc)
        self.check_crc(header, b"", self.take(CRC_LEN), crc)
        return head

    def read_whole_body(self, header: EventHeader, body_len: int) -> bytes:
        if body_len > WHOLE_BODY_LIMIT:
            raise self.damaged(
                header.offset, f"its {header.type_name} of {body_len} bytes is larger than {WHOLE_BODY_LIMIT} bytes"
            )
        body = self.take(body_len)
        if self.crc_len:
            self.check_crc(header, body, self.take(CRC_LEN), zlib.crc32(header_for_crc(header)))
        return body

    def read_buffered_body(self, header: EventHeader, start: int, body_len: int) -> bytes:
        """The common case, kept quick: the whole event, its header included, is in the buffer."""
        buffer = self.buffer
        end = start + body_len
        self.offset += body_len + self.crc_len
        if self.crc_len:
            computed = zlib.crc32(memoryview(buffer)[start - HEADER_LEN : end])
            (stored,) = CRC.unpack_from(buffer, end)
            if computed != stored:
                raise self.crc_mismatch(header, stored, computed)
        return buffer[start : min(end, start + HEAD_LIMIT)]

    def check_crc(self, header: EventHeader, data: bytes, stored: bytes, crc: int) -> None:
        computed = zlib.crc32(data, crc)
        (expected,) = CRC.unpack(stored)
        if computed != expected:
            raise self.crc_mismatch(header, expected, computed)

    def crc_mismatch(self, header: EventHeader, stored: int, computed: int) -> BinlogDamaged:
        return self.damaged(
            header.offset,
            f"the CRC32 of the {header.type_name} there is {stored:#010x}, its bytes give {computed:#010x}",
        )

    # --- the file, read forward through one buffer ----------------------------------------------------------

    def available(self) -> int:
        return self.buffer_start + len(self.buffer) - self.offset

    def peek(self, length: int) -> bytes:
        """The next `length` bytes (length at most READ_SIZE, all within the file), without moving past them."""
        if self.available() < length:
            self.refill(length)
        start = self.offset - self.buffer_start
        return self.buffer[start : start + length]

    def take(self, length: int) -> bytes:
        data = self.peek(length)
        self.offset += length
        return data

    def skip(self, length: int) -> None:
        self.crc_of_next(length, 0)

    def crc_of_next(self, length: int, crc: int) -> int:
        """Run the CRC over the next `length` bytes and move past them, READ_SIZE at a time."""
        while length:
            if self.available() == 0:
                self.refill(1)
            piece = min(length, self.available())
            start = self.offset - self.buffer_start
            crc = zlib.crc32(memoryview(self.buffer)[start : start + piece], crc)
            self.offset += piece
            length -= piece
        return crc

    def refill(self, length: int) -> None:
        """Make the buffer hold at least `length` bytes from offset on, reading READ_SIZE at a time."""
        pieces = [self.buffer[self.offset - self.buffer_start :]]
        have = len(pieces[0])
        while have < length:
            read_at = self.offset + have
            chunk = self.handle.read(min(READ_SIZE, self.end - read_at))
            if not chunk:
                raise self.damaged(read_at, f"the file ends before the {self.end} bytes it had when opened")
            pieces.append(chunk)
            have += len(chunk)
        self.buffer = b"".join(pieces)
        self.buffer_start = self.offset


class FactCollector:
    """A binary log's facts, gathered event by event."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events = 0
        self.format_server_id: int | None = None
        self.server_id: int | None = None
        self.first_time: int | None = None
        self.last_time: int | None = None
        self.first_gtid: str | None = None
        self.last_gtid: str | None = None
        self.tagged_gtids = False  # then first and last GTID are unknown rather than wrong
        self.last_type: int | None = None
        self.next_file: str | None = None
        self.last_position = 0

    def add(self, header: EventHeader, head: bytes) -> None:
        self.events += 1
        self.last_type = header.type_code
        if header.log_pos:
            self.last_position = header.log_pos
        is_format = header.type_code == FORMAT_DESCRIPTION_EVENT
        if header.artificial and not is_format:
            return
        if header.timestamp:
            self.first_time = min(header.timestamp, self.first_time or header.timestamp)
            self.last_time = max(header.timestamp, self.last_time or 0)
        if is_format:
            self.format_server_id = self.format_server_id or header.server_id
        elif self.server_id is None:
            self.server_id = header.server_id
        self.tagged_gtids = self.tagged_gtids or header.type_code == GTID_TAGGED_LOG_EVENT
        gtid = gtid_of(header, head, self.name)
        if gtid is not None:
            self.first_gtid = self.first_gtid or gtid
            self.last_gtid = gtid
        self.next_file = rotation_target(header, head, self.name) if header.type_code == ROTATE_EVENT else None

    def result(self, scanner: EventScanner) -> BinlogFacts:
        assert scanner.format is not None
        return BinlogFacts(
            size=scanner.whole_bytes,
            events=self.events,
            server_version=scanner.format.server_version,
            server_id=self.server_id if self.server_id is not None else self.format_server_id,
            checksums=scanner.format.checksums,
            in_use=scanner.format.in_use,
            first_event_time=self.first_time,
            last_event_time=self.last_time,
            first_gtid=None if self.tagged_gtids else self.first_gtid,
            last_gtid=None if self.tagged_gtids else self.last_gtid,
            ends_with={ROTATE_EVENT: "rotate", STOP_EVENT: "stop"}.get(self.last_type or 0, "open"),
            next_file=self.next_file if self.last_type == ROTATE_EVENT else None,
            last_position=self.last_position,
            truncated_bytes=scanner.truncated_bytes,
        )


def gtid_of(header: EventHeader, head: bytes, name: str) -> str | None:
    """The GTID a transaction's first event gives it: MariaDB's 'domain-server-seq', MySQL's 'uuid:gno'."""
    if header.type_code == MARIADB_GTID_EVENT:
        if len(head) < 12:
            raise BinlogDamaged(name, header.offset, f"a GTID_EVENT of {len(head)} body bytes, less than 12")
        seq_no, domain_id = struct.unpack_from("<QI", head)
        return f"{domain_id}-{header.server_id}-{seq_no}"
    if header.type_code == GTID_LOG_EVENT:
        if len(head) < 25:
            raise BinlogDamaged(name, header.offset, f"a GTID_LOG_EVENT of {len(head)} body bytes, less than 25")
        (gno,) = struct.unpack_from("<q", head, 17)
        return f"{uuid.UUID(bytes=head[1:17])}:{gno}"
    return None


def rotation_target(header: EventHeader, head: bytes, name: str) -> str:
    """The next file a ROTATE event names (position u64, then the name)."""
    if not 8 < len(head) < HEAD_LIMIT:  # a server's file names are at most 512 bytes
        raise BinlogDamaged(name, header.offset, f"a ROTATE_EVENT of {header.size} bytes names no file name")
    return head[8:].decode("utf-8", "replace")


def header_for_crc(header: EventHeader) -> bytes:
    """The header as the CRC covers it: for a format description, with the in-use flag clear."""
    flags = header.flags & ~LOG_EVENT_BINLOG_IN_USE_F if header.type_code == FORMAT_DESCRIPTION_EVENT else header.flags
    return HEADER.pack(header.timestamp, header.type_code, header.server_id, header.size, header.log_pos, flags)


def parse_format_description(header: EventHeader, body: bytes, name: str) -> BinlogFormat:
    (binlog_version,) = struct.unpack_from("<H", body)
    if binlog_version != 4:
        raise BinlogDamaged(name, header.offset, f"binlog format version {binlog_version}, not 4 (MySQL 5.0 or later)")
    server_version = body[2:52].split(b"\0", 1)[0].decode("ascii", "replace")
    common_header_len = body[56]
    if common_header_len != HEADER_LEN:
        raise BinlogDamaged(name, header.offset, f"event headers of {common_header_len} bytes, not {HEADER_LEN}")
    checksum_alg = None
    if checksum_aware(server_version):
        if len(body) < FDE_FIXED_LEN + 1 + CRC_LEN:
            raise BinlogDamaged(name, header.offset, "the format description has no room for its checksum")
        checksum_alg = body[-CRC_LEN - 1]
        if checksum_alg not in (CHECKSUM_OFF, CHECKSUM_CRC32):
            raise BinlogDamaged(name, header.offset, f"unknown checksum algorithm {checksum_alg}")
    in_use = bool(header.flags & LOG_EVENT_BINLOG_IN_USE_F)
    return BinlogFormat(binlog_version, server_version, checksum_alg, in_use)


def checksum_aware(server_version: str) -> bool:
    """Whether a server of this version ends its format description with a checksum (MySQL 5.6.1, MariaDB 5.3)."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", server_version)
    if match is None:
        return False
    version = tuple(int(part) for part in match.groups())
    return version >= ((5, 3, 0) if "mariadb" in server_version.lower() else (5, 6, 1))
