"""Which binary log events a point-in-time restore replays: every one is read here first (binlog_replay.py).

The archive is untrusted input, and what mysqlbinlog prints from it goes to the mysql client: a statement event's
text is printed as it is, ended by mysqlbinlog's own delimiter (`/*!*/;`), and some of its status variables are
printed inside quotes (the time zone), unescaped. So, for the statement events of every database (mysqlbinlog's
--database lets some through whatever their database, BEGIN/COMMIT/ROLLBACK/SAVEPOINT among them, by the first
word of the text):

- the text holds no `/*!`, `/*M!`, NUL or DELIMITER, and no `;` outside strings and comments: one statement;
- a statement that starts like transaction control is exactly that (BEGIN, COMMIT, ROLLBACK, a savepoint, XA);
- in the dumped database (its default database), a statement is transaction control or a table's DDL that names
  no database at all (a qualified name would reach the live database, not the copy, and a name of another
  database reaches beyond it), and reaches outside the server neither (CONNECTION=, DATA DIRECTORY, FEDERATED);
- in any other default database (or none), a statement that names the dumped database is refused: the restore
  would leave it out (--database filters by the default database), and the copy would silently differ;
- the status variables are read whole, each of a kind this module knows, their strings of plain characters.

Row events are replayed only for the dumped database's tables (--database filters them by their table map) and
rewritten to the copy (--rewrite-db). Any other kind of event than those listed stops the restore.
"""

from __future__ import annotations

import re
import struct

from afirgen_backup.errors import VerificationFailed
from afirgen_backup.sources.mysql.binlog_file import FORMAT_DESCRIPTION_EVENT, QUERY_EVENT, event_name

