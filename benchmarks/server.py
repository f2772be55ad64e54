"""A throwaway MariaDB server for the benchmark: its own data directory, socket and free TCP port.

The data directory lives in the benchmark's work dir (outside git) and is kept between runs, so a generated data
set can be reused (see datagen.py); the server process is always stopped when the benchmark ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

BENCH_USER = "bench"
BENCH_PASSWORD = "bench pw $x"  # noqa: S105 - a throwaway server bound to 127.0.0.1


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")
        if found:
            return found
    raise SystemExit(
        f"benchmark: none of {', '.join(names)} is installed (apt-get install mariadb-server mariadb-client)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDB:
    def __init__(self, base: Path, buffer_pool_mb: int = 2048, *, log_bin: bool = False) -> None:
        self.log_bin = log_bin  # a binary log in row format (binlog_lag.py), else none
        self.base = base.resolve()
        self.datadir = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.log = self.base / "mysqld.err"
        self.buffer_pool_mb = buffer_pool_mb
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.defaults_file = self.base / "client.cnf"

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> MariaDB:
        self.base.mkdir(parents=True, exist_ok=True)
        fresh = not (self.datadir / "mysql").is_dir()
        if fresh:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir.mkdir(parents=True)
            p = subprocess.run(
                [
                    _binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
            )
            if p.returncode:
                raise SystemExit(f"benchmark: mariadb-install-db failed:\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
        (self.base / "tmp").mkdir(exist_ok=True)
        self.port = free_port()
        self.socket.unlink(missing_ok=True)
        argv = [
            _binary("mariadbd", "mysqld"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            f"--log-error={self.log}",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--tmpdir={self.base / 'tmp'}",
            *(
                [f"--log-bin={self.datadir / 'mysql-bin'}", "--binlog-format=ROW", "--server-id=1"]
                if self.log_bin
                else ["--skip-log-bin"]
            ),
            f"--innodb-buffer-pool-size={self.buffer_pool_mb}M",
            "--innodb-log-file-size=512M",
            "--max-allowed-packet=256M",
            "--local-infile=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise SystemExit(f"benchmark: mariadbd exited with {self.proc.returncode}:\n{tail}")
            try:
                conn = pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=2)
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit("benchmark: mariadbd did not come up within 120 s") from None
                time.sleep(0.2)
        with conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"CREATE USER IF NOT EXISTS '{BENCH_USER}'@'{host}' IDENTIFIED BY %s", (BENCH_PASSWORD,))
                cur.execute(f"ALTER USER '{BENCH_USER}'@'{host}' IDENTIFIED BY %s", (BENCH_PASSWORD,))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{BENCH_USER}'@'{host}'")
        conn.commit()
        conn.close()
        fd = os.open(self.defaults_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f'[client]\nhost=127.0.0.1\nport={self.port}\nuser={BENCH_USER}\npassword="{BENCH_PASSWORD}"\n'
                "protocol=tcp\n"
            )
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> MariaDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients ----------------------------------------------------------------------------------------------
    def connect(self, db: str | None = None, **kw: object) -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=BENCH_USER,
            password=BENCH_PASSWORD,
            database=db,
            charset="utf8mb4",
            **kw,
        )

    def client_argv(self, tool: str = "mysql") -> list[str]:
        """argv prefix of a MariaDB client (mysql / mysqldump) reading the credentials from a 0600 file."""
        names = {"mysql": ("mariadb", "mysql"), "mysqldump": ("mariadb-dump", "mysqldump")}[tool]
        return [_binary(*names), f"--defaults-extra-file={self.defaults_file}"]

    def env_for_tool(self, db: str) -> dict[str, str]:
        return {
            "MYSQL_HOST": "127.0.0.1",
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": BENCH_USER,
            "MYSQL_PASSWORD": BENCH_PASSWORD,
            "MYSQL_DB": db,
        }
