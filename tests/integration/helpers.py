"""Helpers for the end-to-end tests of backup_database.py: run the CLI as a real process, look at what it left,
find and freeze its children, build bulky data, run it inside a private mount namespace, and run one test on
every server/client pairing (`Pairing`, `on_pairings`).

The CLI always runs as `[sys.executable, "backup_database.py", ...]` from the repository root, with the
environment the test gives it and nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gzip
import hashlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = REPO_ROOT / "backup_database.py"
FAKES = REPO_ROOT / "tests" / "fakes"
DUMP_PROGRAMS = ("mariadb-dump", "mysqldump")
STAMP_FORMAT = "%Y%m%d_%H%M%S"
MYSQL_NAME = "mysql_backup_{stamp}.sql.gz"
SESSIONS_NAME = "sessions_backup_{stamp}.db.gz"
#: Name of the bulky table the mid-dump tests add; it sorts first, so mysqldump dumps it first.
BULK_TABLE = "a_bulk"


def cli_argv(*args: str) -> list[str]:
    """The argv that runs the tool the way the documentation does."""
    return [sys.executable, str(ENTRY_POINT), *args]


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 600, wrapper: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end (optionally under a wrapper such as `unshare ...`) and capture its output."""
    return subprocess.run(
        [*wrapper, *cli_argv(*args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )


def as_root(env: dict[str, str]) -> dict[str, str]:
    """The same settings as MariaDB's root: restores and restore tests need privileges the backup user lacks."""
    return dict(env, MYSQL_USER="root", MYSQL_PASSWORD="")


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start the CLI in the background; the caller waits for it (see `finish`)."""
    return subprocess.Popen(
        cli_argv(*args),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )


@dataclass
class Finished:
    """What a background CLI run ended with."""

    returncode: int
    stdout: str
    stderr: str


def finish(cli: subprocess.Popen[str], timeout: float = 120) -> Finished:
    """Wait for a background CLI run and collect its output."""
    stdout, stderr = cli.communicate(timeout=timeout)
    return Finished(cli.returncode, stdout, stderr)


def describe(result: subprocess.CompletedProcess[str] | Finished) -> str:
    """Exit code and output of a run, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def stderr_errors(result: subprocess.CompletedProcess[str] | Finished) -> list[str]:
    """The `error: ...` lines the CLI printed on stderr (not the log events)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2 with exactly one `error:` line holding `words`, and no traceback."""
    assert result.returncode == 2, describe(result)
    errors = stderr_errors(result)
    assert len(errors) == 1, describe(result)
    for word in words:
        assert word in errors[0], describe(result)
    assert "Traceback" not in result.stderr


# --- server/client pairings ---------------------------------------------------------------------------------

#: Every pairing of server and client the tests run on:
#: - mariadb: MariaDB 10.11 with its own mariadb-dump/mariadb;
#: - mysql-image-client: Oracle MySQL 9.x with MariaDB's mariadb-dump/mariadb 10.11, which the Docker image ships;
#: - mysql-own-client: Oracle MySQL 9.x with MySQL's own mysqldump/mysql 9.x.
PAIRINGS = ("mariadb", "mysql-image-client", "mysql-own-client")
MYSQL_PAIRINGS = PAIRINGS[1:]


@dataclass
class Pairing:
    """One server with the FIR fixture and the clients the tool is told to use (MYSQLDUMP_BIN, MYSQL_BIN).

    `env` is the test's backup_env for this pairing (a plain dict to tweak); `load_client` is the client an
    operator would load a dump with (`mariadb` or MySQL's `mysql`, see dbcompare.load_dump_with_client).
    """

    name: str
    server: Any
    db: str
    env: dict[str, str]
    user: Any
    load_client: str
    make_database: Callable[..., str]
    expected_objects: dict[str, list[str]]
    grant_backup: Callable[[str], None]

    @property
    def flavor(self) -> str:
        """The server: 'mariadb' or 'mysql'."""
        return str(self.server.flavor)

    @property
    def dump_program(self) -> str:
        """The name (/proc/PID/comm) of the dump process the tool starts: MYSQLDUMP_BIN's, else `mysqldump`."""
        return Path(self.env.get("MYSQLDUMP_BIN") or "mysqldump").name[:15]


def on_pairings(*names: str, xfail: dict[str, str] | None = None) -> pytest.MarkDecorator:
    """Run the test once per pairing (all of PAIRINGS by default) through the `pairing` fixture.

    `xfail` maps a pairing's name to the product gap that makes it fail there: the case is marked
    `xfail(strict=True)`, so it turns into a failure the moment the product is fixed. (tests/conftest.py marks
    each case `mariadb` or `mysql` by its server.)
    """
    xfail = xfail or {}
    unknown = set(xfail) - set(names or PAIRINGS)
    assert not unknown, f"xfail for pairings the test does not run on: {unknown}"
    params = []
    for name in names or PAIRINGS:
        marks = [pytest.mark.xfail(strict=True, reason=xfail[name])] if name in xfail else []
        params.append(pytest.param(name, id=name, marks=marks))
    return pytest.mark.parametrize("pairing", params, indirect=True)


# --- what is in BACKUP_DIR ---------------------------------------------------------------------------------


def names_in(directory: Path) -> list[str]:
    """Sorted names of the entries of a directory ([] when it does not exist)."""
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except FileNotFoundError:
        return []


def backups_of(directory: Path, kind: str) -> list[Path]:
    """Published backup files of one kind (`mysql` or `sessions`), oldest first, without their manifests."""
    suffix = ".sql.gz" if kind == "mysql" else ".db.gz"
    return [directory / n for n in names_in(directory) if n.startswith(f"{kind}_backup_") and n.endswith(suffix)]


def leftovers_in(directory: Path) -> list[str]:
    """Anything a failed run must not leave: partial files and temporary copies."""
    return [n for n in names_in(directory) if n.endswith(".partial") or n.startswith(".sessions-copy-")]


def read_manifest(backup: Path) -> dict[str, Any]:
    """The JSON manifest beside a backup file."""
    return json.loads(backup.with_name(backup.name + ".json").read_text(encoding="utf-8"))


def sha256_and_size(path: Path) -> tuple[str, int]:
    """sha256 hex digest and size of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_size


def mode_of(path: Path) -> int:
    """Permission bits of a file or directory."""
    return path.stat().st_mode & 0o777


def log_events(log_file: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines log file, parsed (fails the test on a line that is not a JSON object)."""
    events = []
    for number, line in enumerate(log_file.read_text(encoding="utf-8").splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError as error:
            raise AssertionError(f"{log_file}:{number} is not JSON ({error}): {line!r}") from None
        assert isinstance(event, dict), f"{log_file}:{number} is not a JSON object: {line!r}"
        events.append(event)
    return events


def events_named(env: dict[str, str], event: str) -> list[dict[str, Any]]:
    """The events of that name in the backup.log of the run's BACKUP_DIR."""
    return [e for e in log_events(Path(env["BACKUP_DIR"]) / "backup.log") if e.get("event") == event]


def newest_backup(env: dict[str, str], kind: str = "mysql") -> Path:
    """The newest published backup of a kind in the run's BACKUP_DIR."""
    return backups_of(Path(env["BACKUP_DIR"]), kind)[-1]


def dump_wrapper(directory: Path, name: str, before_dump: str, real: str | None = None) -> Path:
    """A MYSQLDUMP_BIN that runs a shell snippet before it becomes the real mysqldump (not for --version).

    `real`: the mysqldump to become (default: mariadb-dump, or mysqldump, from PATH).
    """
    real = real or shutil.which("mariadb-dump") or shutil.which("mysqldump")
    script = directory / name
    script.write_text(f'#!/bin/sh\nif [ "$1" != "--version" ]; then\n{before_dump}\nfi\nexec {real} "$@"\n')
    script.chmod(0o755)
    return script


def utc_stamp(moment: datetime) -> str:
    """The YYYYMMDD_HHMMSS stamp backups carry in their names."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def plant_backup(directory: Path, kind: str, age: timedelta, *, manifest: bool = True, snapshot: bool = False) -> Path:
    """Put a fake but well-formed backup (and its manifest) of the given age into `directory`; `snapshot`: one
    marked as a frequent sessions snapshot."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    moment = datetime.now(UTC) - age
    name = (MYSQL_NAME if kind == "mysql" else SESSIONS_NAME).format(stamp=utc_stamp(moment))
    path = directory / name
    path.write_bytes(gzip.compress(f"planted {kind} backup from {moment.isoformat()}\n".encode()))
    if manifest:
        digest, size = sha256_and_size(path)
        path.with_name(name + ".json").write_text(
            json.dumps(
                {"format": 1, "file": name, "kind": kind, "sha256": digest, "size": size}
                | ({"snapshot": True} if snapshot else {})
            ),
            encoding="utf-8",
        )
    return path


# --- processes ---------------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.005) -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def parent_of(pid: int) -> int | None:
    """The parent pid from /proc/PID/stat, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def command_name(pid: int) -> str:
    """/proc/PID/comm, or '' when the process is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def process_state(pid: int) -> str | None:
    """The state letter (R, S, D, T, Z, ...) of a process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def find_dump_child(cli_pid: int, timeout: float = 30) -> int:
    """The pid of the mysqldump/mariadb-dump process the CLI started (waits until it exists)."""

    def dump_child() -> int | None:
        for pid in descendants(cli_pid):
            # not the `mysqldump --version` the tool runs first: the dump itself reads the credentials pipe
            if command_name(pid) in DUMP_PROGRAMS and b"--defaults-extra-file=" in bytes_of(
                Path(f"/proc/{pid}/cmdline")
            ):
                return pid
        return None

    return int(wait_for(dump_child, timeout, "the CLI to start mysqldump", interval=0.002))


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """SIGSTOP a process for the duration of the block, SIGCONT it afterwards."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def bytes_of(path: Path) -> bytes:
    """The raw contents of a /proc file, or b'' when the process is gone or it cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return b""


# --- MariaDB/MySQL data --------------------------------------------------------------------------------------


def add_bulk_table(server: Any, db: str, rows: int, row_bytes: int = 64 * 1024, *, random: bool = False) -> int:
    """Add `a_bulk` (dumped first) with `rows` rows of `row_bytes` each; return the data size in bytes.

    Compressible text by default (cheap to gzip); `random=True` fills LONGBLOBs with random bytes, which
    neither hex encoding nor gzip shrink below half their dumped size.
    """
    with server.connect(db) as conn, conn.cursor() as cur:
        if random:
            cur.execute(f"CREATE TABLE {BULK_TABLE} (id INT PRIMARY KEY, payload LONGBLOB NOT NULL) ENGINE=InnoDB")
            for row in range(rows):
                cur.execute(f"INSERT INTO {BULK_TABLE} VALUES (%s, %s)", (row, os.urandom(row_bytes)))
        else:
            cur.execute(f"CREATE TABLE {BULK_TABLE} (id INT PRIMARY KEY, payload LONGTEXT NOT NULL) ENGINE=InnoDB")
            if getattr(server, "flavor", "mariadb") == "mariadb":
                repeats = row_bytes // 32
                cur.execute(f"INSERT INTO {BULK_TABLE} SELECT seq, REPEAT(MD5(seq), {repeats}) FROM seq_1_to_{rows}")
            else:  # MySQL: no sequence engine, and no MD5() in 9.x
                cur.execute(
                    f"INSERT INTO {BULK_TABLE} WITH RECURSIVE seq (n) AS"
                    f" (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {rows})"
                    f" SELECT n, REPEAT(SHA2(n, 256), {row_bytes // 64}) FROM seq"
                )
    return rows * row_bytes


def running_queries(server: Any, user: str) -> list[str]:
    """The statements the server is running right now for `user` (from the processlist)."""
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE USER = %s AND INFO IS NOT NULL", (user,))
        return [str(row[0]) for row in cur.fetchall()]


def wait_until_dumping_bulk(server: Any, user: str, timeout: float = 30) -> None:
    """Wait until mysqldump is in the middle of `a_bulk`: the server is still sending its rows."""
    wait_for(
        lambda: any(BULK_TABLE in query and "SELECT" in query.upper() for query in running_queries(server, user)),
        timeout,
        f"the server to be sending the rows of {BULK_TABLE}",
        interval=0.01,
    )


#: What mysqldump must have written before the CLI is frozen: more than a pipe holds (64 KiB until the CLI, back
#: from starting it, enlarges the pipe), so the CLI has read from it and is past starting it.
PAST_SPAWN_BYTES = 2 << 20


def bytes_written(pid: int) -> int:
    """`wchar` of /proc/PID/io: the bytes a process has written so far (0 when it is gone)."""
    for line in bytes_of(Path(f"/proc/{pid}/io")).splitlines():
        if line.startswith(b"wchar:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def stalled_mid_dump(cli: subprocess.Popen[str], server: Any, user: str) -> Iterator[int]:
    """Freeze the CLI once it reads mysqldump's output and yield mysqldump's pid once the dump is mid-table.

    With the CLI stopped nobody drains mysqldump's stdout: mysqldump blocks on the full pipe and the server
    blocks sending the rest of `a_bulk` (far larger than the pipe and socket buffers). The CLI resumes when
    the block ends.

    The CLI is frozen only after mysqldump has written PAST_SPAWN_BYTES, i.e. back in the CLI's read loop: frozen
    inside subprocess.Popen (between fork and return), a signal sent now would hit the tool while it starts
    mysqldump, a different fault (there Popen raises, and the tool has no handle to stop the child it forked).
    """
    dump_pid = find_dump_child(cli.pid)
    wait_for(lambda: bytes_written(dump_pid) > PAST_SPAWN_BYTES, 30, "the CLI to read from mysqldump", 0.001)
    with frozen(cli.pid):
        wait_until_dumping_bulk(server, user)
        yield dump_pid


# --- sessions.db -------------------------------------------------------------------------------------------


WRITER_TABLE = "writer_log"


def add_writer_table(path: Path, filler_bytes: int = 0) -> None:
    """Create the table the writer thread appends to, and optionally a filler table to make the copy slower."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute(f"CREATE TABLE {WRITER_TABLE} (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL, note TEXT)")
        if filler_bytes:
            conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            chunk = 16 * 1024
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO filler (data) VALUES (?)", [(os.urandom(chunk),) for _ in range(filler_bytes // chunk)]
            )
            conn.execute("COMMIT")
    finally:
        conn.close()


@dataclass
class SessionsWriter:
    """A thread that, like the application, opens a new connection for every write and commits each one.

    It inserts ids 1, 2, 3, ... into `writer_log`; `committed` is the last id whose commit returned.
    `latencies` holds the seconds each connect+insert+commit+close took. With synchronous=NORMAL a WAL commit
    does not wait for fsync, so the latency is the time spent waiting for locks, not a busy disk's noise.
    """

    path: Path
    pause: float = 0.003
    committed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SessionsWriter:
        self._thread = threading.Thread(target=self._run, name="sessions-writer", daemon=True)
        self._thread.start()
        wait_for(lambda: self.committed >= 20 or self.errors, 10, "the writer's first commits")
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            next_id = self.committed + 1
            began = time.monotonic()
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                try:
                    conn.execute("PRAGMA synchronous = NORMAL")
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(
                        f"INSERT INTO {WRITER_TABLE} (id, written_at, note) VALUES (?, ?, ?)",
                        (next_id, datetime.now(UTC).isoformat(), f"write {next_id} ✍"),
                    )
                    conn.execute("COMMIT")
                finally:
                    conn.close()
            except sqlite3.Error as error:
                self.errors.append(f"write {next_id}: {error}")
                return
            self.latencies.append(time.monotonic() - began)
            self.committed = next_id
            time.sleep(self.pause)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table, ordered by rowid."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        conn.close()


def user_tables(path: Path) -> list[str]:
    """Names of the tables (not sqlite_*) of a database."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows]


def gunzip_to(source: Path, target: Path) -> Path:
    """`gunzip -c source > target` with the real gunzip."""
    with open(target, "wb") as out:
        subprocess.run(["gunzip", "-c", str(source)], stdout=out, check=True, timeout=120)
    return target


# --- mount namespaces --------------------------------------------------------------------------------------


@functools.cache
def mount_namespaces_work() -> bool:
    """Whether this process may make private mount namespaces with mounts in them (root and unshare(1))."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, check=False
    )
    return probe.returncode == 0


def require_mount_namespaces() -> None:
    """Skip the test (fail it under CI=true) where read-only and tmpfs mounts cannot be made."""
    if not mount_namespaces_work():
        reason = "needs root and unshare(1) to mount a read-only bind or a small tmpfs in a private namespace"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason} (CI=true: not skipping)", pytrace=False)
        pytest.skip(reason)


