"""list: every backup newest first per kind, leftovers shown as such, and a JSON document for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_backups import publish_fake_backup

from afirgen_backup import catalog, cli
from afirgen_backup.catalog import locate_backup
from afirgen_backup.config import load_settings
from afirgen_backup.display import format_age, format_size
from afirgen_backup.logs import configure_logging


def test_list_shows_backups_newest_first_with_leftovers_and_verification(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = publish_fake_backup(backup_dir, "mysql", timedelta(days=2))
    new = publish_fake_backup(backup_dir, "mysql", timedelta(hours=1))
    bare = publish_fake_backup(backup_dir, "sessions", timedelta(hours=1), manifest=False)
    catalog.record_verification(new, {"time": "2024-06-01T10:00:00+00:00", "ok": True, "failures": []})
    catalog.record_verification(old, {"time": "2024-06-01T10:00:00+00:00", "ok": False, "failures": ["trailer: x"]})
    partial = backup_dir / (catalog.backup_name("mysql", datetime.now(UTC)) + ".partial")
    partial.write_bytes(b"")
    safety = publish_fake_backup(backup_dir / "safety", "mysql", timedelta(minutes=3))

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out

    assert out.index(new.name) < out.index(old.name)
    assert "verified ok at 2024-06-01T10:00:00+00:00" in out
    assert "NOT USABLE: verify FAILED at 2024-06-01T10:00:00+00:00: trailer: x" in out
    assert f"{bare.name}" in out and "NOT USABLE: no manifest" in out
    assert f"leftover from an interrupted run (removed by the next backup): {partial}" in out
    assert out.index("safety backups") < out.index(safety.name)


def test_list_names_what_makes_a_file_unusable_and_a_date_in_the_future(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shrunk = publish_fake_backup(backup_dir, "mysql", timedelta(hours=1))
    shrunk.write_bytes(b"x" * 100)
    ahead = publish_fake_backup(backup_dir, "sessions", -timedelta(days=3))

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out

    assert f"{shrunk.name}" in out and "NOT USABLE: 100 bytes, the manifest says 1500" in out
    line = next(line for line in out.splitlines() if ahead.name in line)
    assert line.endswith("not verified; DATED IN THE FUTURE (never taken as the newest)")


def test_list_json_puts_only_one_document_on_stdout(backup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    newest = publish_fake_backup(backup_dir, "sessions", timedelta(minutes=10))
    publish_fake_backup(backup_dir, "sessions", timedelta(hours=10))

    assert cli.main(["list", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)

    sessions = document["backups"]["sessions"]
    assert [entry["name"] for entry in sessions][0] == newest.name
    assert sessions[0]["good"] is True and sessions[0]["size"] == 1500 and sessions[0]["verification"] is None
    assert sessions[0]["problem"] is None and sessions[0]["in_future"] is False
    assert document["backups"]["mysql"] == [] and document["backups"]["safety"] == []


@pytest.mark.parametrize(
    ("seconds", "text"), [(59, "0m"), (3599, "59m"), (3600, "1h00m"), (47 * 3600 + 60, "47h01m"), (49 * 3600, "2d1h")]
)
def test_ages_read_naturally(seconds: int, text: str) -> None:
    assert format_age(seconds) == text


@pytest.mark.parametrize(("size", "text"), [(999, "999 B"), (1500, "1.5 KB"), (2_500_000_000, "2.5 GB")])
def test_sizes_read_naturally(size: int, text: str) -> None:
    assert format_size(size) == text


def test_every_new_subcommand_has_help_text() -> None:
    parser = cli.build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    choices = actions[0].choices
    for name in ("list", "verify", "restore", "status"):
        assert choices[name].format_help().strip()
        assert any(name == choice.dest for choice in actions[0]._choices_actions)


def test_latest_is_the_newest_good_backup_and_names_the_newer_files_it_passes_over(
    backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intact = publish_fake_backup(backup_dir, "mysql", timedelta(hours=12))
    damaged = publish_fake_backup(backup_dir, "mysql", timedelta(hours=6))
    catalog.record_verification(damaged, {"time": "t", "ok": False, "failures": ["stream: truncated"]})
    ahead = publish_fake_backup(backup_dir, "mysql", -timedelta(days=1))
    configure_logging(None)  # warnings to stderr, as the CLI sets it up

    chosen = locate_backup(load_settings(), "latest", "mysql")

    assert chosen.name == intact.name
    err = capsys.readouterr().err
    assert "latest_is_not_the_newest_file" in err and intact.name in err
    assert f"{damaged.name} (its last verify found it damaged)" in err
    assert f"{ahead.name} (dated in the future)" in err
