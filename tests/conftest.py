"""Shared fixtures: throwaway MariaDB and MySQL servers, their backup users, the FIR fixture databases,
MySQL's own clients, sessions.db, and for the off-site copies an S3 server (moto's), its buckets and age keys.

Without the MariaDB binaries, or without the MySQL root (tests/tools/build-mysql-root), or if a server cannot
start, the server fixtures skip, except under CI=true where they fail: nothing skips silently in CI. So do the S3
fixtures without moto in the venv, and `age_keypair` without Debian's age.

The MySQL backup user has only what mysqldump 9.7 and mariadb-dump 10.11 need (mysql_server.BACKUP_*_PRIVILEGES):
SHOW_ROUTINE globally and the rest on each database it backs up (`grant_backup_privileges`), as the README allows.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers importable from any test directory

from age_keys import AgeKeypair, AgeToolError, generate_keypair  # noqa: E402
from fixture_schema import build_sessions_db, create_fixture  # noqa: E402
from fixture_schema_mysql import COLLATION as MYSQL_COLLATION  # noqa: E402
from fixture_schema_mysql import create_fixture as create_mysql_fixture  # noqa: E402
from infrastructure import unavailable  # noqa: E402
from mariadb_server import (  # noqa: E402
    BACKUP_PASSWORD,
    BACKUP_PRIVILEGES,
    BACKUP_USER,
    BACKUP_USER_HOSTS,
    BackupUser,
    BinlogMariaDBServer,
    MariaDBServer,
    MariaDBServerError,
)
from mysql_server import (  # noqa: E402
    BinlogMySQLServer,
    MySQLServer,
    create_backup_user,
    grant_backup_privileges,
    write_client_wrappers,
)
from s3_server import S3Server, S3ServerError  # noqa: E402

__all__ = ["BACKUP_PASSWORD", "BACKUP_PRIVILEGES", "BACKUP_USER", "BackupUser"]


MARIADB_FIXTURES = frozenset({"mariadb", "private_mariadb", "binlog_mariadb"})
MYSQL_FIXTURES = frozenset({"mysql", "private_mysql", "binlog_mysql"})
S3_FIXTURES = frozenset({"s3_server", "private_s3_server"})


def pytest_configure(config: pytest.Config) -> None:
    """The `mysql` and `s3` markers: tests (or parametrized cases) that need the throwaway MySQL or S3 server."""
    config.addinivalue_line("markers", "mysql: needs the MySQL 9.x server started by the test suite")
    config.addinivalue_line("markers", "s3: needs the S3 API server (moto's) started by the test suite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test `mariadb`, `mysql` and/or `s3` by the servers it uses (a `pairing` case by its pairing)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        pairing = str(callspec.params.get("pairing", "")) if callspec is not None else ""
        if used & MARIADB_FIXTURES or pairing == "mariadb":
            item.add_marker(pytest.mark.mariadb)
        if used & MYSQL_FIXTURES or pairing.startswith("mysql"):
            item.add_marker(pytest.mark.mysql)
        if used & S3_FIXTURES:
            item.add_marker(pytest.mark.s3)


def start_server(kind: type[MariaDBServer] = MariaDBServer) -> Any:
    """Start a fresh throwaway server of that kind, or skip/fail (CI) with the reason it cannot run."""
    name = "MySQL" if kind.flavor == "mysql" else "MariaDB"
    try:
        server = kind()
    except MariaDBServerError as exc:
        reason = str(exc)
    else:
        try:
            server.start()
            return server
        except (MariaDBServerError, OSError) as exc:
            server.cleanup()
            reason = f"could not start a throwaway {name} server: {exc}"
    unavailable(reason)  # outside the except blocks: no chained traceback noise


def own_server(kind: type[MariaDBServer]) -> Iterator[Any]:
    """A fixture's server: started (or skipped/failed, see start_server), removed with its data after use."""
    server = start_server(kind)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """The session's throwaway MariaDB server (127.0.0.1:port, root without password, `.socket`)."""
    yield from own_server(MariaDBServer)


@pytest.fixture
def private_mariadb() -> Iterator[MariaDBServer]:
    """A server of this test's own, for tests that kill(), restart() or otherwise break it."""
    yield from own_server(MariaDBServer)


@pytest.fixture
def binlog_mariadb() -> Iterator[BinlogMariaDBServer]:
    """A MariaDB server of this test's own that writes a binary log (<datadir>/mysql-bin.NNNNNN, server id 1)."""
    yield from own_server(BinlogMariaDBServer)


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
    yield from database_factory(mariadb, "utf8mb4_unicode_ci")


@pytest.fixture
def fir_db(mariadb: MariaDBServer, make_database: Callable[[str], str]) -> str:
    """A fresh `fir_db_<hex>` database holding the full FIR fixture; dropped after the test."""
    name = make_database("fir_db")
    with mariadb.connect() as conn:
        create_fixture(conn, name)
    return name


# --- MySQL ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql() -> Iterator[MySQLServer]:
    """The session's throwaway MySQL 9.x server (binary log, GTIDs and event scheduler on; root without password)."""
    yield from own_server(MySQLServer)


