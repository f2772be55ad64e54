"""A realistic FIR database for Oracle MySQL 8.4/9.x that exercises everything a dump must keep.

The MySQL counterpart of tests/fixture_schema.py, with the same deterministic data (its row builders and
strings): utf8mb4_0900_ai_ci text in Devanagari, Tamil and Bengali plus emoji, BLOBs with every byte value and
NUL, awkward strings, JSON, ENUM, SET, DECIMAL, DATETIME(6) at both ends of its range and TIMESTAMP(6), a
FULLTEXT index, cascading foreign keys, a high AUTO_INCREMENT, a MyISAM table without a key; and what MySQL
has that a dump may lose or break:

- a STORED and a VIRTUAL generated column (the stored one indexed), and a table whose only non-key columns
  are generated (a dump that writes values for generated columns does not load: ERROR 3105);
- an INVISIBLE column (SELECT * does not return it);
- a functional index (a hidden virtual column) and an expression default (`DEFAULT (UUID_TO_BIN(UUID()))`);
- CHECK constraints;
- a POINT column with SRID 4326 under a SPATIAL index;
- views: one on a join, one WITH CHECK OPTION, one on another view;
- BEFORE/AFTER triggers, two of them on the same table, event and timing, where FOLLOWS makes the order in
  which they run differ from the order of their names (a dump must keep ACTION_ORDER, and the data shows it);
- a procedure, a DETERMINISTIC NO SQL function and a READS SQL DATA function;
- two events: one ENABLED (its schedule starts in 2035, so it never fires during the tests), one DISABLED.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from fixture_schema import (
    EVIDENCE_COUNT,
    FIR_AUTO_INCREMENT_START,
    LEGACY_LOG_COUNT,
    UNICODE_STRINGS,
    _attachment_rows,
    _fir_rows,
    _legacy_rows,
    _station_rows,
    _timestamp,
    quote_identifier,
)

SEED = 20240602
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_0900_ai_ci"
TABLE_OPTIONS = f"ENGINE=InnoDB DEFAULT CHARSET={CHARSET} COLLATE={COLLATION}"
EVIDENCE_AUTO_INCREMENT_START = 5000
ASSIGNMENT_COUNT = 90
#: The two BEFORE UPDATE triggers on firs: (name, ACTION_ORDER). Name order is the reverse of action order.
ORDERED_TRIGGERS = (("trg_firs_bu_stamp", 1), ("trg_firs_bu_audit", 2))

SCHEMA: tuple[str, ...] = (
    f"""
    CREATE TABLE police_stations (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        code CHAR(8) NOT NULL,
        name VARCHAR(200) NOT NULL,
        district VARCHAR(100) NOT NULL,
        state VARCHAR(100) NOT NULL,
        ip_address VARBINARY(16) NULL,
        station_uuid BINARY(16) NOT NULL DEFAULT (UUID_TO_BIN(UUID())),
        location POINT NOT NULL SRID 4326,
        created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (id),
        UNIQUE KEY uq_station_code (code),
        UNIQUE KEY uq_station_uuid (station_uuid),
        SPATIAL KEY sx_station_location (location),
        CONSTRAINT chk_station_code CHECK (code REGEXP '^PS[0-9]{{6}}$')
    ) {TABLE_OPTIONS} AUTO_INCREMENT=1000
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
        internal_note VARCHAR(200) NULL DEFAULT 'none' INVISIBLE,
        PRIMARY KEY (id),
        UNIQUE KEY uq_fir_number (fir_number),
        KEY ix_station_status (station_id, status),
        KEY ix_incident_year (incident_year),
        KEY ix_metadata_source ((CAST(metadata->>'$.source' AS CHAR(16)) COLLATE utf8mb4_bin)),
        FULLTEXT KEY ft_complaint (complaint_text, remarks),
        CONSTRAINT fk_fir_station FOREIGN KEY (station_id) REFERENCES police_stations (id)
            ON DELETE CASCADE ON UPDATE CASCADE,
        CONSTRAINT chk_property_value CHECK (property_value IS NULL OR property_value >= 0)
    ) {TABLE_OPTIONS} AUTO_INCREMENT={FIR_AUTO_INCREMENT_START}
    """,
    f"""
    CREATE TABLE fir_number_parts (
        fir_number VARCHAR(32) NOT NULL,
        fir_year SMALLINT AS (CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(fir_number, '/', 2), '/', -1) AS UNSIGNED))
            STORED,
        fir_serial INT AS (CAST(SUBSTRING_INDEX(fir_number, '/', -1) AS UNSIGNED)) VIRTUAL,
        PRIMARY KEY (fir_number)
    ) {TABLE_OPTIONS}
    """,
    f"""
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
    ) {TABLE_OPTIONS}
    """,
    f"""
    CREATE TABLE evidence_items (
        id BIGINT NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        description VARCHAR(500) NOT NULL,
        seized_at DATETIME(6) NULL,
        weight_grams DECIMAL(12,2) NULL,
        PRIMARY KEY (id),
        CONSTRAINT fk_evidence_fir FOREIGN KEY (fir_id) REFERENCES firs (id) ON DELETE CASCADE,
        CONSTRAINT chk_evidence_weight CHECK (weight_grams IS NULL OR weight_grams > 0)
    ) {TABLE_OPTIONS} AUTO_INCREMENT={EVIDENCE_AUTO_INCREMENT_START}
    """,
    f"""
    CREATE TABLE case_assignments (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        officer_name VARCHAR(200) NOT NULL,
        officer_rank ENUM('constable','head_constable','sub_inspector','inspector') NOT NULL,
        note TEXT NULL,
        PRIMARY KEY (id),
        KEY ix_assignment_fir (fir_id)
    ) {TABLE_OPTIONS}
    """,
    f"""
    CREATE TABLE fir_status_log (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        fir_id BIGINT UNSIGNED NOT NULL,
        old_status VARCHAR(32) NULL,
        new_status VARCHAR(32) NOT NULL,
        changed_at DATETIME(6) NOT NULL,
        PRIMARY KEY (id),
        KEY ix_status_log_fir (fir_id)
    ) {TABLE_OPTIONS}
    """,
    f"""
    CREATE TABLE legacy_import_log (
        line_no INT NOT NULL,
        source_file VARCHAR(255) NOT NULL,
        raw_line TEXT NULL,
        imported_at DATETIME NULL,
        KEY ix_legacy_source (source_file(50), line_no)
    ) ENGINE=MyISAM DEFAULT CHARSET={CHARSET} COLLATE={COLLATION}
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
    # Created first, so it runs first (ACTION_ORDER 1) although its name sorts last.
    """
    CREATE TRIGGER trg_firs_bu_stamp BEFORE UPDATE ON firs FOR EACH ROW
    IF NOT (OLD.status <=> NEW.status) THEN
        SET NEW.remarks = CONCAT_WS(' ', NEW.remarks, CONCAT('[', NEW.status, ']'));
    END IF
    """,
    # Runs second (FOLLOWS): the note it writes holds the stamp the first one added.
    """
    CREATE TRIGGER trg_firs_bu_audit BEFORE UPDATE ON firs FOR EACH ROW FOLLOWS trg_firs_bu_stamp
    SET NEW.internal_note = IF(
        NEW.remarks LIKE '%]', CONCAT('audited ', RIGHT(NEW.remarks, 24)), NEW.internal_note
    )
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
    CREATE VIEW v_open_fir_counts AS
    SELECT station_id, COUNT(*) AS open_firs FROM v_open_firs GROUP BY station_id
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
    CREATE FUNCTION fir_label(p_number VARCHAR(32), p_year SMALLINT) RETURNS VARCHAR(64)
    DETERMINISTIC NO SQL
    COMMENT 'FIR number with its year, e.g. FIR/2021/00001 (2021)'
    RETURN CONCAT(p_number, ' (', p_year, ')')
    """,
    """
    CREATE EVENT ev_purge_old_drafts
    ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00'
    ON COMPLETION PRESERVE
    DISABLE
    COMMENT 'Never runs: DISABLE'
    DO DELETE FROM firs WHERE status = 'draft' AND registered_at < NOW() - INTERVAL 365 DAY
    """,
    """
    CREATE EVENT ev_close_stale_drafts
    ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 04:00:00'
    ON COMPLETION PRESERVE
    ENABLE
    COMMENT 'ENABLED, but its schedule starts in 2035'
    DO UPDATE firs SET status = 'rejected' WHERE status = 'draft' AND registered_at < NOW() - INTERVAL 730 DAY
    """,
)

