"""A cron schedule as the container's cron runs it: BACKUP_SESSIONS_SCHEDULE, read by the engine so that `status`
can tell when the sessions snapshots stopped coming.

The grammar is the one backup_scheduler.sh's validate_schedule accepts (the entrypoint refuses anything else
before cron ever sees it): @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or five fields
(minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat, 7 being Sunday
too), each a comma list of `*`, a number or a name, or a range `a-b`, where `*` and ranges take a `/step`.

What `status` needs of it is the longest time between two firings. Days follow cron's rule: when both the day of
month and the day of week are restricted (neither field starts with `*`), a day matching either runs the job;
otherwise it must match both. The gap is taken over 28 years of calendar from 2000-03-01 (every weekday and leap
pattern until 2100), counted in wall-clock minutes: a change of daylight saving time moves it by an hour at most,
which the caller's margin covers. A schedule that never comes (`0 0 31 2 *`) is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from afirgen_backup.errors import ConfigError

KEYWORDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (low, high, names) of the five fields, in order
FIELDS = ((0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, MONTH_NAMES), (0, 7, WEEKDAY_NAMES))
CHARACTERS = re.compile(r"[0-9A-Za-z*/,\t -]+")  # fields apart by spaces or tabs; no newline, no %
ITEM = re.compile(r"(\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:/([0-9]+))?")
ALLOWED = (
    "five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat; "
    "each *, a value, a range a-b or a list, * and ranges with an optional /step, e.g. '*/5 * * * *') or "
    "@hourly/@daily/@weekly/@monthly/@yearly"
)
CALENDAR_START = date(2000, 3, 1)
CALENDAR_DAYS = 28 * 365 + 7  # 28 years: every combination of weekday and leap year recurs


class ScheduleError(ValueError):
    """Not a schedule backup_scheduler.sh would accept."""


class NeverComes(ScheduleError):
    """A schedule of the right form that no day of the calendar matches."""


@dataclass(frozen=True)
class Schedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0-6, Sunday 0
    days_restricted: bool  # the day-of-month field does not start with *
    weekdays_restricted: bool

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    @property
    def every_day(self) -> bool:
        every_month = len(self.months) == 12
        any_day = not self.days_restricted or len(self.days) == 31
        any_weekday = not self.weekdays_restricted or len(self.weekdays) == 7
        return every_month and any_day and any_weekday

    def longest_gap(self) -> timedelta:
        """The longest time from one firing to the next."""
        times = sorted(hour * 60 + minute for hour in self.hours for minute in self.minutes)
        longest = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0)
        if self.every_day:
            return timedelta(minutes=max(longest, 1440 + times[0] - times[-1]))
        previous: int | None = None  # the matching day before, as a day number
        day, one_day = CALENDAR_START, timedelta(days=1)
        for offset in range(CALENDAR_DAYS):
            runs, day = self.runs_on(day), day + one_day
            if not runs:
                continue
            if previous is not None:
                longest = max(longest, (offset - previous) * 1440 + times[0] - times[-1])
            previous = offset
        if previous is None:
            raise NeverComes(f"{self.text!r} never comes: no day matches its day of month, month and day of week")
        if longest == 0:  # one firing in 28 years: the grammar cannot say that, but never report a zero gap
            longest = CALENDAR_DAYS * 1440
        return timedelta(minutes=longest)


def parse_schedule(text: str) -> Schedule:
    """The schedule `text` (already stripped), or ScheduleError."""
    expanded = KEYWORDS.get(text, text)
    fields = expanded.split()
    if len(fields) != 5 or not CHARACTERS.fullmatch(expanded):
        raise ScheduleError(f"{text!r} is not a cron schedule")
    values = [parse_field(field, *spec) for field, spec in zip(fields, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = values
    return Schedule(
        text=" ".join(text.split()),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )


def parse_field(field: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    chosen: set[int] = set()
    for item in field.split(","):
        match = ITEM.fullmatch(item)
        if match is None:
            raise ScheduleError(f"{item!r} is not a cron field item")
        base, first, last, step_text = match.groups()
        step = 1
        if step_text is not None:
            if base != "*" and last is None:
                raise ScheduleError(f"{item!r}: a step needs * or a range")
            step = parse_number(step_text, 1, high - low + 1, ())
        if base == "*":
            start, stop = low, high
        else:
            start = parse_number(first, low, high, names)
            stop = parse_number(last, low, high, names) if last is not None else start
            if start > stop:
                raise ScheduleError(f"{item!r}: a range must go upwards")
        chosen.update(range(start, stop + 1, step))
    return frozenset(chosen)


def parse_number(token: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = token.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not token.isdigit() or len(token) >= 100:
        raise ScheduleError(f"{token!r} is not a number or a name")
    value = int(token, 10)
    if not low <= value <= high:
        raise ScheduleError(f"{token!r} is out of range {low}-{high}")
    return value


def parse_schedule_setting(name: str, raw: str) -> Schedule | None:
    """A schedule setting: empty is None; anything else must be a schedule that comes."""
    text = raw.strip()
    if not text:
        return None
    try:
        schedule = parse_schedule(text)
        schedule.longest_gap()
    except NeverComes:
        raise ConfigError(
            f"{name}={shown(text)!r} never comes (no day matches its day of month, month and day of week); "
            f"allowed: {ALLOWED}"
        ) from None
    except ScheduleError:
        raise ConfigError(f"{name}={shown(text)!r} is not a cron schedule; allowed: empty, or {ALLOWED}") from None
    return schedule


def shown(text: str) -> str:
    return text[:120]  # shown with !r, so that a newline or a tab is seen as such
