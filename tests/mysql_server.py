"""A throwaway Oracle MySQL 9.x server for the integration tests, and MySQL's own command-line clients.

MySQL is not packaged for the test machine (Debian 12 ships MariaDB), so it comes from a Debian sid root built
by tests/tools/build-mysql-root (`debootstrap ... mysql-server-core,mysql-client-core`). Its programs run
without chroot through the root's own dynamic loader:

    $ROOT/usr/lib64/ld-linux-x86-64.so.2 --library-path $ROOT/usr/lib/x86_64-linux-gnu:... $ROOT/usr/sbin/mysqld

so the server is a direct child of the test process (PR_SET_PDEATHSIG works, SIGKILL hits mysqld itself) and
its data dir can be anywhere. The root is at $AFIRGEN_MYSQL_ROOT, default /var/cache/afirgen-backup/mysql-sid.

The server keeps MySQL 9.7's defaults where they matter to a backup tool: binary logging and GTIDs on, the
event scheduler on, caching_sha2_password, utf8mb4_0900_ai_ci. It is otherwise small and quick: 64 MB buffer
pool, no performance schema, no X plugin, no fsync per commit. `root` logs in without a password over TCP
(root@127.0.0.1, made at --initialize) and over the unix socket (root@localhost).

`write_client_wrappers(directory)` writes `mysqldump`, `mysql` and `mysqlbinlog` scripts there that run MySQL's
own clients the same way; they `exec`, so inherited descriptors (the tool's `--defaults-extra-file=/dev/fd/N`)
survive, and the process they become is named `mysqldump`/`mysql`/`mysqlbinlog` in /proc/PID/comm like an
installed client.

No pytest dependency: `python tests/mysql_server.py` starts one by hand.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mariadb_server import (
    BACKUP_PASSWORD,
    BACKUP_USER,
    BACKUP_USER_HOSTS,
    BackupUser,
    MariaDBServer,
    MariaDBServerError,
    free_port,
    short_tempdir,
)

DEFAULT_ROOT = "/var/cache/afirgen-backup/mysql-sid"
ROOT_VARIABLE = "AFIRGEN_MYSQL_ROOT"
LOADER = "usr/lib64/ld-linux-x86-64.so.2"
LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
CLIENT_PROGRAMS = ("mysqldump", "mysql", "mysqlbinlog")
#: What mysqldump 9.7 and mariadb-dump 10.11 need, on the database, to dump all of it with --single-transaction
#: --routines --triggers --events --no-tablespaces: found by dropping one privilege at a time (each one missing
#: fails the dump or changes it). TRIGGER missing: the triggers are left out, exit status 0.
BACKUP_DB_PRIVILEGES = ("SELECT", "SHOW VIEW", "TRIGGER", "EVENT")
#: ... and globally: without SHOW_ROUTINE (or SELECT on *.*) both clients leave out every routine, exit status 0.
BACKUP_GLOBAL_PRIVILEGES = ("SHOW_ROUTINE",)
#: The clients of the image (MariaDB's), by the name MySQL's own would have.
MARIADB_CLIENTS = {
    "mysqldump": "mariadb-dump",
    "mysql": "mariadb",
    "mariadb-dump": "mariadb-dump",
    "mariadb": "mariadb",
}


class MySQLServerError(MariaDBServerError):
    """The throwaway MySQL server could not be found, installed, started or stopped."""


def mysql_root() -> Path:
    """Where the Debian sid root with MySQL's server and clients is ($AFIRGEN_MYSQL_ROOT or the default)."""
    return Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT)


def root_problem(root: Path) -> str | None:
    """Why MySQL cannot be run from `root`, or None when its loader, mysqld and clients are all there."""
    needed = [LOADER, "usr/sbin/mysqld", *(f"usr/bin/{name}" for name in CLIENT_PROGRAMS)]
    missing = [part for part in needed if not os.access(root / part, os.X_OK)]
    if missing:
        return (
            f"MySQL root {root} lacks {', '.join(missing)}: build it with tests/tools/build-mysql-root "
            f"(or point {ROOT_VARIABLE} at one)"
        )
    return None


