"""binlog-stream: a SIGTERM that arrives while it asks the server for its position (every 5 s) or saves its state
ends the command. The first signal's handler ignores every later one, so one caught as a mere failure of the
check would leave the stream running until SIGKILL (seen: a `docker stop` that had to kill it)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from afirgen_backup.config import Settings
from afirgen_backup.errors import Interrupted
from afirgen_backup.sources.mysql import binlog_stream


def stream(tmp_path: Path) -> binlog_stream.BinlogStream:
    return binlog_stream.BinlogStream(Settings(backup_dir=tmp_path, mysql_host="127.0.0.1"))


def interrupted(*args: object, **kwargs: object) -> None:
    raise Interrupted(signal.SIGTERM)


def test_a_sigterm_during_the_position_check_ends_the_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binlog_stream.server, "connect", interrupted)
    with pytest.raises(Interrupted):
        stream(tmp_path).check_currency()


def test_a_sigterm_during_show_binary_logs_is_no_unavailable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Cursor:
        def __enter__(self) -> Cursor:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def execute(self, statement: str) -> None:
            raise Interrupted(signal.SIGTERM)

    class Connection(Cursor):
        def cursor(self) -> Cursor:
            return Cursor()

    monkeypatch.setattr(binlog_stream.server, "connect", lambda settings: Connection())
    with pytest.raises(Interrupted):
        binlog_stream.server_binlogs(Settings(backup_dir=tmp_path))


def test_a_sigterm_while_the_state_is_saved_ends_the_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "binlog").mkdir()
    monkeypatch.setattr(binlog_stream, "write_file_atomically", interrupted)
    with pytest.raises(Interrupted):
        stream(tmp_path).save_state()
