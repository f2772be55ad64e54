"""What was last notified (BACKUP_DIR/alerts.json), and the rule that turns a run's outcome or a health check into
at most one notification.

States: `ok`, `failed` (the last run failed), `stale` (status found the backups unhealthy between runs). A change
of state is announced once: `failure` when runs start failing, `stale` when health is lost between runs,
`recovery` when a run succeeds (or health returns) after either. While a state lasts, it is announced again at
most every BACKUP_NOTIFY_REPEAT_HOURS. `success` is every successful run, for those who ask for it. The state is
kept whether or not the event is one BACKUP_NOTIFY_ON asks for, so that a recovery is known as one. The file is
read like any file in BACKUP_DIR: bounded, never through a link; a damaged one counts as `ok`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.files import write_file_atomically


@dataclass(frozen=True)
class AlertState:
    state: str = "ok"
    since: str | None = None
    notified_at: str | None = None  # when this state was last announced

    def as_record(self) -> dict[str, Any]:
        return {"state": self.state, "since": self.since, "notified_at": self.notified_at}


def path_of(backup_dir: Path) -> Path:
    return backup_dir / catalog.ALERTS_NAME


def load(backup_dir: Path) -> AlertState:
    record, _ = catalog.load_json_object(path_of(backup_dir))
    if not record or record.get("state") not in ("ok", "failed", "stale"):
        return AlertState()
    return AlertState(str(record["state"]), as_text(record.get("since")), as_text(record.get("notified_at")))


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def save(backup_dir: Path, state: AlertState) -> None:
    import json

    write_file_atomically(path_of(backup_dir), (json.dumps(state.as_record(), indent=2) + "\n").encode())


def due(previous: AlertState, now: datetime, repeat: timedelta) -> bool:
    """A lasting state is announced again when its last announcement is `repeat` old (or was never made)."""
    if previous.notified_at is None:
        return True
    try:
        return now - datetime.fromisoformat(previous.notified_at) >= repeat
    except ValueError:
        return True


def next_state(previous: AlertState, current: str, now: datetime, repeat: timedelta) -> tuple[AlertState, str | None]:
    """(the new state, the event to announce or None) for `current`: `ok`, `failed` or `stale`.

    `ok` after `failed` or `stale` is a recovery; `failed` or `stale` after `ok` a failure or a staleness; the
    same bad state again is a reminder once it is due. A health check that finds things fine while the last run
    failed changes nothing (only a run ends a failure), nor does a stale health check after a failed run.
    """
    stamp = now.isoformat(timespec="seconds")
    if current == "ok":
        if previous.state in ("failed", "stale"):
            return AlertState("ok", stamp, stamp), "recovery"
        return AlertState("ok", previous.since or stamp, previous.notified_at), "success"
    if previous.state == "ok" or (previous.state == "stale" and current == "failed"):
        event = "failure" if current == "failed" else "stale"
        return AlertState(current, stamp, stamp), event
    if due(previous, now, repeat):
        event = "failure" if previous.state == "failed" else "stale"
        return AlertState(previous.state, previous.since, stamp), event
    return previous, None