def loader_argv(root: Path, program: str, *, loader: Path | None = None, argv0: str | None = None) -> list[str]:
    """The argv prefix that runs `program` (a path inside the root) through the root's loader and libraries."""
    library_path = ":".join(str(root / part) for part in LIBRARY_DIRS)
    argv = [str(loader or root / LOADER), "--library-path", library_path]
    if argv0:
        argv += ["--argv0", argv0]
    return [*argv, str(root / program)]


def write_client_wrappers(directory: Path, root: Path | None = None) -> dict[str, Path]:
    """Write executable `mysqldump`, `mysql` and `mysqlbinlog` scripts into `directory` that exec MySQL's own
    clients.

    Each execs a symlink to the root's loader named like the client, so /proc/PID/comm reads `mysqldump`,
    `mysql` or `mysqlbinlog` (tests find the tool's children by that name). Returns {program: script}.
    """
    root = root or mysql_root()
    problem = root_problem(root)
    if problem:
        raise MySQLServerError(problem)
    loaders = directory / ".loader"
    loaders.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for program in CLIENT_PROGRAMS:
        alias = loaders / program
        alias.unlink(missing_ok=True)
        alias.symlink_to(os.path.realpath(root / LOADER))
        command = shlex.join(loader_argv(root, f"usr/bin/{program}", loader=alias, argv0=program))
        script = directory / program
        script.write_text(f'#!/bin/sh\n# MySQL\'s own {program}, from {root}\nexec {command} "$@"\n')
        script.chmod(0o755)
        scripts[program] = script
    return scripts


def create_backup_user(server: MySQLServer) -> BackupUser:
    """Create `afirgen_backup` (password BACKUP_PASSWORD) with BACKUP_GLOBAL_PRIVILEGES; databases come one by one
    (`grant_backup_privileges`)."""
    with server.connect() as conn, conn.cursor() as cur:
        for host in BACKUP_USER_HOSTS:
            cur.execute("DROP USER IF EXISTS %s@%s", (BACKUP_USER, host))
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
            cur.execute(f"GRANT {', '.join(BACKUP_GLOBAL_PRIVILEGES)} ON *.* TO %s@%s", (BACKUP_USER, host))
    return BackupUser(BACKUP_USER, BACKUP_PASSWORD, server.host, server.port, server.socket)


def grant_backup_privileges(server: MySQLServer, db: str) -> None:
    """Let the backup user back up `db`: BACKUP_DB_PRIVILEGES on it."""
    with server.connect() as conn, conn.cursor() as cur:
        for host in BACKUP_USER_HOSTS:
            cur.execute(f"GRANT {', '.join(BACKUP_DB_PRIVILEGES)} ON `{db}`.* TO %s@%s", (BACKUP_USER, host))


