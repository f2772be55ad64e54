"""A password is any UTF-8 text, for the tool's own connections (PyMySQL) and for the clients (option file).

PyMySQL encodes a str password as latin-1: `pässwörd` would reach the server as other bytes than the ones the
account was created with (UTF-8, over a utf8mb4 connection), and `密码€` cannot be encoded at all. The clients read
the password from the option file on a pipe, which must carry it byte for byte.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import backups_of, describe, run_cli
from mariadb_server import BACKUP_PASSWORD, BACKUP_PRIVILEGES, MariaDBServer

from afirgen_backup import process

PASSWORDS = {
    "latin": "pässwörd",
    "cjk-euro": "密码€",
    "awkward": BACKUP_PASSWORD + "pässwörd密码€",  # space, both quotes, $, backtick, backslash, # and more
}
HOSTS = ("%", "localhost")


@pytest.mark.parametrize("client", ["mariadb-dump", "mariadb"])
@pytest.mark.parametrize("password", PASSWORDS.values(), ids=PASSWORDS.keys())
def test_the_clients_read_the_password_intact_from_the_option_pipe(client: str, password: str) -> None:
    program = shutil.which(client)
    if program is None:
        pytest.skip(f"no {client} on PATH")
    with process.credentials_pipe("backup", password) as (argument, fd):
        output = process.run([program, argument, "--print-defaults"], pass_fds=(fd,))
    assert f" --user=backup --password={password} " in output, output


@pytest.fixture
def utf8_user(mariadb: MariaDBServer, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """An account whose password is request.param: the backup privileges, and on the test databases (fir_db_*, their
    scratch and safety copies) what a restore needs, as root has it; SET USER for objects defined by root."""
    password = request.param
    user = f"afirgen_u8_{secrets.token_hex(3)}"
    with mariadb.connect() as conn, conn.cursor() as cur:
        for host in HOSTS:
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
            cur.execute(f"GRANT {', '.join(BACKUP_PRIVILEGES)}, SET USER ON *.* TO %s@%s", (user, host))
            cur.execute("GRANT ALL PRIVILEGES ON `fir\\_db%%`.* TO %s@%s", (user, host))
    try:
        yield user, password
    finally:
        with mariadb.connect() as conn, conn.cursor() as cur:
            for host in HOSTS:
                cur.execute("DROP USER IF EXISTS %s@%s", (user, host))


def backup_verify_and_restore(env: dict[str, str]) -> None:
    """A backup, `verify --restore-test` and a restore over the database, all as the account of `env`."""
    backup_dir = Path(env["BACKUP_DIR"])

    backed_up = run_cli(env)
    assert backed_up.returncode == 0, describe(backed_up)
    assert len(backups_of(backup_dir, "mysql")) == 1 and len(backups_of(backup_dir, "sessions")) == 1

    verified = run_cli(env, "verify", "--restore-test")
    assert verified.returncode == 0, describe(verified)
    assert "restore-test" in verified.stdout, verified.stdout

    restored = run_cli(env, "restore", "mysql", "latest", "--yes")
    assert restored.returncode == 0, describe(restored)
    assert list((backup_dir / "safety").glob("mysql_backup_*.sql.gz")), "the safety backup was dumped as that user"


@pytest.mark.mariadb
@pytest.mark.parametrize("utf8_user", PASSWORDS.values(), ids=PASSWORDS.keys(), indirect=True)
def test_backup_verify_and_restore_with_a_utf8_password(utf8_user: tuple[str, str], backup_env: dict[str, str]) -> None:
    user, password = utf8_user
    backup_env.update({"MYSQL_USER": user, "MYSQL_PASSWORD": password})

    backup_verify_and_restore(backup_env)


@pytest.mark.mariadb
@pytest.mark.parametrize("utf8_user", [PASSWORDS["cjk-euro"]], ids=["cjk-euro"], indirect=True)
def test_backup_verify_and_restore_with_a_utf8_password_from_a_file(
    utf8_user: tuple[str, str], backup_env: dict[str, str], tmp_path: Path
) -> None:
    user, password = utf8_user
    secret = tmp_path / "mysql_password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    del backup_env["MYSQL_PASSWORD"]
    backup_env.update({"MYSQL_USER": user, "MYSQL_PASSWORD_FILE": str(secret)})

    backup_verify_and_restore(backup_env)
