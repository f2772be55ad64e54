"""The image and its entrypoint in a real Docker engine (issue #4): what the README promises, done for real.

One service container (module fixture) runs against the tests' MariaDB with the hostile password, a WAL
sessions.db that a writer holds open on a read-only mount, and BACKUP_SCHEDULE "* * * * *"; the tests read
its start-up backup, a `docker exec` backup, a backup that cron made, its logs and its health. Other tests
start containers of their own: bad settings, `docker stop` during a backup, a root `docker exec` first.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_helpers import REPO, Container, Docker
from dotenv import dotenv_values
from fixture_schema import build_sessions_db, create_fixture
from infrastructure import unavailable
from mariadb_server import BACKUP_PASSWORD, BackupUser, MariaDBServer

pytestmark = [pytest.mark.docker, pytest.mark.mariadb]

BACKUP_NAME = re.compile(r"^(mysql_backup_\d{8}_\d{6}\.sql\.gz|sessions_backup_\d{8}_\d{6}\.db\.gz)$")
CONSOLE_EVENT = re.compile(r"\[\s*\w+\s*\] (\S+)\s.*\brun_id=([0-9a-f]+)")
STARTUP_DONE = "start-up backup finished with exit code"
TMPFS_WARNING = "warning: /run/afirgen is not a tmpfs"
JOB_ENV = "/run/afirgen/backup.env"
CRON_ENVIRONMENT = ("env", "-i", "HOME=/app", "PATH=/opt/venv/bin:/usr/bin:/bin", f"BACKUP_ENV_FILE={JOB_ENV}")


def mysql_settings(user: BackupUser, database: str) -> dict[str, str]:
    return {
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": str(user.port),
        "MYSQL_USER": user.user,
        "MYSQL_PASSWORD": user.password,
        "MYSQL_DB": database,
    }


def listing(container: Container) -> dict[str, int]:
    """{file name: owner uid} of /app/backups."""
    result = container.exec("ls", "-ln", "/app/backups")
    assert result.returncode == 0, result.stderr
    files = {}
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        files[fields[-1]] = int(fields[2])
    return files


def log_events(container: Container, backup_dir: str = "/app/backups") -> list[dict]:
    result = container.exec("cat", f"{backup_dir}/backup.log")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def console_events(text: str) -> list[tuple[str, str]]:
    """(event, run_id) of each engine event printed on the console."""
    return [(m.group(1), m.group(2)) for m in map(CONSOLE_EVENT.search, text.splitlines()) if m]


def finished_runs(container: Container, backup_dir: str = "/app/backups") -> list[str]:
    return [e["run_id"] for e in log_events(container, backup_dir) if e["event"] == "backup_finished"]


def volume_listing(docker: Docker, image: str, volume: str) -> list[str]:
    """The names in a volume, read by a throwaway container (the one that used it may have stopped)."""
    args = ["run", "--rm", "--network", "host", "--entrypoint", "ls", "-v", f"{volume}:/b", image, "-a", "/b"]
    return docker.run(*args).stdout.split()


def volume_log(docker: Docker, image: str, volume: str) -> list[dict]:
    """backup.log of a volume, read by a throwaway container."""
    args = ["run", "--rm", "--network", "host", "--entrypoint", "cat", "-v", f"{volume}:/b", image, "/b/backup.log"]
    return [json.loads(line) for line in docker.run(*args).stdout.splitlines() if line.strip()]


def stubborn_mysqldump(directory: Path, *, ignore_sigterm: bool) -> Path:
    """A mysqldump that makes the real dump, then hangs on with stdout open: the backup stays in progress.
    With ignore_sigterm it (and its sleep) ignores SIGTERM, so only SIGKILL ends it."""
    path = directory / ("deaf-mysqldump" if ignore_sigterm else "slow-mysqldump")
    path.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --version "*) exec /usr/bin/mysqldump "$@" ;; esac\n'
        + ("trap '' TERM\n" if ignore_sigterm else "")
        + '/usr/bin/mysqldump "$@"\n'
        "exec sleep 300\n"
    )
    path.chmod(0o755)
    return path


def start_with_a_hanging_dump(
    containers: Docker,
    backup_user: BackupUser,
    database: str,
    tmp_path: Path,
    volume: str,
    *,
    ignore_sigterm: bool = False,
    **extra: str,
) -> Container:
    """A container backing up MySQL alone into `volume`, with stubborn_mysqldump as its mysqldump."""
    dump = stubborn_mysqldump(tmp_path, ignore_sigterm=ignore_sigterm)
    inside = f"/usr/local/bin/{dump.name}"
    settings = {
        **mysql_settings(backup_user, database),
        "BACKUP_SESSIONS_ENABLED": "false",
        "MYSQLDUMP_BIN": inside,
        **extra,
    }
    return containers.start(settings=settings, mounts=[f"{volume}:/app/backups", f"{dump}:{inside}:ro"])


def wait_for_partial(container: Container, backup_dir: str = "/app/backups", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = container.exec("ls", "-a", backup_dir)
        if any(name.endswith(".partial") for name in result.stdout.split()):
            return
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.3)


@pytest.fixture(scope="module")
def module_database(mariadb: MariaDBServer) -> Iterator[str]:
    name = f"fir_db_ct_{os.getpid()}"
    with mariadb.connect() as conn:
        create_fixture(conn, name)
    yield name
    mariadb.start()  # a no-op unless some test killed the shared server
    mariadb.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="module")
def live_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A WAL sessions.db whose writer keeps it open (so -wal and -shm exist), readable by the job's user."""
    directory = tmp_path_factory.mktemp("sessions")
    path = directory / "sessions.db"
    conn = build_sessions_db(path, "wal")
    directory.chmod(0o755)
    for item in directory.iterdir():
        item.chmod(0o644)
    yield directory
    conn.close()


