"""prune through the CLI: a copy that is damaged or dated in the future never lets retention delete a good one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_backups import publish_fake_backup

from afirgen_backup import catalog, cli


@pytest.fixture
def keep_one(backup_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "0")
    monkeypatch.setenv("BACKUP_KEEP_LAST", "1")
    return backup_dir


def test_a_newest_copy_whose_verify_failed_does_not_replace_the_last_good_one(keep_one: Path) -> None:
    intact = publish_fake_backup(keep_one, "mysql", timedelta(days=2))
    damaged = publish_fake_backup(keep_one, "mysql", timedelta(days=1))
    catalog.record_verification(damaged, {"time": "t", "ok": False, "failures": ["gzip: truncated"]})

    assert cli.main(["prune"]) == 0

    assert intact.exists() and damaged.exists()


def test_a_newest_copy_cut_short_after_publishing_does_not_replace_the_last_good_one(keep_one: Path) -> None:
    intact = publish_fake_backup(keep_one, "mysql", timedelta(days=2))
    shrunk = publish_fake_backup(keep_one, "mysql", timedelta(days=1))
    shrunk.write_bytes(b"x" * 100)

    assert cli.main(["prune"]) == 0

    assert intact.exists() and shrunk.exists()


def test_a_copy_dated_in_the_future_does_not_push_out_the_run_just_taken(keep_one: Path) -> None:
    ahead = publish_fake_backup(keep_one, "sessions", -timedelta(days=2))
    just_taken = publish_fake_backup(keep_one, "sessions", timedelta(minutes=1))
    older = publish_fake_backup(keep_one, "sessions", timedelta(days=1))

    assert cli.main(["prune"]) == 0

    assert ahead.exists() and just_taken.exists()
    assert not older.exists()  # retention still works: the run just taken is the one copy kept


def test_a_manual_prune_keeps_every_copy_of_a_kind_whose_last_backup_failed(keep_one: Path) -> None:
    mysql = [publish_fake_backup(keep_one, "mysql", timedelta(days=d)) for d in (10, 11, 12)]
    sessions = [publish_fake_backup(keep_one, "sessions", timedelta(days=d)) for d in (10, 11, 12)]
    catalog.write_last_run(
        keep_one,
        {"outcome": "failed", "parts": {"mysql": {"ok": False, "error": "Access denied"}, "sessions": {"ok": True}}},
    )

    assert cli.main(["prune"]) == 0

    assert all(path.exists() for path in mysql)
    assert [path.exists() for path in sessions] == [True, False, False]