#: Object names the fixture creates, for tests asserting nothing got lost.
EXPECTED_OBJECTS: dict[str, list[str]] = {
    "tables": sorted(
        [
            "case_assignments",
            "evidence_items",
            "fir_attachments",
            "fir_number_parts",
            "fir_status_log",
            "firs",
            "legacy_import_log",
            "police_stations",
        ]
    ),
    "views": ["v_fir_summary", "v_open_fir_counts", "v_open_firs"],
    "procedures": ["close_fir"],
    "functions": ["fir_label", "station_fir_count"],
    "triggers": sorted(
        [
            "trg_attachments_before_insert",
            "trg_firs_after_update",
            "trg_firs_before_insert",
            *(name for name, _ in ORDERED_TRIGGERS),
        ]
    ),
    "events": ["ev_close_stale_drafts", "ev_purge_old_drafts"],
    "sequences": [],
}


def _mysql_station_rows(rng: random.Random) -> list[tuple[Any, ...]]:
    """fixture_schema's stations, with a WGS 84 location (latitude, longitude) for each."""
    rows = []
    for code, name, district, state, ip, station_uuid, created in _station_rows(rng):
        latitude, longitude = round(rng.uniform(8, 35), 6), round(rng.uniform(68, 97), 6)
        rows.append((code, name, district, state, ip, station_uuid, f"POINT({latitude} {longitude})", created))
    return rows


