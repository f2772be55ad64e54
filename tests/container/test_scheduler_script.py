"""backup_scheduler.sh's own validation of BACKUP_SCHEDULE: the script is sourced by bash, and what it accepts is
checked against the parser of the image's cron.

A schedule ends up in a line of /etc/cron.d, so nothing but cron syntax may pass: no newline, no `%`,
no sixth word that cron would take for the user or the command, and nothing cron would drop or never run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from docker_helpers import Docker

from afirgen_backup.config.schedule import ScheduleError, parse_schedule

SCRIPT = Path(__file__).resolve().parents[2] / "backup_scheduler.sh"


def call_in_script(*call: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Source the script in bash and call one of its functions with the given arguments."""
    return subprocess.run(
        ["bash", "-c", 'source "$0" && "$@"', str(SCRIPT), *call], capture_output=True, text=True, check=check
    )


def schedule_is_valid(schedule: str) -> bool:
    result = call_in_script("validate_schedule", schedule)
    assert result.stderr == ""
    return result.returncode == 0


PASSING = [
    "0 */6 * * *",
    "* * * * *",
    "@daily",
    "@hourly",
    "5-59/10 1,2 * jan mon",
    "*/15 0-23/2 1-31 1-12 0-7",
    "0 0 * JAN *",
    "0 9 * * mon-fri",
    "0 9 * * MON-Fri",
    "* * * * sat,sun",
    "0 0 1 jan-mar *",
    "0 0 1 jan-dec/3 *",
    "0 0 * * 1,mon,5-sat",
    "0\t0\t*\t*\t*",
    " 0 \t 0  * * *\t",
    "010 00 01 01 00",
    "0 */24 * * */8",
]
REFUSED = [
    "61 * * * *",
    "* 24 * * *",
    "0 0 0 * *",
    "0 0 * 13 *",
    "0 0 * * 8",
    "18446744073709551616 * * * *",
    "0" * 1000 + "5 * * * *",
    "*/" + "0" * 1000 + "5 * * * *",
    "4294967296 * * * *",
    "100 * * * *",
    "*/61 * * * *",
    "0 0 * * monday",
    "0 0 * * jan",
    "0 0 * sun *",
    "0 0 * * mon/2",
    "0 0 * mar-jan *",
    "0 0 * * fri-mon",
    "0 0 * * mon-",
    "* * * *",
    "0 */0 * * *",
    "5/10 * * * *",
    "10-5 * * * *",
    "1,,2 * * * *",
    "0 0 * * * rm -rf /",
    "0 0 * * *\n* * * * * root id",
    "0 0 % * *",
    "@reboot",
    "",
]


@pytest.mark.parametrize("schedule", PASSING)
def test_cron_schedules_pass(schedule: str) -> None:
    assert schedule_is_valid(schedule)


@pytest.mark.parametrize("schedule", REFUSED)
def test_anything_else_is_refused(schedule: str) -> None:
    assert not schedule_is_valid(schedule)


@pytest.mark.parametrize("schedule", PASSING + REFUSED)
def test_the_engine_reads_exactly_the_schedules_the_script_accepts(schedule: str) -> None:
    """The engine reads BACKUP_SESSIONS_SCHEDULE for status (afirgen_backup/config/schedule.py): it must take what
    the script lets through to cron, and nothing else."""
    try:
        parse_schedule(schedule.strip(" \t"))
    except ScheduleError:
        accepted = False
    else:
        accepted = True
    assert accepted == schedule_is_valid(schedule)


@pytest.mark.docker
def test_what_passes_is_what_the_image_cron_accepts(docker: Docker, backup_image: str, tmp_path: Path) -> None:
    """Every schedule the script accepts is one that the image's cron parses (crontab(1) shares its parser)."""
    accepted = [
        schedule for schedule in PASSING + REFUSED if schedule_is_valid(schedule) and not schedule.startswith("@")
    ]
    listing = tmp_path / "schedules"
    listing.write_bytes(b"".join(schedule.encode() + b"\0" for schedule in accepted))
    probe = (
        "while IFS= read -r -d '' schedule; do "
        "printf '%s true\\n' \"$schedule\" >/tmp/crontab; "
        "if crontab -u afirgen /tmp/crontab 2>/dev/null; then echo ok; else echo refused; fi; done </schedules"
    )
    result = docker.run(
        "run", "--rm", "--network", "host", "--entrypoint", "bash", "-v", f"{listing}:/schedules:ro",
        backup_image, "-c", probe,
    )  # fmt: skip
    verdicts = result.stdout.split()
    assert len(verdicts) == len(accepted), result.stdout + result.stderr
    refused_by_cron = [schedule for schedule, verdict in zip(accepted, verdicts, strict=True) if verdict != "ok"]
    assert not refused_by_cron, f"the script accepts what cron refuses: {refused_by_cron}"


def backup_dir_refusal(directory: str) -> str:
    return call_in_script("backup_dir_refusal", directory, "/data/sessions/sessions.db", check=True).stdout.strip()


@pytest.mark.parametrize("directory", ["/app/backups", "/backups", "/data/backups", "/var/backups", "/srv/backups"])
def test_a_directory_of_the_backups_own_is_accepted(directory: str) -> None:
    assert backup_dir_refusal(directory) == ""


@pytest.mark.parametrize(
    ("directory", "reason"),
    [
        ("/", "is the system directory /"),
        ("/etc", "is the system directory /etc"),
        ("/usr/local/backups", "is inside the system directory /usr"),
        ("/data/sessions", "holds"),
    ],
)
def test_a_directory_the_entrypoint_must_not_give_away_is_refused(directory: str, reason: str) -> None:
    assert backup_dir_refusal(directory).startswith(reason)
