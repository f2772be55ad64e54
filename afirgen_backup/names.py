"""The one rule for a MySQL database name this tool backs up (MYSQL_DB) or restores into (--target-db, and the
staging, scratch and safety databases derived from them): what the server itself accepts as a name, but never one
a client would read as an option, nor a schema of the server's own.

config.py checks MYSQL_DB with it when the settings are read; the restore command checks --target-db with it once,
before anything is touched.
"""

from __future__ import annotations

MAX_NAME_LENGTH = 64
# The server's own schemas: dropping one breaks the server (accounts, grants) or is refused half-way.
SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
NAME_RULES = (
    f"1 to {MAX_NAME_LENGTH} characters of UTF-8 text, not starting with '-', not ending with a space, no control "
    f"characters and nothing beyond U+FFFF, and not a system schema ({', '.join(sorted(SYSTEM_SCHEMAS))})"
)


def database_name_problem(name: str) -> str | None:
    """What makes `name` unusable as a database to back up, or to drop, create and load into (None: nothing)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8 text"
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is {len(name)} characters long"
    if name.startswith("-"):
        return "it starts with '-', so a client would read it as an option"
    if name.endswith(" "):  # the server's own rule: other white space at the end is allowed
        return "it ends with a space"
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in name):
        return "it holds a control character"
    if any(ord(character) > 0xFFFF for character in name):
        return "it holds a character beyond U+FFFF, which the server does not allow in names"
    if name.lower() in SYSTEM_SCHEMAS:
        return "it is a system schema of the server, which this tool never backs up or drops"
    return None


def derived_name(database: str, suffix: str) -> str:
    """A database named after another (a restore's staging `<target>_restore_<stamp>`, a restore test's scratch
    `<MYSQL_DB>_verify_<stamp>`): the suffix kept whole, the name before it cut to the server's limit."""
    return database[: MAX_NAME_LENGTH - len(suffix)] + suffix


def describe_refusal(given_as: str, name: str, problem: str) -> str:
    return f"{given_as}={name!r} is not a usable database name: {problem}; allowed: {NAME_RULES}"
