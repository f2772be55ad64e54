"""Logging: structlog events carrying a run_id, as JSON lines in BACKUP_LOG_FILE and readable lines on the console.

Each event is written to the log file exactly once, by this process. The console goes to stdout (or stderr
from warning up), which is what `docker logs` shows. A log file that cannot be written (full disk, read-only
volume) never ends a run: the handler reports the problem once on stderr and goes on without it. A symbolic
link, FIFO or directory at the log file's name is never opened or written through: the command goes on with the
console only and exits 1 naming it (cli.main asks log_file_refusal()).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import structlog

from afirgen_backup.files import UnsafeFile, open_regular

LOGGER_NAME = "afirgen_backup"

shared_processors: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class QuietFileHandler(logging.handlers.WatchedFileHandler):
    """A WatchedFileHandler (logrotate-safe) that survives a full disk or an unwritable file.

    The file is opened by this class, not by name through open(): a symbolic link is not followed, a FIFO does
    not block, and anything but a regular file is refused (`refusal` says why, and the command exits 1).
    """

    def __init__(self, filename: Path) -> None:
        self.failed = False
        self.refusal: str | None = None
        super().__init__(filename, encoding="utf-8", delay=True)

    def _open(self) -> Any:
        fd = open_regular(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600, "write")
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # the handler closes it

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        try:
            super().emit(record)  # writes and flushes; a failed write or flush comes back through handleError
        except UnsafeFile as error:
            self.failed = True
            self.refusal = str(error)
            sys.stderr.write(f"warning: {error}; logging to the console only\n")
        except Exception as error:  # noqa: BLE001 - a log file must never end a backup
            self.failed = True
            sys.stderr.write(f"warning: cannot write the log file {self.baseFilename}: {error}; console only\n")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's API
        self.failed = True
        sys.stderr.write(f"warning: cannot write the log file {self.baseFilename}; logging to console only\n")


class ConsoleHandler(logging.Handler):
    """Info to stdout, warnings and errors to stderr, looked up at emit time (tests swap the streams)."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except OSError:  # a closed pipe (`... | head`), a vanished terminal: the run goes on without it
            discard_stream(stream)
        except Exception:  # noqa: BLE001
            self.handleError(record)


def discard_stream(stream: Any) -> None:
    """Point a console stream whose reader is gone at /dev/null.

    Later events and the interpreter's final flush then succeed; a failing final flush would turn a
    successful run's exit code into 120.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def log_file_refusal() -> str | None:
    """Why the log file was refused (a symbolic link, a FIFO ... at its name), or None."""
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(handler, QuietFileHandler) and handler.refusal:
            return handler.refusal
    return None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def configure_logging(
    log_file: Path | None, *, console_format: str = "console", level: int = logging.INFO, create_dir: bool = True
) -> None:
    """Route structlog through the standard library to the log file (JSON) and the console.

    create_dir: create the log file's directory when it is missing. Commands that only read (list, status) pass
    False: they create no directory; the file itself is only opened at the first event, if there is one.
    """
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level)
    logger.propagate = False

    json_formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=shared_processors,
    )
    if console_format == "json":
        console_formatter = json_formatter
    else:
        console_formatter = structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False, sort_keys=False),
            ],
            foreign_pre_chain=shared_processors,
        )
    console = ConsoleHandler()
    console.setFormatter(console_formatter)
    logger.addHandler(console)

    if log_file is not None:
        if create_dir:
            with contextlib.suppress(OSError):  # QuietFileHandler reports it at the first event
                log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_handler = QuietFileHandler(log_file)
        file_handler.setFormatter(json_formatter)
        logger.addHandler(file_handler)


def bind_run(run_id: str, **context: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(run_id=run_id, **context)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger(LOGGER_NAME, **context)
