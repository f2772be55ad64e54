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


SCHEDULER = (REPO / "backup_scheduler.sh").read_text(encoding="utf-8")
COMPOSE = (REPO / "docker-compose.yaml").read_text(encoding="utf-8")


def readme_section(title: str) -> str:
    """The README text under the heading `title`, up to the next heading of the same or a higher level (lines in
    fenced code blocks are never headings)."""
    lines, inside, level, fenced = [], False, 0, False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"^(#+) (.*)$", line)
        if heading and inside and len(heading.group(1)) <= level:
            break
        if inside:
            lines.append(line)
        elif heading and heading.group(2) == title:
            inside, level = True, len(heading.group(1))
    assert inside, f"no section {title!r} in README.md"
    return "\n".join(lines)


def env_example_entries() -> dict[str, str]:
    """KEY: value of every setting line in .env.example, the commented-out defaults (#KEY=value) included."""
    entries = {}
    for line in ENV_EXAMPLE.splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


SCHEDULER_SETTINGS = dict(re.findall(r"\$\{((?:BACKUP_[A-Z_]+|TZ)):-([^}]*)\}", SCHEDULER))


def test_the_scheduler_settings_are_found_in_the_script():
    assert {"BACKUP_SCHEDULE", "BACKUP_ON_START", "BACKUP_STOP_TIMEOUT"} <= set(SCHEDULER_SETTINGS)


@pytest.mark.parametrize("name", sorted(SCHEDULER_SETTINGS))
def test_every_scheduler_setting_has_its_default_in_the_readme_table_and_env_example(name):
    default = SCHEDULER_SETTINGS[name]
    if default.startswith("$"):  # ${BACKUP_SCHEDULE:-$DEFAULT_SCHEDULE}
        default = re.search(rf"readonly {default[1:]}='([^']*)'", SCHEDULER).group(1)
    rows = [line for line in README.splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"{name} needs one row in a README settings table"
    assert rows[0].split("|")[2].strip() == f"`{default}`", rows[0]
    assert env_example_entries().get(name) == default, f".env.example: #{name}={default}"


def test_env_example_values_follow_the_one_quoting_rule():
    """Unquoted, and nothing that docker-compose v1/v2, `docker run --env-file` and python-dotenv read differently."""
    for name, value in env_example_entries().items():
        assert value == value.strip(), f"{name}: spaces at an end"
        assert not re.search(r"[$'\"\\]| #", value), f"{name}={value}: quotes, $, \\ or ' #' in a value"


def test_the_readme_gives_one_quoting_rule():
    assert "single-quote" not in README.lower() and "MYSQL_PASSWORD='" not in README
    assert 'MYSQL_PASSWORD="' not in README
    assert "MYSQL_PASSWORD_FILE" in readme_section("Configuration")


def test_the_quick_start_creates_the_backup_user_before_starting_the_backup():
    quick = readme_section("With Docker (the service)")
    user = env_example_entries()["MYSQL_USER"]
    grant = re.search(r"^GRANT .* TO '([^']+)'@'%';$", readme_section("A least-privilege MySQL user for backups"), re.M)
    assert grant and grant.group(1) == user
    assert f"CREATE USER '{user}'@'%'" in quick and grant.group(0) in quick
    assert quick.index("up -d mysql") < quick.index("CREATE USER") < quick.index("up -d backup")
    assert "BACKUP_SESSIONS_ENABLED=false" in quick and "--profile app up -d" in quick


def test_the_compose_version_note_matches_the_features_used():
    minimum = re.search(r"docker-compose (\d+)\.(\d+)\+", COMPOSE)
    assert minimum, "docker-compose.yaml should say which docker-compose it needs"
    if re.search(r"^\s+profiles:", COMPOSE, re.MULTILINE):
        assert (int(minimum.group(1)), int(minimum.group(2))) >= (1, 28), "profiles: needs docker-compose 1.28"
    assert f"docker-compose {minimum.group(1)}.{minimum.group(2)}+" in readme_section("Quick start")


def test_the_readme_tells_what_the_restart_policy_does_after_a_bad_setting():
    backup = COMPOSE[COMPOSE.index("\n  backup:") :]
    policy = re.search(r"^    restart: (\S+)", backup, re.MULTILINE).group(1)
    container = readme_section("The container")
    if policy in ("always", "unless-stopped") or policy.startswith("on-failure"):
        assert "Restarting" in container and "shows it stopped" not in container


def test_the_job_configuration_tmpfs_is_in_compose_and_the_docker_run_advice():
    backup = COMPOSE[COMPOSE.index("\n  backup:") : COMPOSE.index("\n  fir_pipeline:")]
    assert re.search(r"tmpfs:\n(?:\s*#.*\n)*\s*- /run/afirgen\n", backup)
    assert "--tmpfs /run/afirgen" in readme_section("The container")


def test_every_command_row_lists_the_command_options():
    """A row of the Commands table that spells out a command's options spells out all of them."""
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in readme_section("Commands").splitlines()]
    for command, parser in COMMANDS.items():
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
        rows = [row for row in cells if row and (f"`{command} " in row[0] or f"`{command}`" in row[0])]
        if not options or not rows or rows[0][0].strip().endswith("...`"):  # "`restore mysql [NAME] ...`"
            continue
        missing = [option for option in sorted(options) if option not in "|".join(rows[0])]
        assert not missing, f"the Commands row of {command} lacks {missing}"
