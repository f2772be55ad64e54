"""Point-in-time restore benchmark (issue #14): how long `restore mysql --to-time T` takes, against doing the same
by hand with the bare clients in the same run.

`make bench-pitr` (BENCH_ARGS="--rows 20000 --seconds 5" for a quick run). It starts its own MariaDB with a binary
log (row format) under benchmarks/work/pitr/, fills a table with --rows rows, runs `binlog-stream`, takes a
backup with the tool, then lets a writer commit as fast as it can for --seconds (an INSERT and an UPDATE a
transaction), takes T at a whole second after it stopped, writes one more row and rotates the log so that the
archive holds an event after T. Then, in alternating order each round:
- baseline: what docs/pitr.md's "By hand" section does: gunzip the dump into a new database with `mariadb`, gunzip
  the archive's files, `mariadb-binlog --start-position=<the dump's> --stop-datetime=T+1s --database
  --rewrite-db ... | mariadb`;
- tool: `backup_database.py restore mysql --to-time T --target-db ...` (every check, staging, the move).
Both copies must hold the same table checksum as the source at T. Reported: seconds per variant, and the tool's
time as a ratio of the baseline's. No target: the figure is for the closing note and docs/performance.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.server import MariaDB

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work" / "pitr"
DB = "bench"


def tool_env(server: MariaDB, backup_dir: Path) -> dict[str, str]:
    env_file = backup_dir.parent / "tool.env"
    env_file.write_text("")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BACKUP_ENV_FILE": str(env_file),
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_SESSIONS_ENABLED": "false",
        "TZ": "UTC",
        **server.env_for_tool(DB),
    }


def tool(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(REPO / "backup_database.py"), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def fill(server: MariaDB, rows: int) -> None:
    with server.connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {DB}")
        cursor.execute(f"CREATE TABLE {DB}.fir (id BIGINT PRIMARY KEY AUTO_INCREMENT, body TEXT, n INT)")
        for start in range(0, rows, 1000):
            values = ",".join(f"('row {i} of the dump', {i})" for i in range(start, min(rows, start + 1000)))
            cursor.execute(f"INSERT INTO {DB}.fir (body, n) VALUES {values}")


def write_for(server: MariaDB, seconds: float) -> int:
    """Commit as fast as one connection can for `seconds`; the transactions committed."""
    done, stop = 0, threading.Event()
    threading.Timer(seconds, stop.set).start()
    with server.connect(DB) as connection, connection.cursor() as cursor:
        while not stop.is_set():
            cursor.execute("INSERT INTO fir (body, n) VALUES ('after the dump', %s)", (done,))
            cursor.execute("UPDATE fir SET n = n + 1 WHERE id = %s", (1 + done % 1000,))
            connection.commit()
            done += 1
    return done


def checksum(server: MariaDB, db: str) -> int:
    with server.connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"CHECKSUM TABLE `{db}`.fir EXTENDED")
        return int(cursor.fetchone()[1])


def by_hand(server: MariaDB, backup_dir: Path, dump: Path, point: datetime, target: str) -> None:
    manifest = json.loads(dump.with_name(dump.name + ".json").read_text())
    start_file, position = manifest["binlog"]["file"], manifest["binlog"]["position"]
    scratch = WORK / "by-hand"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    mysql = server.client_argv("mysql")
    subprocess.run([*mysql, "-e", f"CREATE DATABASE `{target}`"], check=True)
    with subprocess.Popen([*mysql, target], stdin=subprocess.PIPE) as loader:
        assert loader.stdin is not None
        with gzip.open(dump, "rb") as source:
            shutil.copyfileobj(source, loader.stdin, 1 << 20)
        loader.stdin.close()
    if loader.returncode:
        raise SystemExit("benchmark: loading the dump by hand failed")
    files = []
    for sealed in sorted((backup_dir / "binlog").glob("*.gz")):
        if sealed.name.removesuffix(".gz") >= start_file:
            plain = scratch / sealed.name.removesuffix(".gz")
            with gzip.open(sealed, "rb") as source, open(plain, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            files.append(str(plain))
    stop = (point + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    binlog = [
        shutil.which("mariadb-binlog") or "mysqlbinlog",
        f"--start-position={position}",
        f"--stop-datetime={stop}",
        f"--database={DB}",
        f"--rewrite-db={DB}->{target}",
        *files,
    ]
    reader = subprocess.Popen(binlog, stdout=subprocess.PIPE, env={**os.environ, "TZ": "UTC"})
    subprocess.run([*mysql, target], stdin=reader.stdout, check=True)
    if reader.wait():
        raise SystemExit("benchmark: mariadb-binlog failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the table before the dump")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the writer commits after the dump")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (the variants alternate their order)")
    args = parser.parse_args(argv)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    backup_dir = WORK / "backups"
    times: dict[str, list[float]] = {"baseline": [], "tool": []}
    with MariaDB(WORK / "server", buffer_pool_mb=512, log_bin=True) as server:
        fill(server, args.rows)
        env = tool_env(server, backup_dir)
        stream = subprocess.Popen(
            [sys.executable, str(REPO / "backup_database.py"), "binlog-stream"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)
            tool(env, "backup")
            [dump] = sorted(backup_dir.glob("mysql_backup_*.sql.gz"))
            commits = write_for(server, args.seconds)
            time.sleep(1.1 - datetime.now(UTC).microsecond / 1e6)
            point = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)  # every commit is at or before
            expected = checksum(server, DB)
            time.sleep(1.2)
            with server.connect(DB, autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute("INSERT INTO fir (body, n) VALUES ('after T', 0)")  # the archive goes past T
                cursor.execute("FLUSH BINARY LOGS")
            deadline = time.monotonic() + 120
            while len(list((backup_dir / "binlog" / ".stream").glob("mysql-bin.*"))) > 1:
                if time.monotonic() > deadline:
                    raise SystemExit("benchmark: binlog-stream did not seal the rotated files")
                time.sleep(0.2)
        finally:
            stream.send_signal(signal.SIGTERM)
            stream.wait(timeout=60)
        archived = sum(path.stat().st_size for path in (backup_dir / "binlog").glob("*.gz"))
        print(f"{args.rows} rows dumped, then {commits} transactions; archive {archived / 1e6:.1f} MB compressed")
        for round_ in range(args.repeat):
            order = ("baseline", "tool") if round_ % 2 == 0 else ("tool", "baseline")
            for variant in order:
                target = f"copy_{variant}_{round_}"
                began = time.monotonic()
                if variant == "baseline":
                    by_hand(server, backup_dir, dump, point, target)
                else:
                    tool(env, "restore", "mysql", "--to-time", f"{point:%Y-%m-%d %H:%M:%S}", "--target-db", target)
                seconds = time.monotonic() - began
                if checksum(server, target) != expected:
                    raise SystemExit(f"benchmark: the {variant} copy differs from the source at {point}")
                times[variant].append(seconds)
                print(f"round {round_ + 1} {variant:8}: {seconds:6.1f} s (checksum equal to the source at T)")
    medians = {variant: statistics.median(runs) for variant, runs in times.items()}
    ratio = medians["tool"] / medians["baseline"]
    print(f"median: baseline {medians['baseline']:.1f} s, tool {medians['tool']:.1f} s ({ratio:.2f}x the baseline)")
    print(json.dumps({"medians_s": medians, "ratio": ratio, "rounds": times, "commits": commits}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