@pytest.fixture(scope="module")
def service(
    docker: Docker, backup_image: str, backup_user: BackupUser, module_database: str, live_sessions: Path
) -> Iterator[Container]:
    """The service as compose runs it: sessions mounted read-only, backups on a volume, cron every minute."""
    own = Docker(docker.env)
    volume = own.volume()
    settings = {
        **mysql_settings(backup_user, module_database),
        "BACKUP_SCHEDULE": "* * * * *",
        "SESSIONS_DB_PATH": "/data/sessions/sessions.db",
    }
    health = ["--health-interval=2s", "--health-start-period=120s", "--health-retries=2"]
    container = own.start(
        settings=settings,
        mounts=[f"{volume}:/app/backups", f"{live_sessions}:/data/sessions:ro"],
        extra=[*health, "--tmpfs", "/run/afirgen"],
    )
    try:
        container.wait_for_log(STARTUP_DONE, timeout=90)
        yield container
    finally:
        own.cleanup()


def test_image_holds_no_secret_and_runs_jobs_as_a_user(docker: Docker, backup_image: str) -> None:
    config = json.loads(docker.run("image", "inspect", backup_image).stdout)[0]["Config"]
    assert not [v for v in config["Env"] if v.split("=", 1)[0] in ("MYSQL_PASSWORD", "MYSQL_PASSWORD_FILE")]
    assert config["Env"][0].startswith("PATH=/opt/venv/bin:")
    assert config["Healthcheck"]["Test"] == ["CMD", "sh", "-c", "python3 /app/backup_database.py status || exit 1"]
    probe = docker.run(
        "run", "--rm", "--network", "host", "--entrypoint", "sh", backup_image, "-c",
        "command -v python3; id -u afirgen; "
        "python3 -c 'import pymysql, dotenv, structlog, isal; "
        "from pymysql import _auth; assert _auth._have_cryptography'; "
        "command -v gcc cc pip || true; ls /root/.cache 2>/dev/null | wc -l",
    )  # fmt: skip
    assert probe.stdout.split() == ["/opt/venv/bin/python3", "10001", "0"]


def test_startup_backup_with_a_hostile_password(service: Container, live_sessions: Path) -> None:
    logs = service.logs()
    assert f"{STARTUP_DONE} 0" in logs, logs
    files = listing(service)
    made = sorted(name for name in files if BACKUP_NAME.match(name))
    assert [n.split("_backup_")[0] for n in made] == ["mysql", "sessions"], files
    assert all(files[name] == 10001 for name in made), "the start-up backup runs as afirgen, not root"
    assert BACKUP_PASSWORD not in logs
    # sessions.db on the read-only mount, held open by its writer (-wal, -shm present), was read in place
    # (not with the immutable fallback) and nothing was created beside it.
    published = [e for e in log_events(service) if e["event"] == "sessions_backup_published"]
    assert published[0]["read_mode"] == "shared", published
    assert sorted(p.name for p in live_sessions.iterdir()) == ["sessions.db", "sessions.db-shm", "sessions.db-wal"]


def test_job_configuration_is_private_and_exact(service: Container) -> None:
    """The cron job gets the password byte for byte through the 0600 file, and the crontab has a user field."""
    stat = service.exec("stat", "-c", "%a %U", JOB_ENV)
    assert stat.stdout.split() == ["600", "afirgen"]
    read_back = service.exec(
        "python3",
        "-c",
        f"from dotenv import dotenv_values; print(dotenv_values({JOB_ENV!r})['MYSQL_PASSWORD'], end='')",
    )
    assert read_back.stdout == BACKUP_PASSWORD
    crontab = service.exec("cat", "/etc/cron.d/afirgen-backup").stdout
    job = [line for line in crontab.splitlines() if line.startswith("* * * * * ")]
    assert len(job) == 1 and job[0].split()[5] == "afirgen", crontab
    assert BACKUP_PASSWORD not in crontab
    [health] = [line for line in crontab.splitlines() if "status --notify" in line]
    assert health.startswith("17,47 * * * * afirgen exec "), crontab
    # The health check's command, run as cron runs it (the job's user, nothing but the job's file): healthy after
    # the start-up backup, and silent on stderr (which goes to `docker logs`).
    command = health.split(" afirgen exec ", 1)[1].split(" >", 1)[0].split()
    checked = service.exec("env", "-i", f"BACKUP_ENV_FILE={JOB_ENV}", *command, user="afirgen")
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr


