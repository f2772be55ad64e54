"""Every file the tool writes in BACKUP_DIR is created or opened without following a link: a link planted at a
`.partial`, manifest, temp, lock or log name is refused in words and what it points to never changes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from afirgen_backup import catalog, files, publish
from afirgen_backup.catalog import safety_dir
from afirgen_backup.files import UnsafeFile, write_file_atomically
from afirgen_backup.leftovers import remove_leftovers
from afirgen_backup.lock import LOCK_NAME, backup_dir_lock
from afirgen_backup.logs import configure_logging, get_logger, log_file_refusal
from afirgen_backup.publish import GzipPublisher
from afirgen_backup.sources.base import publish_with_manifest, unused_stamp

PRECIOUS = b"somebody else's file\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A file outside BACKUP_DIR that planted links point to."""
    path = tmp_path / "elsewhere" / "precious"
    path.parent.mkdir()
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


def test_a_link_at_the_partial_name_is_refused_and_its_target_untouched(backups: Path, target: Path) -> None:
    final = backups / "mysql_backup_20261126_060000.sql.gz"
    partial = publish.partial_path(final)
    partial.symlink_to(target)

    with pytest.raises(UnsafeFile) as refused, GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"data")

    assert str(refused.value) == f"{partial} is a symbolic link; refusing to write through it: remove it"
    assert target.read_bytes() == PRECIOUS and partial.is_symlink()


def test_a_leftover_partial_file_is_replaced_by_a_new_file_not_truncated(backups: Path, target: Path) -> None:
    """A hard link named like our `.partial` would have its other name truncated by O_TRUNC."""
    final = backups / "mysql_backup_20261126_060000.sql.gz"
    os.link(target, publish.partial_path(final))

    with GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"data")
        publisher.publish()

    assert target.read_bytes() == PRECIOUS


def test_a_link_at_a_manifest_name_is_refused_and_its_target_untouched(backups: Path, target: Path) -> None:
    backup = backups / "mysql_backup_20261126_060000.sql.gz"
    backup.write_bytes(b"x")
    catalog.manifest_path(backup).symlink_to(target)

    with pytest.raises(UnsafeFile, match="is a symbolic link; refusing to write through it: remove it"):
        catalog.write_manifest(backup, {"file": backup.name, "size": 1})
    catalog.record_verification(backup, {"time": "t", "ok": True})

    assert target.read_bytes() == PRECIOUS and catalog.manifest_path(backup).is_symlink()
    assert [p.name for p in backups.iterdir() if p.name.endswith(".tmp")] == []


def test_a_backup_name_taken_by_a_link_is_never_written_over_by_publishing(backups: Path, target: Path) -> None:
    final = backups / "mysql_backup_20261126_060000.sql.gz"
    with pytest.raises(UnsafeFile), GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"data")
        publisher.finish()
        final.symlink_to(target)  # planted while the dump ran
        publish_with_manifest(publisher, {"file": final.name})

    assert final.is_symlink() and target.read_bytes() == PRECIOUS
    assert sorted(p.name for p in backups.iterdir()) == [final.name], "no manifest, no partial left"


def test_a_link_at_the_temp_name_is_never_opened_another_name_is_used(
    backups: Path, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = iter(["aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: next(tokens))
    path = backups / "last_run.json"
    (backups / f".last_run.json.{os.getpid()}.aaaaaaaa.tmp").symlink_to(target)

    write_file_atomically(path, b"{}")

    assert path.read_bytes() == b"{}" and target.read_bytes() == PRECIOUS


def test_a_new_record_never_replaces_a_link_at_last_run_json(backups: Path, target: Path) -> None:
    (backups / "last_run.json").symlink_to(target)

    with pytest.raises(UnsafeFile):
        catalog.write_last_run(backups, {"outcome": "success"})
    assert not catalog.overwrite_last_run(backups, {"outcome": "failed"})

    assert target.read_bytes() == PRECIOUS
    assert catalog.last_run_refusal(backups) == (
        f"{backups / 'last_run.json'} is a symbolic link; refusing to write through it: remove it"
    )


def test_a_link_at_the_lock_file_is_refused_and_its_target_untouched(backups: Path, target: Path) -> None:
    (backups / LOCK_NAME).symlink_to(target)

    refusal = f"{LOCK_NAME} is a symbolic link; refusing to write through it"
    with pytest.raises(UnsafeFile, match=refusal), backup_dir_lock(backups):
        pass

    assert target.read_bytes() == PRECIOUS


def test_the_log_handler_never_writes_through_a_link_and_says_why(
    backups: Path, target: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = backups / "backup.log"
    log_file.symlink_to(target)
    configure_logging(log_file)

    get_logger().info("an_event")
    get_logger().info("another_event")

    assert target.read_bytes() == PRECIOUS
    assert log_file_refusal() == f"{log_file} is a symbolic link; refusing to write through it: remove it"
    err = capsys.readouterr().err
    assert err.count(f"warning: {log_file} is a symbolic link") == 1
    configure_logging(None)


def test_a_link_named_safety_is_refused_as_the_place_of_a_safety_backup(backups: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere-dir"
    elsewhere.mkdir()
    (backups / "safety").symlink_to(elsewhere)

    with pytest.raises(FileExistsError, match="a symbolic link: refusing to write through it; remove it"):
        safety_dir(backups)


def test_links_and_fifos_named_like_leftovers_are_left_in_place(backups: Path, target: Path) -> None:
    link = backups / "mysql_backup_20261126_060000.sql.gz.partial"
    link.symlink_to(target)
    fifo = backups / ".mysql_backup_20261126_060000.sql.gz.json.12.tmp"
    os.mkfifo(fifo)
    stale = backups / f".last_run.json.{os.getpid()}.0123abcd.tmp"
    stale.write_text("{}")

    assert remove_leftovers(backups) == [stale.name]

    assert link.is_symlink() and fifo.exists() and target.read_bytes() == PRECIOUS


def test_a_backup_name_taken_by_a_dangling_link_is_not_used_for_the_next_backup(backups: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for moment in (now, now + timedelta(seconds=1)):
        (backups / catalog.backup_name("mysql", moment)).symlink_to(tmp_path / "nothing-here-yet")

    stamp = unused_stamp(backups)

    assert not os.path.lexists(backups / catalog.backup_name("mysql", stamp))


def test_a_manifest_link_to_a_good_manifest_does_not_make_its_backup_good(backups: Path, tmp_path: Path) -> None:
    backup = backups / "mysql_backup_20261126_060000.sql.gz"
    backup.write_bytes(b"x")
    real = tmp_path / "elsewhere.json"
    real.write_text(json.dumps({"file": backup.name, "size": 1}))
    catalog.manifest_path(backup).symlink_to(real)

    entry = catalog.scan(backups).find(backup.name)

    assert entry is not None and not entry.good
    assert entry.flaw == f"manifest unreadable: {backup.name}.json is a symbolic link, never opened: remove it"
