"""The rules of alerts/state.py (one notification per change of state, reminders at most every repeat period),
how messages name a notification URL (never its secret parts), and the alert settings' defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from afirgen_backup.alerts import state
from afirgen_backup.alerts.notify import named
from afirgen_backup.alerts.state import AlertState, next_state
from afirgen_backup.config.alerts import parse_alerts

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def told(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat(timespec="seconds")


@pytest.mark.parametrize(
    ("previous", "current", "event", "new_state"),
    [
        (AlertState(), "ok", "success", "ok"),
        (AlertState(), "failed", "failure", "failed"),
        (AlertState(), "stale", "stale", "stale"),
        (AlertState("failed", told(1), told(1)), "failed", None, "failed"),  # inside the window
        (AlertState("failed", told(30), told(25)), "failed", "failure", "failed"),  # a reminder
        (AlertState("failed", told(30), told(1)), "ok", "recovery", "ok"),
        (AlertState("stale", told(2), told(2)), "ok", "recovery", "ok"),
        (AlertState("stale", told(2), told(2)), "stale", None, "stale"),
        (AlertState("stale", told(2), told(2)), "failed", "failure", "failed"),  # a run failed: say so now
        (AlertState("failed", told(2), told(2)), "stale", None, "failed"),  # staleness adds nothing
        (AlertState("failed", told(2), None), "failed", "failure", "failed"),  # never told: tell now
        (AlertState("failed", told(2), "not a time"), "failed", "failure", "failed"),
    ],
)
def test_next_state(previous: AlertState, current: str, event: str | None, new_state: str) -> None:
    new, announced = next_state(previous, current, NOW, DAY)
    assert (announced, new.state) == (event, new_state)
    if announced is not None and announced != "success":
        assert new.notified_at == NOW.isoformat(timespec="seconds")
    if announced is None:
        assert new == previous


def test_a_reminder_keeps_the_time_the_failure_began() -> None:
    began = told(30)
    new, event = next_state(AlertState("failed", began, told(25)), "failed", NOW, DAY)
    assert event == "failure" and new.since == began


def test_a_damaged_or_linked_state_file_counts_as_ok(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text('{"state": "exploded"}')
    assert state.load(tmp_path) == AlertState()
    (tmp_path / "alerts.json").unlink()
    (tmp_path / "elsewhere.json").write_text('{"state": "failed"}')
    (tmp_path / "alerts.json").symlink_to(tmp_path / "elsewhere.json")
    assert state.load(tmp_path) == AlertState()


@pytest.mark.parametrize(
    "url",
    [
        "tgram://123456789:AAbbSecretBotToken/987654",
        "json://hooks.example.org/hooks/SecretKey",
        "ntfy://SecretTopic",
        "mailtos://fir:SecretPassword@mail.example.org",
    ],
)
def test_a_url_is_named_by_position_and_scheme_only(url: str) -> None:
    shown = named(3, url)
    assert shown == f"URL 3 ({url.split('://')[0]}://...)"
    assert "Secret" not in shown


def test_the_defaults_notify_failures_and_recoveries_daily_and_nothing_else_is_on() -> None:
    alerts = parse_alerts({})
    assert (alerts.notify_urls, alerts.notify_on, alerts.repeat_hours) == ((), {"failure", "recovery"}, 24)
    assert (alerts.ping_url, alerts.metrics_file, alerts.any) == (None, None, False)


def test_urls_are_split_on_spaces_and_commas_and_kept_out_of_repr() -> None:
    alerts = parse_alerts({"BACKUP_NOTIFY_URLS": "json://a.example/x, ntfy://topic1\n json://a.example/x"})
    assert alerts.notify_urls == ("json://a.example/x", "ntfy://topic1")
    assert "topic1" not in repr(alerts)
