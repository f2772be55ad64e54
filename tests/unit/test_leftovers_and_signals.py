"""What a killed run leaves is removed by the next; publishing is not split by a signal."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from afirgen_backup import catalog, process
from afirgen_backup.leftovers import remove_leftovers
from afirgen_backup.publish import GzipPublisher
from afirgen_backup.sources.base import publish_with_manifest


def touch(directory, *names):
    for name in names:
        (directory / name).write_bytes(b"x")


def test_the_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    leftovers = [
        "mysql_backup_20261126_060000.sql.gz.partial",
        ".sessions-copy-abc123.db",
        ".sessions-copy-abc123.db-journal",
        ".mysql_backup_20261126_000000.sql.gz.json.4242.tmp",
        # killed between writing the manifest and renaming the file into place
        "sessions_backup_20261126_060000.db.gz.json",
        "sessions_backup_20261126_060000.db.gz.partial",
    ]
    kept = [
        "mysql_backup_20261125_060000.sql.gz",
        "mysql_backup_20261125_060000.sql.gz.json",
        "mysql_backup_20261124_060000.sql.gz.json",  # an orphan manifest without a .partial: not ours to judge
        "notes.partial",
        ".notes.json.12.tmp",
        "backup.log",
        "last_run.json",
    ]
    touch(tmp_path, *leftovers, *kept)
    assert sorted(remove_leftovers(tmp_path)) == sorted(leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_publishing_writes_the_manifest_before_the_backup_gets_its_name(tmp_path):
    final = tmp_path / "mysql_backup_20261126_060000.sql.gz"
    seen = {}
    with GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"-- Dump completed\n")
        publisher.finish()
        real_publish = publisher.publish

        def observe_then_publish():
            seen["manifest"] = catalog.manifest_path(final).exists()
            seen["backup"] = final.exists()
            return real_publish()

        publisher.publish = observe_then_publish
        publish_with_manifest(publisher, {"file": final.name})
    assert seen == {"manifest": True, "backup": False}
    assert catalog.read_manifest(final) == {"file": final.name}


def test_a_failed_rename_takes_the_manifest_away_too(tmp_path):
    final = tmp_path / "mysql_backup_20261126_060000.sql.gz"
    with pytest.raises(OSError), GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"data")
        publisher.finish()
        final.mkdir()  # a directory in the way: the rename fails
        (final / "blocker").write_text("")
        publish_with_manifest(publisher, {"file": final.name})
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]


class Signalled(Exception):
    pass


def test_signals_are_held_while_deferred_and_delivered_after():
    def handler(signum, frame):
        raise Signalled

    previous = signal.signal(signal.SIGTERM, handler)
    steps = []
    try:
        with pytest.raises(Signalled):
            with process.signals_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                steps.append("after kill")
            steps.append("after the block")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert steps == ["after kill"]


def test_a_sessions_copy_directory_left_by_a_killed_run_is_removed_but_not_what_is_not_ours(tmp_path: Path) -> None:
    ours = tmp_path / ".sessions-copy-k1ll3d"
    ours.mkdir()
    for name in ("copy.db", "copy.db-journal"):
        (ours / name).write_bytes(b"x")
    theirs = tmp_path / ".sessions-copy-s0meb0dy"
    theirs.mkdir()
    (theirs / "copy.db").write_bytes(b"x")
    (theirs / "somebody's file").write_text("not ours\n")

    removed = remove_leftovers(tmp_path)

    assert removed == [ours.name]
    assert not ours.exists()
    assert (theirs / "somebody's file").read_text() == "not ours\n"


def test_a_killed_remote_point_in_time_fetch_is_removed_with_its_archive_copies_but_not_what_is_not_ours(
    tmp_path: Path,
) -> None:
    dead = 2**22 + 12345  # above pid_max's default: no such process
    fetch = tmp_path / f".remote-{dead}-abc"
    (fetch / "binlog").mkdir(parents=True)
    for name in ("mysql_backup_20261205_000000.sql.gz", "mysql_backup_20261205_000000.sql.gz.json"):
        (fetch / name).write_bytes(b"x")
    for name in ("mysql-bin.000007.gz", "mysql-bin.000007.gz.json", "mysql-bin.000008.gz.age"):
        (fetch / "binlog" / name).write_bytes(b"x")
    unpacked = fetch / f".pitr-{dead}-xyz"  # the roll forward's own directory, killed mid-replay
    unpacked.mkdir()
    (unpacked / "mysql-bin.000007").write_bytes(b"the binary log in the clear")

    assert remove_leftovers(tmp_path) == [fetch.name]
    assert not fetch.exists()

    (fetch / "binlog").mkdir(parents=True)
    (fetch / "binlog" / "notes.txt").write_text("someone else's")
    remove_leftovers(tmp_path)
    assert (fetch / "binlog" / "notes.txt").exists(), "what is not ours stays"


def test_a_killed_local_point_in_time_restore_leaves_no_unpacked_binary_log_behind(tmp_path: Path) -> None:
    dead = 2**22 + 12346
    unpacked = tmp_path / f".pitr-{dead}-abc"
    unpacked.mkdir()
    for name in ("mysql-bin.000041", "mysql-bin.000042"):
        (unpacked / name).write_bytes(b"the binary log in the clear")
    running = tmp_path / f".pitr-{os.getpid()}-def"  # a restore still at work
    running.mkdir()

    assert remove_leftovers(tmp_path) == [unpacked.name]
    assert not unpacked.exists() and running.exists()
