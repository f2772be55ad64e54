"""The sources of backups, one per kind (sources/base.py: what each provides). The actions reach them only
through this registry: `enabled(settings)` for a run, `by_kind(kind)` for a file of that kind.

A new kind of backup is a new package here with a SOURCE, added to SOURCES, and its file names in catalog/names.py.
"""

from __future__ import annotations

from afirgen_backup.config import Settings
from afirgen_backup.sources.base import Source
from afirgen_backup.sources.mysql import SOURCE as MYSQL
from afirgen_backup.sources.sqlite import SOURCE as SQLITE

SOURCES: tuple[Source, ...] = (MYSQL, SQLITE)


def enabled(settings: Settings) -> list[Source]:
    """The sources a run backs up, in the order the settings enable them (config.Settings.enabled_kinds)."""
    return [by_kind(kind) for kind in settings.enabled_kinds]


def by_kind(kind: str) -> Source:
    return next(source for source in SOURCES if source.kind == kind)


__all__ = ["SOURCES", "Source", "by_kind", "enabled"]
