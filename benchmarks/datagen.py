"""Build the benchmark's data: fir_db.fir_records in the throwaway MariaDB, and a WAL-mode sessions.db.

fir_records is filled with LOAD DATA LOCAL INFILE from TSV chunks written to the work dir; generating the next chunk
(Python, one core) overlaps with the server loading the previous one (the other core). A data set is described in
the table benchmeta.datasets, so a later run with the same size, seed and generator version reuses it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.prose import Prose
from benchmarks.server import MariaDB

GENERATOR_VERSION = 4
CHUNK_BYTES = 48_000_000
COLUMNS = (
    "id",
    "fir_number",
    "session_id",
    "complaint_text",
    "fir_content",
    "violations_json",
    "status",
    "finalized_at",
    "created_at",
)
FIR_DDL = """
CREATE TABLE fir_records (
  id INT NOT NULL AUTO_INCREMENT,
  fir_number VARCHAR(64) NOT NULL,
  session_id VARCHAR(64) NOT NULL,
  complaint_text MEDIUMTEXT NOT NULL,
  fir_content MEDIUMTEXT NOT NULL,
  violations_json LONGTEXT CHECK (json_valid(violations_json)),
  status VARCHAR(32) NOT NULL DEFAULT 'draft',
  finalized_at DATETIME NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY uq_fir_number (fir_number),
  KEY idx_session_id (session_id),
  KEY idx_status (status),
  KEY idx_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""


def _esc(value: object) -> str:
    if value is None:
        return "\\N"
    s = value if isinstance(value, str) else str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def tsv_row(rec: dict[str, object]) -> str:
    return "\t".join(_esc(rec[c]) for c in COLUMNS) + "\n"


def _meta(server: MariaDB) -> dict[str, dict[str, object]]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS benchmeta")
            cur.execute("CREATE TABLE IF NOT EXISTS benchmeta.datasets (name VARCHAR(64) PRIMARY KEY, spec TEXT)")
            cur.execute("SELECT name, spec FROM benchmeta.datasets")
            return {name: json.loads(spec) for name, spec in cur.fetchall()}
    finally:
        conn.close()


def ensure_fir_db(server: MariaDB, work: Path, db: str, size_mb: int, seed: int, force: bool = False) -> dict:
    """fir_records in `db` with about size_mb MB (10^6 bytes) of row data; reused when it already matches."""
    spec = {"size_mb": size_mb, "seed": seed, "version": GENERATOR_VERSION}
    have = _meta(server).get(db)
    if not force and have and all(have.get(k) == v for k, v in spec.items()):
        print(f"  {db}: reusing {have['rows']:,} rows ({have['tsv_bytes'] / 1e6:.0f} MB) generated earlier", flush=True)
        return have
    t0 = time.perf_counter()
    conn = server.connect(autocommit=True)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM benchmeta.datasets WHERE name=%s", (db,))
        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE `{db}`")
        cur.execute(FIR_DDL)
    conn.close()

    gen = Prose(seed)
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    target = size_mb * 1_000_000
    total = rows = 0
    loader: threading.Thread | None = None
    errors: list[str] = []

    def load(path: Path) -> None:
        sql = (
            "SET unique_checks=0; SET foreign_key_checks=0; "
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE fir_records CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({', '.join(COLUMNS)})"
        )
        p = subprocess.run(
            [*server.client_argv("mysql"), "--local-infile=1", db, "-e", sql], capture_output=True, text=True
        )
        if p.returncode:
            errors.append(p.stderr)
        path.unlink(missing_ok=True)

    chunk_no = 0
    while total < target:
        path = tmp / f"{db}.{chunk_no}.tsv"
        size = 0
        with open(path, "w", encoding="utf-8") as f:
            buf: list[str] = []
            while size < CHUNK_BYTES and total + size < target:
                rows += 1
                line = tsv_row(gen.record(rows))
                size += len(line.encode())
                buf.append(line)
                if len(buf) >= 2000:
                    f.write("".join(buf))
                    buf.clear()
            f.write("".join(buf))
        total += size
        if loader:
            loader.join()
        if errors:
            raise SystemExit(f"benchmark: LOAD DATA failed: {errors[0]}")
        loader = threading.Thread(target=load, args=(path,))
        loader.start()
        chunk_no += 1
        if sys.stdout.isatty():
            print(f"\r  {db}: generated {total / 1e6:,.0f} / {size_mb:,} MB, {rows:,} rows", end="", flush=True)
    if loader:
        loader.join()
    if errors:
        raise SystemExit(f"benchmark: LOAD DATA failed: {errors[0]}")
    conn = server.connect(autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"ANALYZE TABLE `{db}`.fir_records")
        cur.fetchall()
        cur.execute(f"SELECT COUNT(*) FROM `{db}`.fir_records")
        (count,) = cur.fetchone()
        if count != rows:
            raise SystemExit(f"benchmark: loaded {count} rows into {db}, expected {rows}")
        spec.update(rows=rows, tsv_bytes=total)
        cur.execute("REPLACE INTO benchmeta.datasets VALUES (%s, %s)", (db, json.dumps(spec)))
    conn.close()
    print(f"\r  {db}: {rows:,} rows, {total / 1e6:,.0f} MB of row data in {time.perf_counter() - t0:.0f} s", flush=True)
    return spec


SESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_activity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS validation_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  step TEXT NOT NULL,
  state_snapshot TEXT NOT NULL,
  timestamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_vh_session ON validation_history(session_id);
"""
STEPS = ("transcript", "summary", "violations", "fir_draft", "review")


def session_rows(gen: Prose, n: int) -> tuple[tuple, list[tuple]]:
    rec = gen.record(n)
    sid = rec["session_id"]
    ts = rec["created_at"].isoformat()  # type: ignore[union-attr]
    state = {
        "session_id": sid,
        "transcript": rec["complaint_text"],
        "summary": str(rec["complaint_text"])[:400],
        "violations": json.loads(str(rec["violations_json"])),
        "fir_content": rec["fir_content"],
        "status": rec["status"],
        "language": "en",
    }
    history = [
        (sid, step, json.dumps({"step": step, "output": str(rec["fir_content"])[: 300 + 200 * i]}), ts)
        for i, step in enumerate(STEPS[: 1 + n % len(STEPS)])
    ]
    return (sid, json.dumps(state, ensure_ascii=False), str(rec["status"]), ts, ts), history


def ensure_sessions_db(path: Path, size_mb: int, seed: int, force: bool = False) -> dict:
    spec = {"size_mb": size_mb, "seed": seed, "version": GENERATOR_VERSION}
    meta_path = path.with_suffix(".spec.json")
    if not force and path.exists() and meta_path.exists():
        have = json.loads(meta_path.read_text())
        if all(have.get(k) == v for k, v in spec.items()):
            print(f"  sessions.db: reusing {path.stat().st_size / 1e6:,.0f} MB generated earlier", flush=True)
            return have
    t0 = time.perf_counter()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SESSIONS_DDL)
    gen = Prose(seed + 1)
    target = size_mb * 1_000_000
    n = 0
    while path.stat().st_size + Path(str(path) + "-wal").stat().st_size < target:
        batch, hist = [], []
        for _ in range(500):
            n += 1
            s, h = session_rows(gen, n)
            batch.append(s)
            hist.extend(h)
        with conn:
            conn.executemany("INSERT INTO sessions VALUES (?,?,?,?,?)", batch)
            conn.executemany(
                "INSERT INTO validation_history (session_id, step, state_snapshot, timestamp) VALUES (?,?,?,?)", hist
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    spec.update(sessions=n, bytes=path.stat().st_size)
    meta_path.write_text(json.dumps(spec))
    print(f"  sessions.db: {n:,} sessions, {spec['bytes'] / 1e6:,.0f} MB (WAL) in {time.perf_counter() - t0:.0f} s")
    return spec
