"""Reading a dump the way the mysql client reads it: where each statement ends, and what the client itself runs.

A dump is a script for the `mysql`/`mariadb` client, and the client does more than send statements to the server:
`\\! cmd`, `system cmd`, `source FILE`, `connect`, `use db` and the other client commands run on the machine that
loads the dump. A dump that someone changed (and whose manifest they recomputed) could carry them. So a restore
never hands the client a byte that this reader has not split and shown to the policy (policy.py), and the
reader refuses what the client would take as a command:

- a backslash outside a quoted string or a comment (`\\!`, `\\.`, `\\u`, ... are commands; `\\N` is not, but no
  dump writes it), except in the one line MariaDB's dump program writes first, `/*M!999999\\- enable the sandbox
  mode */`;
- a statement whose first word is the name of a client command (`system`, `source`, `use`, `connect`, ...), except
  `DELIMITER` at the start of a line, which the reader follows as the client does (only `;` and `;;`).

It follows the client's own rules for strings and comments, which are not the server's: a backslash escapes the
next character in '...' and "..." strings but not in `...` names; `-- ` (two dashes and white space) and `#`
start a comment to the end of the line; `/*` starts one to `*/`, except `/*!` and `/*M!`, whose text is code; a
line that starts with `--` or `#` while no statement is open is a comment whatever follows. The sql_mode flags that
change how the client reads strings (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) are refused by the policy.

The bulk of a dump is `INSERT INTO ... VALUES (...)`: those statements are streamed through, never held whole,
and checked on the way to hold nothing but literal values (numbers, strings, NULL, hex and bit literals), so that
no function is called and nothing is read from elsewhere. Every other statement is held whole (up to
MAX_STATEMENT bytes) and handed to the policy, which may pass it, rewrite it, drop it or refuse the dump.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Protocol

from afirgen_backup.errors import BackupError

SANDBOX_MARKER = re.compile(rb"/\*M!999999\\- enable the sandbox mode \*/[ \t]*\r?\n")
MAX_STATEMENT = 16 << 20  # a definition or setting; INSERTs are streamed and have no limit
MAX_COMMENT_LINE = 1 << 20
ALLOWED_DELIMITERS = (b";", b";;")
CLIENT_COMMANDS = frozenset(
    {
        "?",
        "charset",
        "clear",
        "connect",
        "edit",
        "ego",
        "exit",
        "go",
        "help",
        "nopager",
        "notee",
        "nowarning",
        "pager",
        "print",
        "prompt",
        "query_attributes",
        "quit",
        "rehash",
        "resetconnection",
        "sandbox",
        "source",
        "ssl_session_data_print",
        "status",
        "system",
        "tee",
        "use",
        "warnings",
    }
)
WHITE = b" \t\r\n\f\v"
COMMAND_ENDS = (b"", b";", *(bytes([c]) for c in WHITE))  # what may follow a client command's name

# An INSERT as a dump program writes it: the table (never qualified), an optional column list, VALUES.
NAME = rb"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
COLUMNS = NAME + rb"(?:,[ \t]*" + NAME + rb")*"
INSERT_HEAD = re.compile(rb"INSERT INTO (" + NAME + rb")[ \t]*(?:\((" + COLUMNS + rb")\)[ \t]*)?VALUES(?=[ \t\r\n(])")
INSERT_PREFIX = b"INSERT INTO "
# Literal values, as many as follow each other: what the rows of an INSERT may hold (numbers, strings, NULL, hex and
# bit literals). Anything else (a word, an operator, a comment, a backslash, a double quote) stops the run and is
# refused. Loose where looseness is harmless (`0x` is taken after any 0, `e` after any digit: the server rejects a
# malformed literal), strict where it matters: no letter outside a string can start a name, so no function is called.
VALUE_RUN = re.compile(
    rb"""(?:
        [ \t\r\n,()0-9.+]+
      | '[^'\\]*(?:\\[\s\S][^'\\]*)*'
      | -(?=[0-9.])
      | (?<=0)[xX][0-9A-Fa-f]*
      | (?<=[0-9.])[eE][+\-]?
      | NULL
      | [xX]'[0-9A-Fa-f]*'
      | [bB]'[01]*'
      | _binary(?=[ \t]*[0'])
    )*""",
    re.X,
)
STRING_REST = re.compile(rb"[^'\\]*(?:\\[\s\S][^'\\]*)*")  # the rest of a '...' string, up to its closing quote


def run_end(pattern: re.Pattern[bytes], data: bytes, at: int) -> int:
    """Where a run of `pattern` (one that matches the empty string too) starting at `at` ends."""
    match = pattern.match(data, at)
    assert match is not None
    return match.end()


class ScriptRefused(BackupError):
    """The dump holds something a restore must not run (or that the client would run on this machine)."""


class StatementPolicy(Protocol):
    """What the reader asks about each statement; each answer is the bytes to send on (b"" sends nothing)."""

    def line(self, raw: bytes) -> bytes: ...

    def statement(self, raw: bytes, delimiter: bytes) -> bytes: ...

    def insert(self, table: str, columns: list[str] | None, head: bytes) -> bytes | None: ...

    def insert_end(self, delimiter: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


def unquote(name: bytes) -> str:
    text = name.decode("utf-8", "surrogateescape")
    return text[1:-1].replace("``", "`") if text.startswith("`") else text


def split_names(names: bytes) -> list[str]:
    return [unquote(m.group(0)) for m in re.finditer(NAME, names)]


@cache
def statement_run(delimiter: bytes) -> re.Pattern[bytes]:
    """The longest stretch of a statement that needs no decision: code, complete strings and comments.

    It stops at the delimiter, at a backslash outside a string (a client command), and where the bytes so far
    cannot tell what comes next (an unclosed string or comment, a lone `-` or `/` at the end).
    """
    first = re.escape(delimiter[:1])
    rest = delimiter[1:]
    lone_first = [first + rb"(?=[\s\S]{%d})(?!%s)" % (len(rest), re.escape(rest))] if rest else []
    parts = [
        rb"[^'\"`\\#/\-" + first + rb"]+",
        rb"'[^'\\]*(?:\\[\s\S][^'\\]*)*'",
        rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"',
        rb"`[^`]*`",
        rb"/\*(?!!|M!)[^*]*\*+(?:[^/*][^*]*\*+)*/",
        rb"/\*(?=!|M!)",
        rb"/(?=[^*])",
        rb"\#[^\n]*\n",
        rb"--(?=[ \t\r\n\f\v])[^\n]*\n",
        rb"--(?=[^ \t\r\n\f\v])",
        rb"-(?=[^\-])",
        *lone_first,
    ]
    return re.compile(rb"(?:" + rb"|".join(parts) + rb")*")


BLANK = re.compile(rb"[ \t\r\n\f\v]*")
WORD = re.compile(rb"[A-Za-z_?]+")
HEX_REST = re.compile(rb"[0-9A-Fa-f]*")
OPEN_HEX = re.compile(rb"0[xX][0-9A-Fa-f]*\Z")
SEPARATORS = b" \t\r\n,()'"
CUT_LITERAL = re.compile(rb"(?:N(?:U(?:L)?)?|_(?:b(?:i(?:n(?:a(?:ry?)?)?)?)?)?|_binary[ \t]*|[xXbB]|-)\Z")
MAX_CUT_LITERAL = 128  # a number, NULL or _binary cut by the end of a chunk is held back until it is whole
CONTEXT = 16  # bytes of the dump shown where a row holds what is not a value


class ScriptReader:
    """Feed the dump in chunks; each call returns what may be sent to the client for it.

    The reader keeps the bytes it has not decided on yet and an offset into them, so that a chunk with many
    statements is not copied once per statement.
    """

    def __init__(self, policy: StatementPolicy, *, trusted_rows: bool = False) -> None:
        """trusted_rows: the dump comes straight from the dump program (a backup being written), whose rows hold
        no raw newline (it escapes them): an INSERT then ends at the first `;` + newline, and its rows are passed
        without being read. A dump read back from a file is never trusted."""
        self.policy = policy
        self.trusted_rows = trusted_rows
        self.data = b""
        self.at = 0  # offset of the first undecided byte in self.data
        self.mode = "start"  # start | statement | values | string | hex
        self.delimiter = b";"
        self.line_start = True
        self.first_line = True
        self.statement: list[bytes] = []
        self.statement_size = 0
        self.suppress = False  # the policy dropped the INSERT being streamed
        self.insert_table = ""
        self.line = 1  # the line of the dump at self.at
        self.statement_line = 1  # the line where the current statement began
        self.out: list[bytes | memoryview] = []

    # --- entry points ---------------------------------------------------------------------------------------

    def feed(self, data: bytes | memoryview) -> bytes:
        rest = self.data[self.at :]
        self.data, self.at = (rest + data if rest else bytes(data)), 0
        self.run(final=False)
        return self.take()

    def finish(self) -> bytes:
        self.run(final=True)
        if self.data[self.at :].strip(WHITE) or self.mode != "start":
            self.refuse("the dump ends inside a statement: it was cut short, or it is not a dump")
        self.out.append(self.policy.finish())
        return self.take()

    def take(self) -> bytes:
        out, self.out = b"".join(self.out), []
        return out

    def refuse(self, what: str) -> None:
        raise ScriptRefused(f"{what} (line {self.statement_line} of the dump)")

    # --- the loop -----------------------------------------------------------------------------------------

    def run(self, *, final: bool) -> None:
        steps: dict[str, Callable[[bool], bool]] = {
            "start": self.step_start,
            "statement": self.step_statement,
            "values": self.step_values,
            "string": self.step_string,
            "hex": self.step_hex,
        }
        while self.at < len(self.data) and steps[self.mode](final):
            pass

    @property
    def left(self) -> int:
        return len(self.data) - self.at

    def consume(self, count: int) -> memoryview:
        start, self.at = self.at, self.at + count
        self.line += self.data.count(b"\n", start, self.at)
        return memoryview(self.data)[start : self.at]

    def emit(self, count: int) -> None:
        taken = self.consume(count)
        if not self.suppress:
            self.out.append(taken)

    # --- between statements -------------------------------------------------------------------------------

    def step_start(self, final: bool) -> bool:
        """Blank space, comment lines, DELIMITER, or the start of the next statement."""
        data, at = self.data, self.at
        blank = run_end(BLANK, data, at) - at
        if blank:
            self.line_start = self.line_start or data.find(b"\n", at, at + blank) >= 0
            self.out.append(self.consume(blank))
            return True
        newline = data.find(b"\n", at)
        if self.first_line:
            if newline < 0 and not final and self.left < 256:
                return False  # the first line may be the sandbox marker: wait until it is whole
            self.first_line = False
            marker = SANDBOX_MARKER.match(data, at)
            if marker:
                self.out.append(self.policy.line(bytes(self.consume(marker.end() - at))))
                return True
        if self.line_start and self.left == 1 and data.startswith(b"-", at) and not final:
            return False  # one dash: a comment line if the next byte is another
        if self.line_start and data.startswith((b"--", b"#"), at):
            return self.whole_line(newline, final, "a comment line")
        word = WORD.match(data, at)
        if word and word.end() == len(data) and not final:
            return False  # the word may go on in the next chunk
        first = word.group(0).lower() if word else b""
        if first == b"delimiter" and self.line_start:
            return self.delimiter_line(newline, final)
        self.statement_line = self.line
        command = word is not None and data[word.end() : word.end() + 1] in COMMAND_ENDS
        if command and first == b"use":
            self.refuse("USE in the dump: a dump loads into the database it is given, no other")
        if command and word is not None and first.decode() in CLIENT_COMMANDS:
            self.refuse(f"a client command in the dump: {word.group(0).decode()!r} would run on this machine")
        if data.startswith(b"\\", at):
            if self.left < 2 and not final:
                return False  # wait for the command's letter, to name it
            self.refuse(f"a client command in the dump: {data[at : at + 2].decode('utf-8', 'replace')!r}")
        head = INSERT_HEAD.match(data, at)
        if head and self.delimiter == b";":
            self.line_start = False
            return self.start_insert(head)
        could_be_head = data[at : at + len(INSERT_PREFIX)] == INSERT_PREFIX[: self.left]
        if could_be_head and newline < 0 and self.left < 4096 and not final:
            return False  # wait for the whole head of what may be an INSERT
        self.line_start = False
        self.mode = "statement"
        self.statement, self.statement_size = [], 0
        return True

    def whole_line(self, newline: int, final: bool, what: str) -> bool:
        if newline < 0 and not final:
            if self.left > MAX_COMMENT_LINE:
                self.refuse(f"{what} longer than {MAX_COMMENT_LINE} bytes")
            return False
        line = self.consume(newline + 1 - self.at if newline >= 0 else self.left)
        self.line_start = True
        self.out.append(self.policy.line(bytes(line)))
        return True

    def delimiter_line(self, newline: int, final: bool) -> bool:
        if newline < 0 and not final:
            return False
        line = self.data[self.at : newline + 1 if newline >= 0 else len(self.data)]
        words = line.split()
        if len(words) != 2 or words[1] not in ALLOWED_DELIMITERS:
            shown = line.strip().decode("utf-8", "replace")[:80]
            self.statement_line = self.line
            self.refuse(f"an unexpected DELIMITER command {shown!r}; a dump uses only ';' and ';;'")
        self.delimiter = words[1]
        return self.whole_line(newline, final, "a DELIMITER line")

    # --- statements held whole ---------------------------------------------------------------------------------

    def add_to_statement(self, count: int) -> None:
        self.statement.append(bytes(self.consume(count)))
        self.statement_size += count
        if self.statement_size > MAX_STATEMENT:
            self.refuse(f"a statement of more than {MAX_STATEMENT >> 20} MiB that is not an INSERT")

    def step_statement(self, final: bool) -> bool:
        data, at = self.data, self.at
        end = run_end(statement_run(self.delimiter), data, at)
        if end > at:
            self.add_to_statement(end - at)
            return True
        if data.startswith(self.delimiter, at):
            self.consume(len(self.delimiter))
            raw, self.statement, self.statement_size = b"".join(self.statement), [], 0
            self.mode = "start"
            self.out.append(self.policy.statement(raw, self.delimiter))
            return True
        if data.startswith(b"\\", at) and (self.left >= 2 or final):
            shown = data[at : at + 2].decode("utf-8", "replace")
            self.refuse(f"a client command {shown!r} in the dump, outside any string")
        if not final:
            if self.statement_size + self.left > MAX_STATEMENT:
                self.refuse(f"a statement of more than {MAX_STATEMENT >> 20} MiB that is not an INSERT")
            return False  # an unclosed string or comment, or a token cut by the end of the chunk
        self.refuse("the dump ends inside a statement, a string or a comment")
        return False

    # --- INSERTs, streamed ---------------------------------------------------------------------------------

    def start_insert(self, head: re.Match[bytes]) -> bool:
        table = unquote(head.group(1))
        columns = split_names(head.group(2)) if head.group(2) else None
        raw = bytes(self.consume(head.end() - self.at))
        answer = self.policy.insert(table, columns, raw)
        self.suppress = answer is None
        if answer:
            self.out.append(answer)
        self.mode = "values"
        self.insert_table = table
        return True

    def step_values(self, final: bool) -> bool:
        data, at = self.data, self.at
        if self.trusted_rows:
            return self.skip_trusted_rows(final)
        end = run_end(VALUE_RUN, data, at)
        if end == len(data) and not final:
            return self.hold_cut_literal(end)
        if end > at:
            self.emit(end - at)
            return True
        if data.startswith(b";", at):
            return self.end_insert()
        if data.startswith(b"'", at):
            self.emit(1)
            self.mode = "string"
            return True
        if not final and CUT_LITERAL.match(data, at):
            return False  # a literal cut by the end of the chunk (NUL, _bin, -): wait for more
        if not final and self.left < CONTEXT:
            return False  # wait for the bytes the message shows, so that it is the same wherever the chunk ended
        shown = data[at : at + CONTEXT].decode("utf-8", "replace")
        self.refuse(f"INSERT INTO `{self.insert_table}` holds something that is not a literal value: {shown!r}")
        return False

    def end_insert(self) -> bool:
        self.consume(1)
        self.mode = "start"
        answer = self.policy.insert_end(b";")
        if not self.suppress:
            self.out.append(answer)
        self.suppress = False
        return True

    def skip_trusted_rows(self, final: bool) -> bool:
        end = self.data.find(b";\n", self.at)
        if end >= 0:
            self.emit(end - self.at)
            return self.end_insert()
        if final:
            self.refuse(f"the dump ends inside the rows of `{self.insert_table}`")
        keep = 1 if self.data.endswith(b";") else 0  # its newline may come next
        self.emit(self.left - keep)
        return False

    def hold_cut_literal(self, end: int) -> bool:
        """Every byte matched, but the last literal may go on in the next chunk: send all but that literal.

        A hex literal (a BLOB) may be as long as the largest value; it is streamed on in hex mode. Any other
        literal is short and held back until the next chunk completes it."""
        data = self.data
        token_start = max(data.rfind(bytes([c]), self.at, end) for c in SEPARATORS) + 1
        token_start = max(token_start, self.at)
        if OPEN_HEX.match(data, token_start):
            self.emit(end - self.at)
            self.mode = "hex"
            return False
        if end - token_start > MAX_CUT_LITERAL:
            self.refuse(f"INSERT INTO `{self.insert_table}` holds a literal of more than {MAX_CUT_LITERAL} bytes")
        if token_start > self.at:
            self.emit(token_start - self.at)
        return False

    def step_hex(self, final: bool) -> bool:
        end = run_end(HEX_REST, self.data, self.at)
        self.emit(end - self.at)
        if end < len(self.data) or final:
            self.mode = "values"
            return True
        return False

    def step_string(self, final: bool) -> bool:
        """Inside a string of an INSERT that runs past the data seen so far."""
        data, at = self.data, self.at
        end = run_end(STRING_REST, data, at)
        if data.startswith(b"'", end):
            self.emit(end + 1 - at)  # through the closing quote
            self.mode = "values"
            return True
        if final:
            self.refuse("the dump ends inside a string")
        if end > at:
            self.emit(end - at)  # what is left is nothing, or a backslash whose character comes next
            return True
        return False
