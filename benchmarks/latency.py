"""What the application sees: two writer processes, one inserting FIRs into fir_db, one committing to sessions.db.

Each writer runs in its own process (no GIL shared with the benchmark), does one operation every `interval` seconds
and records (start, duration) with time.monotonic(), which is system-wide, so the benchmark can split the samples
into the idle window and the backup window afterwards.

- fir writer: one autocommit PyMySQL connection (like a pooled application connection); one operation is an
  INSERT of a new FIR row (a few KB of text) and its commit.
- sessions writer: like AFIRGen's session manager, a new sqlite3 connection per operation (timeout 5 s), an
  UPDATE of a session's state plus an INSERT into validation_history, commit, close.
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pymysql

from benchmarks.prose import Prose


def _paced(
    operation: Callable[[int], None], failures: type[Exception] | tuple[type[Exception], ...], interval: float, stop
) -> tuple[list[tuple[float, float]], int]:  # noqa: ANN001
    """Run operation(n) every `interval` seconds until `stop` is set; (start, latency) of each, and the failures."""
    samples: list[tuple[float, float]] = []
    errors = 0
    n = 0
    nxt = time.monotonic()
    while not stop.is_set():
        n += 1
        t0 = time.monotonic()
        try:
            operation(n)
        except failures:
            errors += 1
        samples.append((t0, time.monotonic() - t0))
        nxt += interval
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
    return samples, errors


def _fir_writer(conn_kw: dict, db: str, interval: float, stop, out) -> None:  # noqa: ANN001
    gen = Prose(4242)
    pool = [gen.record(i) for i in range(200)]
    conn = pymysql.connect(database=db, autocommit=True, charset="utf8mb4", **conn_kw)
    cur = conn.cursor()

    def insert(n: int) -> None:
        rec = pool[(n - 1) % len(pool)]
        cur.execute(
            "INSERT INTO fir_records (fir_number, session_id, complaint_text, fir_content, violations_json, status)"
            " VALUES (%s, %s, %s, %s, %s, 'draft')",
            (
                f"LAT/{time.time_ns()}/{n}",
                rec["session_id"],
                rec["complaint_text"],
                rec["fir_content"],
                rec["violations_json"],
            ),
        )

    result = _paced(insert, pymysql.MySQLError, interval, stop)
    cur.execute("DELETE FROM fir_records WHERE fir_number LIKE 'LAT/%%'")
    conn.close()
    out.send(result)


def _sessions_writer(path: str, interval: float, stop, out) -> None:  # noqa: ANN001
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT session_id FROM sessions ORDER BY rowid LIMIT 500")]
    conn.close()

    def commit(n: int) -> None:
        # like AFIRGen's session manager: a new connection for every operation
        sid = ids[(n - 1) % len(ids)]
        c = sqlite3.connect(path, timeout=5)
        with c:
            c.execute(
                "UPDATE sessions SET last_activity=?, status=? WHERE session_id=?",
                (time.strftime("%Y-%m-%dT%H:%M:%S"), "active", sid),
            )
            c.execute(
                "INSERT INTO validation_history (session_id, step, state_snapshot, timestamp) VALUES (?,?,?,?)",
                (sid, "review", '{"step": "review", "ok": true}', time.strftime("%Y-%m-%dT%H:%M:%S")),
            )
        c.close()

    result = _paced(commit, sqlite3.Error, interval, stop)
    c = sqlite3.connect(path, timeout=30)
    with c:
        c.execute(
            'DELETE FROM validation_history WHERE step=\'review\' AND state_snapshot LIKE \'{"step": "review", "ok%\''
        )
    c.close()
    out.send(result)


class Writers:
    """Start both writers; stop() returns {'fir': (samples, errors), 'sessions': (samples, errors)}."""

    def __init__(self, conn_kw: dict, db: str, sessions_path: Path, interval: float) -> None:
        ctx = mp.get_context("fork")
        self.stop_event = ctx.Event()
        self.pipes = {}
        self.procs = {}
        for name, target, args in (
            ("fir", _fir_writer, (conn_kw, db, interval)),
            ("sessions", _sessions_writer, (str(sessions_path), interval)),
        ):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=target, args=(*args, self.stop_event, send), daemon=True)
            p.start()
            self.pipes[name] = recv
            self.procs[name] = p

    def stop(self) -> dict[str, tuple[list[tuple[float, float]], int]]:
        self.stop_event.set()
        out = {name: pipe.recv() for name, pipe in self.pipes.items()}
        for p in self.procs.values():
            p.join(timeout=60)
        return out


def window(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """Latencies (s) of the operations that started inside [start, end]."""
    return [d for t, d in samples if start <= t <= end]
