"""SESSION_DB_PATH, the application's name for SESSIONS_DB_PATH, reaches the cron job and the entrypoint's checks.

backup_scheduler.sh hands the configuration to the cron job through a file that its write_job_env heredoc writes
(names under MYSQL_, MYSQLDUMP_, BACKUP_, SESSIONS_, and the alias), and prints the sessions.db path that
backup_dir_refusal checks BACKUP_DIR against. The heredoc runs here as it is in the script, with this Python and
root as the job's user; backup_dir_refusal runs in bash with the script sourced.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "backup_scheduler.sh"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the heredoc gives the file to the job's user (chown)")


def heredoc() -> str:
    match = re.search(r'"\$PYTHON" - "\$JOB_ENV" "\$JOB_USER" <<\'PY\'\n(.*?)\nPY\n', SCRIPT.read_text(), re.DOTALL)
    assert match, "write_job_env's heredoc not found in backup_scheduler.sh"
    return match.group(1)


def write_job_env(tmp_path: Path, environment: dict[str, str]) -> tuple[dict[str, str | None], list[str]]:
    """Run the heredoc; return the job's configuration file as python-dotenv reads it, and the printed fields."""
    target = tmp_path / "run" / "backup.env"
    target.parent.mkdir()
    result = subprocess.run(
        [sys.executable, "-", str(target), "root"],
        input=heredoc(),
        cwd=REPO_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dotenv_values(target, interpolate=False), result.stdout.split("\0")[:-1]


def backup_dir_refusal(backup_dir: str, sessions_db: str) -> str:
    result = subprocess.run(
        ["bash", "-c", 'source "$0" && backup_dir_refusal "$1" "$2"', str(SCRIPT), backup_dir, sessions_db],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


@pytest.mark.parametrize("where", ["environment", "env file"])
def test_session_db_path_reaches_the_job_and_the_entrypoints_checks(tmp_path: Path, where: str) -> None:
    settings = {"BACKUP_DIR": "/srv/app", "SESSION_DB_PATH": "/srv/app/sessions.db", "SESSION_SECRET": "app's own"}
    env_file = tmp_path / "service.env"
    if where == "env file":
        env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
        environment = {"BACKUP_ENV_FILE": str(env_file)}
    else:
        env_file.write_text("")
        environment = {"BACKUP_ENV_FILE": str(env_file), **settings}

    job_settings, fields = write_job_env(tmp_path, environment)

    assert job_settings == {"BACKUP_DIR": "/srv/app", "SESSION_DB_PATH": "/srv/app/sessions.db"}
    assert fields[:3] == ["/srv/app", "/srv/app/backup.log", "/srv/app/sessions.db"]
    # the entrypoint would give /srv/app, and sessions.db with it, to the job's user: it must refuse
    assert backup_dir_refusal(fields[0], fields[2]) == "holds /srv/app"


def test_sessions_db_path_still_comes_first(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    environment = {
        "BACKUP_ENV_FILE": str(env_file),
        "SESSIONS_DB_PATH": "/data/sessions/sessions.db",
        "SESSION_DB_PATH": "/data/sessions/sessions.db",
    }

    job_settings, fields = write_job_env(tmp_path, environment)

    assert job_settings == {k: v for k, v in environment.items() if k != "BACKUP_ENV_FILE"}
    assert fields[2] == "/data/sessions/sessions.db"
