"""The alert settings: where notifications go (apprise URLs), on what, how often a failure is repeated; the dead-man
switch (a healthchecks.io-style ping URL); the Prometheus metrics file.

URLs carry secrets (a bot token, a webhook's key): they are kept out of repr, and every message about one names it
by its scheme and position only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from afirgen_backup.config.values import parse_int
from afirgen_backup.errors import ConfigError

ALERT_SETTINGS = (
    "BACKUP_NOTIFY_URLS",
    "BACKUP_NOTIFY_ON",
    "BACKUP_NOTIFY_REPEAT_HOURS",
    "BACKUP_PING_URL",
    "BACKUP_METRICS_FILE",
)
EVENTS = ("failure", "recovery", "success", "stale")
DEFAULT_EVENTS = ("failure", "recovery")
DEFAULT_REPEAT_HOURS = 24
URL_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class AlertSettings:
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    notify_on: frozenset[str] = frozenset(DEFAULT_EVENTS)
    repeat_hours: int = DEFAULT_REPEAT_HOURS
    ping_url: str | None = field(default=None, repr=False)
    metrics_file: Path | None = None

    @property
    def any(self) -> bool:
        return bool(self.notify_urls or self.ping_url or self.metrics_file)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


def parse_alerts(env: Mapping[str, str]) -> AlertSettings:
    values = {name: env.get(name, "").strip() for name in ALERT_SETTINGS}
    return AlertSettings(
        notify_urls=parse_notify_urls(values["BACKUP_NOTIFY_URLS"]),
        notify_on=parse_events(values["BACKUP_NOTIFY_ON"]),
        repeat_hours=parse_int(
            env,
            "BACKUP_NOTIFY_REPEAT_HOURS",
            DEFAULT_REPEAT_HOURS,
            minimum=1,
            maximum=8760,
            what="hours between reminders of a failure that lasts",
        ),
        ping_url=parse_ping_url(values["BACKUP_PING_URL"]),
        metrics_file=parse_metrics_file(values["BACKUP_METRICS_FILE"]),
    )


def parse_notify_urls(raw: str) -> tuple[str, ...]:
    """Apprise URLs, each one apprise knows how to send to (never repeated in a message: they hold tokens)."""
    if not raw:
        return ()
    import apprise

    urls = tuple(dict.fromkeys(url for url in URL_SEPARATORS.split(raw) if url))
    for position, url in enumerate(urls, 1):
        if not apprise.Apprise().add(url):
            raise ConfigError(
                f"BACKUP_NOTIFY_URLS: URL {position} ({scheme_of(url)}://...) is not one apprise can send to; "
                "allowed: apprise URLs separated by spaces or commas, e.g. json://host/path, ntfy://topic, "
                "mailtos://user:password@host, slack://..., tgram://... (https://github.com/caronc/apprise/wiki)"
            )
    return urls


def parse_events(raw: str) -> frozenset[str]:
    if not raw:
        return frozenset(DEFAULT_EVENTS)
    words = [word.lower() for word in URL_SEPARATORS.split(raw) if word]
    unknown = [word for word in words if word not in EVENTS]
    if unknown or not words:
        raise ConfigError(
            f"BACKUP_NOTIFY_ON={raw!r} names {', '.join(map(repr, unknown)) or 'nothing'}; allowed: one or more of "
            f"{', '.join(EVENTS)}, separated by commas (default {','.join(DEFAULT_EVENTS)})"
        )
    return frozenset(words)


def parse_ping_url(raw: str) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"BACKUP_PING_URL ({parts.scheme or '?'}://...) is not a ping URL; allowed: the http(s) URL of a check, "
            "without query or fragment, e.g. https://hc-ping.com/<uuid> (the tool adds /start and /fail)"
        )
    return raw.rstrip("/")


def parse_metrics_file(raw: str) -> Path | None:
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute() or not path.name.endswith(".prom"):
        raise ConfigError(
            f"BACKUP_METRICS_FILE={raw!r} is not allowed; allowed: an absolute path ending in .prom in the directory "
            "node_exporter's textfile collector reads, e.g. /var/lib/node_exporter/textfile/afirgen_backup.prom"
        )
    return path
