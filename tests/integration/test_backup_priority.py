"""A backup and its mysqldump run at a lower CPU priority than the application.

Where the kernel groups processes by session (autogroups), a niceness only counts inside one session, so a
backup started by cron must also lower its session's group, and mysqldump's (afirgen_backup/cpu.py). The
mysqldump wrapper records, for itself and for the backup process that started it, the niceness, the session and
the group's niceness; for the session the backup was started in, that group's niceness too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO_ROOT, cli_argv, dump_wrapper, run_cli
from infrastructure import unavailable

from afirgen_backup import cpu

pytestmark = pytest.mark.mariadb

RECORD = r"""
stat_of() { sed 's/^.*) //' "/proc/$1/stat"; }   # the fields after the command name: 1=state 2=ppid 4=session
group_of() { sed 's/^.* nice //' "/proc/$1/autogroup" 2>/dev/null || echo none; }
tool=$PPID
job=$(stat_of "$tool" | cut -d' ' -f2)
{
  echo "dump_nice=$(stat_of $$ | cut -d' ' -f17)"
  echo "dump_session=$(stat_of $$ | cut -d' ' -f4) dump_pid=$$ dump_group=$(group_of $$)"
  echo "tool_session=$(stat_of "$tool" | cut -d' ' -f4) tool_pid=$tool tool_group=$(group_of "$tool")"
  echo "job_session=$(stat_of "$job" | cut -d' ' -f4) job_pid=$job job_group=$(group_of "$job")"
} > {out}
"""


def own_group_niceness() -> int | None:
    """The niceness of this process's autogroup ("/autogroup-42 nice 10"), or None without one.

    The file is empty for a process whose session was never made by setsid() since boot (a CI runner may start the
    tests that way): such a process is in the kernel's default group, the root task group, which has no niceness
    of its own and which nobody can lower.
    """
    try:
        words = Path("/proc/self/autogroup").read_text().split()
    except OSError:
        return None
    return int(words[-1]) if words else None


def recording_mysqldump(directory: Path) -> Path:
    return dump_wrapper(directory, "mysqldump-priority", RECORD.replace("{out}", str(directory / "record")))


def recorded(directory: Path) -> dict[str, str]:
    words = (directory / "record").read_text().split()
    return dict(word.split("=", 1) for word in words)


@pytest.fixture
def autogroups() -> None:
    if not cpu.autogroups_enabled():
        unavailable("the kernel does not group processes by session here (kernel.sched_autogroup_enabled is not 1)")


def as_cron_job(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the backup as cron runs a job: a shell that leads a new session without a terminal starts it."""
    return run_cli(env, wrapper=("setsid", "--wait", "sh", "-c", '"$@"; exit $?', "cron-job"))


@pytest.mark.parametrize("niceness", ["10", "3"])
def test_mysqldump_inherits_the_configured_niceness(fir_db, backup_env, tmp_path, niceness):
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)), BACKUP_NICE=niceness)
    result = run_cli(env)
    assert result.returncode == 0, result.stderr
    expected = max(int(niceness), os.getpriority(os.PRIO_PROCESS, 0))
    assert recorded(tmp_path)["dump_nice"] == str(expected)


@pytest.mark.usefixtures("autogroups")
def test_a_cron_started_backup_lowers_its_own_session_group_and_mysqldumps(fir_db, backup_env, tmp_path):
    own_group = own_group_niceness()
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)), BACKUP_NICE="12")
    result = as_cron_job(env)
    assert result.returncode == 0, result.stderr
    seen = recorded(tmp_path)
    # The backup left the job's session for one of its own and lowered that group only.
    assert seen["tool_session"] == seen["tool_pid"] != seen["job_session"]
    assert seen["tool_group"] == "12"
    assert seen["job_group"] == "0"
    # mysqldump leads a session of its own, whose group has the backup's niceness.
    assert seen["dump_session"] == seen["dump_pid"]
    assert seen["dump_group"] == "12"
    assert own_group_niceness() == own_group  # the caller's session is not touched


@pytest.mark.usefixtures("autogroups")
def test_at_niceness_0_the_backup_stays_in_the_session_it_was_started_in(fir_db, backup_env, tmp_path):
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)), BACKUP_NICE="0")
    result = as_cron_job(env)
    assert result.returncode == 0, result.stderr
    seen = recorded(tmp_path)
    assert seen["tool_session"] == seen["job_session"] == seen["job_pid"]
    assert (seen["tool_group"], seen["dump_group"]) == ("0", "0")


@pytest.mark.usefixtures("autogroups")
def test_a_backup_in_a_terminal_keeps_the_terminals_session_and_lowers_only_mysqldump(fir_db, backup_env, tmp_path):
    """Ctrl-C must still reach it, and the terminal's other jobs must not be slowed down."""
    if shutil.which("script") is None:
        unavailable("`script` (util-linux) is needed to give the backup a terminal")
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)), BACKUP_NICE="12")
    command = shlex.join(cli_argv()) + "; exit $?"
    # `script` starts the shell in a new session whose controlling terminal is a new pseudo-terminal.
    argv = ["script", "--quiet", "--return", "--command", f"sh -c {shlex.quote(command)}", os.devnull]
    result = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = recorded(tmp_path)
    assert seen["tool_session"] == seen["job_session"] != seen["tool_pid"]
    assert seen["tool_group"] == seen["job_group"] == "0"
    assert seen["dump_session"] == seen["dump_pid"]
    assert seen["dump_group"] == "12"
