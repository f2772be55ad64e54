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
    snapshot: bool = False

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


# --- frequent sessions snapshots (BACKUP_SESSIONS_SCHEDULE): their own retention, under the same floor ----------


def snapshots_and_runs(snapshot_ages_h: list[float], run_ages_h: list[float]) -> list[B]:
    snaps = [B("sessions", f"snap-{i}", NOW - timedelta(hours=a), snapshot=True) for i, a in enumerate(snapshot_ages_h)]
    runs = [B("sessions", f"run-{i}", NOW - timedelta(hours=a)) for i, a in enumerate(run_ages_h)]
    return snaps + runs


def deleted_with_snapshots(items: list[B], days: int, keep: int, hours: int) -> list[str]:
    decisions = plan_retention(items, RetentionPolicy(days, keep, snapshot_hours=hours), NOW)
    return sorted(d.backup.name for d in decisions if d.delete)


def test_a_snapshot_older_than_its_hours_goes_while_a_full_runs_backup_of_the_same_age_stays():
    items = snapshots_and_runs([0.1, 0.2, 0.3, 0.4, 30, 31], [6, 30])
    assert deleted_with_snapshots(items, 7, 4, 24) == ["snap-4", "snap-5"]


def test_the_newest_keep_last_good_backups_stay_even_when_they_are_old_snapshots():
    """No run for two days: the last snapshots are all that is left, and the floor keeps them."""
    items = snapshots_and_runs([48, 48.1, 48.2, 48.3, 48.4], [100])
    assert deleted_with_snapshots(items, 7, 3, 24) == ["snap-3", "snap-4"]


def test_a_damaged_snapshot_does_not_count_toward_keep_last():
    items = snapshots_and_runs([25, 26, 27], [30, 200])
    items[0].good = False
    # keep 2: run-0 (30 h) is younger than 7 days; the good snap-1 and snap-2 are the newest two good ones
    assert deleted_with_snapshots(items, 7, 2, 24) == ["run-1"]
    items[1].good = False
    assert deleted_with_snapshots(items, 7, 2, 24) == ["run-1"]  # snap-2 and run-0 are the two good ones left


def test_snapshots_count_as_newer_copies_of_an_old_full_runs_backup():
    items = snapshots_and_runs([0.1, 0.2], [200, 300])
    assert deleted_with_snapshots(items, 7, 2, 24) == ["run-0", "run-1"]
    assert deleted_with_snapshots(items, 7, 3, 24) == ["run-1"]


# --- which record speaks for sessions.db: the last snapshot's, or a later full run's ---------------------------


def run_record(sequence: int | None, started: str | None, sessions_ok: bool | None = True) -> dict:
    parts = {} if sessions_ok is None else {"sessions": {"ok": sessions_ok}}
    record = {"outcome": "failed", "parts": parts, "started_at": started}
    return record | ({"record_sequence": sequence} if sequence is not None else {})


@pytest.mark.parametrize(
    ("snapshot", "full", "speaks"),
    [
        (run_record(5, "2026-12-05T10:00:00+00:00"), run_record(6, "2026-12-05T09:00:00+00:00"), False),
        (run_record(6, "2026-12-05T10:00:00+00:00"), run_record(5, "2026-12-05T12:00:00+00:00"), True),
        (run_record(5, "2026-12-05T10:00:00+00:00"), run_record(6, "2026-12-05T11:00:00+00:00", None), True),
        (run_record(5, "2026-12-05T10:00:00+00:00"), run_record(6, "2026-12-05T11:00:00+00:00", False), True),
        (run_record(None, "2026-12-05T10:00:00+00:00"), run_record(None, "2026-12-05T11:00:00+00:00"), False),
        (run_record(None, None), run_record(None, "2026-12-05T11:00:00+00:00"), True),
        (run_record(5, "2026-12-05T10:00:00+00:00"), None, True),
        (None, run_record(5, "2026-12-05T10:00:00+00:00"), False),
    ],
    ids=[
        "a later full run backed sessions up",
        "the clock was ahead during the full run: the sequence decides",
        "a later interrupted full run backed nothing up",
        "a later full run whose sessions part failed",
        "records without sequences: by start time",
        "an undated snapshot record is taken as the later one",
        "no full run",
        "no snapshot",
    ],
)
def test_which_record_speaks_for_sessions(snapshot, full, speaks):
    from afirgen_backup.catalog import snapshot_supersedes

    assert snapshot_supersedes(snapshot, full) is speaks
