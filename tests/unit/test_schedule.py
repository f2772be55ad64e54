"""BACKUP_SCHEDULE and BACKUP_SESSIONS_SCHEDULE read by the engine as cron reads them: the longest time between two
firings, which `status` holds the sessions snapshots to and check-config compares BACKUP_MAX_AGE_HOURS with. (That
the engine accepts exactly what backup_scheduler.sh accepts is tests/container/test_scheduler_script.py's.)"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from afirgen_backup import cli, config
from afirgen_backup.config.schedule import parse_schedule
from afirgen_backup.errors import ConfigError

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("schedule", "longest"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("* * * * *", timedelta(minutes=1)),
        ("7,8,30 * * * *", timedelta(minutes=37)),  # :30 to :07 of the next hour
        ("0 */6 * * *", timedelta(hours=6)),
        ("0,30 8-17/2 * * *", timedelta(hours=15, minutes=30)),  # 16:30 to 08:00 the next day
        ("@hourly", timedelta(hours=1)),
        ("@daily", DAY),
        ("@weekly", 7 * DAY),
        ("@monthly", 31 * DAY),
        ("@yearly", 366 * DAY),  # across a leap day
        ("0 0 29 2 *", 4 * 366 * DAY - 3 * DAY),  # leap days only: four years apart
        ("0 9 * * mon-fri", 3 * DAY),  # Friday to Monday
        ("0 9 * * MON-Fri", 3 * DAY),
        ("30 2 * * 7", 7 * DAY),  # 7 is Sunday too
        ("0 0 * * 0-7", DAY),
        ("0 0 1-31 * *", DAY),
        # Both day fields restricted: a day that matches either runs the job (every Friday, and every 13th).
        ("0 0 13 * fri", 7 * DAY),
        # Day of week `*`: both must match, so this is the 13th of every month whatever its weekday.
        ("0 0 13 * *", 31 * DAY),
        # A day-of-week field starting with `*` counts as unrestricted: the 1st of months that fall on any day.
        ("0 0 1 * */1", 31 * DAY),
        ("0 0 1 jan-dec/3 *", 92 * DAY),  # January, April, July, October: July 1 to October 1
        # A field that starts with `*` only chooses the rule: its step still leaves days out.
        ("0 2 */10 * *", 10 * DAY),  # the 1st, 11th, 21st, 31st: 21st to the 1st after a 30-day month
        ("0 3 * * */7", 7 * DAY),  # 0 and 7: Sundays
        ("0 0 * * */8", 7 * DAY),
        ("0 0 * * */2", 2 * DAY),
        ("0 0 */2 * *", 2 * DAY),
        ("0 0 1-31 * */2", 2 * DAY),
        # Across the end of the 28-year cycle: February 1st on a Monday, 2027 then 2038
        ("0 0 */31 2 mon", 4018 * DAY),
        ("0 0 29 2 */7", 10227 * DAY),  # February 29th on a Sunday: once a cycle
        # Both day fields restricted, in January only: January 1st and January's Sundays; the longest wait is from
        # a last Sunday on January 25th of a leap year to the next January 1st.
        ("010 00 01 01 00", 342 * DAY),
    ],
)
def test_the_longest_time_between_firings(schedule: str, longest: timedelta) -> None:
    assert parse_schedule(schedule).longest_gap() == longest


@pytest.mark.parametrize(
    ("schedule", "limit"),
    [
        ("*/5 * * * *", timedelta(minutes=20)),  # `*` in the minute: run in the repeated hour too
        ("0 * * * *", timedelta(hours=2, minutes=10)),
        # Fixed minutes and hours, 20 minutes apart: when daylight saving time ends, cron runs them once in the
        # repeated hour, an 80-minute gap
        ("0,20,40 0-23 * * *", timedelta(hours=1, minutes=50)),
        ("0 */6 * * *", timedelta(hours=12, minutes=10)),
    ],
)
def test_how_late_a_firing_may_be(schedule: str, limit: timedelta) -> None:
    assert parse_schedule(schedule).overdue_after(timedelta(minutes=10)) == limit


def load(value: str) -> config.Settings:
    return config.load_settings(
        {"BACKUP_SESSIONS_SCHEDULE": value, "SESSIONS_DB_PATH": "/tmp/sessions.db", "BACKUP_MYSQL_ENABLED": "false"},
        check_dirs=False,
    )


def test_the_setting_is_read_and_empty_means_no_snapshots() -> None:
    schedule = load(" */5\t* * * * ").sessions_schedule
    assert schedule is not None and schedule.text == "*/5 * * * *"
    assert load("").sessions_schedule is None and load("  ").sessions_schedule is None


@pytest.mark.parametrize("value", ["*/5 * * *", "* * * * * rm -rf /", "0 0 * * *\n* * * * * root id", "@reboot"])
def test_what_is_no_schedule_is_a_setting_to_fix(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(value)
    message = str(refused.value)
    assert message.startswith(f"BACKUP_SESSIONS_SCHEDULE={value!r} is not a cron schedule; allowed:")
    assert "\n" not in message


@pytest.mark.parametrize("value", ["0 0 31 2 *", "0 0 30,31 feb *", "0 0 31 apr,jun,sep,nov *"])
def test_a_schedule_that_never_comes_is_refused_by_check_config_which_the_container_runs_at_start(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    for name in ("BACKUP_SCHEDULE", "BACKUP_SESSIONS_SCHEDULE"):
        with monkeypatch.context() as setting:
            setting.setenv(name, value)
            assert cli.main(["check-config"]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: {name}={value!r} never comes: no date has that day of month"), err
            assert err.count("\n") == 1 and "allowed: a schedule that matches at least one real date" in err


def test_a_schedule_that_never_comes_refuses_no_restore_or_listing_and_status_names_it(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore in an emergency, run with the service's settings, must not be refused over a schedule."""
    monkeypatch.setenv("BACKUP_SESSIONS_SCHEDULE", "0 0 30 feb *")
    monkeypatch.setenv("BACKUP_SCHEDULE", "0 0 31 apr *")
    assert cli.main(["list"]) == 0
    assert cli.main(["status"]) == 1
    out = capsys.readouterr().out
    assert "BACKUP_SESSIONS_SCHEDULE ('0 0 30 feb *') never comes: no sessions snapshot will ever run" in out


