"""Which target database names a restore accepts: the server's own rules, plus no leading '-' and no system schema."""

from __future__ import annotations

import pytest

from afirgen_backup.sources.mysql_restore import database_name_problem


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
