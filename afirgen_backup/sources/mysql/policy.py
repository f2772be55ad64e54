"""What of a dump may run, and how it is adjusted on the way to the client (script.py splits it).

A dump runs only what the dump programs write: session settings, tables and their rows, views, triggers,
routines, events, sequences. Everything else is refused before the target is touched (ScriptRefused): `USE`,
`CREATE DATABASE`, grants, `SET GLOBAL`, `SELECT ... INTO OUTFILE`, a function call in a row, an INSERT into a
table the dump did not create (a view on another database, say), an INSERT into a table after a trigger on it was
created (the trigger would fire during the load), a name qualified with another database where the object is
created, an sql_mode under which the client would read strings differently, engines that reach outside the
server's own files.

On the way, a statement may be adjusted:
- loaded under another name (`target` is not `source`), every `source`.name reference in a definition (a view,
  trigger, routine, event, a sequence default) is pointed at the target, so nothing of the copy reaches back into
  the source database;
- with `disable_events`, events are created DISABLED (a copy or a scratch database must not run them);
- with `objects_only`, only views, triggers, routines and events (and the settings around them) are kept: the
  second half of a restore that moved the tables in already (see restore.py: move_into_place);
- at backup time, `generated` names the tables whose generated columns the dump program wrote values for that
  MySQL refuses at load (MariaDB's mariadb-dump against a MySQL server): their rows go into a temporary table with
  plain columns, and from there into the table without the generated columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from afirgen_backup.sources.mysql.script import ScriptRefused

TOKEN = re.compile(
    rb"""(?P<space>[ \t\r\n\f\v]+)
    | (?P<comment>/\*(?!!|M!)[\s\S]*?\*/|\#[^\n]*|--(?=[ \t\r\n\f\v]|\Z)[^\n]*)
    | (?P<open>/\*M?![0-9]*)
    | (?P<close>\*/)
    | (?P<string>'(?:[^'\\]|\\[\s\S])*'|"(?:[^"\\]|\\[\s\S])*")
    | (?P<name>`(?:[^`]|``)*`)
    | (?P<var>@@?[A-Za-z0-9_$.]*)
    | (?P<number>0[xX][0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+\-]?[0-9]+)?)
    | (?P<word>[A-Za-z_$\x80-\xff][A-Za-z0-9_$\x80-\xff]*)
    | (?P<punct>[\s\S])""",
    re.X,
)
IGNORED = frozenset({"space", "comment", "open", "close"})
SESSION_VARIABLES = frozenset(
    {
        "character_set_client",
        "character_set_connection",
        "character_set_results",
        "check_constraint_checks",
        "collation_connection",
        "foreign_key_checks",
        "note_verbosity",
        "sql_mode",
        "sql_notes",
        "sql_quote_show_create",
        "system_versioning_insert_history",
        "time_zone",
        "unique_checks",
    }
)
# Under these the client reads '\' and '"' differently from this reader (server status flags it follows).
UNSAFE_SQL_MODES = frozenset({"NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI"})
ENGINES = frozenset({"INNODB", "MYISAM", "ARIA", "MEMORY", "HEAP", "ARCHIVE", "CSV", "BLACKHOLE", "SEQUENCE"})
TEMP_PREFIX = "afirgen_load_"
CAPTURE_LIMIT = 64 << 20
NAME_RE = r"(?:`(?:[^`]|``)+`)"
NAMES_RE = rf"{NAME_RE}(?:, {NAME_RE})*"
TEMP_CREATE = re.compile(
    rf"CREATE TEMPORARY TABLE `{TEMP_PREFIX}(\d+)` SELECT ({NAMES_RE}) FROM ({NAME_RE}) LIMIT 0\s*".encode()
)
TEMP_MOVE = re.compile(
    rf"INSERT INTO ({NAME_RE}) \(({NAME_RE}(?:, {NAME_RE})*)\) SELECT (\2) FROM `{TEMP_PREFIX}(\d+)`\s*".encode()
)
TEMP_DROP = re.compile(rf"DROP TEMPORARY TABLE `{TEMP_PREFIX}(\d+)`\s*".encode())


@dataclass(frozen=True)
class Token:
    kind: str
    text: bytes
    start: int
    end: int

    @property
    def word(self) -> str:
        """The upper-cased word, or '' for anything else."""
        return self.text.decode("ascii", "replace").upper() if self.kind == "word" else ""

    @property
    def identifier(self) -> str | None:
        """The name this token spells (a bare word or a `quoted` name), else None."""
        if self.kind == "name":
            return self.text[1:-1].replace(b"``", b"`").decode("utf-8", "surrogateescape")
        if self.kind == "word":
            return self.text.decode("utf-8", "surrogateescape")
        return None


def tokenize(raw: bytes) -> list[Token]:
    """The significant tokens of one statement; the `/*!NNNNN` and `*/` of executable comments are skipped."""
    tokens = []
    position = 0
    inside = 0  # executable comments open
    while position < len(raw):
        match = TOKEN.match(raw, position)
        assert match is not None and match.lastgroup is not None
        kind, end = match.lastgroup, match.end()
        if kind == "open":
            inside += 1
        elif kind == "close":
            if inside:
                inside -= 1
            else:
                kind, end = "punct", position + 1
        if kind not in IGNORED:
            tokens.append(Token(kind, raw[position:end], position, end))
        position = end
    return tokens


def quote_name(name: str) -> bytes:
    return ("`" + name.replace("`", "``") + "`").encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class GeneratedTable:
    """A table with generated columns: every column in order, and which of them are generated."""

    columns: tuple[str, ...]
    generated: frozenset[str]

    @property
    def plain(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.generated)


@dataclass
class DumpContents:
    """What the dump creates, as the manifest lists it (names per kind) and what it was adjusted in."""

    names: dict[str, set[str]] = field(
        default_factory=lambda: {
            kind: set() for kind in ("tables", "views", "procedures", "functions", "triggers", "events", "sequences")
        }
    )
    retargeted: int = 0
    events_disabled: int = 0
    generated_rewritten: list[str] = field(default_factory=list)


class DumpPolicy:
    """The StatementPolicy of a load (or, at backup time, of the dump being written)."""

    def __init__(
        self,
        *,
        source: str | None = None,
        target: str | None = None,
        disable_events: bool = False,
        objects_only: bool = False,
        keep_sandbox_marker: bool = True,
        generated: Mapping[str, GeneratedTable] | None = None,
        capture: bool = False,
    ) -> None:
        """capture: keep every statement that is not an INSERT (and the DELIMITER lines), as read, in `captured`
        (None once they pass CAPTURE_LIMIT bytes), so that the objects can be created again without reading the
        whole dump a second time."""
        self.source = source
        self.target = target
        self.retarget = source is not None and target is not None and source != target
        self.disable_events = disable_events
        self.objects_only = objects_only
        self.keep_sandbox_marker = keep_sandbox_marker
        self.generated = dict(generated or {})
        self.contents = DumpContents()
        self.created: set[str] = set()  # tables and sequences this dump created
        self.temporary: set[str] = set()
        self.with_triggers: set[str] = set()
        self.user_variables: dict[str, bytes | None] = {}
        self.open_load: tuple[str, str] | None = None  # (table, temporary table) of a generated-columns load
        self.loads = 0
        self.captured: list[bytes] | None = [] if capture else None
        self.captured_size = 0

    # --- StatementPolicy ---------------------------------------------------------------------------------

    def line(self, raw: bytes) -> bytes:
        if raw.startswith(b"/*M!999999") and not self.keep_sandbox_marker:
            return b""
        if raw[:9].upper() == b"DELIMITER":
            self.capture(raw)
        return raw

    def capture(self, raw: bytes) -> None:
        if self.captured is None:
            return
        self.captured_size += len(raw)
        if self.captured_size > CAPTURE_LIMIT:
            self.captured = None
        else:
            self.captured.append(raw)

    def insert(self, table: str, columns: list[str] | None, head: bytes) -> bytes | None:
        out = b""
        if self.open_load is not None and self.open_load[0] != table:
            out += self.close_load()
        if table in self.with_triggers:
            raise ScriptRefused(f"an INSERT into `{table}` after a trigger on it was created: the trigger would fire")
        if table not in self.created and table not in self.temporary:
            raise ScriptRefused(f"an INSERT into `{table}`, which the dump did not create as a table")
        if self.objects_only:
            return None
        if table in self.generated:
            if self.open_load is None:
                out += self.open_generated_load(table)
            assert self.open_load is not None
            head = head.replace(b"INSERT INTO " + quote_name(table), b"INSERT INTO " + quote_name(self.open_load[1]), 1)
        return out + head

    def insert_end(self, delimiter: bytes) -> bytes:
        return delimiter

    def statement(self, raw: bytes, delimiter: bytes) -> bytes:
        out = self.close_load() if self.open_load is not None else b""
        self.capture(raw + delimiter + b"\n")
        tokens = tokenize(raw)
        kind, adjusted = self.judge(raw, tokens)
        if self.objects_only and kind == "table":
            return out
        return out + adjusted + delimiter

    def finish(self) -> bytes:
        return self.close_load() if self.open_load is not None else b""

    # --- generated columns (backup time) ------------------------------------------------------------------

    def open_generated_load(self, table: str) -> bytes:
        self.loads += 1
        temp = f"{TEMP_PREFIX}{self.loads}"
        self.open_load = (table, temp)
        self.contents.generated_rewritten.append(table)
        columns = b", ".join(quote_name(c) for c in self.generated[table].columns)
        return b"CREATE TEMPORARY TABLE %s SELECT %s FROM %s LIMIT 0;\n" % (
            quote_name(temp),
            columns,
            quote_name(table),
        )

    def close_load(self) -> bytes:
        assert self.open_load is not None
        table, temp = self.open_load
        self.open_load = None
        plain = b", ".join(quote_name(c) for c in self.generated[table].plain)
        return b"INSERT INTO %s (%s) SELECT %s FROM %s;\nDROP TEMPORARY TABLE %s;\n" % (
            quote_name(table),
            plain,
            plain,
            quote_name(temp),
            quote_name(temp),
        )

    # --- judging one statement ------------------------------------------------------------------------------

    def judge(self, raw: bytes, tokens: list[Token]) -> tuple[str, bytes]:
        """(kind, the statement to send): kind is `session`, `table` or `object`; raise ScriptRefused."""
        if not tokens:
            return "session", raw
        first = tokens[0].word
        if first == "SET":
            self.check_set(tokens[1:])
            return "session", raw
        own = self.own_statement(raw)
        if own is not None:
            return "table", raw
        handlers = {"DROP": self.judge_drop, "CREATE": self.judge_create, "ALTER": self.judge_alter}
        if first in handlers:
            return handlers[first](raw, tokens)
        words = [t.word for t in tokens[:3]]
        if words[:2] == ["LOCK", "TABLES"] or words[:2] == ["UNLOCK", "TABLES"]:
            for token in tokens[2:]:
                if token.kind in ("name", "word") and token.word not in ("WRITE", "READ", "LOCAL", "AS"):
                    self.require_created(token)
            return "table", raw
        if first in ("DO", "SELECT") and len(tokens) > 2 and tokens[1].word == "SETVAL" and tokens[2].text == b"(":
            self.check_setval(tokens)
            return "table", raw
        if first == "USE":
            raise ScriptRefused("a USE statement in the dump: a dump loads into the database it is given, no other")
        shown = " ".join(t.text.decode("utf-8", "replace") for t in tokens[:4])
        raise ScriptRefused(f"a statement that a dump does not hold: {shown!r}")

    def own_statement(self, raw: bytes) -> str | None:
        """The statements the generated-columns load adds to a dump (see open_generated_load), exactly as written."""
        body = raw.strip()
        created = TEMP_CREATE.fullmatch(body)
        if created:
            self.require_name_created(unquote_name(created.group(3)))
            self.temporary.add(f"{TEMP_PREFIX}{created.group(1).decode()}")
            return "create"
        moved = TEMP_MOVE.fullmatch(body)
        if moved and f"{TEMP_PREFIX}{moved.group(4).decode()}" in self.temporary:
            self.require_name_created(unquote_name(moved.group(1)))
            return "move"
        dropped = TEMP_DROP.fullmatch(body)
        if dropped:
            self.temporary.discard(f"{TEMP_PREFIX}{dropped.group(1).decode()}")
            return "drop"
        return None

    def require_created(self, token: Token) -> str:
        name = token.identifier
        if name is None:
            raise ScriptRefused(f"an unexpected {token.text.decode('utf-8', 'replace')!r} where a table name belongs")
        return self.require_name_created(name)

    def require_name_created(self, name: str) -> str:
        if name not in self.created:
            raise ScriptRefused(f"a statement on `{name}`, which the dump did not create as a table")
        return name

    def check_setval(self, tokens: list[Token]) -> None:
        inner = tokens[3:]
        shape = [t.kind for t in inner]
        if not (shape[:1] in (["name"], ["word"]) and all(k in ("number", "punct") for k in shape[1:])):
            raise ScriptRefused("a SETVAL that is not the one a dump writes for a sequence")
        if any(t.kind == "punct" and t.text not in (b",", b")", b"-") for t in inner[1:]):
            raise ScriptRefused("a SETVAL that is not the one a dump writes for a sequence")
        self.require_created(inner[0])

    # --- SET ----------------------------------------------------------------------------------------------

    def check_set(self, tokens: Sequence[Token]) -> None:
        for assignment in split_commas(tokens):
            self.check_assignment(assignment)

    def check_assignment(self, tokens: list[Token]) -> None:
        words = [t.word for t in tokens]
        if words[:1] == ["NAMES"] or words[:2] == ["CHARACTER", "SET"]:
            if not all(t.kind in ("word", "string", "name") for t in tokens):
                raise ScriptRefused("a SET NAMES that is not a character set name")
            return
        while words and words[0] in ("SESSION", "LOCAL"):
            tokens, words = tokens[1:], words[1:]
        if words and words[0] in ("GLOBAL", "PERSIST", "PERSIST_ONLY"):
            raise ScriptRefused(f"a SET {words[0]} in the dump: a dump changes nothing but its own session")
        if len(tokens) == 4 and tokens[1].text == b":" and tokens[2].text == b"=":
            tokens = [tokens[0], tokens[2], tokens[3]]
        if len(tokens) != 3 or tokens[1].text != b"=":
            shown = b" ".join(t.text for t in tokens).decode("utf-8", "replace")[:80]
            raise ScriptRefused(f"a SET that is not a plain setting: {shown!r}")
        target, value = tokens[0], tokens[2]
        if value.kind not in ("string", "number", "word", "var", "name"):
            raise ScriptRefused(f"a SET whose value is not a plain value: {value.text.decode('utf-8', 'replace')!r}")
        name = target.text.decode("utf-8", "replace")
        if target.kind == "var" and not name.startswith("@@"):
            self.user_variables[name.lower()] = value.text if value.kind == "string" else None
            return
        variable = name.lstrip("@").lower()
        if variable.startswith("global."):
            raise ScriptRefused(f"a SET {name} in the dump: a dump changes nothing but its own session")
        variable = variable.removeprefix("session.").removeprefix("local.")
        if variable not in SESSION_VARIABLES:
            raise ScriptRefused(f"a SET of {variable!r}, which a dump does not change")
        if variable == "sql_mode":
            self.check_sql_mode(value)

    def check_sql_mode(self, value: Token) -> None:
        """Refuse a mode under which the client would read strings otherwise than this reader does."""
        text: bytes | None = value.text
        if value.kind == "var":
            if value.text.startswith(b"@@"):
                return  # the mode saved from a system variable: one this session already had
            text = self.user_variables.get(value.text.decode("utf-8", "replace").lower())
            if text is None:
                return  # a user variable that holds a saved system variable (or nothing)
        elif value.kind == "number" or (value.kind == "word" and value.word != "DEFAULT"):
            raise ScriptRefused("an sql_mode given as a number or a bare word, which a dump does not write")
        elif value.kind == "word":
            return
        assert text is not None
        modes = {m.strip().upper() for m in text.strip(b"'\"").decode("utf-8", "replace").split(",")}
        unsafe = sorted(modes & UNSAFE_SQL_MODES)
        if unsafe:
            raise ScriptRefused(
                f"sql_mode {', '.join(unsafe)} in the dump: under it the client reads quotes and backslashes "
                "differently; a dump must not set it"
            )

    # --- DROP, CREATE, ALTER ----------------------------------------------------------------------------------

    def judge_drop(self, raw: bytes, tokens: list[Token]) -> tuple[str, bytes]:
        words = [t.word for t in tokens]
        what = words[1] if len(words) > 1 else ""
        if what not in ("TABLE", "VIEW", "SEQUENCE", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"):
            shown = " ".join(t.text.decode("utf-8", "replace") for t in tokens[:3])
            raise ScriptRefused(f"a statement that a dump does not hold: {shown!r}")
        if words[2:4] != ["IF", "EXISTS"]:
            raise ScriptRefused(f"a DROP {what} without IF EXISTS, which a dump does not write")
        names = tokens[4:]
        if what in ("TABLE", "VIEW", "SEQUENCE"):
            for group in split_commas(names):
                if len(group) != 1 or group[0].identifier is None:
                    raise ScriptRefused(f"a DROP {what} of a name in another database")
            return ("object" if what == "VIEW" else "table"), raw
        qualified = names[:3] if len(names) > 2 and names[1].text == b"." else names[:1]
        return "object", self.retarget_statement(raw, tokens, object_names=[qualified])

    def judge_alter(self, raw: bytes, tokens: list[Token]) -> tuple[str, bytes]:
        words = [t.word for t in tokens]
        if words[1:2] == ["TABLE"] and len(tokens) == 5 and words[3:] in (["DISABLE", "KEYS"], ["ENABLE", "KEYS"]):
            self.require_created(tokens[2])
            return "table", raw
        if words[1:2] == ["DATABASE"] and len(tokens) > 2:
            return "object", self.judge_alter_database(raw, tokens)
        shown = " ".join(t.text.decode("utf-8", "replace") for t in tokens[:3])
        raise ScriptRefused(f"a statement that a dump does not hold: {shown!r}")

    def judge_alter_database(self, raw: bytes, tokens: list[Token]) -> bytes:
        """mysqldump switches the database's collation around a routine created under another: that and no more."""
        name = tokens[2].identifier
        if name is None or name not in (self.source, self.target):
            raise ScriptRefused(f"an ALTER DATABASE of {tokens[2].text.decode('utf-8', 'replace')}, not of this dump's")
        options = [t for t in tokens[3:] if t.text != b"="]
        position = 0
        while position < len(options):
            words = [t.word for t in options[position : position + 2]]
            step = 3 if words == ["CHARACTER", "SET"] else 1 if words[0] == "DEFAULT" else 2
            if words[0] not in ("CHARACTER", "CHARSET", "COLLATE", "DEFAULT") or position + step > len(options):
                raise ScriptRefused("an ALTER DATABASE that changes more than its character set and collation")
            position += step
        if self.retarget and name == self.source:
            assert self.target is not None
            raw = raw[: tokens[2].start] + quote_name(self.target) + raw[tokens[2].end :]
            self.contents.retargeted += 1
        return raw

    def judge_create(self, raw: bytes, tokens: list[Token]) -> tuple[str, bytes]:
        position = skip_create_modifiers(tokens, 1)
        what = tokens[position].word if position < len(tokens) else ""
        if what == "AGGREGATE" and position + 1 < len(tokens):
            position += 1
            what = tokens[position].word
        rest = tokens[position + 1 :]
        if what in ("TABLE", "SEQUENCE"):
            return "table", self.judge_create_table(raw, tokens, rest, what)
        if what in ("VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"):
            return "object", self.judge_create_object(raw, tokens, rest, what)
        shown = " ".join(t.text.decode("utf-8", "replace") for t in tokens[: position + 1])
        raise ScriptRefused(f"a statement that a dump does not hold: {shown!r}")

    def judge_create_table(self, raw: bytes, tokens: list[Token], rest: list[Token], what: str) -> bytes:
        if [t.word for t in rest[:3]] == ["IF", "NOT", "EXISTS"]:
            rest = rest[3:]
        if not rest or rest[0].identifier is None or (len(rest) > 1 and rest[1].text == b"."):
            raise ScriptRefused(f"a CREATE {what} of a name in another database")
        name = rest[0].identifier
        words = [t.word for t in rest]
        if len(rest) > 1 and (words[1] == "LIKE" or (rest[1].text == b"(" and words[2:3] == ["LIKE"])):
            raise ScriptRefused(f"CREATE {what} `{name}` LIKE another table: a dump does not write that")
        for forbidden in ("SELECT", "UNION", "CONNECTION"):
            if forbidden in words:
                raise ScriptRefused(f"CREATE {what} `{name}` holds {forbidden}, which a dump does not write")
        for index, word in enumerate(words):
            if word in ("DATA", "INDEX") and index + 1 < len(words) and words[index + 1] == "DIRECTORY":
                raise ScriptRefused(f"CREATE {what} `{name}` places files outside the server's data directory")
            if word == "ENGINE":
                engine = next((t for t in rest[index + 1 :] if t.text != b"="), None)
                if engine is None or engine.word not in ENGINES:
                    shown = engine.text.decode("utf-8", "replace") if engine else "?"
                    raise ScriptRefused(
                        f"CREATE {what} `{name}` with ENGINE={shown}, which may reach beyond the server"
                    )
        self.created.add(name)
        self.contents.names["sequences" if what == "SEQUENCE" else "tables"].add(name)
        return self.retarget_statement(raw, tokens)

    def judge_create_object(self, raw: bytes, tokens: list[Token], rest: list[Token], what: str) -> bytes:
        if not rest or rest[0].identifier is None:
            raise ScriptRefused(f"a CREATE {what} without a name")
        names = [rest[:3] if len(rest) > 2 and rest[1].text == b"." else rest[:1]]
        name = names[0][-1].identifier
        if what == "FUNCTION" and "SONAME" in (t.word for t in rest):
            raise ScriptRefused(f"CREATE FUNCTION {name} SONAME: a dump never loads a library into the server")
        if what == "TRIGGER":
            table = self.trigger_table(rest)
            names.append(table)
            self.with_triggers.add(self.require_created(table[-1]))
        kinds = {"VIEW": "views", "TRIGGER": "triggers", "PROCEDURE": "procedures", "FUNCTION": "functions"}
        self.contents.names[kinds.get(what, "events")].add(str(name))
        if what == "EVENT" and self.disable_events:
            raw, tokens = self.disabled_event(raw, tokens)
        return self.retarget_statement(raw, tokens, object_names=names)

    @staticmethod
    def trigger_table(rest: list[Token]) -> list[Token]:
        """The table a trigger is created on: the name after ON (qualified or not)."""
        on = next((i for i, t in enumerate(rest) if t.word == "ON"), None)
        if on is None or on + 1 >= len(rest):
            raise ScriptRefused("a CREATE TRIGGER without the table it is on")
        after = rest[on + 1 :]
        return after[:3] if len(after) > 2 and after[1].text == b"." else after[:1]

    def disabled_event(self, raw: bytes, tokens: list[Token]) -> tuple[bytes, list[Token]]:
        """The event created DISABLED: ENABLE or DISABLE ON SLAVE/REPLICA replaced, or DISABLE added before DO."""
        body = next((i for i, t in enumerate(tokens) if t.word == "DO"), None)
        if body is None:
            raise ScriptRefused("a CREATE EVENT without DO")
        status = next((i for i, t in enumerate(tokens[:body]) if t.word in ("ENABLE", "DISABLE")), None)
        if status is None:
            start = end = tokens[body].start
            replacement = b"DISABLE "
        else:
            start, end = tokens[status].start, tokens[status].end
            if tokens[status].word == "DISABLE" and [t.word for t in tokens[status + 1 : status + 2]] == ["ON"]:
                end = tokens[status + 2].end
            replacement = b"DISABLE"
        self.contents.events_disabled += 1
        raw = raw[:start] + replacement + raw[end:]
        return raw, tokenize(raw)

    def retarget_statement(
        self, raw: bytes, tokens: list[Token], *, object_names: Sequence[Sequence[Token]] = ()
    ) -> bytes:
        """Point `source`.x references at the target; a created object's name qualified otherwise is refused."""
        for qualified in object_names:
            if len(qualified) == 3 and qualified[0].identifier not in (self.source, self.target):
                shown = b"".join(t.text for t in qualified).decode("utf-8", "replace")
                raise ScriptRefused(f"{shown} names another database than the one the dump was taken from")
        if not self.retarget:
            return raw
        assert self.target is not None
        edits = []
        for index, token in enumerate(tokens):
            if token.identifier != self.source or index + 1 >= len(tokens) or tokens[index + 1].text != b".":
                continue
            if index > 0 and tokens[index - 1].text == b".":
                continue  # a column or table named like the database, after its qualifier
            edits.append(token)
        for token in reversed(edits):
            raw = raw[: token.start] + quote_name(self.target) + raw[token.end :]
        self.contents.retargeted += len(edits)
        return raw


def unquote_name(name: bytes) -> str:
    return name[1:-1].replace(b"``", b"`").decode("utf-8", "surrogateescape")


def split_commas(tokens: Sequence[Token]) -> list[list[Token]]:
    """Top-level comma-separated groups (parentheses nest)."""
    groups: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text == b"(":
            depth += 1
        elif token.text == b")":
            depth -= 1
        if token.text == b"," and depth == 0:
            groups.append([])
            continue
        groups[-1].append(token)
    return [g for g in groups if g]


def skip_create_modifiers(tokens: list[Token], position: int) -> int:
    """After CREATE: OR REPLACE, TEMPORARY, ALGORITHM=..., DEFINER=user@host, SQL SECURITY ..., IF NOT EXISTS."""
    while position < len(tokens):
        word = tokens[position].word
        if word == "OR" and position + 1 < len(tokens) and tokens[position + 1].word == "REPLACE":
            position += 2
        elif word == "ALGORITHM" or (
            word == "SQL" and [t.word for t in tokens[position + 1 : position + 2]] == ["SECURITY"]
        ):
            position += 3
        elif word == "DEFINER":
            position = skip_definer(tokens, position + 2)
        else:
            return position
    return position


def skip_definer(tokens: list[Token], position: int) -> int:
    """Past `user`@`host` (or CURRENT_USER, CURRENT_USER(), a role name)."""
    if position < len(tokens) and tokens[position].word == "CURRENT_USER":
        position += 1
        if position + 1 < len(tokens) and tokens[position].text == b"(" and tokens[position + 1].text == b")":
            position += 2
        return position
    position += 1  # the user
    if position < len(tokens) and tokens[position].kind == "var" and tokens[position].text.startswith(b"@"):
        host_inline = len(tokens[position].text) > 1
        position += 1 if host_inline else 2
    return position
