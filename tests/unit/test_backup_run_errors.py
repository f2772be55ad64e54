"""A backup run and what it cannot do outside its two parts: leftovers it may not remove, and unexpected errors."""

from __future__ import annotations

import errno
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afirgen_backup import catalog, cli
from afirgen_backup.actions import backup
from afirgen_backup.actions.backup import run_backup
from afirgen_backup.config import Settings, load_settings
from afirgen_backup.errors import BackupError
from afirgen_backup.leftovers import remove_leftovers
from afirgen_backup.logs import bind_run, configure_logging


def touch(directory: Path, *names: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"x")


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_directory_named_like_a_leftover_is_logged_and_left_and_the_rest_is_removed(tmp_path: Path) -> None:
    configure_logging(tmp_path / "backup.log")
    bind_run("run-leftovers")
    squatter = tmp_path / "mysql_backup_20261126_060000.sql.gz.partial"
    squatter.mkdir()
    touch(tmp_path, "sessions_backup_20261126_060000.db.gz.partial", ".sessions-copy-abc.db")

    assert sorted(remove_leftovers(tmp_path)) == [
        ".sessions-copy-abc.db",
        "sessions_backup_20261126_060000.db.gz.partial",
    ]

    assert squatter.is_dir()
    [skipped] = [e for e in read_events(tmp_path / "backup.log") if e["event"] == "leftover_not_removed"]
    assert skipped["file"] == squatter.name and skipped["level"] == "warning" and "Is a directory" in skipped["error"]


def test_a_published_backup_keeps_its_manifest_whatever_is_named_like_its_partial(tmp_path: Path) -> None:
    published = "mysql_backup_20261126_060000.sql.gz"
    touch(tmp_path, published, published + ".json")
    (tmp_path / (published + ".partial")).mkdir()
    touch(tmp_path, "mysql_backup_20261126_000000.sql.gz.json", "mysql_backup_20261126_000000.sql.gz.partial")

    removed = remove_leftovers(tmp_path)

    assert sorted(removed) == [
        "mysql_backup_20261126_000000.sql.gz.json",
        "mysql_backup_20261126_000000.sql.gz.partial",
    ]
    assert (tmp_path / published).exists() and (tmp_path / (published + ".json")).exists()


def test_the_leftovers_of_a_killed_safety_backup_are_removed_too(tmp_path: Path) -> None:
    safety = tmp_path / "safety"
    leftovers = [
        "mysql_backup_20261126_060000.sql.gz.partial",
        "mysql_backup_20261126_060000.sql.gz.json",  # its manifest, written before the rename that never came
        ".mysql_backup_20261126_070000.sql.gz.json.4242.tmp",
    ]
    kept = ["mysql_backup_20261125_060000.sql.gz", "mysql_backup_20261125_060000.sql.gz.json"]
    touch(safety, *leftovers, *kept)

    assert sorted(remove_leftovers(tmp_path)) == sorted(f"safety/{name}" for name in leftovers)
    assert sorted(p.name for p in safety.iterdir()) == sorted(kept)


def test_a_safety_name_that_is_not_a_directory_is_left_alone(tmp_path: Path) -> None:
    touch(tmp_path, "safety")
    assert remove_leftovers(tmp_path) == []
    assert (tmp_path / "safety").read_bytes() == b"x"


