"""Rows the application writes while mysqldump starts do not make a good backup look bad."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    as_root,
    describe,
    dump_wrapper,
    finish,
    newest_backup,
    read_manifest,
    run_cli,
    start_cli,
    wait_for,
)
from mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb


def gated_mysqldump(directory: Path) -> Path:
    """A mysqldump that signals it was started and waits for a go before it opens its snapshot."""
    return dump_wrapper(
        directory,
        "mysqldump-gated",
        f"touch {directory}/started\n"
        f"i=0; while [ ! -e {directory}/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done",
    )


def test_rows_written_between_the_count_and_the_dump_pass_the_restore_test(
    mariadb: MariaDBServer, fir_db: str, backup_env: dict[str, str], tmp_path: Path
):
    mariadb.execute(
        "CREATE TABLE app_writes (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO app_writes (note) VALUES ('before'), ('before')",
        database=fir_db,
    )
    env = dict(backup_env, MYSQLDUMP_BIN=str(gated_mysqldump(tmp_path)), BACKUP_SESSIONS_ENABLED="false")
    backup = start_cli(env, "backup")
    wait_for(lambda: (tmp_path / "started").exists() or backup.poll() is not None, 60, "mysqldump to start")
    assert backup.poll() is None, describe(finish(backup))
    # the manifest's first count is taken; the dump's snapshot is not yet open
    mariadb.execute("INSERT INTO app_writes (note) VALUES ('during'), ('during'), ('during')", database=fir_db)
    (tmp_path / "go").touch()
    result = finish(backup)
    assert result.returncode == 0, describe(result)

    dump = newest_backup(env)
    manifest = read_manifest(dump)
    assert manifest["row_counts"]["app_writes"] == 2
    assert manifest["row_counts_after_dump"]["app_writes"] == 5

    verified = run_cli(as_root(env), "verify", "--restore-test", dump.name)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "restore-test" in verified.stdout
