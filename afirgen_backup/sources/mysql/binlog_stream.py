"""Streaming the server's binary log into the archive (binlog_archive.py), for as long as the command runs.

The flavor's own client does the streaming (MYSQLBINLOG_BIN, whose flavor its --version tells): `mariadb-binlog`
or MySQL's `mysqlbinlog` `--read-from-remote-server --raw --stop-never`, connected as a replica with its own
server id, writes each file as the server sends it into BACKUP_DIR/binlog/.stream/, event by event. It does not
reconnect by itself: when it exits (the server restarted, the network went, it was killed), it is started again
after a pause that doubles from RESTART_MIN_SECONDS to RESTART_MAX_SECONDS, and back to the minimum once a start
has lasted STABLE_SECONDS.

Where it starts: the oldest raw file not sealed yet (fetched again from its first byte: a file cut short by a kill
is written anew), else the file after the newest sealed one, else the oldest file the server still has. When the
server no longer has the file the archive needs, those events are lost to the archive: that is a gap, recorded in
binlog/stream.json with the last event archived before it, and the stream goes on from the server's oldest file.

While it runs, every SEAL_SECONDS the files the server is done with are sealed (compressed, manifested, the raw
file removed) and the state is written. The password goes in a pipe, as for mysqldump (process.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from afirgen_backup import process
from afirgen_backup.catalog.manifests import load_json_object
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, CommandFailed, Interrupted, SourceUnavailable
from afirgen_backup.files import write_file_atomically
from afirgen_backup.logs import get_logger
from afirgen_backup.sources.mysql import server
from afirgen_backup.sources.mysql.binlog_archive import (
    STATE_NAME,
    ArchiveConflict,
    archive_dir,
    by_sequence,
    check_stream_dir,
    closed_raw_files,
    raw_files,
    scan_archive,
    seal,
    stream_dir,
)
from afirgen_backup.sources.mysql.binlog_file import BinlogDamaged, binlog_sequence
from afirgen_backup.sources.mysql.server import Flavor

SEAL_SECONDS = 1.0
CURRENCY_SECONDS = 5.0  # how often the server's position is compared with the archive's
RESTART_MIN_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
STABLE_SECONDS = 60.0
MAX_GAPS_KEPT = 100


@dataclass
class StreamState:
    """What binlog/stream.json says: written by the stream, read by status and restore."""

    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: now_text())
    updated_at: str = field(default_factory=lambda: now_text())
    server: str = ""
    running: bool = False  # the streamer is connected (as far as the stream knows)
    current_file: str | None = None
    restarts: int = 0
    last_error: str | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)
    server_position: str | None = None  # SHOW MASTER STATUS (MySQL: BINARY LOG) when last asked, FILE:POS
    archived_position: str | None = None  # the newest raw file and its size then
    current_as_of: str | None = None  # when the archive last held everything the server had logged

    def as_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(settings: Settings) -> tuple[dict[str, Any] | None, str | None]:
    return load_json_object(archive_dir(settings.backup_dir) / STATE_NAME)


def raise_if_interrupted(error: BaseException) -> None:
    """Raise the interruption an error is, or stands for (a SIGTERM that arrived inside PyMySQL): a caught one
    must still end the command, since the first signal's handler ignores every later one."""
    if isinstance(error, Interrupted):
        raise error
    if (interruption := process.interrupted_instead(error)) is not None:
        raise interruption from error


def server_binlogs(settings: Settings) -> list[str]:
    """The server's binary log files, oldest first (SHOW BINARY LOGS: BINLOG MONITOR, or REPLICATION CLIENT)."""
    with server.connect(settings) as connection, connection.cursor() as cursor:
        try:
            cursor.execute("SHOW BINARY LOGS")
        except Exception as error:  # noqa: BLE001 - PyMySQL's errors: the privilege, or no binary log at all
            raise_if_interrupted(error)
            raise SourceUnavailable(
                f"SHOW BINARY LOGS failed on {settings.mysql_host}:{settings.mysql_port} ({error}); binlog-stream "
                "needs a server with log_bin on and a user with REPLICATION SLAVE and BINLOG MONITOR "
                "(MySQL: REPLICATION CLIENT)"
            ) from None
        return by_sequence([str(row[0]) for row in cursor.fetchall()])


