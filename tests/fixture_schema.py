"""A realistic FIR database for MariaDB 10.11 that exercises everything a dump must keep.

`create_fixture(conn, dbname)` creates the database (if needed) and fills it with
deterministic data: utf8mb4 text in Devanagari, Tamil and Bengali plus emoji,
BLOBs with every byte value and NUL, JSON, ENUM, SET, DECIMAL, DATETIME(6) and
TIMESTAMP(6), virtual and stored generated columns, a FULLTEXT index, cascading
foreign keys, a high AUTO_INCREMENT, views (one on a join, one WITH CHECK
OPTION), BEFORE/AFTER triggers, a procedure, a function, a disabled event, and
the MariaDB-only features: a SEQUENCE used as a column default, a
system-versioned table with history, INET6 and UUID columns, CHECK constraints,
an INVISIBLE column, an Aria table and a MyISAM table.

`build_sessions_db(path, journal_mode)` builds the SQLite side: a realistic
sessions.db with unicode text, JSON results, BLOBs, an index and a view.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20240601
FIR_AUTO_INCREMENT_START = 900_000_001
STATION_COUNT = 12
FIR_COUNT = 240
ASSIGNMENT_COUNT = 90
LEGACY_LOG_COUNT = 60
EVIDENCE_COUNT = 70

SESSION_COUNT = 600
VALIDATION_COUNT = 3000
SESSION_BLOB_COUNT = 120
#: Rows written last to the WAL fixture and left only in sessions.db-wal while the test runs.
WAL_ONLY_VALIDATIONS = 100

#: Strings that break naive quoting, escaping or INSERT splitting.
AWKWARD_STRINGS: tuple[str, ...] = (
    "",
    "C:\\Users\\raj\\evidence\\photo.jpg",
    "He said \"stop\" and it's 'over'",
    "line one\nline two\r\nline three\ttabbed",
    "values),(1,'x'),(2",
    "'); DROP TABLE firs; --",
    "\\N",
    "NULL",
    "trailing spaces   ",
    "back`tick and $dollar and #hash",
    "before\x00after",
)

#: Unicode text: Devanagari, Tamil, Bengali, emoji (4-byte), combining marks.
UNICODE_STRINGS: tuple[str, ...] = (
    "मेरा मोबाइल फ़ोन बाज़ार में चोरी हो गया",
    "என் கைபேசி பேருந்து நிலையத்தில் திருடப்பட்டது",
    "আমার মোটরসাইকেল বাড়ির সামনে থেকে চুরি হয়েছে",
    "Phone stolen 📱🚓 near the station 🙏",
    "ऑनलाइन धोखाधड़ी — ₹ 45,000 कट गए 💸",
    "Café ñandú naïve — e\u0301 combining",
    "𝄞 musical symbol and 🇮🇳 flag",
)

COMPLAINANTS: tuple[str, ...] = (
    "राजेश कुमार",
    "சுப்பிரமணியன்",
    "সুমিতা দাস",
    "Anita D'Souza",
    'Mohammed "Babu" Khan',
    "Priya Nair",
    "Gurpreet Singh",
    "Li Wei 李伟",
)

DISTRICTS: tuple[tuple[str, str], ...] = (
    ("Pune", "महाराष्ट्र"),
    ("Chennai", "தமிழ்நாடு"),
    ("Kolkata", "পশ্চিমবঙ্গ"),
    ("Bengaluru Urban", "Karnataka"),
)

STATUSES = ("draft", "submitted", "under_investigation", "closed", "rejected")
CATEGORIES = ("theft", "assault", "fraud", "cyber", "missing_person", "other")

SCHEMA: tuple[str, ...] = (
    """
    CREATE SEQUENCE evidence_id_seq START WITH 5000 INCREMENT BY 5
        MINVALUE 1 MAXVALUE 999999999 CACHE 10 NOCYCLE
    """,
    """
    CREATE TABLE police_stations (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        code CHAR(8) NOT NULL,
        name VARCHAR(200) NOT NULL,
        district VARCHAR(100) NOT NULL,
        state VARCHAR(100) NOT NULL,
        ip_address INET6 NULL,
        station_uuid UUID NOT NULL,
        created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (id),
        UNIQUE KEY uq_station_code (code),
        UNIQUE KEY uq_station_uuid (station_uuid)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci AUTO_INCREMENT=1000
    """,
    f"""
    CREATE TABLE firs (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_number VARCHAR(32) NOT NULL,
        station_id INT UNSIGNED NOT NULL,
        complainant_name VARCHAR(200) NOT NULL,
        complaint_text TEXT NOT NULL,
        remarks TEXT NULL,
        status ENUM('draft','submitted','under_investigation','closed','rejected') NOT NULL DEFAULT 'draft',
        categories SET('theft','assault','fraud','cyber','missing_person','other') NOT NULL DEFAULT '',
        property_value DECIMAL(12,2) NULL,
        incident_at DATETIME(6) NOT NULL,
        registered_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        metadata JSON NULL,
        incident_date DATE AS (CAST(incident_at AS DATE)) VIRTUAL,
        incident_year SMALLINT AS (YEAR(incident_at)) STORED,
        internal_note VARCHAR(200) INVISIBLE NULL DEFAULT 'none',
        PRIMARY KEY (id),
        UNIQUE KEY uq_fir_number (fir_number),
        KEY ix_station_status (station_id, status),
        KEY ix_incident_year (incident_year),
        FULLTEXT KEY ft_complaint (complaint_text, remarks),
        CONSTRAINT fk_fir_station FOREIGN KEY (station_id) REFERENCES police_stations (id)
            ON DELETE CASCADE ON UPDATE CASCADE,
        CONSTRAINT chk_property_value CHECK (property_value IS NULL OR property_value >= 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
      AUTO_INCREMENT={FIR_AUTO_INCREMENT_START}
    """,
    """
    CREATE TABLE fir_attachments (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        filename VARCHAR(255) NOT NULL,
        mime_type VARCHAR(100) NOT NULL DEFAULT 'application/octet-stream',
        content LONGBLOB NULL,
        sha256 CHAR(64) CHARACTER SET ascii NULL,
        PRIMARY KEY (id),
        KEY ix_attachment_fir (fir_id),
        CONSTRAINT fk_attachment_fir FOREIGN KEY (fir_id) REFERENCES firs (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
    """,
    """
    CREATE TABLE evidence_items (
        id BIGINT NOT NULL DEFAULT NEXT VALUE FOR evidence_id_seq,
        fir_id BIGINT UNSIGNED NOT NULL,
        description VARCHAR(500) NOT NULL,
        seized_at DATETIME(6) NULL,
        weight_grams DECIMAL(12,2) NULL,
        PRIMARY KEY (id),
        CONSTRAINT fk_evidence_fir FOREIGN KEY (fir_id) REFERENCES firs (id) ON DELETE CASCADE,
        CONSTRAINT chk_evidence_weight CHECK (weight_grams IS NULL OR weight_grams > 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
    """,
    """
    CREATE TABLE case_assignments (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        officer_name VARCHAR(200) NOT NULL,
        officer_rank ENUM('constable','head_constable','sub_inspector','inspector') NOT NULL,
        note TEXT NULL,
        PRIMARY KEY (id),
        KEY ix_assignment_fir (fir_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci WITH SYSTEM VERSIONING
    """,
    """
    CREATE TABLE fir_status_log (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        old_status VARCHAR(32) NULL,
        new_status VARCHAR(32) NOT NULL,
        changed_at DATETIME(6) NOT NULL,
        PRIMARY KEY (id),
        KEY ix_status_log_fir (fir_id)
    ) ENGINE=Aria TRANSACTIONAL=1 PAGE_CHECKSUM=1 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
    """,
    """
    CREATE TABLE legacy_import_log (
        line_no INT NOT NULL,
        source_file VARCHAR(255) NOT NULL,
        raw_line TEXT NULL,
        imported_at DATETIME NULL,
        KEY ix_legacy_source (source_file(50), line_no)
    ) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
    """,
    """
    CREATE TRIGGER trg_firs_before_insert BEFORE INSERT ON firs FOR EACH ROW
    BEGIN
        SET NEW.fir_number = UPPER(TRIM(NEW.fir_number));
        IF NEW.metadata IS NULL THEN
            SET NEW.metadata = '{}';
        END IF;
    END
    """,
    """
    CREATE TRIGGER trg_firs_after_update AFTER UPDATE ON firs FOR EACH ROW
    BEGIN
        IF NOT (OLD.status <=> NEW.status) THEN
            INSERT INTO fir_status_log (fir_id, old_status, new_status, changed_at)
            VALUES (NEW.id, OLD.status, NEW.status, NOW(6));
        END IF;
    END
    """,
    """
    CREATE TRIGGER trg_attachments_before_insert BEFORE INSERT ON fir_attachments FOR EACH ROW
    SET NEW.sha256 = IF(NEW.content IS NULL, NULL, COALESCE(NEW.sha256, SHA2(NEW.content, 256)))
    """,
    """
    CREATE VIEW v_fir_summary AS
    SELECT f.id, f.fir_number, s.name AS station_name, s.district, f.status,
           f.property_value, f.incident_year
    FROM firs f JOIN police_stations s ON s.id = f.station_id
    """,
    """
    CREATE VIEW v_open_firs AS
    SELECT id, fir_number, station_id, status, complaint_text
    FROM firs WHERE status <> 'closed'
    WITH CHECK OPTION
    """,
    """
    CREATE PROCEDURE close_fir(IN p_fir_id BIGINT UNSIGNED, IN p_reason VARCHAR(500), OUT p_changed INT)
    MODIFIES SQL DATA
    COMMENT 'Close an FIR and append the reason to its remarks'
    BEGIN
        UPDATE firs
           SET status = 'closed', remarks = CONCAT_WS('\\n', remarks, p_reason)
         WHERE id = p_fir_id AND status <> 'closed';
        SET p_changed = ROW_COUNT();
    END
    """,
    """
    CREATE FUNCTION station_fir_count(p_station_id INT UNSIGNED) RETURNS INT
    READS SQL DATA
    RETURN (SELECT COUNT(*) FROM firs WHERE station_id = p_station_id)
    """,
    """
    CREATE EVENT ev_purge_old_drafts
    ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00'
    ON COMPLETION PRESERVE
    DISABLE
    COMMENT 'Never runs in tests: DISABLE'
    DO DELETE FROM firs WHERE status = 'draft' AND registered_at < NOW() - INTERVAL 365 DAY
    """,
)

#: Object names the fixture creates, for tests asserting nothing got lost.
EXPECTED_OBJECTS: dict[str, list[str]] = {
    "tables": sorted(
        [
            "case_assignments",
            "evidence_items",
            "fir_attachments",
            "fir_status_log",
            "firs",
            "legacy_import_log",
            "police_stations",
        ]
    ),
    "views": ["v_fir_summary", "v_open_firs"],
    "procedures": ["close_fir"],
    "functions": ["station_fir_count"],
    "triggers": ["trg_attachments_before_insert", "trg_firs_after_update", "trg_firs_before_insert"],
    "events": ["ev_purge_old_drafts"],
    "sequences": ["evidence_id_seq"],
}


def quote_identifier(name: str) -> str:
    """Backtick-quote a MariaDB identifier."""
    return "`" + name.replace("`", "``") + "`"


def _timestamp(rng: random.Random, start: datetime, span_days: int) -> datetime:
    """A deterministic datetime with microseconds within `span_days` after `start`."""
    return start + timedelta(seconds=rng.randrange(span_days * 86400), microseconds=rng.randrange(1_000_000))


def _station_rows(rng: random.Random) -> list[tuple[Any, ...]]:
    """Police stations with INET6 (IPv4, IPv6, NULL) and UUID values."""
    rows = []
    for i in range(STATION_COUNT):
        district, state = DISTRICTS[i % len(DISTRICTS)]
        if i % 3 == 0:
            ip: str | None = f"::ffff:10.{i}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif i % 3 == 1:
            ip = f"2001:db8:{i:x}::{rng.randrange(1, 0xFFFF):x}"
        else:
            ip = None
        station_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = f"{district} PS {i + 1} — {UNICODE_STRINGS[i % 3][:12]}"
        created = _timestamp(rng, datetime(2019, 1, 1), 365)  # noqa: DTZ001 - naive, like the column
        rows.append((f"PS{i:06d}", name, district, state, ip, station_uuid, created))
    return rows


def _fir_rows(rng: random.Random, station_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """FIRs mixing unicode, awkward strings, NULLs, JSON and edge-case numbers and dates."""
    rows = []
    base = datetime(2021, 1, 1)  # noqa: DTZ001 - naive, like the column
    for i in range(FIR_COUNT):
        text = UNICODE_STRINGS[i % len(UNICODE_STRINGS)]
        if i % 7 == 0:
            text = f"{text} | {AWKWARD_STRINGS[(i // 7) % len(AWKWARD_STRINGS)]}"
        remarks: str | None
        if i % 5 == 0:
            remarks = None
        elif i % 5 == 1:
            remarks = AWKWARD_STRINGS[i % len(AWKWARD_STRINGS)]
        else:
            remarks = f"remark {i}: {UNICODE_STRINGS[(i * 3) % len(UNICODE_STRINGS)]}"
        categories = ",".join(sorted({rng.choice(CATEGORIES) for _ in range(rng.randrange(0, 3))}))
        value: str | None
        if i % 11 == 0:
            value = None
        elif i % 11 == 1:
            value = "0.00"
        elif i % 11 == 2:
            value = "9999999999.99"
        else:
            value = f"{rng.randrange(0, 10**9)}.{rng.randrange(100):02d}"
        incident = _timestamp(rng, base, 1200)
        if i == 3:
            incident = datetime(1000, 1, 1, 0, 0, 0, 0)  # noqa: DTZ001 - DATETIME minimum
        elif i == 4:
            incident = datetime(9999, 12, 31, 23, 59, 59, 999999)  # noqa: DTZ001 - DATETIME maximum
        registered = incident if 1990 < incident.year < 2030 else base
        registered += timedelta(hours=rng.randrange(1, 72), microseconds=rng.randrange(1_000_000))
        metadata: str | None = json.dumps(
            {
                "source": rng.choice(["web", "kiosk", "whatsapp", "station"]),
                "lang": rng.choice(["hi", "ta", "bn", "en"]),
                "summary": UNICODE_STRINGS[(i * 5) % len(UNICODE_STRINGS)],
                "tags": [rng.choice(CATEGORIES) for _ in range(rng.randrange(0, 4))],
                "geo": {"lat": round(rng.uniform(8, 35), 6), "lon": round(rng.uniform(68, 97), 6)},
                "quirks": 'quote " backslash \\ slash / newline \n',
            },
            ensure_ascii=i % 2 == 0,
        )
        if i % 13 == 0:
            metadata = None  # the BEFORE INSERT trigger turns it into '{}'
        rows.append(
            (
                f" fir/{2021 + i % 4}/{i:05d} ",  # lowercase and padded: the trigger normalises it
                station_ids[i % len(station_ids)],
                COMPLAINANTS[i % len(COMPLAINANTS)],
                text,
                remarks,
                STATUSES[i % 3],  # draft, submitted or under_investigation; some get closed later
                categories,
                value,
                incident,
                registered,
                metadata,
                None if i % 4 == 0 else f"internal {i} {AWKWARD_STRINGS[i % len(AWKWARD_STRINGS)]}",
            )
        )
    return rows


def _attachment_rows(rng: random.Random, fir_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Attachments: every byte value, NUL alone, empty, NULL, SQL-looking bytes and random data."""
    special: list[tuple[str, str, bytes | None]] = [
        ("all-bytes.bin", "application/octet-stream", bytes(range(256))),
        ("all-bytes-reversed.bin", "application/octet-stream", bytes(reversed(range(256))) * 3),
        ("nul.bin", "application/octet-stream", b"\x00"),
        ("nul-inside.txt", "text/plain", b"before\x00after\x00\x00end"),
        ("empty.bin", "application/octet-stream", b""),
        ("missing.bin", "application/octet-stream", None),
        ("sqlish.txt", "text/plain", b"'),(\"\\\\\n\r\t\x1a;--"),
        ("utf8.txt", "text/plain; charset=utf-8", "\n".join(UNICODE_STRINGS).encode()),
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + rng.randbytes(64 * 1024) + b"\xff\xd9"),
    ]
    rows: list[tuple[Any, ...]] = []
    for i, (name, mime, content) in enumerate(special):
        rows.append((fir_ids[i], name, mime, content))
    for i in range(len(special), 60):
        content = rng.randbytes(rng.randrange(0, 4096))
        rows.append((fir_ids[i * 3 % len(fir_ids)], f"scan-{i:03d}.pdf", "application/pdf", content))
    return rows


def _legacy_rows(rng: random.Random) -> list[tuple[Any, ...]]:
    """MyISAM rows without a primary key, with duplicates, NULLs and awkward strings."""
    rows = []
    for i in range(LEGACY_LOG_COUNT):
        raw: str | None = None if i % 9 == 0 else f"{i};{AWKWARD_STRINGS[i % len(AWKWARD_STRINGS)]}"
        imported = None if i % 10 == 0 else _timestamp(rng, datetime(2015, 6, 1), 400).replace(microsecond=0)  # noqa: DTZ001
        rows.append((i // 2, f"legacy/register_{i % 3}.csv", raw, imported))
    rows.append(rows[5])  # an exact duplicate row: no key to tell them apart
    return rows


def create_fixture(conn: Any, dbname: str) -> None:
    """Create `dbname` (utf8mb4) if needed and fill it with the deterministic FIR fixture.

    `conn` is a PyMySQL connection with enough privileges (root). The current
    database of the connection is switched to `dbname`.
    """
    rng = random.Random(SEED)
    db = quote_identifier(dbname)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE {db}")
        cur.execute("SET time_zone = '+00:00'")
        for statement in SCHEMA:
            cur.execute(statement)

        cur.executemany(
            "INSERT INTO police_stations (code, name, district, state, ip_address, station_uuid, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            _station_rows(rng),
        )
        cur.execute("SELECT id FROM police_stations ORDER BY id")
        station_ids = [row[0] for row in cur.fetchall()]

        cur.executemany(
            "INSERT INTO firs (fir_number, station_id, complainant_name, complaint_text, remarks, status,"
            " categories, property_value, incident_at, registered_at, metadata, internal_note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            _fir_rows(rng, station_ids),
        )
        cur.execute("SELECT id FROM firs ORDER BY id")
        fir_ids = [row[0] for row in cur.fetchall()]

        cur.executemany(
            "INSERT INTO fir_attachments (fir_id, filename, mime_type, content) VALUES (%s, %s, %s, %s)",
            _attachment_rows(rng, fir_ids),
        )
        cur.executemany(
            "INSERT INTO evidence_items (fir_id, description, seized_at, weight_grams) VALUES (%s, %s, %s, %s)",
            [
                (
                    fir_ids[(i * 7) % len(fir_ids)],
                    f"item {i}: {UNICODE_STRINGS[i % len(UNICODE_STRINGS)]}",
                    None if i % 6 == 0 else _timestamp(rng, datetime(2022, 1, 1), 300),  # noqa: DTZ001
                    None if i % 4 == 0 else f"{rng.randrange(1, 50000)}.{rng.randrange(100):02d}",
                )
                for i in range(EVIDENCE_COUNT)
            ],
        )
        cur.execute("SELECT NEXTVAL(evidence_id_seq)")  # burn a value: the sequence is ahead of the table

        ranks = ("constable", "head_constable", "sub_inspector", "inspector")
        cur.executemany(
            "INSERT INTO case_assignments (fir_id, officer_name, officer_rank, note) VALUES (%s, %s, %s, %s)",
            [
                (
                    fir_ids[i % len(fir_ids)],
                    COMPLAINANTS[(i + 3) % len(COMPLAINANTS)],
                    ranks[i % len(ranks)],
                    None if i % 3 == 0 else UNICODE_STRINGS[i % len(UNICODE_STRINGS)],
                )
                for i in range(ASSIGNMENT_COUNT)
            ],
        )
        # History for the system-versioned table: reassign some cases twice, retire a few.
        for round_no in (1, 2):
            cur.execute(
                "UPDATE case_assignments SET officer_name = CONCAT(officer_name, %s), officer_rank = 'inspector'"
                " WHERE id %% 4 = 0",
                (f" (reassigned {round_no})",),
            )
        cur.execute("DELETE FROM case_assignments WHERE id % 15 = 0")

        cur.executemany(
            "INSERT INTO legacy_import_log (line_no, source_file, raw_line, imported_at) VALUES (%s, %s, %s, %s)",
            _legacy_rows(rng),
        )

        # Exercise the procedure (and with it the AFTER UPDATE trigger writing the Aria log).
        for fir_id in fir_ids[::9]:
            cur.execute("CALL close_fir(%s, %s, @changed)", (fir_id, "closed: compromise between parties ✔"))
        cur.execute("UPDATE firs SET status = 'rejected' WHERE id % 17 = 0 AND status = 'draft'")
        # Cascade: delete one station with its FIRs, attachments and evidence, leaving AUTO_INCREMENT gaps.
        cur.execute("DELETE FROM police_stations WHERE id = %s", (station_ids[-1],))


def build_sessions_db(path: Path, journal_mode: str, seed: int = 7) -> sqlite3.Connection:
    """Create a realistic sessions.db at `path` and return the still-open connection that wrote it.

    Tables `sessions`, `validation_history` (JSON text results) and `session_files`
    (BLOBs, one with all 256 byte values), an index, a view, unicode text.
    """
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    mode = conn.execute(f"PRAGMA journal_mode={journal_mode}").fetchone()[0]
    if mode.lower() != journal_mode.lower():
        raise RuntimeError(f"sqlite refused journal_mode={journal_mode} (got {mode})")
    conn.executescript(
        """
        PRAGMA foreign_keys = ON;
        CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            language TEXT,
            transcript TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE validation_history (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
            step TEXT NOT NULL,
            result TEXT CHECK (result IS NULL OR json_valid(result)),
            created_at TEXT NOT NULL
        );
        CREATE TABLE session_files (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            data BLOB
        );
        CREATE INDEX ix_validation_session_step ON validation_history(session_id, step);
        CREATE VIEW v_latest_validation AS
            SELECT session_id, MAX(created_at) AS last_validated, COUNT(*) AS steps
            FROM validation_history GROUP BY session_id;
        """
    )
    states = ("new", "collecting", "validating", "awaiting_approval", "completed", "abandoned")
    steps = ("transcribe", "extract_entities", "legal_sections", "review", "final")
    session_ids = [f"sess-{rng.getrandbits(64):016x}" for _ in range(SESSION_COUNT)]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                sid,
                states[i % len(states)],
                ("hi", "ta", "bn", "en")[i % 4],
                None if i % 10 == 0 else UNICODE_STRINGS[i % len(UNICODE_STRINGS)] + ("\n" + "'\"\\" if i % 7 else ""),
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i:06d}Z",
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:30.{i:06d}Z",
            )
            for i, sid in enumerate(session_ids)
        ],
    )

    def validation(i: int) -> tuple[object, ...]:
        result = {"ok": i % 5 != 0, "score": round(rng.random(), 4), "note": UNICODE_STRINGS[i % len(UNICODE_STRINGS)]}
        return (
            session_ids[i % len(session_ids)],
            steps[i % len(steps)],
            None if i % 50 == 0 else json.dumps(result, ensure_ascii=i % 2 == 0),
            f"2024-06-{1 + i % 28:02d}T10:{i % 60:02d}:{i % 60:02d}Z",
        )

    batch = VALIDATION_COUNT - WAL_ONLY_VALIDATIONS
    conn.executemany(
        "INSERT INTO validation_history (session_id, step, result, created_at) VALUES (?, ?, ?, ?)",
        [validation(i) for i in range(batch)],
    )
    files: list[tuple[str, str, bytes | None]] = [
        (session_ids[0], "all-bytes.bin", bytes(range(256))),
        (session_ids[1], "empty.bin", b""),
        (session_ids[2], "missing.bin", None),
    ]
    files += [
        (session_ids[i % len(session_ids)], f"audio-{i:03d}.ogg", rng.randbytes(rng.randrange(1, 8192)))
        for i in range(3, SESSION_BLOB_COUNT)
    ]
    conn.executemany("INSERT INTO session_files (session_id, name, data) VALUES (?, ?, ?)", files)
    conn.execute("COMMIT")
    if journal_mode.lower() == "wal":
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the last batch stays in sessions.db-wal only
    conn.executemany(
        "INSERT INTO validation_history (session_id, step, result, created_at) VALUES (?, ?, ?, ?)",
        [validation(i) for i in range(batch, VALIDATION_COUNT)],
    )
    return conn