def read_only_bind(source: Path, mountpoint: Path) -> list[str]:
    """A wrapper argv: run the command in a private mount namespace where `mountpoint` is `source`, read-only."""
    require_mount_namespaces()
    mountpoint.mkdir(parents=True, exist_ok=True)
    script = 'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", str(source), str(mountpoint)]


def small_tmpfs(mountpoint: Path, size: str, *, fill: bool = False, listing: Path | None = None) -> list[str]:
    """A wrapper argv: run the command in a private mount namespace with a tmpfs of `size` at `mountpoint`.

    `fill=True` fills the tmpfs up before the command runs. With `listing`, the names left in the tmpfs
    after the command are written there (the tmpfs vanishes with the namespace).
    """
    require_mount_namespaces()
    mountpoint.mkdir(parents=True, exist_ok=True)
    steps = [f"mount -t tmpfs -o size={size},mode=0700 tmpfs {shlex.quote(str(mountpoint))} || exit 99"]
    if fill:
        steps.append(f"(dd if=/dev/zero of={shlex.quote(str(mountpoint / 'filler'))} bs=64k 2>/dev/null || true)")
    steps.append('"$@"; status=$?')
    if listing is not None:
        steps.append(f"ls -A {shlex.quote(str(mountpoint))} > {shlex.quote(str(listing))}")
    steps.append("exit $status")
    return ["unshare", "-m", "sh", "-c", "; ".join(steps), "sh"]


def hold_lock(path: Path) -> int:
    """flock the file exclusively from the test process; returns the fd (close it to release)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def with_offsite(env: dict[str, str], s3_server: Any, bucket: str, tmp_path: Path) -> dict[str, str]:
    """`env` sending off-site copies to `s3://<bucket>/fir-backups` on the tests' S3 server (path-style, its region
    and dummy credentials), boto3's own files and the EC2 metadata service shut out (offsite_env's reasons)."""
    no_aws_files = str(tmp_path / "no-aws-config")
    return dict(
        env,
        BACKUP_S3_URL=f"s3://{bucket}/fir-backups",
        BACKUP_S3_ENDPOINT_URL=s3_server.endpoint_url,
        BACKUP_S3_REGION=s3_server.region,
        BACKUP_S3_FORCE_PATH_STYLE="true",
        AWS_ACCESS_KEY_ID=s3_server.access_key,
        AWS_SECRET_ACCESS_KEY=s3_server.secret_key,
        AWS_CONFIG_FILE=no_aws_files,
        AWS_SHARED_CREDENTIALS_FILE=no_aws_files,
        AWS_EC2_METADATA_DISABLED="true",
    )