def sessions_only(backup_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a real run of the sessions part alone, with a small sessions.db where the fixture points."""
    connection = sqlite3.connect(backup_dir.parent / "sessions.db")
    connection.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
    connection.close()
    monkeypatch.setenv("BACKUP_MYSQL_ENABLED", "false")
    monkeypatch.setenv("BACKUP_YIELD_CPU", "false")
    return load_settings()


def test_an_unexpected_error_after_the_lock_is_recorded_as_a_failed_run_and_raised_in_words(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error from prune stands in for any error outside the parts (EIO cannot be made on demand here)."""
    settings = sessions_only(backup_dir, monkeypatch)
    (backup_dir / "last_run.json").write_text(json.dumps({"outcome": "success", "run_id": "the-previous-run"}))
    configure_logging(settings.log_file)
    bind_run("run-eio")

    def failing_prune(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error", str(backup_dir / "sessions_backup_20200101_000000.db.gz"))

    monkeypatch.setattr(backup, "prune_backups", failing_prune)

    with pytest.raises(BackupError) as caught:
        run_backup(settings, "run-eio")

    expected = f"backup failed: Input/output error: {backup_dir / 'sessions_backup_20200101_000000.db.gz'}"
    assert str(caught.value) == expected
    record = json.loads((backup_dir / "last_run.json").read_text())
    assert (record["run_id"], record["outcome"], record["error"]) == ("run-eio", "failed", expected)
    assert record["parts"]["sessions"]["ok"], "the part itself had succeeded"
    [finished] = [e for e in read_events(settings.log_file) if e["event"] == "backup_finished"]
    assert finished["outcome"] == "failed" and finished["error"] == expected and finished["level"] == "error"


def a_failed_run() -> backup.RunResult:
    run = backup.RunResult("run-full", datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    run.parts["mysql"] = backup.PartResult("mysql", False, error="mysql backup failed: No space left on device")
    run.parts["sessions"] = backup.PartResult("sessions", True, file="sessions_backup_20261126_060000.db.gz")
    return run


def no_new_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full ext4 or XFS: no new file gets a block, not even after an unlink, until the journal commits (which
    cannot be timed from a test); writing inside an existing file's size still works."""

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(catalog.last_run, "write_file_atomically", no_space)


def test_a_run_that_gets_no_new_block_writes_its_failure_over_the_previous_success(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = {"outcome": "success", "run_id": "the-previous-run", "error": None, "started_at": "x"}
    previous["parts"] = {kind: {"ok": True, "file": f"{kind}_backup_20261126_000000.gz", "size": 1} for kind in "ab"}
    catalog.write_last_run(backup_dir, previous)
    size = (backup_dir / "last_run.json").stat().st_size
    no_new_files(monkeypatch)
    settings = load_settings()

    backup.record_run(settings, a_failed_run(), outcome="failed", error="mysql backup failed: No space left")

    path = backup_dir / "last_run.json"
    assert path.stat().st_size == size, "written inside the old file's size"
    record = json.loads(path.read_text())
    assert (record["run_id"], record["outcome"]) == ("run-full", "failed")
    assert record["error"] == "mysql backup failed: No space left"
    assert catalog.failed_kinds(record) == ["mysql"]
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("UNHEALTHY: ")


def test_a_record_too_long_for_the_old_file_is_cut_to_its_outcome_and_the_start_of_its_error(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (backup_dir / "last_run.json").write_text('{"outcome": "success"}' + " " * 150)
    no_new_files(monkeypatch)
    long_error = "mysql backup failed: " + "x" * 400

    backup.record_run(load_settings(), a_failed_run(), outcome="failed", error=long_error)

    text = (backup_dir / "last_run.json").read_text()
    assert len(text) == 172
    record = json.loads(text)
    assert record["outcome"] == "failed" and record["run_id"] == "run-full"
    assert record["error"].startswith("mysql backup failed: xxx") and record["error"].endswith("...")


def test_with_no_previous_record_and_no_space_the_run_leaves_none(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_new_files(monkeypatch)

    backup.record_run(load_settings(), a_failed_run(), outcome="failed", error="no space")

    assert not (backup_dir / "last_run.json").exists()


def test_the_run_duration_is_measured_not_taken_from_the_whole_second_of_its_file_names(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File names carry whole seconds; a duration counted from that stamp was up to a second too long."""
    settings = sessions_only(backup_dir, monkeypatch)
    configure_logging(settings.log_file)
    bind_run("run-clock")
    stamp = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)

    started = time.monotonic()
    run_backup(settings, "run-clock", now=stamp)
    elapsed = time.monotonic() - started

    [finished] = [e for e in read_events(settings.log_file) if e["event"] == "backup_finished"]
    assert 0 <= finished["duration_s"] <= elapsed + 0.001, (finished["duration_s"], elapsed)


def test_an_error_after_a_sigterm_is_the_interruption_not_a_failed_part(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM's Interrupted raised inside a library's cleanup can come out as another error (seen once: the
    compressor's "write to closed file" mid-dump): the run is still interrupted, never a failed part followed by
    the other part as if nothing had happened."""
    from afirgen_backup import process
    from afirgen_backup.errors import Interrupted
    from afirgen_backup.sources.sqlite import backup as sessions_backup

    settings = sessions_only(backup_dir, monkeypatch)
    configure_logging(settings.log_file)
    bind_run("run-sigterm")
    monkeypatch.setattr(process, "received", None)

    def lost_signal(job: object) -> None:
        process.note_signal(15)
        raise ValueError("write to closed file")

    monkeypatch.setattr(sessions_backup, "back_up", lost_signal)

    with pytest.raises(Interrupted):
        run_backup(settings, "run-sigterm")

    record = json.loads((backup_dir / "last_run.json").read_text())
    assert record["outcome"] == "interrupted"
    assert not [e for e in read_events(settings.log_file) if e["event"] == "part_failed"]