@dataclass
class MySQLServer(MariaDBServer):
    """One MySQL 9.x mysqld from the sid root, with its own data dir, socket and port; root has no password."""

    basedir: Path = field(default_factory=lambda: short_tempdir("my"))
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=mysql_root)

    flavor: ClassVar[str] = "mysql"
    daemon: ClassVar[str] = "mysqld"

    def __post_init__(self) -> None:
        """Check the root has MySQL and the socket path fits."""
        problem = root_problem(self.root)
        if problem is None and len(str(self.socket)) > 100:
            problem = f"socket path too long for a unix socket: {self.socket}"
        if problem:
            self.discard_empty_basedir()
            raise MySQLServerError(problem)

    def program(self, path: str) -> list[str]:
        """argv prefix running a program of the root (e.g. usr/sbin/mysqld) through its loader."""
        return loader_argv(self.root, path)

    def common_options(self) -> list[str]:
        """Options shared by --initialize and the server: paths into the root, small memory."""
        share = self.root / "usr/share/mysql"
        return [
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--user=root" if os.geteuid() == 0 else "",
            f"--basedir={self.root / 'usr'}",
            f"--lc-messages-dir={share}",
            f"--character-sets-dir={share / 'charsets'}",
            f"--plugin-dir={self.root / 'usr/lib/mysql/plugin'}",
            f"--tmpdir={self.basedir}",
            f"--secure-file-priv={self.basedir}",
            "--innodb-buffer-pool-size=64M",
            "--innodb-redo-log-capacity=64M",
            "--innodb-use-native-aio=0",
        ]

    def server_command(self) -> list[str]:
        """The mysqld command line; binary log, GTIDs and event scheduler stay at MySQL 9.7's defaults (on)."""
        options = [
            *self.common_options(),
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.error_log}",
            "--mysqlx=OFF",
            "--skip-name-resolve",
            "--performance-schema=OFF",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
            "--max-allowed-packet=64M",
            "--max-connections=200",
        ]
        return [*self.program("usr/sbin/mysqld"), *(o for o in options if o)]

    def install(self) -> None:
        """`mysqld --initialize-insecure` (root@localhost without password) plus root@127.0.0.1 for TCP."""
        if (self.datadir / "mysql.ibd").exists():
            return
        init = self.basedir / "init.sql"
        init.write_text(
            "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '';\n"
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
            "GRANT PROXY ON ''@'' TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
        )
        command = [
            *self.program("usr/sbin/mysqld"),
            *(o for o in self.common_options() if o),
            "--initialize-insecure",
            f"--init-file={init}",
            f"--log-error={self.basedir / 'initialize.log'}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
        if result.returncode != 0:
            log = (self.basedir / "initialize.log").read_text(errors="replace") if self.basedir.exists() else ""
            raise MySQLServerError(
                f"mysqld --initialize-insecure failed ({result.returncode}): {result.stderr[-1000:]}{log[-2000:]}"
            )

    def client_command(self, program: str = "mysql") -> list[str]:
        """argv prefix for a client logged in as root over the socket.

        `mysql`/`mysqldump`: MySQL's own (from the root); `mariadb`/`mariadb-dump`: the image's MariaDB ones.
        """
        if program in CLIENT_PROGRAMS:
            return [*loader_argv(self.root, f"usr/bin/{program}", argv0=program), *self.login_options()]
        if program in MARIADB_CLIENTS:
            return [*super().client_command(MARIADB_CLIENTS[program])]
        raise MySQLServerError(f"unknown client {program!r}: allowed {CLIENT_PROGRAMS} or {tuple(MARIADB_CLIENTS)}")

    def login_options(self) -> list[str]:
        """Options logging a client in as root over the server's unix socket."""
        return ["--no-defaults", f"--socket={self.socket}", f"--user={self.user}"]

    def binlog_position(self) -> tuple[str, int]:
        """(file, position) of the binary log now."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("SHOW BINARY LOG STATUS")
            row = cur.fetchone()
        return str(row[0]), int(row[1])

    def binlog_text_since(self, position: tuple[str, int]) -> str:
        """Everything the binary log recorded after `position`, decoded by MySQL's mysqlbinlog (rows as SQL)."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("SHOW BINARY LOGS")
            files = [str(row[0]) for row in cur.fetchall()]
            cur.execute("FLUSH BINARY LOGS")  # the last file is complete on disk
        files = files[files.index(position[0]) :]
        decode = [*loader_argv(self.root, "usr/bin/mysqlbinlog"), "--no-defaults", "--base64-output=DECODE-ROWS", "-v"]
        text = ""
        for number, name in enumerate(files):
            start = [f"--start-position={position[1]}"] if number == 0 else []
            text += subprocess.run(
                [*decode, *start, str(self.datadir / name)],
                capture_output=True,
                text=True,
                errors="replace",
                check=True,
                timeout=120,
            ).stdout
        return text


@dataclass
class BinlogMySQLServer(MySQLServer):
    """A MySQL server whose binary log is <datadir>/mysql-bin.NNNNNN (server id 1), with GTIDs on."""

    def server_command(self) -> list[str]:
        """The mysqld command line with the binary log named and GTID mode on."""
        return [
            *super().server_command(),
            f"--log-bin={self.datadir / 'mysql-bin'}",
            "--server-id=1",
            "--gtid-mode=ON",
            "--enforce-gtid-consistency=ON",
        ]

    def binlog_command(self) -> list[str]:
        """argv prefix of MySQL's own mysqlbinlog (from the root), without option files."""
        return [*loader_argv(self.root, "usr/bin/mysqlbinlog", argv0="mysqlbinlog"), "--no-defaults"]


if __name__ == "__main__":
    with MySQLServer() as server:
        print(f"MySQL up in {server.start_seconds:.2f}s: port {server.port}, socket {server.socket}")
        print("Press Ctrl-C to stop and remove it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