def test_the_engines_default_schedule_is_the_entrypoints() -> None:
    script = (Path(__file__).resolve().parents[2] / "backup_scheduler.sh").read_text()
    found = re.search(r"^readonly DEFAULT_SCHEDULE='([^']*)'$", script, re.MULTILINE)
    assert found is not None and found.group(1) == config.DEFAULT_SCHEDULE


@pytest.mark.parametrize(
    ("schedule", "max_age", "fitting"),
    [
        (None, "6", 7),  # the default schedule, every 6 hours: 6h is no margin at all
        ("0 2 * * *", "7", 25),  # daily with the default max age: unhealthy 17 hours a day
        ("0 9 * * mon-fri", "25", 73),  # the weekend is the longest interval
    ],
)
def test_check_config_warns_of_a_max_age_the_schedule_always_exceeds(
    backup_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    schedule: str | None,
    max_age: str,
    fitting: int,
) -> None:
    if schedule is not None:
        monkeypatch.setenv("BACKUP_SCHEDULE", schedule)
    monkeypatch.setenv("BACKUP_MAX_AGE_HOURS", max_age)

    assert cli.main(["check-config"]) == 0  # a warning, not a refusal
    err = capsys.readouterr().err.splitlines()

    shown = schedule or config.DEFAULT_SCHEDULE
    assert len(err) == 1 and err[0].startswith(
        f"warning: BACKUP_MAX_AGE_HOURS={max_age} is not longer than the longest interval of BACKUP_SCHEDULE "
        f"({shown!r}: "
    ), err
    assert err[0].endswith(f"set it to {fitting} (the interval plus an hour) or more")

    monkeypatch.setenv("BACKUP_MAX_AGE_HOURS", str(fitting))
    assert cli.main(["check-config"]) == 0
    assert capsys.readouterr().err == ""
