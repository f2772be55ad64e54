"""Shared fixtures: a throwaway MariaDB server, the backup user, the FIR fixture database and sessions.db.

Without the MariaDB binaries (or if the server cannot start) the server fixtures
skip, except under CI=true where they fail: nothing skips silently in CI.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers importable from any test directory

from fixture_schema import build_sessions_db, create_fixture  # noqa: E402
from infrastructure import unavailable  # noqa: E402
from mariadb_server import (  # noqa: E402
    BACKUP_PASSWORD,
    BACKUP_PRIVILEGES,
    BACKUP_USER,
    BACKUP_USER_HOSTS,
    BackupUser,
    MariaDBServer,
    MariaDBServerError,
)

__all__ = ["BACKUP_PASSWORD", "BACKUP_PRIVILEGES", "BACKUP_USER", "BackupUser"]


def start_server() -> MariaDBServer:
    """Start a fresh throwaway server, or skip/fail (CI) with the reason it cannot run."""
    try:
        server = MariaDBServer()
    except MariaDBServerError as exc:
        reason = str(exc)
    else:
        try:
            server.start()
            return server
        except (MariaDBServerError, OSError) as exc:
            server.cleanup()
            reason = f"could not start a throwaway MariaDB server: {exc}"
    unavailable(reason)  # outside the except blocks: no chained traceback noise


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """The session's throwaway MariaDB server (127.0.0.1:port, root without password, `.socket`)."""
    server = start_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def private_mariadb() -> Iterator[MariaDBServer]:
    """A server of this test's own, for tests that kill(), restart() or otherwise break it."""
    server = start_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def backup_user(mariadb: MariaDBServer) -> BackupUser:
    """The `afirgen_backup` account (password BACKUP_PASSWORD) with only BACKUP_PRIVILEGES on *.*."""
    privileges = ", ".join(BACKUP_PRIVILEGES)
    with mariadb.connect() as conn, conn.cursor() as cur:
        for host in BACKUP_USER_HOSTS:
            cur.execute("CREATE OR REPLACE USER %s@%s IDENTIFIED BY %s", (BACKUP_USER, host, BACKUP_PASSWORD))
            cur.execute(f"GRANT {privileges} ON *.* TO %s@%s", (BACKUP_USER, host))
    return BackupUser(BACKUP_USER, BACKUP_PASSWORD, mariadb.host, mariadb.port, mariadb.socket)


@pytest.fixture
def make_database(mariadb: MariaDBServer) -> Iterator[Callable[[str], str]]:
    """Factory: `make_database(prefix="scratch")` creates an empty utf8mb4 database and returns its name.

    Every database made is dropped after the test.
    """
    created: list[str] = []

    def make(prefix: str = "scratch") -> str:
        mariadb.start()  # a no-op unless an earlier test killed the shared server
        name = f"{prefix}_{secrets.token_hex(4)}"
        mariadb.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        created.append(name)
        return name

    yield make
    if mariadb.running:
        for name in created:
            mariadb.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def fir_db(mariadb: MariaDBServer, make_database: Callable[[str], str]) -> str:
    """A fresh `fir_db_<hex>` database holding the full FIR fixture; dropped after the test."""
    name = make_database("fir_db")
    with mariadb.connect() as conn:
        create_fixture(conn, name)
    return name


@pytest.fixture
def sessions_db(tmp_path: Path) -> Iterator[Path]:
    """A WAL-mode sessions.db like the live app's: the last WAL_ONLY_VALIDATIONS rows exist only in the -wal file.

    The writing connection stays open (as the app's would) until the test ends.
    """
    path = tmp_path / "sessions.db"
    conn = build_sessions_db(path, "wal")
    try:
        yield path
    finally:
        conn.close()


@pytest.fixture
def sessions_db_rollback(tmp_path: Path) -> Path:
    """The same sessions.db content in rollback-journal mode (journal_mode=DELETE), connection closed."""
    path = tmp_path / "sessions-rollback.db"
    build_sessions_db(path, "delete").close()
    return path


@pytest.fixture
def backup_env(backup_user: BackupUser, fir_db: str, sessions_db: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for running the backup tool against the fixtures; a plain dict for tests to tweak.

    BACKUP_DIR (<tmp>/backups) is not created: the tool must create it.
    BACKUP_ENV_FILE points at an empty file so a developer's .env never leaks in.
    """
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "MYSQL_HOST": backup_user.host,
        "MYSQL_PORT": str(backup_user.port),
        "MYSQL_USER": backup_user.user,
        "MYSQL_PASSWORD": backup_user.password,
        "MYSQL_DB": fir_db,
        "SESSIONS_DB_PATH": str(sessions_db),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_ENV_FILE": str(empty_env),
    }
