"""How the commands' output reads: sizes, ages, verification records, and a JSON document on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any

MB = 1_000_000  # sizes and rates in the output and the log are in MB of 10^6 bytes


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def format_age(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24}h"


def describe_verification(record: dict[str, Any] | None) -> str:
    if not record:
        return "not verified"
    when = str(record.get("time", "?"))
    kind = " with restore test" if record.get("restore_test") else ""
    if record.get("ok"):
        return f"verified ok{kind} at {when}"
    failures = record.get("failures") or []
    return f"verify FAILED at {when}: {'; '.join(map(str, failures)) or 'see backup.log'}"


def shown_name(name: str) -> str:
    """A name read from an untrusted place (an object key), fit for a terminal: quoted and escaped (as repr does)
    when it holds anything but printable characters, so that no escape sequence reaches the screen."""
    return name if name.isprintable() else repr(name)


def printable_line(text: str) -> str:
    """One line of text read from BACKUP_DIR (a record's error), fit for a terminal: every character that is not
    printable (a newline, an escape) shown escaped, so that it can neither end the line nor move the cursor."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def write_json(document: Any) -> None:
    """One JSON document on stdout (--json): nothing else is written there."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
