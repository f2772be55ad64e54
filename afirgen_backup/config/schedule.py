"""A cron schedule as the container's cron runs it: BACKUP_SESSIONS_SCHEDULE, read by the engine so that `status`
can tell when the sessions snapshots stopped coming.

The grammar is the one backup_scheduler.sh's validate_schedule accepts (the entrypoint refuses anything else
before cron ever sees it): @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or five fields
(minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat, 7 being Sunday
too), each a comma list of `*`, a number or a name, or a range `a-b`, where `*` and ranges take a `/step`.

What `status` needs of it is the longest time between two firings. Days follow cron's rule: when both the day of
month and the day of week are restricted (neither field starts with `*`), a day matching either runs the job;
otherwise it must match both (`*/10` still means the 1st, 11th, 21st and 31st: the `*` only chooses the rule). The
gap is taken over one 28-year cycle of the calendar from 2000-03-01, after which weekdays and leap years repeat
until 2100, and across its end into the next cycle, counted in wall-clock minutes. When daylight saving time
ends, cron runs a job of fixed minute and hour (neither field starting with `*`) once in the repeated hour, so
such a job's gap may grow by an hour: overdue_after() allows for it. Parsing checks the form only; whether the
schedule ever comes is longest_gap()'s NeverComes (`0 0 31 2 *`), which check-config refuses.
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
    fixed_time: bool = False  # neither the minute nor the hour field starts with *

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    @property
    def every_day(self) -> bool:
        all_days, all_weekdays = len(self.days) == 31, len(self.weekdays) == 7
        if self.days_restricted and self.weekdays_restricted:
            return len(self.months) == 12 and (all_days or all_weekdays)
        return len(self.months) == 12 and all_days and all_weekdays

    def longest_gap(self) -> timedelta:
        """The longest time from one firing to the next."""
        times = sorted(hour * 60 + minute for hour in self.hours for minute in self.minutes)
        longest = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0)
        if self.every_day:
            return timedelta(minutes=max(longest, 1440 + times[0] - times[-1]))
        first: int | None = None  # the first matching day of the cycle, as a day number
        previous: int | None = None  # the matching day before
        day, one_day = CALENDAR_START, timedelta(days=1)
        for offset in range(CALENDAR_DAYS):
            runs, day = self.runs_on(day), day + one_day
            if not runs:
                continue
            if previous is not None:
                longest = max(longest, (offset - previous) * 1440 + times[0] - times[-1])
            first = offset if first is None else first
            previous = offset
        if first is None or previous is None:
            raise NeverComes(f"{self.text!r} never comes: no day matches its day of month, month and day of week")
        # from the cycle's last firing to the next cycle's first (the cycle is exact: 1,461 weeks)
        longest = max(longest, (first + CALENDAR_DAYS - previous) * 1440 + times[0] - times[-1])
        return timedelta(minutes=longest)

    def overdue_after(self, margin: timedelta) -> timedelta:
        """How long after a firing the next one's result may still be missing: twice the longest gap plus `margin`,
        and an hour more for a fixed-time schedule of gaps under an hour (the end of daylight saving time)."""
        gap = self.longest_gap()
        extra = timedelta(hours=1) if self.fixed_time and gap < timedelta(hours=1) else timedelta(0)
        return 2 * gap + margin + extra


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
        fixed_time=not (fields[0].startswith("*") or fields[1].startswith("*")),
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
    """A schedule setting: empty is None; anything else must have a schedule's form. Whether it ever comes is
    checked by check-config (never_comes_refusal), not here: a restore must not be refused over a schedule."""
    text = raw.strip()
    if not text:
        return None
    try:
        return parse_schedule(text)
    except ScheduleError:
        raise ConfigError(f"{name}={shown(text)!r} is not a cron schedule; allowed: empty, or {ALLOWED}") from None


def never_comes_refusal(name: str, schedule: Schedule | None) -> ConfigError | None:
    if schedule is None:
        return None
    try:
        schedule.longest_gap()
    except NeverComes:
        return ConfigError(
            f"{name}={schedule.text!r} never comes: no date has that day of month in those months (nor, when the "
            "day of week is restricted too, that weekday); allowed: a schedule that matches at least one real "
            "date, e.g. '0 0 28 2 *' rather than '0 0 31 2 *'"
        )
    return None


def shown(text: str) -> str:
    return text[:120]  # shown with !r, so that a newline or a tab is seen as such
