"""A throwaway MariaDB server for the integration tests.

The server lives in a short temporary directory (the unix socket path is limited
to about 107 bytes), listens on 127.0.0.1 on a free port, and lets `root` log in
without a password over TCP and over its socket. It can be killed (SIGKILL) and
started again on the same data directory to exercise crash recovery.

Also defines the least-privileged backup account the tests create on it.

No pytest dependency: usable from a shell as
`python -m tests.mariadb_server` to poke at a fixture server by hand.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pymysql

MARIADBD_CANDIDATES = ("/usr/sbin/mariadbd", "/usr/libexec/mariadbd", "/usr/bin/mariadbd")
INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")
CLIENT_NAMES = ("mariadb", "mysql")
DUMP_NAMES = ("mariadb-dump", "mysqldump")
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux; keep a margin
PR_SET_PDEATHSIG = 1


BACKUP_USER = "afirgen_backup"
#: Space, both quotes, $, backtick, backslash and # : breaks any careless quoting in shells, .env and option files.
BACKUP_PASSWORD = "p a\"s'$w`\\o#rd!"
#: Everything mariadb-dump needs for --single-transaction --routines --triggers --events; nothing more.
BACKUP_PRIVILEGES = ("SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES", "PROCESS")
#: Hosts the backup user is created for: '%' for TCP, 'localhost' for the unix socket.
BACKUP_USER_HOSTS = ("%", "localhost")


def option_file_value(value: str) -> str:
    """Quote a value for a MariaDB option file ([client] password=...), keeping #, quotes and backslashes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class BackupUser:
    """Login details of the least-privileged backup account on the test server."""

    user: str
    password: str
    host: str
    port: int
    socket: Path

    def backup_env(self, db: str, sessions_db: Path, tmp_path: Path) -> dict[str, str]:
        """Environment for running the backup tool as this user on `db` and `sessions_db`; a plain dict.

        BACKUP_DIR (<tmp_path>/backups) is not created: the tool must create it. BACKUP_ENV_FILE points at an
        empty file so a developer's .env never leaks in.
        """
        empty_env = tmp_path / "empty.env"
        empty_env.write_text("")
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "MYSQL_HOST": self.host,
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user,
            "MYSQL_PASSWORD": self.password,
            "MYSQL_DB": db,
            "SESSIONS_DB_PATH": str(sessions_db),
            "BACKUP_DIR": str(tmp_path / "backups"),
            "BACKUP_ENV_FILE": str(empty_env),
        }

    def write_option_file(self, path: Path) -> Path:
        """Write a 0600 `[client]` option file for --defaults-extra-file and return its path."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(
                "[client]\n"
                f"user={option_file_value(self.user)}\n"
                f"password={option_file_value(self.password)}\n"
                f"host={self.host}\n"
                f"port={self.port}\n"
                "protocol=TCP\n"
            )
        return path


class MariaDBServerError(RuntimeError):
    """The throwaway server (MariaDB, or MySQL: see tests/mysql_server.py) could not be installed, started or
    stopped."""


def find_program(names: tuple[str, ...], extra_paths: tuple[str, ...] = ()) -> str | None:
    """Return the first of `extra_paths` that is executable, else the first of `names` on PATH."""
    for path in extra_paths:
        if os.access(path, os.X_OK):
            return path
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM us when the test process dies (no orphan servers)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: cleanup() is then the only way the server goes away


def free_port() -> int:
    """Ask the kernel for a currently unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def short_tempdir(prefix: str = "mdb") -> Path:
    """Create a temp dir whose path is short enough to hold a unix socket."""
    base = tempfile.gettempdir()
    if len(base) > 40 and os.path.isdir("/tmp"):  # a long $TMPDIR would overflow sun_path
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


