"""End to end: the command line's contract. Configuration errors (exit 2), the lock (exit 75), the JSON log,
a log file that cannot be written, and `prune` with and without --dry-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import (
    FAKES,
    REPO_ROOT,
    assert_refused,
    backups_of,
    cli_argv,
    command_name,
    descendants,
    describe,
    events_named,
    finish,
    hold_lock,
    log_events,
    mode_of,
    names_in,
    plant_backup,
    read_manifest,
    read_only_bind,
    run_cli,
    small_tmpfs,
    start_cli,
    stderr_errors,
    wait_for,
)

pytestmark = pytest.mark.mariadb

LOCK_NAME = ".afirgen-backup.lock"


def snapshot(directory: Path) -> dict[str, bytes]:
    """Name -> contents of every file in a directory, but the tool's own log and lock file."""
    return {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name not in (LOCK_NAME, "backup.log")
    }


def plant_old_backups(directory: Path) -> dict[str, bytes]:
    """Backups of both kinds, weeks old (retention would delete most of them); returns the directory's files."""
    for kind in ("mysql", "sessions"):
        for days in (20, 30, 40, 50, 60, 70):
            plant_backup(directory, kind, timedelta(days=days))
    return snapshot(directory)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("BACKUP_RETENTION_DAYS", "abc", "is not a whole number"),
        ("BACKUP_RETENTION_DAYS", "-1", "is out of range"),
        ("MYSQL_PORT", "notaport", "is not a whole number"),
        ("MYSQL_PORT", "70000", "is out of range"),
        ("BACKUP_KEEP_LAST", "0", "is out of range"),
        ("MYSQL_PASSWORD_FILE", "/nonexistent/secret", "does not exist"),
        ("BACKUP_MYSQL_ENABLED", "maybe", "is not a boolean"),
    ],
)
def test_an_invalid_setting_exits_2_with_one_line_naming_it_and_deletes_nothing(
    backup_env: dict[str, str], variable: str, value: str, problem: str
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    before = plant_old_backups(backup_dir)
    backup_env.update({"BACKUP_RETENTION_DAYS": "1", "BACKUP_KEEP_LAST": "1", variable: value})

    result = run_cli(backup_env)

    assert result.returncode == 2, describe(result)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {variable}=") and problem in line and "allowed:" in line, line
    assert backup_env["MYSQL_PASSWORD"] not in result.stdout + result.stderr
    assert snapshot(backup_dir) == before, "nothing was deleted, written or backed up"


def test_a_backup_dir_below_a_file_exits_2_naming_backup_dir(backup_env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    backup_env["BACKUP_DIR"] = str(blocker / "backups")

    result = run_cli(backup_env)

    assert result.returncode == 2, describe(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: BACKUP_DIR=") and "writable directory" in line, line
    assert backup_env["MYSQL_PASSWORD"] not in result.stdout + result.stderr


def test_a_read_only_backup_dir_exits_2_and_its_old_backups_stay(
    backup_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = tmp_path_factory.mktemp("old-backups")
    before = plant_old_backups(source)
    mountpoint = tmp_path_factory.mktemp("ro-backups")
    backup_env.update({"BACKUP_DIR": str(mountpoint), "BACKUP_RETENTION_DAYS": "1", "BACKUP_KEEP_LAST": "1"})

    result = run_cli(backup_env, wrapper=read_only_bind(source, mountpoint))

    assert result.returncode == 2, describe(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: BACKUP_DIR=") and "not writable" in line, line
    assert snapshot(source) == before


def test_check_config_accepts_the_test_configuration_and_names_no_password(backup_env: dict[str, str]) -> None:
    result = run_cli(backup_env, "check-config")

    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("configuration ok")
    assert backup_env["MYSQL_PASSWORD"] not in result.stdout + result.stderr
    assert backups_of(Path(backup_env["BACKUP_DIR"]), "mysql") == []


def test_help_lists_the_subcommands() -> None:
    result = run_cli({"PATH": os.environ["PATH"]}, "--help")

    assert result.returncode == 0, describe(result)
    for command in ("backup", "check-config", "prune"):
        assert command in result.stdout


def test_a_second_run_exits_75_at_once_while_the_lock_is_held(backup_env: dict[str, str]) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    before = plant_old_backups(backup_dir)
    backup_env.update({"BACKUP_RETENTION_DAYS": "1", "BACKUP_KEEP_LAST": "1"})
    fd = hold_lock(backup_dir / LOCK_NAME)
    try:
        for command in ("backup", "prune"):
            began = time.monotonic()
            result = run_cli(backup_env, command)
            elapsed = time.monotonic() - began

            assert result.returncode == 75, describe(result)
            assert elapsed < 3, f"{command} waited {elapsed:.1f}s for the lock"
            assert "another backup_database.py run holds the lock" in result.stderr, describe(result)
    finally:
        os.close(fd)
    assert snapshot(backup_dir) == before, "nothing was backed up, pruned or left behind"


def test_two_runs_at_once_the_second_exits_75_naming_the_first_and_a_later_run_works(
    backup_env: dict[str, str],
) -> None:
    slow = {**backup_env, "MYSQLDUMP_BIN": str(FAKES / "mysqldump-sleeping")}
    first = start_cli(slow)
    try:
        wait_for(
            lambda: any(command_name(pid) == "sleep" for pid in descendants(first.pid)), 30, "the slow dump to run"
        )
        began = time.monotonic()
        second = run_cli(backup_env)
        elapsed = time.monotonic() - began

        assert second.returncode == 75, describe(second)
        assert elapsed < 3
        assert f"(pid {first.pid})" in second.stderr, describe(second)
    finally:
        first.send_signal(signal.SIGTERM)
        ended = finish(first)
    assert ended.returncode == 143, describe(ended)

    third = run_cli(backup_env)
    assert third.returncode == 0, describe(third)
    assert len(backups_of(Path(backup_env["BACKUP_DIR"]), "mysql")) == 1


def test_every_log_line_is_json_with_the_runs_id_and_each_event_is_written_once(
    backup_env: dict[str, str],
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    first = run_cli(backup_env)
    second = run_cli(backup_env)
    assert first.returncode == 0 and second.returncode == 0, describe(first) + describe(second)

    events = log_events(backup_dir / "backup.log")

    run_ids = list(dict.fromkeys(event.get("run_id") for event in events))
    assert len(run_ids) == 2 and None not in run_ids, run_ids
    for run_id in run_ids:
        names = Counter(event["event"] for event in events if event["run_id"] == run_id)
        expected = [
            "backup_started",
            "mysql_dump_started",
            "mysql_backup_published",
            "sessions_copy_started",
            "sessions_backup_published",
            "prune_finished",
            "backup_finished",
        ]
        assert {name: names[name] for name in expected} == dict.fromkeys(expected, 1), names
        assert all(count == 1 for count in names.values()), names
    for event in events:
        assert event["level"] and event["timestamp"].endswith("Z"), event
    published = [event for event in events if event["event"].endswith("_backup_published")]
    for event in published:
        assert event["size"] > 0 and event["duration_s"] >= 0 and "throughput_mb_s" in event, event
    manifests = [
        read_manifest(path)["run_id"] for kind in ("mysql", "sessions") for path in backups_of(backup_dir, kind)
    ]
    assert sorted(manifests) == sorted(run_ids * 2), "manifests carry the run_id of the run that made them"
    assert not [line for line in first.stdout.splitlines() if line.startswith("{")], "the console is readable text"
    assert mode_of(backup_dir / "backup.log") == 0o600


@pytest.mark.parametrize("how", ["full tmpfs", "read-only mount"])
def test_a_log_file_that_cannot_be_written_does_not_stop_the_backup(
    backup_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, how: str
) -> None:
    log_dir = tmp_path_factory.mktemp("log")
    if how == "full tmpfs":
        wrapper = small_tmpfs(log_dir, "256k", fill=True)
    else:
        wrapper = read_only_bind(tmp_path_factory.mktemp("log-source"), log_dir)
    backup_env["BACKUP_LOG_FILE"] = str(log_dir / "backup.log")

    result = run_cli(backup_env, wrapper=wrapper)

    assert result.returncode == 0, describe(result)
    backup_dir = Path(backup_env["BACKUP_DIR"])
    assert len(backups_of(backup_dir, "mysql")) == 1 and len(backups_of(backup_dir, "sessions")) == 1
    warnings = [line for line in result.stderr.splitlines() if "cannot write the log file" in line]
    assert len(warnings) == 1, describe(result)
    assert "backup_finished" in result.stdout, "the console still gets every event"


def test_prune_dry_run_lists_what_prune_then_deletes_and_never_touches_other_files(
    backup_env: dict[str, str],
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_env.update({"BACKUP_RETENTION_DAYS": "7", "BACKUP_KEEP_LAST": "2"})
    keep = [plant_backup(backup_dir, "mysql", timedelta(days=days)) for days in (1, 10)]
    keep += [plant_backup(backup_dir, "sessions", timedelta(days=days)) for days in (2, 15)]
    doomed = [plant_backup(backup_dir, "mysql", timedelta(days=days)) for days in (20, 30, 40)]
    doomed += [plant_backup(backup_dir, "sessions", timedelta(days=25))]
    doomed += [plant_backup(backup_dir, "mysql", timedelta(days=50), manifest=False)]
    strangers = [
        "notes.txt",
        "backup.log.1",
        "mysql_backup_latest.sql.gz",
        "mysql_backup_20200101_000000.sql",
        "sessions_backup_20200101_000000.db.gz.bak",
        "mysql_backup_20200101_000000.sql.gz.partial",
        "mysql_backup_20200102_000000.sql.gz.json",
        "MYSQL_BACKUP_20200101_000000.SQL.GZ",
    ]
    for name in strangers:
        (backup_dir / name).write_text(f"not a backup: {name}\n")
    (backup_dir / "sessions_backup_20200101_000000.db.gz").mkdir()
    before = snapshot(backup_dir)

    dry = run_cli(backup_env, "prune", "--dry-run")

    assert dry.returncode == 0, describe(dry)
    assert snapshot(backup_dir) == before, "--dry-run deletes nothing"
    listed = sorted(line.split()[2] for line in dry.stdout.splitlines() if line.startswith("would delete "))
    assert listed == sorted(path.name for path in doomed), dry.stdout
    assert f"{len(doomed)} would delete" in dry.stdout

    real = run_cli(backup_env, "prune")

    assert real.returncode == 0, describe(real)
    deleted = sorted(line.split()[1] for line in real.stdout.splitlines() if line.startswith("deleted "))
    assert deleted == listed
    after = snapshot(backup_dir)
    gone = {path.name for path in doomed} | {path.name + ".json" for path in doomed}
    assert after == {name: data for name, data in before.items() if name not in gone}
    assert (backup_dir / "sessions_backup_20200101_000000.db.gz").is_dir()
    assert all(path.exists() for path in keep)
    assert names_in(backup_dir) == sorted([*after, "sessions_backup_20200101_000000.db.gz", "backup.log", LOCK_NAME])


def test_settings_come_from_the_env_file_with_the_password_intact_and_real_variables_win(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    password = backup_env.pop("MYSQL_PASSWORD")
    quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'
    env_file = tmp_path / "backup.env"
    env_file.write_text(
        "# the service's settings\n"
        f"MYSQL_PASSWORD={quoted}\n"
        f"MYSQL_USER={backup_env.pop('MYSQL_USER')}\n"
        "MYSQL_DB=a_database_that_does_not_exist\n"
        "BACKUP_RETENTION_DAYS=not-used-because-the-environment-wins\n"
    )
    backup_env.update({"BACKUP_ENV_FILE": str(env_file), "BACKUP_RETENTION_DAYS": "7"})

    result = run_cli(backup_env)

    assert result.returncode == 0, describe(result)
    [dump] = backups_of(Path(backup_env["BACKUP_DIR"]), "mysql")
    assert read_manifest(dump)["source"]["database"] == backup_env["MYSQL_DB"]
    assert password not in result.stdout + result.stderr


def test_the_password_can_come_from_a_docker_secret_file(backup_env: dict[str, str], tmp_path: Path) -> None:
    secret = tmp_path / "mysql_password"
    secret.write_text(backup_env.pop("MYSQL_PASSWORD") + "\n")
    backup_env["MYSQL_PASSWORD_FILE"] = str(secret)

    result = run_cli(backup_env)

    assert result.returncode == 0, describe(result)
    assert len(backups_of(Path(backup_env["BACKUP_DIR"]), "mysql")) == 1


def test_a_closed_stdout_does_not_change_the_outcome_of_a_successful_run(backup_env: dict[str, str]) -> None:
    cli = subprocess.Popen(
        cli_argv(), cwd=REPO_ROOT, env=backup_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert cli.stdout is not None and cli.stderr is not None
    cli.stdout.close()  # like `backup_database.py | head -0`: nobody reads the console
    stderr = cli.stderr.read()
    returncode = cli.wait(timeout=120)

    assert returncode == 0, stderr
    assert "Traceback" not in stderr and "Logging error" not in stderr, stderr
    backup_dir = Path(backup_env["BACKUP_DIR"])
    assert len(backups_of(backup_dir, "mysql")) == 1 and len(backups_of(backup_dir, "sessions")) == 1
    assert "backup_finished" in [event["event"] for event in log_events(backup_dir / "backup.log")]


def test_check_config_creates_nothing_and_says_what_the_first_backup_will_create(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    log_dir = tmp_path / "logs" / "afirgen"
    backup_env["BACKUP_LOG_FILE"] = str(log_dir / "backup.log")

    result = run_cli(backup_env, "check-config")

    assert result.returncode == 0, describe(result)
    assert f"{backup_dir} does not exist yet: the first backup creates it" in result.stdout, result.stdout
    assert f"{log_dir} does not exist yet" in result.stdout, result.stdout
    assert not backup_dir.exists() and not (tmp_path / "logs").exists()


def test_check_config_and_backups_keep_the_mode_of_an_existing_backup_dir(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    existing = tmp_path / "existing"  # a mount point the operator made readable for others (not writable)
    existing.mkdir()
    existing.chmod(0o755)
    backup_env["BACKUP_DIR"] = str(existing)

    checked = run_cli(backup_env, "check-config")

    assert checked.returncode == 0 and "does not exist" not in checked.stdout, describe(checked)
    assert existing.stat().st_mode & 0o7777 == 0o755 and names_in(existing) == []

    backed_up = run_cli(backup_env)

    assert backed_up.returncode == 0, describe(backed_up)
    assert existing.stat().st_mode & 0o7777 == 0o755, "only a directory the tool created is made private"
    assert len(backups_of(existing, "mysql")) == 1
    assert mode_of(backups_of(existing, "mysql")[0]) == 0o600 and mode_of(existing / "backup.log") == 0o600


def test_a_backup_dir_others_may_write_to_is_refused_and_nothing_is_written_there(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"  # a directory like /tmp: another user could plant links and files there
    shared.mkdir()
    shared.chmod(0o1777)
    backup_env["BACKUP_DIR"] = str(shared)

    for command in ("check-config", "backup"):
        result = run_cli(backup_env, command)

        assert_refused(result, "writable by users other than its owner", "chmod go-w")
    assert names_in(shared) == [] and shared.stat().st_mode & 0o7777 == 0o1777


def test_a_created_backup_dir_is_private(backup_env: dict[str, str]) -> None:
    result = run_cli(backup_env)

    assert result.returncode == 0, describe(result)
    assert mode_of(Path(backup_env["BACKUP_DIR"])) == 0o700


@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("list",), ("list", "--json")])
def test_read_only_commands_create_no_backup_dir(backup_env: dict[str, str], command: tuple[str, ...]) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])

    result = run_cli(backup_env, *command)

    assert result.returncode in (0, 1), describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert not backup_dir.exists(), f"{' '.join(command)} created {backup_dir}"


def test_a_backup_dir_that_is_a_file_is_named_as_not_a_directory(backup_env: dict[str, str], tmp_path: Path) -> None:
    not_a_dir = tmp_path / "backups-file"
    not_a_dir.write_text("a file, not a directory\n")
    backup_env["BACKUP_DIR"] = str(not_a_dir)

    for command in ("backup", "check-config"):
        result = run_cli(backup_env, command)

        assert result.returncode == 2, describe(result)
        [line] = result.stderr.splitlines()
        assert line == f"error: BACKUP_DIR={str(not_a_dir)!r} is not a directory; allowed: a writable directory"
    assert not_a_dir.read_text() == "a file, not a directory\n"


@pytest.mark.parametrize("command", ["backup", "prune"])
def test_an_os_error_outside_the_parts_is_one_error_line_and_exit_1(backup_env: dict[str, str], command: str) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    (backup_dir / LOCK_NAME).mkdir(parents=True)  # the lock file cannot be opened

    result = run_cli(backup_env, command)

    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    [line] = stderr_errors(result)
    assert line == f"error: {command} failed: Is a directory: {backup_dir / LOCK_NAME}", describe(result)
    assert backups_of(backup_dir, "mysql") == []


def test_prune_deletes_what_it_can_names_what_it_cannot_and_exits_1(backup_env: dict[str, str]) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_env.update({"BACKUP_RETENTION_DAYS": "7", "BACKUP_KEEP_LAST": "1"})
    plant_backup(backup_dir, "mysql", timedelta(days=1))
    doomed = [plant_backup(backup_dir, "mysql", timedelta(days=days)) for days in (20, 40)]
    stuck = plant_backup(backup_dir, "mysql", timedelta(days=30), manifest=False)
    stuck_manifest = stuck.with_name(stuck.name + ".json")
    stuck_manifest.mkdir()
    (stuck_manifest / "inside").write_text("")

    result = run_cli(backup_env, "prune")

    assert result.returncode == 1, describe(result)
    deleted = sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("deleted "))
    assert deleted == sorted(path.name for path in doomed), describe(result)
    assert "2 deleted, 1 kept, 1 could not be deleted" in result.stdout, describe(result)
    [line] = stderr_errors(result)
    assert line == f"error: prune could not delete {stuck_manifest.name} (Is a directory)", describe(result)
    assert not [path for path in doomed if path.exists()] and stuck_manifest.is_dir()
    [failed] = events_named(backup_env, "prune_failed")
    assert failed["file"] == stuck_manifest.name and str(stuck_manifest) in failed["error"], failed