def test_job_configuration_on_a_tmpfs_draws_no_warning(service: Container) -> None:
    assert service.exec("stat", "-f", "-c", "%T", "/run/afirgen").stdout.strip() == "tmpfs"
    assert TMPFS_WARNING not in service.logs()


def test_manual_trigger_with_docker_exec(service: Container) -> None:
    before = set(listing(service))
    result = service.exec("python3", "/app/backup_database.py")  # exactly as the README documents it
    assert result.returncode == 0, result.stdout + result.stderr
    new = {name for name in set(listing(service)) - before if BACKUP_NAME.match(name)}
    assert {n.split("_backup_")[0] for n in new} == {"mysql", "sessions"}, new
    run_ids = {run_id for _event, run_id in console_events(result.stdout)}
    assert len(run_ids) == 1 and run_ids <= set(finished_runs(service))


def test_healthcheck_turns_healthy(service: Container) -> None:
    deadline = time.monotonic() + 60
    while (health := service.state()["Health"])["Status"] != "healthy":
        assert time.monotonic() < deadline, health
        time.sleep(1)
    assert health["Log"][-1]["ExitCode"] == 0


def test_the_health_check_never_answers_with_dockers_reserved_exit_code_2(service: Container) -> None:
    """status exits 2 on a configuration error; the HEALTHCHECK must then say unhealthy (1), not Docker's reserved 2."""
    command = service.inspect()["Config"]["Healthcheck"]["Test"]
    assert command[0] == "CMD"
    broken = ["env", "BACKUP_MAX_AGE_HOURS=soon", *command[1:]]
    assert service.exec(*broken[:2], "python3", "/app/backup_database.py", "status").returncode == 2
    assert service.exec(*broken).returncode == 1
    assert service.exec(*command[1:]).returncode == 0


def scheduled_runs(container: Container) -> list[str]:
    """run_ids whose events reached docker logs (the start-up run first, then cron's), in order."""
    return list(dict.fromkeys(run_id for _event, run_id in console_events(container.logs())))


def test_cron_makes_a_backup_as_the_job_user(service: Container) -> None:
    """A backup started by cron itself (BACKUP_SCHEDULE every minute): the configuration reached the job."""
    deadline = time.monotonic() + 75
    while not (cron_runs := [r for r in scheduled_runs(service)[1:] if r in finished_runs(service)]):
        assert time.monotonic() < deadline, service.logs()[-4000:]
        time.sleep(1)
    events = [e for e in log_events(service) if e["run_id"] == cron_runs[0]]
    finished = [e for e in events if e["event"] == "backup_finished"][0]
    assert finished["outcome"] == "success", events
    files = listing(service)
    assert all(files[name] == 10001 for name in finished["files"]), files


def test_events_in_docker_logs_and_once_in_backup_log(service: Container) -> None:
    """docker logs shows each event of the scheduled runs once; backup.log holds every event exactly once."""
    events = log_events(service)
    counts = collections.Counter((e["run_id"], e["event"], e.get("part")) for e in events)
    assert counts and max(counts.values()) == 1, [key for key, n in counts.items() if n > 1]
    printed = collections.Counter(console_events(service.logs()))
    scheduled = {run_id for _event, run_id in printed}
    assert len(scheduled) >= 2, printed  # the start-up run and at least one cron run
    for run_id in scheduled:
        logged = collections.Counter(e["event"] for e in events if e["run_id"] == run_id)
        shown = collections.Counter({event: n for (event, rid), n in printed.items() if rid == run_id})
        assert shown == logged, run_id


