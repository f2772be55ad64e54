"""The image runs Debian 12's Python 3.11.2, whose regular expression engine mis-matches possessive repeats
(`*+`, `++`) of groups holding lookaheads: `(?:a|;(?!;))*+` matches `aa;;` whole there, `aa` on 3.11.7. The dump
reader decides what reaches the mysql client with such patterns, so the package uses none (unrolled loops instead,
which never backtrack badly), whatever Python the tests run on."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "afirgen_backup"
REGEX_LITERAL = re.compile(r"""\b(?:rb|br|r)(?P<q>"{3}|'{3}|"|')(?P<body>.*?)(?P=q)""", re.S)
POSSESSIVE = re.compile(r"(?<!\\)[*+?}]\+|\(\?>")


def test_no_regular_expression_in_the_package_uses_possessive_repeats_or_atomic_groups() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for literal in REGEX_LITERAL.finditer(text):
            if POSSESSIVE.search(literal.group("body")):
                line = text.count("\n", 0, literal.start()) + 1
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {literal.group(0)[:60]}")
    assert found == []


def test_the_check_sees_a_possessive_repeat() -> None:
    assert POSSESSIVE.search(r"(?:[^'\\]++|\\[\s\S])*+") and POSSESSIVE.search(r"(?>x)")
    assert not POSSESSIVE.search(r"[^'\\]*(?:\\[\s\S][^'\\]*)*") and not POSSESSIVE.search(r"\*+(?:[^/*][^*]*\*+)*/")
