"""The retention policy, table-driven: what is deleted, what is kept, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from afirgen_backup.retention import RetentionPolicy, plan_retention

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class B:
    kind: str
    name: str
    time: datetime
    good: bool = True
    sequence: int | None = None

    @property
    def order(self) -> tuple[bool, int, datetime, str]:
        """As catalog.BackupEntry.order: by sequence; without one, before every backup with one, by time."""
        return (self.sequence is not None, -1 if self.sequence is None else self.sequence, self.time, self.name)


def backups(kind: str, ages_days: list[float], bad: frozenset[int] = frozenset()) -> list[B]:
    return [B(kind, f"{kind}-{i}", NOW - timedelta(days=age), good=i not in bad) for i, age in enumerate(ages_days)]


def deleted_names(items: list[B], days: int, keep: int, skip: tuple[str, ...] = ()) -> list[str]:
    decisions = plan_retention(items, RetentionPolicy(days, keep), NOW, skip_kinds=skip)
    return sorted(d.backup.name for d in decisions if d.delete)


CASES = [
    # (description, ages in days, bad indexes, retention days, keep last, expected deleted indexes)
    ("nothing old: nothing deleted", [0.1, 1, 2, 3], set(), 7, 4, []),
    ("old ones beyond keep_last are deleted", [0.1, 1, 2, 3, 8, 9, 30], set(), 7, 4, [4, 5, 6]),
    ("all old: the newest keep_last survive", [10, 11, 12, 13, 14, 15], set(), 7, 4, [4, 5]),
    ("all old, fewer than keep_last: none deleted", [10, 11, 12], set(), 7, 4, []),
    ("exactly at the cutoff is kept", [7, 8], set(), 7, 1, [1]),
    ("retention 0 keeps only keep_last", [0.5, 1, 2], set(), 0, 1, [1, 2]),
    ("bad backups do not count toward keep_last", [8, 9, 10, 11, 12], {0, 1}, 7, 2, [4]),
    ("a bad backup older than enough good ones is deleted", [1, 2, 20], {2}, 7, 2, [2]),
    ("a bad old backup without enough good newer ones is kept", [1, 20], {1}, 7, 2, []),
    ("only bad backups: none deleted", [10, 20, 30], {0, 1, 2}, 7, 1, []),
    ("a backup dated in the future is kept but is no newer copy", [-1, 10, 11], set(), 7, 1, [2]),
    ("clock set back: future copies never push out the last runs", [-30, -20, 10, 11], set(), 0, 1, [3]),
    ("a few minutes ahead (clock skew) still counts", [-2 / 1440, 10, 11], set(), 7, 1, [1, 2]),
]


@pytest.mark.parametrize(("ages", "bad", "days", "keep", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_retention_table(ages, bad, days, keep, expected):
    items = backups("mysql", ages, frozenset(bad))
    assert deleted_names(items, days, keep) == sorted(f"mysql-{i}" for i in expected)


def test_a_kind_that_failed_in_this_run_is_not_pruned_while_other_kinds_are():
    items = backups("mysql", [10, 20, 30, 40, 50]) + backups("sessions", [0.1, 10, 20, 30, 40, 50])
    assert deleted_names(items, 7, 1, skip=("mysql",)) == [
        "sessions-1",
        "sessions-2",
        "sessions-3",
        "sessions-4",
        "sessions-5",
    ]


def test_after_the_clock_went_back_further_than_the_retention_period_the_backups_taken_last_are_kept():
    """Backups published in the order of their sequence: 0-2 before the clock went back 30 days, 3-5 after.
    By the dates in their names the last three look the oldest; by sequence they are the newest."""
    ages = [2, 1, 0.1, 30, 29.9, 29.8]
    items = [B("mysql", f"mysql-{i}", NOW - timedelta(days=age), sequence=i + 1) for i, age in enumerate(ages)]

    assert deleted_names(items, 7, 2) == ["mysql-3"]  # 5 and 4 are the newest two; 0-2 are younger than 7 days


def test_kinds_are_counted_separately():
    items = backups("mysql", [1, 2, 3, 10]) + backups("sessions", [10, 11])
    assert deleted_names(items, 7, 2) == ["mysql-3"]


def test_every_decision_gives_a_reason():
    decisions = plan_retention(backups("mysql", [1, 10, 11]), RetentionPolicy(7, 1), NOW)
    assert [d.reason for d in decisions] == [
        "kept: younger than 7 days",
        "older than 7 days",
        "older than 7 days",
    ]


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_retention([], RetentionPolicy(7, 1), datetime(2026, 1, 1))  # noqa: DTZ001


def test_keep_last_below_one_is_refused():
    with pytest.raises(ValueError, match="keep_last"):
        plan_retention([], RetentionPolicy(7, 0), NOW)