def test_a_root_docker_exec_first_leaves_the_cron_job_working(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str
) -> None:
    """With BACKUP_ON_START=false the first run may be a `docker exec` (root); the job after it must still run.
    Started with a plain `docker run` (no tmpfs on /run/afirgen), the entrypoint warns about the disk layer."""
    settings = {
        **mysql_settings(backup_user, module_database),
        "BACKUP_SESSIONS_ENABLED": "false",
        "BACKUP_ON_START": "false",
        "BACKUP_SCHEDULE": "0 0 1 1 *",
    }
    container = containers.start(settings=settings, mounts=[f"{containers.volume()}:/app/backups"])
    logs = container.wait_for_log("cron started", timeout=60)
    warning = [line for line in logs.splitlines() if TMPFS_WARNING in line]
    assert len(warning) == 1 and "--tmpfs /run/afirgen" in warning[0], logs
    # A yearly schedule beside the default BACKUP_MAX_AGE_HOURS (7): said once at start, and started all the same.
    too_short = (
        "warning: BACKUP_MAX_AGE_HOURS=7 is not longer than the longest interval of BACKUP_SCHEDULE ('0 0 1 1 *'"
    )
    assert len([line for line in logs.splitlines() if too_short in line]) == 1, logs
    manual = container.exec("python3", "/app/backup_database.py")
    assert manual.returncode == 0, manual.stdout + manual.stderr
    # What cron runs: the job's user, an empty environment but for BACKUP_ENV_FILE.
    job = container.exec(*CRON_ENVIRONMENT, "python3", "/app/backup_database.py", "backup", user="afirgen")
    assert job.returncode == 0, job.stdout + job.stderr


def test_a_missing_backup_dir_is_made_for_the_job_user_and_cron_backs_up_into_it(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str
) -> None:
    """BACKUP_DIR missing at start: the entrypoint creates it for the job's user, and cron's backups, and a root
    `docker exec` after them, work in it."""
    backup_dir = "/srv/backups/afirgen"
    settings = {
        **mysql_settings(backup_user, module_database),
        "BACKUP_SESSIONS_ENABLED": "false",
        "BACKUP_SCHEDULE": "* * * * *",
        "BACKUP_DIR": backup_dir,
    }
    container = containers.start(settings=settings)
    logs = container.wait_for_log(STARTUP_DONE, timeout=60)
    assert f"{STARTUP_DONE} 0" in logs, logs
    assert container.exec("stat", "-c", "%U %a", backup_dir).stdout.split() == ["afirgen", "700"]
    deadline = time.monotonic() + 75
    while len(runs := finished_runs(container, backup_dir)) < 2:  # the start-up run, then cron's
        assert time.monotonic() < deadline, container.logs()[-4000:]
        time.sleep(1)
    finished = [e for e in log_events(container, backup_dir) if e["event"] == "backup_finished"]
    assert [e["outcome"] for e in finished] == ["success", "success"], finished
    assert runs[1] in {run_id for _event, run_id in console_events(container.logs())}, "cron's run reached the logs"
    manual = container.exec("python3", "/app/backup_database.py")  # as root
    assert manual.returncode == 0, manual.stdout + manual.stderr
    owners = container.exec("find", backup_dir, "!", "-user", "afirgen").stdout.split()
    assert owners == [], f"not the job user's: {owners}"


def test_password_from_a_docker_secret_only_root_can_read(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str, tmp_path: Path
) -> None:
    """MYSQL_PASSWORD_FILE (a secret, here 0600 root on the host): the job's user still gets the password."""
    secret = tmp_path / "mysql_password"
    secret.write_text(BACKUP_PASSWORD + "\n")
    secret.chmod(0o600)
    settings = {k: v for k, v in mysql_settings(backup_user, module_database).items() if k != "MYSQL_PASSWORD"}
    settings |= {"MYSQL_PASSWORD_FILE": "/run/secrets/mysql_password", "BACKUP_SESSIONS_ENABLED": "false"}
    container = containers.start(
        settings=settings,
        mounts=[f"{secret}:/run/secrets/mysql_password:ro", f"{containers.volume()}:/app/backups"],
    )
    logs = container.wait_for_log(STARTUP_DONE, timeout=60)
    assert f"{STARTUP_DONE} 0" in logs, logs
    job_env = container.exec("cat", JOB_ENV).stdout
    assert 'MYSQL_PASSWORD_FILE="/run/afirgen/mysql-password"' in job_env and BACKUP_PASSWORD not in job_env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKUP_RETENTION_DAYS", "abc"),
        ("BACKUP_SCHEDULE", "61 * * * *"),
        ("BACKUP_SESSIONS_SCHEDULE", "*/5 * * *"),
        ("BACKUP_SESSIONS_SCHEDULE", "* * * * * rm -rf /"),
        ("BACKUP_SESSIONS_SCHEDULE", "0 0 31 2 *"),  # cron syntax, but no day matches: the engine refuses it
        ("BACKUP_ON_START", "maybe"),
        ("TZ", "Mars/Olympus_Mons"),
        ("TZ", "Asia"),
        ("BACKUP_SCHEDULE", "18446744073709551616 * * * *"),
        ("BACKUP_STOP_TIMEOUT", "18446744073709551616"),
        ("BACKUP_DIR", "/"),
        ("BACKUP_DIR", "/etc"),
        ("BACKUP_DIR", "/app"),
        ("BACKUP_DIR", "/run/afirgen"),
    ],
)
def test_a_bad_setting_stops_the_container_with_the_reason(
    containers: Docker, backup_image: str, backup_user: BackupUser, variable: str, value: str
) -> None:
    settings = {**mysql_settings(backup_user, "fir_db"), "BACKUP_SESSIONS_ENABLED": "false", variable: value}
    container = containers.start(settings=settings)
    assert container.wait_exit(timeout=60) == 2
    logs = container.logs()
    named = [line for line in logs.splitlines() if f"{variable}='{value}'" in line and "allowed:" in line]
    assert len(named) == 1, logs
    assert "cron started" not in logs


