"""The README and .env.example document every command and every setting the code knows."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from afirgen_backup.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
CONFIG_SOURCE = (REPO / "afirgen_backup" / "config.py").read_text(encoding="utf-8")


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(subcommands(sub, f"{prefix}{name} "))
    return found


COMMANDS = subcommands(build_parser())
SETTINGS = sorted(set(re.findall(r'"((?:MYSQL|BACKUP|SESSIONS|MYSQLDUMP)_[A-Z_]+)"', CONFIG_SOURCE)))


def test_the_cli_has_the_documented_commands():
    expected = {"backup", "check-config", "prune", "list", "verify", "restore", "status"}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_text_and_is_in_the_readme(command):
    assert COMMANDS[command].format_help().strip()
    assert f"`{command}" in README or f"`{command.split()[-1]}" in README, f"{command} is not in README.md"


def test_the_settings_are_found_in_the_code():
    assert {"MYSQL_HOST", "MYSQL_PASSWORD_FILE", "BACKUP_RETENTION_DAYS", "BACKUP_KEEP_LAST"} <= set(SETTINGS)


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_the_readme_and_env_example(name):
    assert f"`{name}`" in README, f"{name} is not in README.md"
    assert name in ENV_EXAMPLE, f"{name} is not in .env.example"
