"""backup_scheduler.sh's own validation of BACKUP_SCHEDULE, without Docker: the script is sourced by bash.

A schedule ends up in a line of /etc/cron.d, so nothing but cron syntax may pass: no newline, no `%`,
no sixth word that cron would take for the user or the command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "backup_scheduler.sh"


def schedule_is_valid(schedule: str) -> bool:
    result = subprocess.run(
        ["bash", "-c", 'source "$0" && validate_schedule "$1"', str(SCRIPT), schedule],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stderr == ""
    return result.returncode == 0


@pytest.mark.parametrize(
    "schedule",
    [
        "0 */6 * * *",
        "* * * * *",
        "@daily",
        "@hourly",
        "5-59/10 1,2 * jan mon",
        "*/15 0-23/2 1-31 1-12 0-7",
        "0 0 * JAN *",
    ],
)
def test_cron_schedules_pass(schedule: str) -> None:
    assert schedule_is_valid(schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        "61 * * * *",
        "* 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
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
    ],
)
def test_anything_else_is_refused(schedule: str) -> None:
    assert not schedule_is_valid(schedule)