@dataclass
class MariaDBServer:
    """One mariadbd process with its own data dir, socket and port; root has no password."""

    #: Which server this is: "mariadb" here, "mysql" for tests.mysql_server.MySQLServer.
    flavor: ClassVar[str] = "mariadb"
    #: The server program's name, for messages.
    daemon: ClassVar[str] = "mariadbd"

    basedir: Path = field(default_factory=short_tempdir)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    user: str = "root"
    password: str = ""
    start_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    start_seconds: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        """Resolve the server binaries and check the socket path fits."""
        mariadbd = find_program(("mariadbd", "mysqld"), MARIADBD_CANDIDATES)
        install_db = find_program(INSTALL_DB_NAMES)
        if mariadbd is None or install_db is None:
            self.discard_empty_basedir()
            raise MariaDBServerError("MariaDB server binaries not found (need mariadbd and mariadb-install-db)")
        if len(str(self.socket)) > SOCKET_PATH_LIMIT:
            self.discard_empty_basedir()
            raise MariaDBServerError(f"socket path too long for a unix socket: {self.socket}")
        self.mariadbd = mariadbd
        self.install_db = install_db

    def discard_empty_basedir(self) -> None:
        """Remove the temp dir if nothing was put in it yet (never deletes files)."""
        with contextlib.suppress(OSError):
            self.basedir.rmdir()

    @property
    def datadir(self) -> Path:
        """The server's data directory."""
        return self.basedir / "data"

    @property
    def socket(self) -> Path:
        """The server's unix socket."""
        return self.basedir / "mysqld.sock"

    @property
    def error_log(self) -> Path:
        """The server's error log (read it when something fails)."""
        return self.basedir / "error.log"

    @property
    def pid_file(self) -> Path:
        """The server's pid file."""
        return self.basedir / "mysqld.pid"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def common_options(self) -> list[str]:
        """Options shared by mariadb-install-db and mariadbd: small and fast, no binlog."""
        return [
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--user=root" if os.geteuid() == 0 else "",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-use-native-aio=0",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]

    def server_command(self) -> list[str]:
        """The full mariadbd command line (--no-defaults must come first)."""
        options = [
            *self.common_options(),
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.error_log}",
            f"--tmpdir={self.basedir}",
            "--skip-name-resolve",
            "--event-scheduler=OFF",
            "--performance-schema=OFF",
            "--innodb-flush-log-at-trx-commit=2",
            "--max-allowed-packet=64M",
            "--max-connections=200",
            "--secure-file-priv=",
        ]
        return [self.mariadbd, *(o for o in options if o)]

    def install(self) -> None:
        """Create the system tables in an empty data dir (root@localhost and 127.0.0.1, no password)."""
        if (self.datadir / "mysql").is_dir():
            return
        command = [
            self.install_db,
            *(o for o in self.common_options() if o),
            "--auth-root-authentication-method=normal",
            f"--tmpdir={self.basedir}",  # never share /tmp with another suite's bootstrap
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise MariaDBServerError(f"mariadb-install-db failed ({result.returncode}): {result.stderr[-2000:]}")

    def start(self) -> None:
        """Start the server (installing the data dir first if needed) and wait until it answers."""
        if self.running:
            return
        self.install()
        for attempt in range(3):
            logged = self.error_log.stat().st_size if self.error_log.exists() else 0
            try:
                self.launch()
                return
            except MariaDBServerError:
                said = self.error_log.read_bytes()[logged:] if self.error_log.exists() else b""
                if attempt == 2 or b"Address already in use" not in said:
                    raise
                self.port = free_port()  # someone took our port between choosing and binding

    def launch(self) -> None:
        """Spawn the server once and wait until it answers; kill it if it does not."""
        self.socket.unlink(missing_ok=True)
        started = time.monotonic()
        with open(self.basedir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                self.server_command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            self.wait_until_ready(started)
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - started

    def wait_until_ready(self, started: float) -> None:
        """Poll the server over TCP until root can run a query, or raise with the error log."""
        assert self.process is not None
        last_error: Exception | None = None
        while time.monotonic() - started < self.start_timeout:
            if self.process.poll() is not None:
                raise MariaDBServerError(
                    f"{self.daemon} exited with {self.process.returncode} while starting:\n{self.error_log_tail()}"
                )
            try:
                with self.connect(connect_timeout=2, read_timeout=5) as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                return
            except pymysql.err.OperationalError as exc:
                last_error = exc
                time.sleep(0.05)
        raise MariaDBServerError(
            f"{self.daemon} did not answer within {self.start_timeout}s ({last_error}):\n{self.error_log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the server (a crash, no clean shutdown) and reap it; the data dir stays."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the server down cleanly with SIGTERM; SIGKILL it if it does not exit in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def cleanup(self) -> None:
        """Stop the server and delete its whole temp dir."""
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

    def restart(self) -> None:
        """Stop cleanly and start again on the same data dir."""
        self.stop()
        self.start()

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection:
        """A PyMySQL connection as root over TCP, utf8mb4, autocommit on."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": database,
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 10,
        }
        options.update(kwargs)
        return pymysql.connect(**options)

    def execute(self, *statements: str, database: str | None = None) -> None:
        """Run SQL statements as root."""
        with self.connect(database) as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def client_command(self, program: str = "mariadb") -> list[str]:
        """argv prefix for a MariaDB command-line tool connecting as root over the socket."""
        names = DUMP_NAMES if program in DUMP_NAMES else CLIENT_NAMES
        found = find_program((program, *names))
        if found is None:
            raise MariaDBServerError(f"{program} client not found")
        return [found, "--no-defaults", f"--socket={self.socket}", f"--user={self.user}"]

    def error_log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's error log, for failure messages."""
        try:
            text = self.error_log.read_text(errors="replace")
        except OSError:
            return "(no error log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> MariaDBServer:
        """Start the server for a `with` block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server and remove its files."""
        self.cleanup()


@dataclass
class BinlogMariaDBServer(MariaDBServer):
    """A MariaDB server that writes a binary log (<datadir>/mysql-bin.NNNNNN, row format, server id 1, CRC32 on
    by MariaDB's default). mariadb-install-db still runs without one."""

    def server_command(self) -> list[str]:
        """The mariadbd command line with the binary log on in place of --skip-log-bin."""
        binlog = [
            f"--log-bin={self.datadir / 'mysql-bin'}",
            "--binlog-format=ROW",
            "--server-id=1",
            "--binlog-row-image=FULL",
        ]
        command = super().server_command()
        at = command.index("--skip-log-bin")
        return [*command[:at], *binlog, *command[at + 1 :]]

    def binlog_position(self) -> tuple[str, int]:
        """(file, position) of the binary log now."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("SHOW MASTER STATUS")
            row = cur.fetchone()
        return str(row[0]), int(row[1])


if __name__ == "__main__":
    with MariaDBServer() as server:
        print(f"MariaDB up in {server.start_seconds:.2f}s: port {server.port}, socket {server.socket}")
        print("Press Ctrl-C to stop and remove it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
