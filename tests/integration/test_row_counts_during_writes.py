"""Rows the application writes while mysqldump starts do not make a good backup look bad."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import as_root, run_cli
from mariadb_server import MariaDBServer, find_program

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def gated_mysqldump(directory: Path) -> Path:
    """A mysqldump that signals it was started and waits for a go before it opens its snapshot."""
    real = find_program(("mariadb-dump", "mysqldump"))
    script = directory / "mysqldump-gated"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {real} "$@"; fi\n'
        f"touch {directory}/started\n"
        f"i=0; while [ ! -e {directory}/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_rows_written_between_the_count_and_the_dump_pass_the_restore_test(
    mariadb: MariaDBServer, fir_db: str, backup_env: dict[str, str], tmp_path: Path
):
    mariadb.execute(
        "CREATE TABLE app_writes (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO app_writes (note) VALUES ('before'), ('before')",
        database=fir_db,
    )
    env = dict(backup_env, MYSQLDUMP_BIN=str(gated_mysqldump(tmp_path)), BACKUP_SESSIONS_ENABLED="false")
    command = [sys.executable, str(REPO / "backup_database.py"), "backup"]
    backup = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert backup.poll() is None and time.monotonic() < deadline, backup.communicate()
        time.sleep(0.05)
    # the manifest's first count is taken; the dump's snapshot is not yet open
    mariadb.execute("INSERT INTO app_writes (note) VALUES ('during'), ('during'), ('during')", database=fir_db)
    (tmp_path / "go").touch()
    out, err = backup.communicate(timeout=120)
    assert backup.returncode == 0, err

    dump = max(Path(env["BACKUP_DIR"]).glob("mysql_backup_*.sql.gz"))
    manifest = json.loads(dump.with_name(dump.name + ".json").read_text())
    assert manifest["row_counts"]["app_writes"] == 2
    assert manifest["row_counts_after_dump"]["app_writes"] == 5

    verified = run_cli(as_root(env), "verify", "--restore-test", dump.name)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "restore-test" in verified.stdout