def create_fixture(conn: Any, dbname: str) -> None:
    """Create `dbname` (utf8mb4_0900_ai_ci) if needed and fill it with the deterministic MySQL FIR fixture.

    `conn` is a PyMySQL connection to a MySQL 8.4+ server with enough privileges (root). The current database
    of the connection is switched to `dbname`.
    """
    rng = random.Random(SEED)
    db = quote_identifier(dbname)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET {CHARSET} COLLATE {COLLATION}")
        cur.execute(f"USE {db}")
        cur.execute("SET time_zone = '+00:00'")
        for statement in SCHEMA:
            cur.execute(statement)

        cur.executemany(
            "INSERT INTO police_stations (code, name, district, state, ip_address, station_uuid, location,"
            " created_at) VALUES (%s, %s, %s, %s, INET6_ATON(%s), UUID_TO_BIN(%s), ST_GeomFromText(%s, 4326), %s)",
            _mysql_station_rows(rng),
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
        cur.execute("INSERT INTO fir_number_parts (fir_number) SELECT fir_number FROM firs")

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
        ranks = ("constable", "head_constable", "sub_inspector", "inspector")
        cur.executemany(
            "INSERT INTO case_assignments (fir_id, officer_name, officer_rank, note) VALUES (%s, %s, %s, %s)",
            [
                (
                    fir_ids[i % len(fir_ids)],
                    f"Officer {i} {UNICODE_STRINGS[i % 3][:10]}",
                    ranks[i % len(ranks)],
                    None if i % 3 == 0 else UNICODE_STRINGS[i % len(UNICODE_STRINGS)],
                )
                for i in range(ASSIGNMENT_COUNT)
            ],
        )
        cur.execute("DELETE FROM case_assignments WHERE id % 15 = 0")
        legacy = _legacy_rows(rng)
        assert len(legacy) == LEGACY_LOG_COUNT + 1
        cur.executemany(
            "INSERT INTO legacy_import_log (line_no, source_file, raw_line, imported_at) VALUES (%s, %s, %s, %s)",
            legacy,
        )

        # The procedure, and with it the ordered BEFORE UPDATE triggers and the AFTER UPDATE log.
        for fir_id in fir_ids[::9]:
            cur.execute("CALL close_fir(%s, %s, @changed)", (fir_id, "closed: compromise between parties ✔"))
        cur.execute("UPDATE firs SET status = 'rejected' WHERE id % 17 = 0 AND status = 'draft'")
        # Cascade: delete one station with its FIRs, attachments and evidence, leaving AUTO_INCREMENT gaps.
        cur.execute("DELETE FROM police_stations WHERE id = %s", (station_ids[-1],))