def test_sessions_snapshots_set_while_sessions_are_not_backed_up_stop_the_container(
    containers: Docker, backup_image: str, backup_user: BackupUser
) -> None:
    settings = {
        **mysql_settings(backup_user, "fir_db"),
        "BACKUP_SESSIONS_ENABLED": "false",
        "BACKUP_SESSIONS_SCHEDULE": "*/5 * * * *",
    }
    container = containers.start(settings=settings)
    assert container.wait_exit(timeout=60) == 2
    logs = container.logs()
    assert len([line for line in logs.splitlines() if "BACKUP_SESSIONS_ENABLED is false" in line]) == 1, logs
    assert "cron started" not in logs


def test_cron_takes_sessions_snapshots_on_their_own_schedule_as_the_job_user(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str, live_sessions: Path
) -> None:
    """BACKUP_SESSIONS_SCHEDULE every minute beside a full schedule that never comes: cron's snapshots are
    sessions backups marked as snapshots, recorded in last_snapshot.json, while last_run.json stays the start-up
    run's."""
    settings = {
        **mysql_settings(backup_user, module_database),
        "BACKUP_SCHEDULE": "0 0 1 1 *",
        "BACKUP_SESSIONS_SCHEDULE": "* * * * *",
        "SESSIONS_DB_PATH": "/data/sessions/sessions.db",
    }
    container = containers.start(settings=settings, mounts=[f"{live_sessions}:/data/sessions:ro"])
    logs = container.wait_for_log(STARTUP_DONE, timeout=90)
    assert f"{STARTUP_DONE} 0" in logs and "sessions.db snapshots on schedule '* * * * *'" in logs, logs

    def snapshots() -> list[str]:
        found = container.exec("sh", "-c", "grep -l '\"snapshot\": true' /app/backups/sessions_backup_*.json")
        return found.stdout.split()

    deadline = time.monotonic() + 75
    while not snapshots():
        assert time.monotonic() < deadline, container.logs()[-4000:]
        time.sleep(1)
    record = json.loads(container.exec("cat", "/app/backups/last_snapshot.json").stdout)
    assert record["outcome"] == "success" and record["sessions_snapshot"] is True, record
    assert list(record["parts"]) == ["sessions"]
    full = json.loads(container.exec("cat", "/app/backups/last_run.json").stdout)
    assert sorted(full["parts"]) == ["mysql", "sessions"] and full["run_id"] != record["run_id"]
    files = listing(container)
    assert sum(name.startswith("mysql_backup_") and name.endswith(".gz") for name in files) == 1, files
    assert all(files[name] == 10001 for name in files if name.endswith(".gz")), files  # the job user's
    status = container.exec("python3", "/app/backup_database.py", "status")
    assert status.returncode == 0 and "last sessions snapshot: success" in status.stdout, status.stdout
    # status holds the snapshots to their schedule, in the HEALTHCHECK's environment and in the cron job's
    assert "sessions snapshots: '* * * * *', at most 1m apart" in status.stdout, status.stdout
    assert 'BACKUP_SESSIONS_SCHEDULE="* * * * *"' in container.exec("cat", JOB_ENV).stdout


def test_docker_stop_during_a_backup_leaves_no_incomplete_backup(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str, tmp_path: Path
) -> None:
    volume = containers.volume()
    container = start_with_a_hanging_dump(containers, backup_user, module_database, tmp_path, volume)
    wait_for_partial(container)

    started = time.monotonic()
    containers.run("stop", "-t", "30", container.name, timeout=60)
    assert time.monotonic() - started < 15, "docker stop should not wait for the kill timeout"
    assert container.state()["ExitCode"] == 0
    logs = container.logs()
    assert "sending SIGTERM to backup_database.py" in logs and "interrupted" in logs, logs

    left = volume_listing(containers, backup_image, volume)
    assert not [name for name in left if BACKUP_NAME.match(name) or name.endswith(".partial")], left


