"""The clock may jump: which backup is newest comes from the `sequence` in its manifest, not from its name.

A clock set forward and then back leaves backups dated in the future. When no run happened since, such a backup
holds the newest data: `restore ... latest` takes it. `status` names it and the command that moves it out of the
way (`prune --future-dated`, into BACKUP_DIR/misdated/, where it is kept, listed and can still be restored).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from afirgen_backup import catalog, cli
from afirgen_backup.actions.backup import run_backup
from afirgen_backup.catalog import locate_backup
from afirgen_backup.config import Settings, load_settings
from afirgen_backup.logs import bind_run, configure_logging

FIX = "backup_database.py prune --future-dated"


def sessions_only(backup_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    connection = sqlite3.connect(backup_dir.parent / "sessions.db")
    connection.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
    connection.execute("INSERT INTO kept VALUES (1)")
    connection.commit()
    connection.close()
    monkeypatch.setenv("BACKUP_MYSQL_ENABLED", "false")
    monkeypatch.setenv("BACKUP_YIELD_CPU", "false")
    return load_settings()


def publish(directory: Path, kind: str, moment: datetime, sequence: int | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / catalog.backup_name(kind, moment)
    path.write_bytes(b"backup")
    manifest = {"file": path.name, "kind": kind, "size": 6}
    if sequence is not None:
        manifest["sequence"] = sequence
    catalog.write_manifest(path, manifest)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_latest_is_the_backup_published_last_whatever_date_its_name_carries(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    publish(tmp_path, "mysql", now - timedelta(hours=1), 1)
    ahead = publish(tmp_path, "mysql", now + timedelta(days=10), 2)
    assert catalog.scan(tmp_path).newest_good("mysql", now).name == ahead.name
    after = publish(tmp_path, "mysql", now, 3)
    assert catalog.scan(tmp_path).newest_good("mysql", now).name == after.name


def test_backups_without_a_sequence_come_before_every_backup_that_has_one(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    sequenced = publish(tmp_path, "sessions", now - timedelta(days=2), 1)
    publish(tmp_path, "sessions", now - timedelta(hours=1), None)  # copied in from an older version
    publish(tmp_path, "sessions", now + timedelta(days=3), None)  # dated ahead, order unknown: never the newest
    assert catalog.scan(tmp_path).newest_good("sessions", now).name == sequenced.name


def test_each_manifest_gets_one_more_than_the_highest_sequence_of_backup_dir_safety_and_misdated(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sessions_only(backup_dir, monkeypatch)
    now = datetime.now(UTC)
    publish(backup_dir, "mysql", now - timedelta(days=1), 4)
    publish(backup_dir / "safety", "mysql", now - timedelta(days=2), 7)
    publish(backup_dir / "misdated", "sessions", now + timedelta(days=9), 11)
    configure_logging(None)
    bind_run("run-seq")

    run = run_backup(settings, "run-seq")

    manifest = catalog.read_manifest(backup_dir / str(run.parts["sessions"].file))
    assert manifest is not None and manifest["sequence"] == 12
    assert catalog.next_sequence(backup_dir / "safety") == 13, "a safety backup counts the same manifests"


def test_after_the_clock_jumped_forward_and_back_latest_is_the_newest_backup_and_status_says_what_to_do(
    backup_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = sessions_only(backup_dir, monkeypatch)
    configure_logging(None)
    real_now = datetime.now(UTC).replace(microsecond=0)
    before = run_backup(settings, "run-before", now=real_now - timedelta(hours=1)).parts["sessions"].file
    ahead = run_backup(settings, "run-ahead", now=real_now + timedelta(days=10)).parts["sessions"].file
    assert before and ahead

    # The clock is right again and no run happened since: the file dated ahead holds the newest data.
    assert locate_backup(load_settings(), "latest", "sessions").name == ahead
    code, out, _ = run_cli(capsys, "status")
    assert code == 1, out
    assert f"dated in the future: {ahead}; once this host's clock is right, `{FIX}` moves them" in out
    assert f"; {ahead} only after the next backup (it is still the newest)" in out
    assert out.splitlines()[-1] == f"UNHEALTHY: {ahead} is dated 9d23h in the future: is this host's clock right?"

    # Moving it now would make `latest` older data: it stays until a newer backup exists.
    code, _, err = run_cli(capsys, "prune", "--future-dated")
    assert code == 1 and (backup_dir / ahead).exists()
    assert "it is the newest good sessions backup (published last, sequence 2)" in err

    after = run_backup(load_settings(), "run-after").parts["sessions"].file
    configure_logging(None)
    assert locate_backup(load_settings(), "latest", "sessions").name == after
    assert f"{ahead} (dated in the future, published before it (sequence 2, latest has 3))" in capsys.readouterr().err

    code, out, _ = run_cli(capsys, "prune", "--future-dated")
    assert code == 0, out
    assert [line for line in out.splitlines() if not line.startswith("20")] == [  # without the log's lines
        f"moved {ahead} to misdated/ (dated 9d23h in the future)",
        f"1 moved to {backup_dir / 'misdated'}",
    ]
    assert sorted(p.name for p in (backup_dir / "misdated").iterdir()) == [ahead, ahead + ".json"]
    assert run_cli(capsys, "status")[0] == 0

    code, out, _ = run_cli(capsys, "list", "--json")
    assert [entry["name"] for entry in json.loads(out)["backups"]["misdated"]] == [ahead]
    restored = tmp_path / "restored.db"
    code, out, err = run_cli(capsys, "restore", "sessions", f"misdated/{ahead}", "--target", str(restored))
    assert code == 0, err
    assert sqlite3.connect(restored).execute("SELECT id FROM kept").fetchall() == [(1,)]


def test_prune_future_dated_deletes_nothing_and_dry_run_moves_nothing(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    newest = publish(backup_dir, "mysql", now - timedelta(minutes=5), 3)
    ahead = [publish(backup_dir, "mysql", now + timedelta(days=d), d) for d in (1, 2)]
    unsequenced = publish(backup_dir, "sessions", now + timedelta(days=5), None)

    code, out, _ = run_cli(capsys, "prune", "--future-dated", "--dry-run")
    assert code == 0 and out.count("would move") == 4, out
    assert all(path.exists() for path in [*ahead, unsequenced]) and not (backup_dir / "misdated").exists()

    code, out, _ = run_cli(capsys, "prune", "--future-dated")
    assert code == 0, out
    moved = sorted(p.name for p in (backup_dir / "misdated").iterdir())
    assert moved == sorted(n for p in [*ahead, unsequenced] for n in (p.name, p.name + ".json"))
    assert newest.exists() and catalog.read_manifest(newest) is not None


def test_a_name_taken_in_misdated_is_never_written_over(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    publish(backup_dir, "mysql", now - timedelta(minutes=5), 3)
    ahead = publish(backup_dir, "mysql", now + timedelta(days=1), 1)
    (backup_dir / "misdated").mkdir()
    (backup_dir / "misdated" / ahead.name).write_bytes(b"an earlier copy")

    code, _, err = run_cli(capsys, "prune", "--future-dated")

    assert code == 1 and f"{ahead.name} (misdated/{ahead.name} exists already)" in err
    assert ahead.exists() and (backup_dir / "misdated" / ahead.name).read_bytes() == b"an earlier copy"


def test_status_names_every_future_dated_file_and_latest_when_it_is_one(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_SESSIONS_ENABLED", "false")
    now = datetime.now(UTC)
    first = publish(backup_dir, "mysql", now + timedelta(days=2), 1)
    second = publish(backup_dir, "mysql", now + timedelta(days=4), 2)

    code, out, _ = run_cli(capsys, "status", "--json")

    document = json.loads(out)
    assert code == 1
    assert document["future_dated"] == {"files": [second.name, first.name], "command": FIX}
    assert document["kinds"][0]["latest"] == second.name
    assert document["problems"] == [
        "no good mysql backup that is not dated in the future; "
        f"{second.name}, {first.name} are dated up to 3d23h in the future: is this host's clock right?"
    ]


def test_retention_still_never_counts_a_future_dated_backup_published_last_as_a_newer_copy(
    backup_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "0")
    monkeypatch.setenv("BACKUP_KEEP_LAST", "1")
    now = datetime.now(UTC)
    older = publish(backup_dir, "sessions", now - timedelta(days=1), 1)
    current = publish(backup_dir, "sessions", now - timedelta(minutes=1), 2)
    ahead = publish(backup_dir, "sessions", now + timedelta(days=2), 3)

    assert run_cli(capsys, "prune")[0] == 0

    assert ahead.exists() and current.exists() and not older.exists()


def test_list_says_a_future_dated_backup_has_a_sequence(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ahead = publish(backup_dir, "mysql", datetime.now(UTC) + timedelta(days=3), 5)

    code, out, _ = run_cli(capsys, "list")

    line = next(line for line in out.splitlines() if ahead.name in line)
    assert line.endswith("not verified; DATED IN THE FUTURE (sequence 5 says when it was published)")
