"""status: exit 0 only when every enabled kind has a fresh good backup and the last run did not fail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_backups import publish_fake_backup

from afirgen_backup import catalog, cli
from afirgen_backup.display import format_age
from afirgen_backup.lock import SNAPSHOT_ROLE, backup_dir_lock


def run_status(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["status", *args])
    return code, capsys.readouterr().out


def test_fresh_backups_of_every_kind_are_healthy(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=1))
    publish_fake_backup(backup_dir, "sessions", timedelta(hours=1))
    catalog.write_last_run(backup_dir, {"outcome": "success", "error": None, "started_at": "x"})

    code, out = run_status(capsys)

    assert code == 0
    assert out.strip().splitlines()[-1].startswith("healthy")
    assert "mysql: mysql_backup_" in out and "sessions: sessions_backup_" in out
    assert "last run: success" in out and "free" in out


def test_a_stale_kind_is_unhealthy_and_named_on_the_last_line(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=8))
    publish_fake_backup(backup_dir, "sessions", timedelta(hours=1))

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == "UNHEALTHY: newest mysql backup is 8h00m old (limit 7h)"


def test_a_failed_last_run_is_unhealthy_even_with_fresh_backups(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=5))
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))
    catalog.write_last_run(backup_dir, {"outcome": "failed", "error": "mysql backup failed: Access denied"})

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == "UNHEALTHY: last run failed: mysql backup failed: Access denied"


def test_an_empty_backup_dir_is_unhealthy(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == "UNHEALTHY: no good mysql backup; no good sessions backup"


def test_a_backup_without_manifest_does_not_count(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=5), manifest=False)
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == "UNHEALTHY: no good mysql backup"


def test_a_disabled_kind_is_not_required(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_MYSQL_ENABLED", "false")
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))

    code, _ = run_status(capsys)

    assert code == 0


def test_status_json_is_one_document_with_the_same_verdict(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=9))
    publish_fake_backup(backup_dir, "sessions", timedelta(hours=1))

    code, out = run_status(capsys, "--json")

    document = json.loads(out)
    assert code == 1 and document["healthy"] is False
    assert [k["kind"] for k in document["kinds"]] == ["mysql", "sessions"]
    assert document["backup_dir"]["files"] == 4
    assert document["backup_dir"]["free"] > 0


def test_status_writes_nothing(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=1))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in backup_dir.iterdir())

    run_status(capsys)
    run_status(capsys, "--json")

    assert sorted((p.name, p.stat().st_mtime_ns) for p in backup_dir.iterdir()) == before


def test_a_newest_backup_whose_verify_failed_does_not_count(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=9))
    damaged = publish_fake_backup(backup_dir, "mysql", timedelta(minutes=5))
    catalog.record_verification(damaged, {"time": "t", "ok": False, "failures": ["gzip: truncated"]})
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == "UNHEALTHY: newest mysql backup is 9h00m old (limit 7h)"


def test_a_backup_dated_in_the_future_is_unhealthy_and_not_taken_as_fresh(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ahead = publish_fake_backup(backup_dir, "mysql", -timedelta(days=10))
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == (
        f"UNHEALTHY: no good mysql backup; {ahead.name} is dated 9d23h in the future: is this host's clock right?"
    )


def test_an_unreadable_backup_dir_is_unhealthy_with_the_reason(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = backup_dir / "not-a-dir"
    target.write_text("")
    monkeypatch.setenv("BACKUP_DIR", str(target))

    code, out = run_status(capsys)

    assert code == 1
    assert out.strip().splitlines()[-1] == f"UNHEALTHY: cannot read the backup directory {target}: Not a directory"


@pytest.mark.parametrize("content", ['{"outcome": "succ', "[]", "\x00" * 64])
def test_a_last_run_record_that_cannot_be_parsed_is_unhealthy(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    """It may be hiding a failure: a run that was cut off while writing it over the previous one, say."""
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=5))
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))
    (backup_dir / "last_run.json").write_text(content)

    code, out = run_status(capsys)

    assert code == 1
    assert "last run: unknown" in out
    assert out.strip().splitlines()[-1] == "UNHEALTHY: last_run.json is not a valid record (damaged?)"


def test_a_records_error_cannot_forge_a_line_of_the_output(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=5))
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=5))
    forged = "disk I/O error\nhealthy: every enabled kind has a good backup\x1b[2K"
    catalog.write_last_run(backup_dir, {"outcome": "failed", "error": forged})
    catalog.write_last_run(backup_dir, {"outcome": "failed", "error": forged}, snapshot=True)

    code, out = run_status(capsys)

    assert code == 1
    assert not [line for line in out.splitlines() if line.startswith("healthy")], out
    assert "\x1b" not in out and "disk I/O error\\nhealthy" in out
    assert out.strip().splitlines()[-1].startswith("UNHEALTHY: last run failed: disk I/O error\\n")


# --- BACKUP_SESSIONS_SCHEDULE: the snapshots are held to their schedule ----------------------------------------


@pytest.mark.parametrize(
    ("schedule", "sessions_age", "healthy"),
    [
        ("*/5 * * * *", timedelta(minutes=19), True),  # limit: twice 5m, plus 10m
        ("*/5 * * * *", timedelta(minutes=21), False),
        ("0 9 * * mon-fri", timedelta(days=3), True),  # a weekend without snapshots is the schedule
        ("0 9 * * mon-fri", timedelta(days=6, minutes=11), False),
    ],
)
def test_sessions_snapshots_that_stopped_coming_are_unhealthy(
    backup_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    schedule: str,
    sessions_age: timedelta,
    healthy: bool,
) -> None:
    """Cron not running them, or a snapshot given up waiting for the lock (exit 75), leaves no failed record: the
    age of the newest sessions backup against the schedule is what tells. Everything else here is fresh."""
    monkeypatch.setenv("BACKUP_MAX_AGE_HOURS", "1000")
    monkeypatch.setenv("BACKUP_SESSIONS_SCHEDULE", schedule)
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=1))
    publish_fake_backup(backup_dir, "sessions", sessions_age)
    catalog.write_last_run(backup_dir, {"outcome": "success", "error": None, "started_at": "x"})
    catalog.write_last_run(backup_dir, {"outcome": "success", "error": None, "started_at": "y"}, snapshot=True)

    code, out = run_status(capsys)

    assert code == (0 if healthy else 1), out
    if healthy:
        assert "sessions snapshots:" in out and out.strip().splitlines()[-1].startswith("healthy")
    else:
        every = "5m" if schedule.startswith("*/5") else "3d0h"
        expected = (
            f"UNHEALTHY: no sessions backup for {format_age(sessions_age.total_seconds())}, although "
            f"BACKUP_SESSIONS_SCHEDULE ({schedule!r}) takes a snapshot at least every {every}"
        )
        assert out.strip().splitlines()[-1].startswith(expected)


def test_a_full_runs_sessions_backup_counts_as_a_snapshot_and_no_schedule_means_no_check(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_fake_backup(backup_dir, "mysql", timedelta(hours=2))
    publish_fake_backup(backup_dir, "sessions", timedelta(hours=2))
    assert run_status(capsys)[0] == 0  # no BACKUP_SESSIONS_SCHEDULE: the max age alone

    monkeypatch.setenv("BACKUP_SESSIONS_SCHEDULE", "*/5 * * * *")
    code, out = run_status(capsys)
    assert code == 1 and "no sessions backup for 2h00m" in out

    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=2))  # what a full run or a snapshot publishes
    code, out = run_status(capsys)
    assert code == 0, out
    document = json.loads(cli_json(capsys))
    assert document["snapshot_schedule"]["every_s"] == 300 and document["snapshot_schedule"]["limit_s"] == 1200


def cli_json(capsys: pytest.CaptureFixture[str]) -> str:
    cli.main(["status", "--json"])
    return capsys.readouterr().out


def test_snapshots_waiting_for_a_long_run_are_said_not_unhealthy_unless_the_holder_is_a_snapshot(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run (or a verify) that holds the lock longer than the limit makes the snapshots give way by design:
    status says so while the lock is held (read from /proc/locks, without taking it), and a snapshot that holds
    it is no excuse."""
    monkeypatch.setenv("BACKUP_SESSIONS_SCHEDULE", "*/5 * * * *")
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=1))
    publish_fake_backup(backup_dir, "sessions", timedelta(minutes=40))
    assert run_status(capsys)[0] == 1

    with backup_dir_lock(backup_dir, role="run"):
        code, out = run_status(capsys)
    assert code == 0, out
    assert f"waiting: the last 40m a run (pid {os.getpid()}) held the lock they wait for" in out

    with backup_dir_lock(backup_dir, role=SNAPSHOT_ROLE):
        code, out = run_status(capsys)
    assert code == 1 and "no sessions backup for 40m" in out
    assert run_status(capsys)[0] == 1  # released: nothing waits any more


def test_a_full_runs_sessions_copy_counts_from_when_it_was_taken(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run's files are named by its start; sessions.db is copied after the dump, as its manifest's
    finished_at says. A finished_at in the future, or before the name's time, is not believed."""
    monkeypatch.setenv("BACKUP_SESSIONS_SCHEDULE", "*/5 * * * *")
    publish_fake_backup(backup_dir, "mysql", timedelta(minutes=40))
    sessions = publish_fake_backup(backup_dir, "sessions", timedelta(minutes=40))
    manifest = catalog.read_manifest(sessions)
    for finished, healthy in [
        (timedelta(minutes=2), True),
        (timedelta(minutes=-60), False),
        (timedelta(hours=2), False),
    ]:
        when = (datetime.now(UTC) - finished).isoformat()
        catalog.write_manifest(sessions, {**manifest, "finished_at": when})
        assert run_status(capsys)[0] == (0 if healthy else 1), finished