def test_docker_stop_stops_a_docker_exec_backup_started_with_a_relative_path(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str, tmp_path: Path
) -> None:
    """`docker exec afirgen-backup python3 backup_database.py` (relative to /app) is stopped cleanly too."""
    volume = containers.volume()
    container = start_with_a_hanging_dump(
        containers, backup_user, module_database, tmp_path, volume, BACKUP_ON_START="false"
    )
    container.wait_for_log("cron started", timeout=60)
    containers.run("exec", "-d", container.name, "python3", "backup_database.py")
    wait_for_partial(container)

    containers.run("stop", "-t", "30", container.name, timeout=60)
    assert container.state()["ExitCode"] == 0
    assert "sending SIGTERM to backup_database.py" in container.logs(), container.logs()
    left = volume_listing(containers, backup_image, volume)
    assert not [name for name in left if BACKUP_NAME.match(name) or name.endswith(".partial")], left
    events = [e["event"] for e in volume_log(containers, backup_image, volume)]
    assert "backup_interrupted" in events, events


def test_docker_stop_keeps_to_backup_stop_timeout(
    containers: Docker, backup_image: str, backup_user: BackupUser, module_database: str, tmp_path: Path
) -> None:
    """A start-up backup that does not end on SIGTERM (its mysqldump ignores it; the tool gives mysqldump 5 s
    before SIGKILL) is killed once BACKUP_STOP_TIMEOUT (1 s) has passed."""
    container = start_with_a_hanging_dump(
        containers,
        backup_user,
        module_database,
        tmp_path,
        containers.volume(),
        ignore_sigterm=True,
        BACKUP_STOP_TIMEOUT="1",
    )
    wait_for_partial(container)

    started = time.monotonic()
    containers.run("stop", "-t", "30", container.name, timeout=60)
    elapsed = time.monotonic() - started
    logs = container.logs()
    assert elapsed < 4, f"docker stop took {elapsed:.1f}s with BACKUP_STOP_TIMEOUT=1:\n{logs[-3000:]}"
    assert "still running after 1s (BACKUP_STOP_TIMEOUT): killing it" in logs, logs
    assert container.state()["ExitCode"] == 1


