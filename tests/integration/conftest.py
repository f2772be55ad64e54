"""Fixtures of the end-to-end tests (the servers, users and databases are in tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import fixture_schema
import fixture_schema_mysql
import pytest
from helpers import Pairing, run_cli, with_offsite
from mysql_server import grant_backup_privileges
from s3_server import S3Server


@pytest.fixture
def backed_up(backup_env: dict[str, str]) -> dict[str, str]:
    """The test's settings, after one successful backup with them."""
    result = run_cli(backup_env, "backup")
    assert result.returncode == 0, result.stderr
    return backup_env


@pytest.fixture
def offsite_env(backup_env: dict[str, str], s3_bucket: str, s3_server: S3Server, tmp_path: Path) -> dict[str, str]:
    """A copy of the test's backup_env that also sends off-site copies to `s3://<s3_bucket>/fir-backups` on the
    session's S3 server (path-style, its region and dummy credentials).

    boto3's own files and the EC2 metadata service are shut out as BACKUP_ENV_FILE shuts out a .env: a
    developer's ~/.aws must not change the run, and a test that drops the credentials must not send boto3 to
    169.254.169.254 to look for others (all test traffic stays on 127.0.0.1).
    """
    return with_offsite(backup_env, s3_server, s3_bucket, tmp_path)


@pytest.fixture
def pairing(request: pytest.FixtureRequest) -> Pairing:
    """The server, FIR fixture database and backup_env of one pairing (parametrize with helpers.on_pairings).

    Only the fixtures of that pairing's server are set up: a MariaDB case never starts MySQL, nor the reverse.
    """
    name = request.param
    fixture = request.getfixturevalue
    if name == "mariadb":
        return Pairing(
            name=name,
            server=fixture("mariadb"),
            db=fixture("fir_db"),
            env=fixture("backup_env"),
            user=fixture("backup_user"),
            load_client="mariadb",
            make_database=fixture("make_database"),
            expected_objects=fixture_schema.EXPECTED_OBJECTS,
            grant_backup=lambda db: None,  # the MariaDB backup user's grants are on *.*
        )
    server, user, db = fixture("mysql"), fixture("mysql_backup_user"), fixture("mysql_fir_db")
    env = user.backup_env(db, fixture("sessions_db"), fixture("tmp_path"))
    if name == "mysql-own-client":
        clients = fixture("mysql_clients")
        env.update(MYSQLDUMP_BIN=str(clients["mysqldump"]), MYSQL_BIN=str(clients["mysql"]))
        load_client = "mysql"
    else:  # the image's: what `mysqldump` and `mysql` are in the Docker image
        env.update(
            MYSQLDUMP_BIN=shutil.which("mariadb-dump") or "mariadb-dump", MYSQL_BIN=shutil.which("mariadb") or "mariadb"
        )
        load_client = "mariadb"
    return Pairing(
        name=name,
        server=server,
        db=db,
        env=env,
        user=user,
        load_client=load_client,
        make_database=fixture("make_mysql_database"),
        expected_objects=fixture_schema_mysql.EXPECTED_OBJECTS,
        grant_backup=lambda database: grant_backup_privileges(server, database),
    )


@pytest.fixture
def backed_up_pairing(pairing: Pairing) -> Pairing:
    """The pairing, after one successful backup with its settings."""
    result = run_cli(pairing.env, "backup")
    assert result.returncode == 0, result.stdout + result.stderr
    return pairing
