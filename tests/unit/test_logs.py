"""The log file: JSON lines with the run id, reopened after logrotate moves it away."""

from __future__ import annotations

import json

from afirgen_backup.logs import bind_run, configure_logging, get_logger


def read_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_are_json_lines_that_carry_the_run_id(tmp_path, capsys):
    log_file = tmp_path / "backup.log"
    configure_logging(log_file)
    bind_run("run-one")
    get_logger().info("first", size=3)
    events = read_events(log_file)
    assert [(e["event"], e["run_id"], e["size"], e["level"]) for e in events] == [("first", "run-one", 3, "info")]
    assert events[0]["timestamp"].endswith("Z")
    assert "first" in capsys.readouterr().out


def test_a_rotated_log_file_is_reopened_at_the_next_event(tmp_path):
    log_file = tmp_path / "backup.log"
    configure_logging(log_file)
    bind_run("run-two")
    get_logger().info("before_rotation")
    log_file.rename(tmp_path / "backup.log.1")  # what logrotate does (without copytruncate)
    get_logger().info("after_rotation")
    assert [e["event"] for e in read_events(tmp_path / "backup.log.1")] == ["before_rotation"]
    assert [e["event"] for e in read_events(log_file)] == ["after_rotation"]


def test_a_log_directory_is_created_only_when_asked(tmp_path):
    log_file = tmp_path / "missing" / "backup.log"
    configure_logging(log_file, create_dir=False)  # list and status: they create nothing
    assert not log_file.parent.exists()
    configure_logging(log_file)
    assert log_file.parent.is_dir()
