"""`job-env`: the configuration the container's cron job runs with, written by the engine for backup_scheduler.sh.

The entrypoint runs `backup_database.py job-env /run/afirgen/backup.env --owner afirgen` and reads four NUL-ended
fields from it (BACKUP_DIR, the log file, sessions.db, the lock's name); backup_dir_refusal then checks BACKUP_DIR
against sessions.db in bash, with the script sourced. Run here as the entrypoint runs it, as root, with `nobody`
as the job's user.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "backup_scheduler.sh"
JOB_USER = "nobody"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="job-env gives the file to the job's user (fchown)")


def job_env(tmp_path: Path, environment: dict[str, str], owner: str = JOB_USER) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "run" / "backup.env"
    target.parent.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "backup_database.py"), "job-env", str(target), "--owner", owner],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def write_job_env(tmp_path: Path, environment: dict[str, str]) -> tuple[dict[str, str | None], list[str]]:
    """Run job-env; return the job's configuration file as python-dotenv reads it, and the printed fields."""
    result = job_env(tmp_path, environment)
    assert result.returncode == 0, result.stderr
    return dotenv_values(tmp_path / "run" / "backup.env", interpolate=False), result.stdout.split("\0")[:-1]


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
    assert fields == ["/srv/app", "/srv/app/backup.log", "/srv/app/sessions.db", ".afirgen-backup.lock"]
    # the entrypoint would give /srv/app, and sessions.db with it, to the job's user: it must refuse
    assert backup_dir_refusal(fields[0], fields[2]) == "holds /srv/app"


def test_sessions_db_path_still_comes_first(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    environment = {
        "BACKUP_ENV_FILE": str(env_file),
        "SESSIONS_DB_PATH": "/data/sessions/sessions.db",
        "SESSION_DB_PATH": "/data/other.db",
    }

    job_settings, fields = write_job_env(tmp_path, environment)

    assert job_settings == {k: v for k, v in environment.items() if k != "BACKUP_ENV_FILE"}
    assert fields[2] == "/data/sessions/sessions.db"


def test_the_job_gets_the_engines_settings_exactly_and_nothing_else(tmp_path: Path) -> None:
    """Values that need quoting read back as given; the entrypoint's own settings (but the schedules, which status
    reads), a shared .env's MySQL root password and everything that is no setting of the engine stay out; the file
    is the job user's, 0600."""
    env_file = tmp_path / "shared.env"
    env_file.write_text("MYSQL_ROOT_PASSWORD=root-secret\nMYSQL_DATABASE=fir_db\nMYSQL_HOST=from-file\n")
    password = "p\"a\\ss $HOME `x` 'q'\nline2 ✓"
    environment = {
        "BACKUP_ENV_FILE": str(env_file),
        "MYSQL_HOST": "db.internal",  # the environment wins over the file
        "MYSQL_PASSWORD": password,
        "BACKUP_SCHEDULE": "0 * * * *",
        "BACKUP_ON_START": "false",
        "UNRELATED": "x",
    }

    job_settings, fields = write_job_env(tmp_path, environment)

    assert job_settings == {"MYSQL_HOST": "db.internal", "MYSQL_PASSWORD": password, "BACKUP_SCHEDULE": "0 * * * *"}
    assert fields[:2] == ["/app/backups", "/app/backups/backup.log"] and fields[2] == ""
    info = os.stat(tmp_path / "run" / "backup.env")
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == pwd.getpwnam(JOB_USER).pw_uid
    assert list((tmp_path / "run").iterdir()) == [tmp_path / "run" / "backup.env"], "no temp file left"


@pytest.mark.parametrize(
    ("name", "copy_name"),
    [
        ("MYSQL_PASSWORD_FILE", "mysql-password"),
        ("AWS_SECRET_ACCESS_KEY_FILE", "aws-secret-access-key"),
        ("BACKUP_AGE_RECIPIENTS_FILE", "age-recipients"),
    ],
)
def test_a_secret_file_is_copied_for_the_job(tmp_path: Path, name: str, copy_name: str) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"from a docker secret\n")
    secret.chmod(0o400)
    (tmp_path / "empty.env").write_text("")
    environment = {"BACKUP_ENV_FILE": str(tmp_path / "empty.env"), name: str(secret)}

    job_settings, _ = write_job_env(tmp_path, environment)

    copy = tmp_path / "run" / copy_name
    assert job_settings == {name: str(copy)}
    assert copy.read_bytes() == b"from a docker secret\n"
    info = os.stat(copy)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o400, pwd.getpwnam(JOB_USER).pw_uid)


def test_an_unknown_user_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.env").write_text("")
    result = job_env(tmp_path, {"BACKUP_ENV_FILE": str(tmp_path / "empty.env")}, owner="no-such-user-here")
    assert result.returncode == 2
    assert result.stderr == "error: job-env: --owner 'no-such-user-here' is not a user of this system\n"
    assert result.stdout == "" and list((tmp_path / "run").iterdir()) == []


@pytest.mark.parametrize("name", ["BACKUP_SCHEDULE", "BACKUP_SESSIONS_SCHEDULE"])
def test_a_schedule_only_the_env_file_sets_is_refused_since_cron_would_not_follow_it(tmp_path: Path, name: str) -> None:
    """The entrypoint writes cron's lines from its environment; status reads the schedule laid over the file."""
    env_file = tmp_path / "mounted.env"
    env_file.write_text(f"{name}=*/5 * * * *\n")
    result = job_env(tmp_path, {"BACKUP_ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {name} is set in {env_file}, which the container's entrypoint does not read (cron would not run "
        f"on that schedule); allowed: set {name} in the container's environment (docker-compose's environment: "
        f"or env_file:), or remove it from {env_file}\n"
    )
    assert result.stdout == "" and list((tmp_path / "run").iterdir()) == []

    # set in both, as docker-compose's env_file: does with .env: what the entrypoint reads is what status reads
    job_settings, _ = write_job_env(tmp_path, {"BACKUP_ENV_FILE": str(env_file), name: "*/5 * * * *"})
    assert job_settings[name] == "*/5 * * * *"
