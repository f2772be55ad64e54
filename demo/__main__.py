"""`make demo`: the service's main job, end to end, on this machine, in under a minute.

It starts a throwaway MariaDB on a free port (tests/mariadb_server.py), creates a small fir_db in AFIRGen's
shape (fir_records with TEXT/LONGTEXT/ENUM/JSON columns and a FULLTEXT index, background_tasks) and a
sessions.db in WAL mode with a writer committing to it all along, then runs what an operator runs: backup (as a
least-privilege user), list, verify --restore-test, status and a restore into a scratch database, each through
backup_database.py as a separate process. It says in a line or two what each step did, removes everything it
started or wrote, and exits 0 only if every step succeeded.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from mariadb_server import MariaDBServer, MariaDBServerError  # noqa: E402

BACKUP_USER, BACKUP_PASSWORD = "afirgen_backup", "demo pässword $1"
COMPLAINTS = (
    "मेरा मोबाइल फ़ोन बाज़ार में चोरी हो गया। मैंने पास के दुकानदार को बताया।",
    "என் கைபேசி பேருந்து நிலையத்தில் திருடப்பட்டது; பை திறந்திருந்தது.",
    "আমার সাইকেলটি স্টেশনের বাইরে থেকে চুরি হয়ে গেছে।",
    "Someone withdrew ₹48,000 from my account after a call claiming to be from the bank.",
    "My neighbour's car was scratched and a side mirror broken during the night.",
)
STATUSES = ("draft", "pending_review", "finalized")
FIR_SCHEMA = (
    """CREATE TABLE fir_records (
      id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      fir_number VARCHAR(64) NOT NULL UNIQUE,
      session_id VARCHAR(64) NOT NULL,
      complaint_text TEXT NOT NULL,
      fir_content LONGTEXT NOT NULL,
      violations_json JSON NOT NULL,
      status ENUM('draft','pending_review','finalized') NOT NULL DEFAULT 'draft',
      finalized_at DATETIME NULL,
      created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      KEY idx_session_id (session_id),
      FULLTEXT KEY ft_complaint (complaint_text)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE background_tasks (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      task_type VARCHAR(64) NOT NULL,
      fir_number VARCHAR(64) NULL,
      status ENUM('queued','running','done','failed') NOT NULL DEFAULT 'queued',
      payload JSON NULL,
      attempts INT NOT NULL DEFAULT 0,
      created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      KEY idx_status (status)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
)


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.backup_dir = work / "backups"
        self.sessions = work / "sessions" / "sessions.db"
        self.server: MariaDBServer | None = None
        self.failed: list[str] = []

    # --- output -----------------------------------------------------------------------------------------------

    def say(self, step: str, text: str) -> None:
        print(f"{step:>10}  {text}", flush=True)

    def run(self, step: str, *args: str, user: str = "backup") -> subprocess.CompletedProcess[str]:
        """backup_database.py ARGS as its own process; a failure is said, remembered, and the demo goes on."""
        env = self.env(root=user == "root")
        result = subprocess.run(
            [sys.executable, str(REPO / "backup_database.py"), *args],
            env=env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            self.failed.append(step)
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            self.say(step, f"FAILED (exit {result.returncode}): {' '.join(errors) or result.stderr[-400:]}")
        return result

    def env(self, *, root: bool) -> dict[str, str]:
        assert self.server is not None
        (self.work / "empty.env").touch()
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BACKUP_ENV_FILE": str(self.work / "empty.env"),
            "MYSQL_HOST": self.server.host,
            "MYSQL_PORT": str(self.server.port),
            "MYSQL_USER": "root" if root else BACKUP_USER,
            "MYSQL_PASSWORD": "" if root else BACKUP_PASSWORD,
            "MYSQL_DB": "fir_db",
            "SESSIONS_DB_PATH": str(self.sessions),
            "BACKUP_DIR": str(self.backup_dir),
            "BACKUP_LOG_FORMAT": "json",
        }

    # --- the fixtures -------------------------------------------------------------------------------------------

    def start_server(self) -> None:
        started = time.monotonic()
        self.server = MariaDBServer()
        self.server.start()
        self.say(
            "server",
            f"a throwaway MariaDB on {self.server.host}:{self.server.port} "
            f"({time.monotonic() - started:.1f} s; data in {self.server.basedir})",
        )

    def create_fir_db(self) -> int:
        assert self.server is not None
        rng = random.Random(7)
        self.server.execute("CREATE DATABASE fir_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        with self.server.connect("fir_db") as conn, conn.cursor() as cur:
            for statement in FIR_SCHEMA:
                cur.execute(statement)
            for n in range(1, 61):
                text = " ".join(rng.choice(COMPLAINTS) for _ in range(3))
                violations = [{"section": rng.choice(["BNS 303", "BNS 318", "IT Act 66D"]), "confidence": n / 61}]
                cur.execute(
                    "INSERT INTO fir_records (fir_number, session_id, complaint_text, fir_content, violations_json,"
                    " status) VALUES (%s, %s, %s, %s, %s, %s)",
                    (f"FIR/2026/{n:05d}", f"sess-{n:04d}", text, text * 20, json.dumps(violations), STATUSES[n % 3]),
                )
                cur.execute(
                    "INSERT INTO background_tasks (task_type, fir_number, status, payload) VALUES (%s, %s, %s, %s)",
                    ("email_fir", f"FIR/2026/{n:05d}", rng.choice(["queued", "done"]), json.dumps({"to": "sho"})),
                )
            for host in ("%", "localhost"):
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
                cur.execute("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* TO %s@%s", (BACKUP_USER, host))
                cur.execute("GRANT SELECT ON mysql.proc TO %s@%s", (BACKUP_USER, host))
        return 120

    def create_sessions_db(self) -> None:
        self.sessions.parent.mkdir()
        db = sqlite3.connect(self.sessions)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(
            "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, state TEXT NOT NULL, status TEXT NOT NULL);"
            "CREATE TABLE validation_history (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, step TEXT NOT NULL,"
            " timestamp TEXT NOT NULL);"
        )
        db.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?)",
            [
                (f"sess-{n:04d}", json.dumps({"transcript": COMPLAINTS[n % 5]}, ensure_ascii=False), "active")
                for n in range(1, 61)
            ],
        )
        db.commit()
        db.close()

    # --- the steps -----------------------------------------------------------------------------------------------

    def writer(self, stop: threading.Event, committed: list[int]) -> None:
        """The application: a commit to sessions.db every 20 ms, each on a connection of its own."""
        while not stop.is_set():
            db = sqlite3.connect(self.sessions, timeout=30)
            db.execute(
                "INSERT INTO validation_history (session_id, step, timestamp) VALUES ('sess-0001', 'fir_draft',"
                " datetime('now'))"
            )
            db.commit()
            db.close()
            committed.append(1)
            stop.wait(0.02)

    def backup(self) -> None:
        stop, committed = threading.Event(), []
        thread = threading.Thread(target=self.writer, args=(stop, committed), daemon=True)
        thread.start()
        started = time.monotonic()
        result = self.run("backup", "backup")
        stop.set()
        thread.join(10)
        if result.returncode == 0:
            files = sorted(p for p in self.backup_dir.glob("*.gz"))
            described = ", ".join(f"{p.name} ({p.stat().st_size / 1000:.0f} KB)" for p in files)
            self.say("backup", f"{described} in {time.monotonic() - started:.1f} s, as the least-privilege user")
            self.say("", f"the application committed {len(committed)} times to sessions.db meanwhile, unblocked")

    def listing(self) -> None:
        result = self.run("list", "list", "--json")
        if result.returncode == 0:
            groups = json.loads(result.stdout)["backups"]
            good = sum(1 for entries in groups.values() for e in entries if e["good"])
            self.say("list", f"{good} good backups: " + ", ".join(f"{k} {len(v)}" for k, v in groups.items() if v))

    def verify(self) -> None:
        result = self.run("verify", "verify", "--restore-test", "--json", user="root")
        if result.returncode == 0:
            for backup in json.loads(result.stdout)["backups"]:
                checks = ", ".join(c["check"] for c in backup["checks"])
                self.say("verify", f"{backup['name']}: ok ({checks})")

    def status(self) -> None:
        result = self.run("status", "status")
        if result.returncode == 0:
            self.say("status", result.stdout.strip().splitlines()[-1])

    def restore(self) -> None:
        assert self.server is not None
        result = self.run("restore", "restore", "mysql", "latest", "--target-db", "fir_db_restored", user="root")
        if result.returncode != 0:
            return
        with self.server.connect() as conn, conn.cursor() as cur:
            cur.execute(
                "CHECKSUM TABLE fir_db.fir_records, fir_db_restored.fir_records, fir_db.background_tasks,"
                " fir_db_restored.background_tasks EXTENDED"
            )
            sums = [row[1] for row in cur.fetchall()]
        same = sums[0] == sums[1] and sums[2] == sums[3]
        if not same:
            self.failed.append("restore")
        self.say(
            "restore",
            f"into fir_db_restored: CHECKSUM TABLE {'equal to' if same else 'DIFFERENT FROM'} fir_db for both tables",
        )

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> int:
    started = time.monotonic()
    demo = Demo(Path(tempfile.mkdtemp(prefix="afirgen-demo-")))
    steps: list[Callable[[], Any]] = [demo.backup, demo.listing, demo.verify, demo.status, demo.restore]
    try:
        demo.start_server()
        rows = demo.create_fir_db()
        demo.create_sessions_db()
        demo.say("data", f"fir_db: fir_records and background_tasks, {rows} rows; sessions.db in WAL mode")
        for step in steps:
            step()
    except (MariaDBServerError, OSError) as error:
        print(f"demo: cannot run: {error}", file=sys.stderr)
        return 1
    finally:
        demo.cleanup()
    elapsed = time.monotonic() - started
    if demo.failed:
        print(f"demo FAILED at: {', '.join(demo.failed)} ({elapsed:.0f} s; everything it started is removed)")
        return 1
    print(f"demo ok: every step succeeded in {elapsed:.0f} s; everything it started is removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