def test_compose_file_validates(tmp_path: Path) -> None:
    """docker-compose.yaml with a .env made from .env.example, as the README's quick start does it."""
    shutil.copy(REPO / "docker-compose.yaml", tmp_path / "docker-compose.yaml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    tools = [cmd for cmd in (["docker-compose"], ["docker", "compose"]) if compose_available(cmd)]
    if not tools:
        unavailable("neither docker-compose nor `docker compose` is installed")
    for tool in tools:
        result = subprocess.run(
            [*tool, "--profile", "app", "config"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{' '.join(tool)} config: {result.stderr}"
        config = result.stdout
        expected_parts = ("afirgen-mysql", "afirgen-backup", "service_healthy", ":/data/sessions:ro", ":/app/backups")
        for expected in expected_parts:
            assert expected in config, (tool, expected)
        service = re.search(r"^  backup:\n((?:(?:    .*)?\n)*)", config, re.MULTILINE)
        backup = service.group(1) if service else ""
        assert re.search(r"cpu_shares: 256\b", backup), "the backup container must yield the CPU to MySQL and the app"
        pipeline = config[config.index("fir_pipeline:") :]
        assert re.search(r"profiles:\s*\n\s*- app", pipeline), "the stand-in must stay behind the `app` profile"


def compose_config(directory: Path) -> list[str]:
    """The backup service's part of `config` by every compose tool installed, for the files in `directory`."""
    tools = [cmd for cmd in (["docker-compose"], ["docker", "compose"]) if compose_available(cmd)]
    if not tools:
        unavailable("neither docker-compose nor `docker compose` is installed")
    services = []
    for tool in tools:
        result = subprocess.run([*tool, "config"], cwd=directory, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(tool)} config: {result.stderr}"
        service = re.search(r"^  backup:\n((?:(?:    .*)?\n)*)", result.stdout, re.MULTILINE)
        services.append(service.group(1) if service else "")
    return services


def test_the_backup_container_has_no_cpu_quota_and_takes_its_cgroup_parent_from_env(tmp_path: Path) -> None:
    """BACKUP_CGROUP_PARENT in .env becomes the service's cgroup_parent; unset, Docker's default group."""
    shutil.copy(REPO / "docker-compose.yaml", tmp_path / "docker-compose.yaml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    for backup in compose_config(tmp_path):
        assert not re.search(r"^    (cpus|cpu_quota|cpu_period):", backup, re.MULTILINE), backup
        assert re.search(r"^    cgroup_parent: ('')?$", backup, re.MULTILINE) or "cgroup_parent" not in backup, backup

    with open(tmp_path / ".env", "a", encoding="utf-8") as env:
        env.write("BACKUP_CGROUP_PARENT=afirgen-backup.slice\n")
    for backup in compose_config(tmp_path):
        assert re.search(r"^    cgroup_parent: afirgen-backup\.slice$", backup, re.MULTILINE), backup


@pytest.fixture
def idle_cpu_group() -> Iterator[str]:
    """An idle CPU group at the top of the host's cgroup tree, as README "Sharing the CPU" makes it for Docker's
    cgroupfs driver; yields the name to give as the cgroup parent."""
    name = f"afirgen-test-idle-{os.getpid()}"
    v1, v2 = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")
    if (v1 / "cgroup.procs").exists():
        group = v1 / name
    elif "cpu" in (v2 / "cgroup.subtree_control").read_text().split():
        group = v2 / name
    else:
        unavailable("no cgroup cpu controller to make an idle group in")
    try:
        group.mkdir()
        (group / "cpu.idle").write_text("1")
    except OSError as error:
        unavailable(f"cannot make an idle CPU group ({error.strerror}: {group}); it needs root and Linux 5.15+")
    yield name
    for made in [*Path("/sys/fs/cgroup").glob(f"*/{name}"), group]:  # Docker adds it to the other v1 controllers
        if made.is_dir():
            made.rmdir()


def test_a_container_under_an_idle_cgroup_parent_backs_up_with_every_process_in_that_group(
    containers: Docker, backup_user: BackupUser, module_database: str, idle_cpu_group: str
) -> None:
    """The README's production layout on a cgroupfs host: the backup, its cron and its mysqldump all run in
    the idle group (what `docker run --cgroup-parent`, i.e. compose's cgroup_parent, does with it)."""
    settings = {**mysql_settings(backup_user, module_database), "BACKUP_SESSIONS_ENABLED": "false"}
    container = containers.start(
        settings=settings, extra=["--cgroup-parent", f"/{idle_cpu_group}", "--tmpfs", "/run/afirgen"]
    )
    try:
        in_the_idle_group(container, idle_cpu_group)
    finally:
        containers.cleanup()  # before the group goes: a group with processes in it cannot be removed


def in_the_idle_group(container: Container, idle_cpu_group: str) -> None:
    logs = container.wait_for_log(STARTUP_DONE, timeout=90)
    assert f"{STARTUP_DONE} 0" in logs, logs

    pid = container.inspect()["State"]["Pid"]
    cpu_group = next(
        line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if line.split(":", 2)[1] in ("cpu", "cpu,cpuacct", "")
    )  # fmt: skip
    assert cpu_group.startswith(f"/{idle_cpu_group}/"), cpu_group
    for root in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")):
        if (root / cpu_group.lstrip("/")).is_dir():
            assert (root / idle_cpu_group / "cpu.idle").read_text().strip() == "1"
            assert str(pid) in (root / cpu_group.lstrip("/") / "cgroup.procs").read_text().split()
            break
    else:
        pytest.fail(f"the container's cpu group {cpu_group} is not in the host's cgroup tree")
    made = listing(container)
    assert [name for name in made if name.startswith("mysql_backup_") and name.endswith(".sql.gz")], made


def env_example_with_defaults(directory: Path) -> dict[str, str]:
    """.env.example with every commented-out default switched on, as `directory/.env`; returns KEY: text after =."""
    lines, values = [], {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            line = line.lstrip("#")
            values[match.group(1)] = match.group(2)
        lines.append(line)
    (directory / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return values


def environment_of(output: str, names: Iterable[str]) -> dict[str, str]:
    found = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    return {name: found.get(name, "<missing>") for name in names}


def test_env_example_values_reach_the_container_as_written(docker: Docker, backup_image: str, tmp_path: Path) -> None:
    """.env.example's values, its defaults included, arrive byte for byte through every reader of the file:
    docker-compose's env_file, `docker run --env-file` and python-dotenv (a local run)."""
    written = env_example_with_defaults(tmp_path)
    env_file = tmp_path / ".env"
    by_dotenv = {k: v for k, v in dotenv_values(env_file, interpolate=False).items() if k in written}
    assert by_dotenv == written
    by_run = docker.run("run", "--rm", "--network", "host", "--env-file", str(env_file), "--entrypoint", "env",
                        backup_image).stdout  # fmt: skip
    assert environment_of(by_run, written) == written
    tools = [cmd for cmd in (["docker-compose"], ["docker", "compose"]) if compose_available(cmd)]
    if not tools:
        unavailable("neither docker-compose nor `docker compose` is installed")
    (tmp_path / "docker-compose.yaml").write_text(
        f"services:\n  backup:\n    image: {backup_image}\n    env_file: .env\n    network_mode: host\n"
        '    entrypoint: ["env"]\n'
    )
    for tool in tools:
        result = subprocess.run(
            [*tool, "-p", f"afirgen-env-{os.getpid()}", "run", "--rm", "-T", "backup"],
            cwd=tmp_path, env=docker.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{' '.join(tool)} run: {result.stderr}"
        assert environment_of(result.stdout, written) == written, " ".join(tool)


def compose_available(command: list[str]) -> bool:
    if shutil.which(command[0]) is None:
        return False
    return subprocess.run([*command, "version"], capture_output=True, check=False).returncode == 0


def test_the_afirgen_compose_file_joins_the_applications_network_and_volume_and_starts_no_mysql(
    tmp_path: Path,
) -> None:
    """docker-compose.afirgen.yaml, with the application's own variable names in .env (its SESSION_DB_PATH points
    into its own container) and an RDS endpoint: one service, AFIRGen's network and sessions volume (external),
    no dependency, and the sessions path of this container."""
    shutil.copy(REPO / "docker-compose.afirgen.yaml", tmp_path / "docker-compose.yaml")
    (tmp_path / ".env").write_text(
        "MYSQL_HOST=afirgen-db.abc123.ap-south-1.rds.amazonaws.com\nMYSQL_USER=afirgen_backup\n"
        "MYSQL_PASSWORD=x\nMYSQL_DB=fir_db\nSESSION_DB_PATH=/app/sessions.db\n"
        "AFIRGEN_NETWORK=afirgenfinal_afirgen_network\nAFIRGEN_SESSIONS_VOLUME=afirgenfinal_sessions_data\n"
    )
    tools = [cmd for cmd in (["docker-compose"], ["docker", "compose"]) if compose_available(cmd)]
    if not tools:
        unavailable("neither docker-compose nor `docker compose` is installed")
    for tool in tools:
        result = subprocess.run([*tool, "config"], cwd=tmp_path, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(tool)} config: {result.stderr}"
        config = result.stdout
        services = re.findall(r"^  ([a-z_]+):\n", config.split("\nservices:\n", 1)[1].split("\nvolumes:\n")[0], re.M)

        assert services == ["backup"], config
        assert "depends_on" not in config and "mysql:8" not in config
        assert re.search(r"name: afirgenfinal_afirgen_network", config) and "external: true" in config
        assert re.search(r"source: afirgenfinal_sessions_data\n\s+target: /data/sessions\n", config) or (
            "afirgen_sessions:/data/sessions:ro" in config and "name: afirgenfinal_sessions_data" in config
        ), config
        assert re.search(r"SESSIONS?_DB_PATH: /data/sessions/sessions.db", config)
        assert "/app/sessions.db" not in config  # the application's path in its own container does not leak in
        assert "afirgen-db.abc123.ap-south-1.rds.amazonaws.com" in config


def test_the_binlog_service_streams_into_the_backups_volume_as_the_job_user_and_stops_on_docker_stop(
    containers: Docker, backup_image: str, binlog_mariadb: Any
) -> None:
    """The compose file's `binlog` service: the image with `binlog-stream` as its command, started as root (the
    password could be a root-only secret), writing as the owner of the backups volume; `docker stop` ends it
    with 143 and leaves only sealed files and the open one."""
    with binlog_mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE fir_db")
        cur.execute("CREATE TABLE fir_db.fir (id INT PRIMARY KEY AUTO_INCREMENT, n INT)")
        cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", ("streamer", "%", BACKUP_PASSWORD))
        cur.execute("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO %s@%s", ("streamer", "%"))
    settings = {
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": str(binlog_mariadb.port),
        "MYSQL_USER": "streamer",
        "MYSQL_PASSWORD": BACKUP_PASSWORD,
        "MYSQL_DB": "fir_db",
        "BACKUP_SESSIONS_ENABLED": "false",
    }
    container = containers.start(
        settings=settings,
        mounts=[f"{containers.volume()}:/app/backups"],
        extra=["--entrypoint", "python3"],
        command=["/app/backup_database.py", "binlog-stream"],
    )
    for n in range(3):
        binlog_mariadb.execute(f"INSERT INTO fir_db.fir (n) VALUES ({n})", "FLUSH BINARY LOGS")

    def sealed() -> list[str]:
        found = container.exec("ls", "-ln", "/app/backups/binlog")
        return [line for line in found.stdout.splitlines() if line.endswith(".gz")]

    deadline = time.monotonic() + 60
    while len(files := sealed()) < 3:
        assert time.monotonic() < deadline, f"no three sealed binary log files: {files}\n{container.logs()[-3000:]}"
        time.sleep(0.5)
    started = time.monotonic()
    containers.run("stop", "-t", "30", container.name, timeout=60)
    stopped_in = time.monotonic() - started
    state = container.state()
    logs = container.logs()

    assert all(int(line.split()[2]) == 10001 for line in files), files  # afirgen, the volume's owner
    assert state["ExitCode"] == 143 and stopped_in < 10, (state, stopped_in, logs[-3000:])
    assert "binlog_sealed" in logs and BACKUP_PASSWORD not in logs