@pytest.fixture
def private_mysql() -> Iterator[MySQLServer]:
    """A MySQL server of this test's own, for tests that kill(), restart() or otherwise break it."""
    yield from own_server(MySQLServer)


@pytest.fixture
def binlog_mysql() -> Iterator[BinlogMySQLServer]:
    """A MySQL server of this test's own with GTIDs on and its binary log at <datadir>/mysql-bin.NNNNNN."""
    yield from own_server(BinlogMySQLServer)


@pytest.fixture(scope="session")
def mysql_backup_user(mysql: MySQLServer) -> BackupUser:
    """The MySQL `afirgen_backup` account: SHOW_ROUTINE on *.*, and BACKUP_DB_PRIVILEGES on each fixture database."""
    return create_backup_user(mysql)


def database_factory(server: MariaDBServer, collation: str) -> Iterator[Callable[[str], str]]:
    """Yield `make(prefix)`, which creates an empty utf8mb4 database and returns its name; drop them all after."""
    created: list[str] = []

    def make(prefix: str = "scratch") -> str:
        server.start()  # a no-op unless an earlier test killed the shared server
        name = f"{prefix}_{secrets.token_hex(4)}"
        server.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {collation}")
        created.append(name)
        return name

    yield make
    if server.running:
        for name in created:
            server.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def make_mysql_database(mysql: MySQLServer) -> Iterator[Callable[[str], str]]:
    """Factory like `make_database`, on the MySQL server (utf8mb4_0900_ai_ci)."""
    yield from database_factory(mysql, MYSQL_COLLATION)


@pytest.fixture
def mysql_fir_db(mysql: MySQLServer, make_mysql_database: Callable[[str], str], mysql_backup_user: BackupUser) -> str:
    """A fresh `fir_db_<hex>` database on MySQL holding the MySQL FIR fixture, which the backup user may dump."""
    name = make_mysql_database("fir_db")
    with mysql.connect() as conn:
        create_mysql_fixture(conn, name)
    grant_backup_privileges(mysql, name)
    return name


@pytest.fixture(scope="session")
def mysql_clients(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """MySQL 9.x's own `mysqldump`, `mysql` and `mysqlbinlog` as executable wrapper scripts (for MYSQLDUMP_BIN,
    MYSQL_BIN, MYSQLBINLOG_BIN)."""
    try:
        return write_client_wrappers(tmp_path_factory.mktemp("mysql-clients"))
    except MariaDBServerError as exc:
        reason = str(exc)
    unavailable(reason)


# --- S3 and age (off-site copies) ---------------------------------------------------------------------------


def start_s3_server() -> S3Server:
    """Start a fresh throwaway S3 server, or skip/fail (CI) with the reason it cannot run."""
    try:
        server = S3Server()
    except S3ServerError as exc:
        reason = str(exc)
    else:
        try:
            server.start()
            return server
        except (S3ServerError, OSError) as exc:
            server.cleanup()
            reason = f"could not start a throwaway S3 server (moto): {exc}"
    unavailable(reason)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The session's S3 API server: moto's, on 127.0.0.1 (`.endpoint_url`, `.region`, dummy `.access_key`).

    Tests that kill() it should use `private_s3_server`; a killed or restarted server is empty.
    """
    server = start_s3_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def private_s3_server() -> Iterator[S3Server]:
    """An S3 server of this test's own, for tests that kill(), stop() or restart it."""
    server = start_s3_server()
    try:
        yield server
    finally:
        server.cleanup()


def bucket_of_the_test(server: S3Server, *, object_lock: bool) -> Iterator[str]:
    """Yield a new bucket on `server`; remove it and all it holds after the test (what retention allows)."""
    server.start()  # a no-op unless an earlier test killed the shared server
    name = server.create_bucket(object_lock=object_lock)
    yield name
    if server.running:
        server.remove_bucket(name)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """The name of a new, empty, unversioned bucket on the session's S3 server, removed after the test."""
    yield from bucket_of_the_test(s3_server, object_lock=False)


@pytest.fixture
def s3_locked_bucket(s3_server: S3Server) -> Iterator[str]:
    """The name of a new bucket with Object Lock enabled (so versioned), without default retention.

    Versions a test puts under COMPLIANCE retention stay in the server's memory until the session ends.
    """
    yield from bucket_of_the_test(s3_server, object_lock=True)


@pytest.fixture
def age_keypair(tmp_path: Path) -> AgeKeypair:
    """A new X25519 key pair made by Debian's age-keygen: `.identity_file` (0600, under tmp_path), `.recipient`."""
    try:
        return generate_keypair(tmp_path / "age-identity.txt")
    except (AgeToolError, OSError, subprocess.SubprocessError) as exc:
        reason = f"cannot make an age key pair: {exc}"
    unavailable(reason)


# --- sessions.db ---------------------------------------------------------------------------------------------


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
    return backup_user.backup_env(fir_db, sessions_db, tmp_path)
