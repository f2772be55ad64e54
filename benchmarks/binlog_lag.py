"""Binary log stream lag benchmark (issue #14): how far behind the server `binlog-stream` archives, under a writer
committing about --rate transactions a second, against the bare streaming client in the same run.

`make bench-binlog` (BENCH_ARGS="--seconds 10 --repeat 1" for a quick run). It starts its own MariaDB with a binary
log (row format) under benchmarks/work/binlog/, then runs, alternating their order each round:
- baseline: `mariadb-binlog --read-from-remote-server --raw --stop-never` alone, into a directory;
- tool: `backup_database.py binlog-stream` (the same client, supervised, sealing files, checking the server's
  position every 5 s) into a BACKUP_DIR.
While a variant runs, a writer commits single-row transactions at --rate a second (autocommit INSERTs, paced), and
every 50 ms the server's position (SHOW MASTER STATUS) is taken; the lag of a sample is the time until the
archive's file holds that position (polled every 2 ms). Reported: the median and 95th percentile lag per variant,
and the tool's median as a ratio of the baseline's. Target: the tool's median lag under 1 s. Exit 1 when it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.server import MariaDB

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work" / "binlog"
LAG_TARGET_S = 1.0


class Writer(threading.Thread):
    def __init__(self, server: MariaDB, rate: int) -> None:
        super().__init__(daemon=True)
        self.server, self.rate, self.stop, self.commits = server, rate, threading.Event(), 0

    def run(self) -> None:
        connection = self.server.connect("bench", autocommit=True)
        started = time.monotonic()
        with connection.cursor() as cursor:
            while not self.stop.is_set():
                cursor.execute("INSERT INTO events (note) VALUES (%s)", (f"commit {self.commits}",))
                self.commits += 1
                ahead = self.commits / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        connection.close()


def measure_lag(server: MariaDB, archive: Path, seconds: float, rate: int) -> tuple[list[float], int]:
    """Lag samples (s) while a writer commits at `rate` a second for `seconds`, and the commits made."""
    writer = Writer(server, rate)
    writer.start()
    samples: list[float] = []
    connection = server.connect(autocommit=True)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            with connection.cursor() as cursor:
                cursor.execute("SHOW MASTER STATUS")
                name, position = cursor.fetchone()[:2]
            taken = time.monotonic()
            raw = archive / name
            while not (raw.is_file() and raw.stat().st_size >= position):
                if time.monotonic() - taken > 30:
                    raise SystemExit(f"benchmark: the archive did not reach {name}:{position} in 30 s")
                time.sleep(0.002)
            samples.append(time.monotonic() - taken)
            time.sleep(0.05)
    finally:
        writer.stop.set()
        writer.join()
        connection.close()
    return samples, writer.commits


def start_baseline(server: MariaDB, directory: Path, first: str) -> subprocess.Popen[bytes]:
    argv = [
        shutil.which("mariadb-binlog") or "mariadb-binlog",
        f"--defaults-extra-file={server.defaults_file}",
        "--read-from-remote-server",
        "--raw",
        "--stop-never",
        "--stop-never-slave-server-id=4200000002",
        f"--result-file={directory}/",
        first,
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_tool(server: MariaDB, backup_dir: Path) -> subprocess.Popen[bytes]:
    env_file = backup_dir.parent / f"{backup_dir.name}.env"
    env_file.write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BACKUP_ENV_FILE": str(env_file),
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_SESSIONS_ENABLED": "false",
        **server.env_for_tool("bench"),
    }
    argv = [sys.executable, str(REPO / "backup_database.py"), "binlog-stream"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def current_file(server: MariaDB) -> str:
    with server.connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("FLUSH BINARY LOGS")
        cursor.execute("SHOW MASTER STATUS")
        return str(cursor.fetchone()[0])


def run_variant(server: MariaDB, variant: str, round_: int, seconds: float, rate: int) -> dict[str, float]:
    first = current_file(server)  # each variant streams from a new file of its own
    where = WORK / f"{variant}-{round_}"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True, mode=0o700)
    if variant == "baseline":
        child, archive = start_baseline(server, where, first), where
    else:
        child, archive = start_tool(server, where), where / "binlog" / ".stream"
    try:
        deadline = time.monotonic() + 30
        while not (archive / first).is_file():
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"benchmark: the {variant} stream did not start")
            time.sleep(0.05)
        samples, commits = measure_lag(server, archive, seconds, rate)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    ordered = sorted(samples)
    return {
        "median_s": statistics.median(ordered),
        "p95_s": ordered[int(len(ordered) * 0.95) - 1],
        "samples": len(ordered),
        "commits_per_s": commits / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each variant runs per round")
    parser.add_argument("--rate", type=int, default=1000, help="commits a second the writer aims at")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (variants alternate their order)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "tool": []}
    with MariaDB(WORK / "server", buffer_pool_mb=256, log_bin=True) as server:
        with server.connect(autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS bench")
            cursor.execute("CREATE TABLE IF NOT EXISTS bench.events (id BIGINT PRIMARY KEY AUTO_INCREMENT, note TEXT)")
        for round_ in range(args.repeat):
            order = ("baseline", "tool") if round_ % 2 == 0 else ("tool", "baseline")
            for variant in order:
                result = run_variant(server, variant, round_, args.seconds, args.rate)
                results[variant].append(result)
                print(
                    f"round {round_ + 1} {variant:8}: median lag {result['median_s'] * 1000:7.1f} ms, "
                    f"p95 {result['p95_s'] * 1000:7.1f} ms, {result['commits_per_s']:6.0f} commits/s",
                    flush=True,
                )
    medians = {variant: statistics.median(r["median_s"] for r in runs) for variant, runs in results.items()}
    ratio = medians["tool"] / medians["baseline"] if medians["baseline"] else float("inf")
    passed = medians["tool"] < LAG_TARGET_S
    print(
        f"median lag: baseline {medians['baseline'] * 1000:.1f} ms, tool {medians['tool'] * 1000:.1f} ms "
        f"({ratio:.2f}x the baseline); target: tool under {LAG_TARGET_S:g} s: {'PASS' if passed else 'FAIL'}"
    )
    print(json.dumps({"medians_s": medians, "ratio": ratio, "rounds": results}))
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
