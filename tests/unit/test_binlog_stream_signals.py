"""binlog-stream: a SIGTERM that arrives while it asks the server for its position (every 5 s) or saves its state
ends the command. The first signal's handler ignores every later one, so one caught as a mere failure of the
check would leave the stream running until SIGKILL (seen: a `docker stop` that had to kill it). And the moment the
position check vouches for."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from afirgen_backup.config import Settings
from afirgen_backup.errors import Interrupted
from afirgen_backup.sources.mysql import binlog_stream
from afirgen_backup.sources.mysql.server import Flavor


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


def test_the_stream_is_current_as_of_before_it_asked_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """current_as_of promises that everything the server logged until then is archived, so it must be a moment
    before the server read its position, not after the answer came: an answer that crosses a second would
    otherwise cover a transaction committed in that second after the position was read. (A real server cannot be
    made to answer across a second boundary on demand; the connection here is a stand-in.)"""
    clock = ["2026-12-05T12:00:05+00:00"]

    class Cursor:
        def __enter__(self) -> Cursor:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def execute(self, statement: str) -> None:
            clock[0] = "2026-12-05T12:00:06+00:00"  # the answer comes back in the next second

        def fetchone(self) -> tuple[str, int]:
            return ("mysql-bin.000003", 100)

    class Connection(Cursor):
        def cursor(self) -> Cursor:
            return Cursor()

    raw = tmp_path / "binlog" / ".stream" / "mysql-bin.000003"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"x" * 100)
    monkeypatch.setattr(binlog_stream.server, "connect", lambda settings: Connection())
    monkeypatch.setattr(binlog_stream.server, "server_flavor", lambda connection: Flavor("mariadb", (10, 11, 0)))
    monkeypatch.setattr(binlog_stream, "now_text", lambda: clock[0])
    streamer = stream(tmp_path)

    streamer.check_currency()

    assert streamer.state.server_position == "mysql-bin.000003:100"
    assert streamer.state.current_as_of == "2026-12-05T12:00:05+00:00"