def streamer_argv(settings: Settings, client: Flavor, defaults_file_arg: str, first_file: str) -> list[str]:
    """The streaming client's command line (no password: it is in the defaults file). Both flavors' clients take
    --read-from-remote-server (MySQL's: an alias of --read-from-remote-source=BINLOG-DUMP-NON-GTIDS); the
    replica's server id is --stop-never-slave-server-id for MariaDB's, --connection-server-id for MySQL's (which
    deprecates the other)."""
    argv = [settings.binlog_bin, defaults_file_arg]
    argv += [f"--host={settings.mysql_host}", f"--port={settings.mysql_port}", "--protocol=TCP"]
    argv += ["--read-from-remote-server", "--raw", "--stop-never"]
    if client.is_mariadb:
        argv.append(f"--stop-never-slave-server-id={settings.binlog_server_id}")
    else:
        argv.append(f"--connection-server-id={settings.binlog_server_id}")
    argv += [f"--result-file={stream_dir(settings.backup_dir)}/", first_file]
    return argv


class BinlogStream:
    """The stream's loop: start the streamer, seal, restart; `sleep` and `clock` can be replaced in tests."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.log = get_logger(part="binlog")
        self.state = StreamState(server=f"{settings.mysql_host}:{settings.mysql_port}")
        previous, _ = read_state(settings)
        if previous is not None and isinstance(previous.get("gaps"), list):
            self.state.gaps = [gap for gap in previous["gaps"] if isinstance(gap, dict)][-MAX_GAPS_KEPT:]

    def run(self, *, stop_after: int | None = None) -> None:
        """Stream until interrupted (Interrupted propagates, with the streamer stopped and what is closed sealed);
        stop_after: at most that many starts of the streamer (tests)."""
        stream_dir(self.settings.backup_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        pause = RESTART_MIN_SECONDS
        starts = 0
        try:
            while stop_after is None or starts < stop_after:
                starts += 1
                began = self.clock()
                try:
                    self.stream_once()
                except (SourceUnavailable, BinlogDamaged, ArchiveConflict, CommandFailed) as error:
                    self.state.last_error = str(error)
                    self.log.error("binlog_stream_failed", error=str(error), restart_in_s=pause)
                if self.clock() - began >= STABLE_SECONDS:
                    pause = RESTART_MIN_SECONDS
                self.state.running = False
                self.state.restarts += 1
                self.save_state()
                if stop_after is not None and starts >= stop_after:
                    break
                self.sleep(pause)
                pause = min(pause * 2, RESTART_MAX_SECONDS)
        finally:
            self.state.running = False
            try:
                self.seal_closed()
            except (BackupError, OSError) as error:  # the error that ends the command says it already
                self.state.last_error = str(error)
            self.save_state()

    def stream_once(self) -> None:
        """One start of the streamer, until it exits."""
        self.seal_closed()
        check_stream_dir(self.settings.backup_dir)
        first = self.resume_point()
        client = server.detect_binlog_client(self.settings.binlog_bin)
        with process.credentials_pipe(self.settings.mysql_user, self.settings.mysql_password) as (arg, fd):
            argv = streamer_argv(self.settings, client, arg, first)
            child = process.spawn(argv, stdout=subprocess.DEVNULL, pass_fds=(fd,))
        self.state.running, self.state.current_file, self.state.last_error = True, first, None
        self.log.info("binlog_stream_started", file=first, pid=child.process.pid)
        asked = 0.0
        try:
            while child.process.poll() is None:
                self.sleep(SEAL_SECONDS)
                self.seal_closed()
                if self.clock() - asked >= CURRENCY_SECONDS:
                    asked = self.clock()
                    self.check_currency()
                self.save_state()
        except BaseException:
            child.stop()
            raise
        code = child.wait()
        tail = child.stderr.tail()
        self.seal_closed()
        last_words = tail.splitlines()[-1] if tail else "no message"
        raise CommandFailed(f"{os.path.basename(self.settings.binlog_bin)} exited with {code}: {last_words}")

    def resume_point(self) -> str:
        """The file to stream from (see the module's text); a gap is recorded when the server lost it."""
        available = server_binlogs(self.settings)
        if not available:
            raise SourceUnavailable("the server has no binary log files (log_bin off?)")
        raws = raw_files(self.settings.backup_dir)
        sealed, _ = scan_archive(self.settings.backup_dir)
        wanted = raws[0].name if raws else sealed[-1].next_file if sealed else None
        if wanted is None:
            return available[0]
        if wanted in available:
            return wanted
        wanted_sequence, oldest_sequence = binlog_sequence(wanted), binlog_sequence(available[0])
        if wanted_sequence is not None and oldest_sequence is not None and wanted_sequence < oldest_sequence:
            self.record_gap(wanted, available[0], sealed[-1].manifest if sealed else None)
            for raw in raws:  # what was written of the lost file cannot be completed
                os.replace(raw, raw.with_name(f"{raw.name}.incomplete"))
            return available[0]
        raise SourceUnavailable(
            f"the archive continues with {wanted}, which the server does not have (it has {available[0]} to "
            f"{available[-1]}): was its binary log reset?"
        )

    def check_currency(self) -> None:
        """Compare the server's position with the newest raw file: when the file is as long, the archive holds
        everything the server logged (current_as_of: status's lag, and how far a restore to the end may go).
        current_as_of is the moment before the server was asked, in whole seconds rounded down: what the server
        logged before it is in the position read, and so in the archive; what it logged while the answer came
        back may not be."""
        asked = now_text()
        try:
            with server.connect(self.settings) as connection, connection.cursor() as cursor:
                cursor.execute(server.binlog_status_statement(server.server_flavor(connection)))
                row = cursor.fetchone()
        except Exception as error:  # noqa: BLE001 - a failed check changes nothing but the state's figures
            raise_if_interrupted(error)
            self.log.warning("binlog_position_unknown", error=str(error)[:300])
            return
        raws = raw_files(self.settings.backup_dir)
        if row is None or not raws:
            return
        name, position = str(row[0]), int(row[1])
        newest = raws[-1]
        with contextlib.suppress(OSError):
            size = newest.stat().st_size
            self.state.server_position = f"{name}:{position}"
            self.state.current_file = newest.name
            self.state.archived_position = f"{newest.name}:{size}"
            if newest.name == name and size >= position:
                self.state.current_as_of = asked

    def record_gap(self, missing: str, resumed: str, last: dict[str, Any] | None) -> None:
        gap = {
            "missing_from": missing,
            "resumed_at": resumed,
            "detected_at": now_text(),
            "last_archived_file": last.get("binlog_file") if last else None,
            "last_archived_event_time": last.get("last_event_time") if last else None,
            "last_archived_gtid": last.get("last_gtid") if last else None,
        }
        self.state.gaps = [*self.state.gaps, gap][-MAX_GAPS_KEPT:]
        self.log.error("binlog_gap", **gap)
        self.save_state()

    def seal_closed(self) -> None:
        check_stream_dir(self.settings.backup_dir)  # UnsafeFile or ArchiveConflict end the command
        for raw in closed_raw_files(self.settings.backup_dir):
            try:
                sealed = seal(raw, self.settings.backup_dir, level=self.settings.compress_level)
            except (BinlogDamaged, ArchiveConflict, OSError) as error:
                self.log.error("binlog_seal_failed", file=raw.name, error=str(error))
                self.state.last_error = f"{raw.name}: {error}"
                return
            self.log.info(
                "binlog_sealed",
                file=sealed.name,
                events=sealed.manifest.get("events"),
                last_event_time=sealed.manifest.get("last_event_time"),
            )

    def save_state(self) -> None:
        self.state.updated_at = now_text()
        try:
            write_file_atomically(
                archive_dir(self.settings.backup_dir) / STATE_NAME,
                (json.dumps(self.state.as_record(), indent=2, sort_keys=True) + "\n").encode(),
            )
        except (OSError, BackupError) as error:
            raise_if_interrupted(error)
            self.log.warning("binlog_state_not_saved", error=str(error))