TABLE_MAP_EVENT = 19
TRANSACTION_PAYLOAD_EVENT = 40  # MySQL's compressed transactions (binlog_transaction_compression)
#: Events replayed as they are: they change nothing but what the row and statement events around them say.
HARMLESS_EVENTS = frozenset(
    {
        FORMAT_DESCRIPTION_EVENT,
        3,  # STOP
        4,  # ROTATE
        5,  # INTVAR
        13,  # RAND
        16,  # XID (COMMIT)
        TABLE_MAP_EVENT,  # names the table of the row events after it: filtered (--database), rewritten
        23, 24, 25, 30, 31, 32,  # WRITE/UPDATE/DELETE_ROWS (v1, v2)
        29,  # ROWS_QUERY (a comment)
        33, 34, 35,  # MySQL GTID, ANONYMOUS_GTID, PREVIOUS_GTIDS
        38,  # XA_PREPARE
        39,  # PARTIAL_UPDATE_ROWS (MySQL JSON)
        42,  # MySQL GTID_TAGGED (8.3+; not printed: --skip-gtids)
        160,  # ANNOTATE_ROWS (not printed: --skip-annotate-row-events)
        161,  # BINLOG_CHECKPOINT
        162,  # MariaDB GTID
        163,  # GTID_LIST
    }
)  # fmt: skip
IDENTIFIER = rb"(?:[A-Za-z0-9_$]{1,64}|`(?:[^`\x00\n]|``){1,64}`)"
XID = rb"X?'[0-9A-Fa-f]{0,256}'(?:\s*,\s*X?'[0-9A-Fa-f]{0,128}'(?:\s*,\s*\d{1,10})?)?"
TRANSACTION_CONTROL = re.compile(
    rb"BEGIN|COMMIT|ROLLBACK"
    rb"|(?:SAVEPOINT|ROLLBACK\s+TO(?:\s+SAVEPOINT)?|RELEASE\s+SAVEPOINT)\s+" + IDENTIFIER
    + rb"|XA\s+(?:START|BEGIN|END|PREPARE|COMMIT|ROLLBACK)\s+" + XID + rb"(?:\s+ONE\s+PHASE)?",
    re.I,
)  # fmt: skip
LOOKS_LIKE_CONTROL = re.compile(rb"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|XA)\b", re.I)
TABLE_DDL = re.compile(
    rb"(CREATE\s+(OR\s+REPLACE\s+)?(TEMPORARY\s+)?TABLE|ALTER\s+(ONLINE\s+|IGNORE\s+)*TABLE|DROP\s+(TEMPORARY\s+)?TABLE"
    rb"|TRUNCATE(\s+TABLE)?|RENAME\s+TABLE|CREATE\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+INDEX)\s",
    re.I,
)
OUTSIDE_THE_SERVER = re.compile(
    rb"\b(CONNECTION|DATA\s+DIRECTORY|INDEX\s+DIRECTORY)\b|\bENGINE\s*=?\s*(FEDERATED|CONNECT|SPIDER)\b", re.I
)
#: `name`.`name` or name.name: a reference to a database's object.
QUALIFIED = re.compile(rb"(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)\s*\.\s*(?=`|[A-Za-z_$])")
STRING = re.compile(rb"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.S)
COMMENT = re.compile(rb"/\*.*?\*/|--[ \t][^\n]*|#[^\n]*", re.S)
NEVER_IN_TEXT = re.compile(rb"/\*!|/\*M!|\x00|\bDELIMITER\b", re.I)
PLAIN_TEXT = re.compile(rb"[A-Za-z0-9_+\-/:.@%$ ]{0,255}")
#: Status variables of a statement event: code -> its fixed length, or a reader of its variable one.
FIXED_STATUS = {
    0: 4, 1: 8, 3: 4, 4: 6, 7: 2, 8: 2, 9: 8, 10: 4, 13: 3, 16: 1, 17: 8, 18: 2, 19: 1, 20: 1, 128: 3, 129: 8, 130: 1
}  # fmt: skip
TIME_ZONE, CATALOG, CATALOG_NZ, INVOKER, UPDATED_DB_NAMES = 5, 2, 6, 11, 12
OVER_MAX_DBS = 254


def check_event(type_code: int, body: bytes, post_headers: bytes, source_db: str, where: str) -> None:
    """VerificationFailed for an event a restore must not replay (the module's text says which)."""
    if type_code in HARMLESS_EVENTS:
        return
    if type_code == TRANSACTION_PAYLOAD_EVENT:
        raise VerificationFailed(
            f"{where}: a TRANSACTION_PAYLOAD_EVENT: the server compresses its transactions in the binary log "
            "(binlog_transaction_compression=ON), which a restore cannot read to check; turn it off on the server"
        )
    if type_code != QUERY_EVENT:
        raise VerificationFailed(f"{where}: a {event_name(type_code)}, which a restore does not replay")
    db, status, query = parse_query(body, post_header_length(post_headers, QUERY_EVENT, 13), where)
    check_status_variables(status, where)
    check_statement(db, query, source_db.encode(), where)


XA_PREPARE_EVENT = 38
XA_PREPARES = re.compile(rb"\s*XA\s+PREPARE\b", re.I)
XA_ENDS = re.compile(rb"\s*XA\s+(COMMIT|ROLLBACK)\b", re.I)
ONE_PHASE = re.compile(rb"\bONE\s+PHASE\s*;?\s*$", re.I)


class PreparedXa:
    """The XA transactions a replay prepares and does not end (XA COMMIT or XA ROLLBACK) before its point: one
    left prepared on the server would hold its locks in the staging database and fail the move of the restore
    (and survives disconnects and restarts). Counted, not matched by xid: conservative."""

    def __init__(self) -> None:
        self.open = 0
        self.where = ""

    def see(self, type_code: int, body: bytes, post_headers: bytes, where: str) -> None:
        if type_code == XA_PREPARE_EVENT:
            self.open, self.where = self.open + 1, where
        elif type_code == QUERY_EVENT:
            query = parse_query(body, post_header_length(post_headers, QUERY_EVENT, 13), where)[2]
            if XA_PREPARES.match(query):
                self.open, self.where = self.open + 1, where
            elif XA_ENDS.match(query) and not ONE_PHASE.search(query):
                self.open = max(0, self.open - 1)  # one prepared before the dump's coordinates is none of ours

    def check(self, point: str) -> None:
        if self.open:
            raise PointInTimeXaOpen(
                f"{point} falls between an XA transaction's XA PREPARE ({self.where}) and its XA COMMIT: replayed "
                "to there it would stay prepared on the server; allowed: a point after its XA COMMIT, or before it"
            )


class PointInTimeXaOpen(VerificationFailed):
    exit_code = 2


def check_not_on(database: str, type_code: int, body: bytes, post_headers: bytes, where: str) -> None:
    """VerificationFailed for a statement or rows the log holds for `database` under that very name (MySQL's
    mysqlbinlog filters by the name it rewrites to: such events would be replayed unchecked)."""
    if type_code == QUERY_EVENT:
        found = parse_query(body, post_header_length(post_headers, QUERY_EVENT, 13), where)[0]
    elif type_code == TABLE_MAP_EVENT:
        found = table_map_database(body, post_header_length(post_headers, TABLE_MAP_EVENT, 8), where)
    else:
        return
    if found == database.encode():
        raise VerificationFailed(
            f"{where}: the log holds events of {database}, the database being restored into: they would be "
            "replayed as they are"
        )


def table_map_database(body: bytes, post_header: int, where: str) -> bytes:
    """The database a TABLE_MAP_EVENT names (after the table id and flags: a length byte, the name, a 0)."""
    if len(body) < post_header + 1 or len(body) < post_header + 1 + body[post_header]:
        raise VerificationFailed(f"{where}: a TABLE_MAP_EVENT too short to read")
    return body[post_header + 1 : post_header + 1 + body[post_header]]


def check_statement(db: bytes, query: bytes, source: bytes, where: str) -> None:
    if NEVER_IN_TEXT.search(query):
        raise VerificationFailed(f"{where}: a statement with what the mysql client reads as its own: {shown(query)}")
    bare = COMMENT.sub(b" ", STRING.sub(b"''", query)).strip()
    if b";" in bare.rstrip(b"; \t\r\n"):
        raise VerificationFailed(f"{where}: more than one statement in one event: {shown(query)}")
    bare = bare.rstrip(b"; \t\r\n")
    if TRANSACTION_CONTROL.fullmatch(bare):
        return
    if LOOKS_LIKE_CONTROL.match(bare):
        raise VerificationFailed(f"{where}: transaction control with more in it: {shown(query)}")
    qualifiers = [name.strip(b"`").replace(b"``", b"`") for name in QUALIFIED.findall(bare)]
    if db != source:
        if source in qualifiers:
            raise VerificationFailed(
                f"{where}: a statement on {source.decode('utf-8', 'replace')} written while another database was "
                f"the default ({db.decode('utf-8', 'replace')[:64] or 'none'}): a restore cannot replay it into a "
                f"copy: {shown(query)}"
            )
        return  # another database's statement: not replayed (--database)
    if not TABLE_DDL.match(bare + b" "):
        raise VerificationFailed(
            f"{where}: a statement a restore does not replay (only transaction control and table DDL, the server "
            f"logging rows as rows: binlog_format=ROW): {shown(query)}"
        )
    if qualifiers:
        raise VerificationFailed(
            f"{where}: a statement that names a database ({qualifiers[0].decode('utf-8', 'replace')[:64]}): a "
            f"restore into a copy cannot replay it: {shown(query)}"
        )
    if OUTSIDE_THE_SERVER.search(bare):
        raise VerificationFailed(f"{where}: a table that reaches outside the server: {shown(query)}")


def check_status_variables(status: bytes, where: str) -> None:
    """Read every status variable; those a client prints (time zone, catalog, names) must be plain text."""
    at = 0
    while at < len(status):
        code = status[at]
        at += 1
        if code in FIXED_STATUS:
            at += FIXED_STATUS[code]
        elif code in (TIME_ZONE, CATALOG_NZ):
            at = plain_string(status, at, where)
        elif code == CATALOG:
            at = plain_string(status, at, where) + 1  # and a NUL
        elif code == INVOKER:
            at = plain_string(status, plain_string(status, at, where), where)
        elif code == UPDATED_DB_NAMES:
            count = status[at] if at < len(status) else 0
            at += 1
            for _ in range(count if count != OVER_MAX_DBS else 0):
                end = status.find(b"\x00", at)
                if end < 0 or not PLAIN_TEXT.fullmatch(status[at:end]):
                    raise VerificationFailed(f"{where}: a statement's database names are not plain text")
                at = end + 1
        else:
            raise VerificationFailed(f"{where}: a statement with a status variable a restore does not know ({code})")
        if at > len(status):
            raise VerificationFailed(f"{where}: a statement's status variables run past their end")


def plain_string(status: bytes, at: int, where: str) -> int:
    """Past a length-prefixed string at `at`, which must be plain text."""
    if at >= len(status):
        raise VerificationFailed(f"{where}: a statement's status variables run past their end")
    end = at + 1 + status[at]
    if end > len(status):
        raise VerificationFailed(f"{where}: a statement's status variables run past their end")
    if not PLAIN_TEXT.fullmatch(status[at + 1 : end]):
        raise VerificationFailed(f"{where}: a statement's status variable is not plain text")
    return end


def post_header_length(post_headers: bytes, type_code: int, default: int) -> int:
    return post_headers[type_code - 1] if len(post_headers) >= type_code else default


def parse_query(body: bytes, post_header: int, where: str) -> tuple[bytes, bytes, bytes]:
    """(default database, status variables, statement) of a QUERY_EVENT body."""
    if post_header < 13 or len(body) < post_header:
        raise VerificationFailed(f"{where}: a QUERY_EVENT too short to read")
    db_len = body[8]
    (status_len,) = struct.unpack_from("<H", body, 11)
    db_start = post_header + status_len
    if len(body) < db_start + db_len + 1:
        raise VerificationFailed(f"{where}: a QUERY_EVENT whose database name runs past its end")
    return body[db_start : db_start + db_len], body[post_header:db_start], body[db_start + db_len + 1 :]


def shown(statement: bytes) -> str:
    text = statement.decode("utf-8", "replace")
    text = text if len(text) <= 120 else text[:117] + "..."
    return repr(text)
