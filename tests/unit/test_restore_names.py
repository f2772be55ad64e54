"""Which database names the tool accepts, for MYSQL_DB and a restore's --target-db alike (names.py): the server's
own rules, plus no leading '-' and no system schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from afirgen_backup.config import load_settings
from afirgen_backup.errors import ConfigError
from afirgen_backup.names import database_name_problem


@pytest.mark.parametrize("name", ["fir_db", "fir-db", "a.b", "fir db", "ఎఫ్ఐఆర్", "nb\u00a0", "x\u3000", "`q`"])
def test_names_the_server_accepts_are_accepted(name: str) -> None:
    assert database_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("trailing ", "it ends with a space"),
        ("-x", "it starts with '-'"),
        ("a\nb", "it holds a control character"),
        ("x" * 65, "it is 65 characters long"),
        ("MySQL", "it is a system schema"),
    ],
)
def test_unusable_names_are_named_with_the_reason(name: str, problem: str) -> None:
    assert (database_name_problem(name) or "").startswith(problem)


def settings_with(database: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty.env").write_text("")
    return {
        "MYSQL_DB": database,
        "BACKUP_DIR": str(tmp_path),
        "BACKUP_ENV_FILE": str(tmp_path / "empty.env"),
        "BACKUP_SESSIONS_ENABLED": "false",
    }


@pytest.mark.parametrize("name", ["fir-db", "a.b", "`q`", "ఎఫ్ఐఆర్"])
def test_mysql_db_follows_the_same_rule(name: str, tmp_path: Path) -> None:
    env = settings_with(name, tmp_path)
    assert load_settings(env, check_dirs=False).mysql_db == name


@pytest.mark.parametrize(("name", "problem"), [("-x", "it starts with '-'"), ("MySQL", "it is a system schema")])
def test_mysql_db_is_refused_for_what_a_target_is_refused_for(name: str, problem: str, tmp_path: Path) -> None:
    env = settings_with(name, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(env, check_dirs=False)
    assert f"MYSQL_DB={name!r} is not a usable database name: {problem}" in str(caught.value)
