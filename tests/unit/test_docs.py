"""The README, docs/ and .env.example document every command and every setting the code knows, each in the file
that holds it now (issue #11): the README the commands, exit codes and settings tables and the quick start;
docs/operations.md the container; docs/configuration.md the rule for writing .env; docs/security.md the
least-privilege users; docs/offsite.md the off-site copies (issue #12). Links between the files resolve, and the
README stays short."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from afirgen_backup.cli import build_parser
from afirgen_backup.config import ENTRYPOINT_SETTINGS
from afirgen_backup.config import SETTINGS as TOOL_SETTINGS

REPO = Path(__file__).resolve().parents[2]


def read(relative: str) -> str:
    return (REPO / relative).read_text(encoding="utf-8")


README = read("README.md")
DOC_NAMES = (
    "operations.md",
    "restore.md",
    "configuration.md",
    "security.md",
    "performance.md",
    "how-it-works.md",
    "offsite.md",
)
DOCS = {name: read(f"docs/{name}") for name in DOC_NAMES}
CHANGELOG = read("CHANGELOG.md")
CODE_MAP = read("docs/code.md")  # for contributors: the one document that names the package's modules
BENCHMARKS_README = read("benchmarks/README.md")
#: Every Markdown file a user reads, by its path in the repository.
MARKDOWN = {
    "README.md": README,
    "CHANGELOG.md": CHANGELOG,
    "benchmarks/README.md": BENCHMARKS_README,
    **{f"docs/{name}": text for name, text in DOCS.items()},
    "docs/code.md": CODE_MAP,
}
ENV_EXAMPLE = read(".env.example")
CONFIG_SOURCE = "".join(read(str(p.relative_to(REPO))) for p in sorted((REPO / "afirgen_backup/config").glob("*.py")))
SCHEDULER = read("backup_scheduler.sh")
MAKEFILE = read("Makefile")
COMPOSE_FILES = {name: read(name) for name in ("docker-compose.yaml", "docker-compose.afirgen.yaml")}
COMPOSE = COMPOSE_FILES["docker-compose.yaml"]
README_LIMIT = 15 * 1024  # issue #11: the README at most ~15 KB, the rest in docs/


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(subcommands(sub, f"{prefix}{name} "))
    return found


COMMANDS = subcommands(build_parser())
# Every name the config package quotes (its settings, the entrypoint's, docker-compose's ${BACKUP_CGROUP_PARENT}),
# and the lists it keeps of them.
SETTINGS = sorted(
    set(re.findall(r'"((?:MYSQL|BACKUP|SESSIONS|MYSQLDUMP)_[A-Z_]+)"', CONFIG_SOURCE))
    | set(TOOL_SETTINGS)
    | set(ENTRYPOINT_SETTINGS)
)


# --- reading Markdown ------------------------------------------------------------------------------------------


def headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, line number) of every heading outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
            continue
        heading = None if fenced else re.match(r"^(#+) (.*)$", line)
        if heading:
            found.append((len(heading.group(1)), heading.group(2).strip(), number))
    return found


def section(text: str, title: str, where: str) -> str:
    """The text under the heading `title`, up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    marks = headings(text)
    for index, (level, heading, number) in enumerate(marks):
        if heading == title:
            end = next((n for lv, _, n in marks[index + 1 :] if lv <= level), len(lines))
            return "\n".join(lines[number + 1 : end])
    raise AssertionError(f"no section {title!r} in {where}")


def readme_section(title: str) -> str:
    return section(README, title, "README.md")


def doc_section(name: str, title: str) -> str:
    return section(DOCS[name], title, f"docs/{name}")


def table_cells(text: str) -> list[list[str]]:
    """The cells of every table row in `text` (a `\\|` inside a cell is no separator)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, title, _ in headings(text):
        base = slug(title)
        found.add(base if base not in counts else f"{base}-{counts[base]}")
        counts[base] = counts.get(base, 0) + 1
    return found


def links(text: str) -> list[str]:
    """The targets of the inline links outside code (fenced blocks and `spans`)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def env_example_entries() -> dict[str, str]:
    """KEY: value of every setting line in .env.example, the commented-out defaults (#KEY=value) included."""
    entries = {}
    for line in ENV_EXAMPLE.splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def readme_rows(name: str) -> list[str]:
    return [line for line in README.splitlines() if line.startswith(f"| `{name}` |")]


def row_settings(first_cell: str) -> list[str]:
    """The settings a settings-table row documents: each `NAME` of its first cell, and with `(+`_FILE`)` after them
    each one's NAME_FILE too (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (+`_FILE`): four settings)."""
    names = re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell)
    return names + [f"{name}_FILE" for name in names] if "(+`_FILE`)" in first_cell else names


def default_cell(default: str) -> str:
    """How a settings table writes a default: `value`, or *(empty)*."""
    return f"`{default}`" if default else "*(empty)*"


def service_block(compose: str, service: str) -> str:
    """The lines of one service in a compose file (up to the next service or top-level key)."""
    start = compose.index(f"\n  {service}:\n")
    following = re.search(r"\n(?:  [a-z_]+:\n|[a-z_]+:)", compose[start + 1 :])
    return compose[start : start + 1 + following.start()] if following else compose[start:]


# --- the README's shape --------------------------------------------------------------------------------------------


def test_the_readme_stays_short():
    size = len(README.encode("utf-8"))
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/ (limit {README_LIMIT})"


def test_the_readme_names_make_demo_first_and_the_makefile_has_it():
    assert "make demo" in "\n".join(README.splitlines()[:6]), "the README's first lines should name `make demo`"
    assert re.search(r"^demo:", MAKEFILE, re.M), "the Makefile has no demo target"


def test_the_development_section_gives_make_test_as_the_one_test_command():
    development = readme_section("Development")
    blocks = re.findall(r"```sh\n(.*?)```", development, re.S)
    assert blocks and blocks[0].strip() == "make test", blocks
    assert "from a fresh clone" in development


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_every_make_target_a_document_names_exists(name):
    targets = set(re.findall(r"^([a-z]+):", MAKEFILE, re.M))
    text = MARKDOWN[name]
    named = set(re.findall(r"`make ([a-z]+)", text)) | set(re.findall(r"^make ([a-z]+)", text, re.M))
    assert named <= targets, f"{name} names make targets the Makefile lacks: {sorted(named - targets)}"


def test_the_readme_links_every_docs_file():
    for name in (*DOC_NAMES, "code.md"):
        assert f"](docs/{name})" in README, f"README.md does not link docs/{name}"
    assert "](CHANGELOG.md)" in README


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_every_relative_link_and_anchor_resolves(name):
    base = (REPO / name).parent
    for target in links(MARKDOWN[name]):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, mailto: ...
        path, _, anchor = target.partition("#")
        file = (base / path).resolve() if path else REPO / name
        assert file.exists(), f"{name}: the link {target} points at a missing file"
        if anchor:
            assert file.suffix == ".md", f"{name}: an anchor into a file that is not Markdown: {target}"
            assert anchor in anchors(file.read_text(encoding="utf-8")), f"{name}: no heading for {target}"


@pytest.mark.parametrize("name", sorted(set(MARKDOWN) - {"docs/code.md"}))
def test_the_documents_describe_behaviour_not_the_package_modules(name):
    modules = re.findall(r"afirgen_backup[/.][a-z_]+", MARKDOWN[name])
    assert not modules, f"{name} names package modules (docs/code.md alone does): {modules}"


def code_map_tree() -> set[str]:
    """The paths of the package that docs/code.md's layout tree names, from its indentation."""
    block = re.search(r"```\n(afirgen_backup/.*?|backup_database.py.*?)```", CODE_MAP, re.S)
    assert block, "docs/code.md has no layout tree"
    paths, parents = set(), []
    for line in block.group(1).splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name:
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        parents[depth:] = [name]
        paths.add("".join(parents))
    return {path for path in paths if path.startswith("afirgen_backup/")}


def test_the_code_map_names_every_module_of_the_package():
    modules = {str(path.relative_to(REPO)) for path in (REPO / "afirgen_backup").rglob("*.py")}
    tree = code_map_tree()
    described = {path for path in tree if path.endswith(".py")}
    # a package's __init__.py is named by the package's line (`actions/`)
    packages = {f"{path}__init__.py" for path in tree if path.endswith("/")}
    assert modules - packages - described == set(), "modules docs/code.md's layout does not name"
    assert described - modules == set(), "docs/code.md's layout names modules that do not exist"


def test_every_file_the_code_map_names_exists():
    for path in re.findall(r"`(afirgen_backup/[a-z_/]+(?:\.py)?)`", CODE_MAP):
        assert (REPO / path).exists(), f"docs/code.md names {path}, which does not exist"


# --- commands and exit codes (README) ------------------------------------------------------------------------------


def test_the_cli_has_the_documented_commands():
    expected = {"backup", "check-config", "check-grants", "prune", "list", "verify", "restore", "status"}
    assert expected <= set(COMMANDS)


def starts_with_command(cell: str, command: str) -> bool:
    return re.match(rf"`{re.escape(command)}(?:[ `])", cell) is not None


def command_rows(command: str) -> list[list[str]]:
    """The rows of the README's Commands table whose first cell starts with this command (`restore` has the rows of
    `restore mysql` and `restore sessions`)."""
    return [row for row in table_cells(readme_section("Commands")) if row and starts_with_command(row[0], command)]


def own_rows(command: str) -> list[list[str]]:
    """The rows that document this very command: no longer command (`restore mysql` for `restore`) claims them."""
    longer = [other for other in COMMANDS if other.startswith(f"{command} ")]
    return [row for row in command_rows(command) if not any(starts_with_command(row[0], o) for o in longer)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_text_and_a_row_in_the_readme(command):
    assert COMMANDS[command].format_help().strip()
    assert command_rows(command), f"{command} has no row in the README's Commands table"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_row_lists_the_command_options(command):
    parser = COMMANDS[command]
    options = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    rows = own_rows(command)
    assert rows or not options, f"{command} has options but no row of its own in the Commands table"
    for row in rows:
        missing = [option for option in sorted(options) if option not in row[0]]
        assert not missing, f"the Commands row of {command} lacks {missing}: {row[0]}"


def test_the_exit_code_table_has_the_codes_of_the_cli():
    epilog = build_parser().epilog or ""
    codes = set(re.findall(r"\b(\d+)\b", epilog))
    rows = [row for row in table_cells(readme_section("Commands")) if row and re.match(r"^\d", row[0])]
    documented = {code for row in rows for code in re.findall(r"\d+", row[0])}
    assert codes and documented == codes, f"README exit codes {sorted(documented)}, the CLI's {sorted(codes)}"


# --- settings (README tables, .env.example) --------------------------------------------------------------------------


def test_the_settings_are_found_in_the_code():
    assert {"MYSQL_HOST", "MYSQL_PASSWORD_FILE", "BACKUP_RETENTION_DAYS", "BACKUP_KEEP_LAST"} <= set(SETTINGS)


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_one_row_in_the_readme_settings_tables_and_is_in_env_example(name):
    settings = [row for row in table_cells(readme_section("Settings")) if row and name in row_settings(row[0])]
    anywhere = [row for row in table_cells(README) if row and name in row_settings(row[0])]
    assert len(settings) == 1 and len(anywhere) == 1, f"{name} needs one row in the README's Settings tables"
    assert re.search(rf"\b{name}\b", ENV_EXAMPLE), f"{name} is not in .env.example"  # NAME_FILE is not NAME


def test_a_settings_row_names_its_settings_in_its_first_cell():
    assert row_settings("`MYSQL_HOST`") == ["MYSQL_HOST"]
    assert row_settings("`AWS_SESSION_TOKEN` (+`_FILE`)") == ["AWS_SESSION_TOKEN", "AWS_SESSION_TOKEN_FILE"]
    assert row_settings("`AWS_PROFILE`, `AWS_CONFIG_FILE`") == ["AWS_PROFILE", "AWS_CONFIG_FILE"]
    assert row_settings("`backup [--check]` (or no command)") == []


def test_backup_env_file_is_explained_in_env_example_but_never_a_line_of_it():
    assert "BACKUP_ENV_FILE" in ENV_EXAMPLE
    assert "BACKUP_ENV_FILE" not in env_example_entries(), ".env.example must not offer BACKUP_ENV_FILE as a line"


SCHEDULER_SETTINGS = dict(re.findall(r"\$\{((?:BACKUP_[A-Z_]+|TZ)):-([^}]*)\}", SCHEDULER))


def test_the_scheduler_settings_are_found_in_the_script():
    assert {"BACKUP_SCHEDULE", "BACKUP_ON_START", "BACKUP_STOP_TIMEOUT"} <= set(SCHEDULER_SETTINGS)


@pytest.mark.parametrize("name", sorted(SCHEDULER_SETTINGS))
def test_every_scheduler_setting_has_its_default_in_the_readme_table_and_env_example(name):
    default = SCHEDULER_SETTINGS[name]
    if default.startswith("$"):  # ${BACKUP_SCHEDULE:-$DEFAULT_SCHEDULE}
        default = re.search(rf"readonly {default[1:]}='([^']*)'", SCHEDULER).group(1)
    rows = readme_rows(name)
    assert len(rows) == 1, f"{name} needs one row in a README settings table"
    assert rows[0].split("|")[2].strip() == default_cell(default), rows[0]
    assert env_example_entries().get(name) == default, f".env.example: #{name}={default}"


COMPOSE_VARIABLES = sorted(
    {(name, default) for text in COMPOSE_FILES.values() for name, default in re.findall(r"\$\{(\w+):-([^}]*)\}", text)}
)


def test_the_compose_variables_are_found_in_the_compose_files():
    names = {name for name, _ in COMPOSE_VARIABLES}
    assert {"BACKUP_CGROUP_PARENT", "AFIRGEN_NETWORK", "AFIRGEN_SESSIONS_VOLUME"} <= names


@pytest.mark.parametrize(("name", "default"), COMPOSE_VARIABLES)
def test_every_compose_variable_has_its_default_in_the_readme_table_and_env_example(name, default):
    rows = readme_rows(name)
    assert len(rows) == 1, f"{name} (read by docker-compose) needs one row in a README settings table"
    assert rows[0].split("|")[2].strip() == default_cell(default), rows[0]
    assert env_example_entries().get(name) == default, f".env.example: #{name}={default}"


def test_env_example_values_follow_the_one_quoting_rule():
    """Unquoted, and nothing that docker-compose v1/v2, `docker run --env-file` and python-dotenv read differently."""
    for name, value in env_example_entries().items():
        assert value == value.strip(), f"{name}: spaces at an end"
        assert not re.search(r"[$'\"\\]| #", value), f"{name}={value}: quotes, $, \\ or ' #' in a value"


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_no_document_gives_another_quoting_rule(name):
    text = MARKDOWN[name]
    assert "single-quote" not in text.lower() and "MYSQL_PASSWORD='" not in text, name
    assert 'MYSQL_PASSWORD="' not in text, name


def test_the_quoting_rule_sends_awkward_passwords_to_the_password_file():
    assert "MYSQL_PASSWORD_FILE" in doc_section("configuration.md", "Writing .env")
    assert "without quotes" in readme_section("Settings") and "MYSQL_PASSWORD_FILE" in readme_section("Settings")


# --- the quick start (README) and the least-privilege users (docs/security.md) -----------------------------------


def grant_lines(text: str) -> list[str]:
    return re.findall(r"^GRANT .* TO '[^']+'@'%';$", text, re.M)


def test_the_quick_start_creates_the_backup_user_of_the_compose_files_server_before_starting_the_backup():
    image = re.search(r"^    image: (mysql|mariadb):(\S+)$", service_block(COMPOSE, "mysql"), re.M)
    assert image, "the compose file's mysql service runs no mysql or mariadb image"
    flavor, tag = image.groups()
    users = doc_section("security.md", "A least-privilege MySQL user for backups")
    titles = [t for level, t, _ in headings(users) if level == 4]
    mine = next(t for t in titles if t.lower().startswith(flavor))
    assert flavor == "mariadb" or tag in mine, f"the compose file runs {flavor}:{tag}; security.md has {mine!r}"
    grants = grant_lines(section(users, mine, "docs/security.md"))
    others = {g for t in titles if t != mine for g in grant_lines(section(users, t, "docs/security.md"))}
    user = env_example_entries()["MYSQL_USER"]
    quick = readme_section("With Docker (the service)")

    assert grants and all(f" TO '{user}'@'%';" in grant for grant in grants), grants
    assert f"CREATE USER '{user}'@'%'" in quick
    for grant in grants:
        assert grant in quick, f"the quick start lacks {grant}"
    for grant in others - set(grants):
        assert grant not in quick, f"the quick start grants what only another server needs: {grant}"
    assert flavor == "mariadb" or f"MySQL {tag}" in quick
    assert quick.index("up -d mysql") < quick.index("CREATE USER") < quick.index("up -d backup")
    assert "BACKUP_SESSIONS_ENABLED=false" in quick and "--profile app up -d" in quick


def test_the_security_doc_has_a_least_privilege_user_for_each_flavor():
    users = doc_section("security.md", "A least-privilege MySQL user for backups")
    titles = [t for level, t, _ in headings(users) if level == 4]
    assert {t.split()[0] for t in titles} == {"MariaDB", "MySQL"}, titles
    for title in titles:
        grants = grant_lines(section(users, title, "docs/security.md"))
        assert any(g.startswith("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON fir_db.* ") for g in grants), title
        assert not any("LOCK TABLES" in g or "PROCESS" in g for g in grants), f"{title}: no longer needed"


def test_the_restore_test_grant_is_the_one_verify_suggests():
    """docs/security.md grants a restore test exactly what `verify --restore-test` names when a privilege is missing."""
    from afirgen_backup.sources.mysql.verify import describe_scratch_grant  # what verify prints; here, not at the top:
    # a module that moves fails this one test, not the whole file

    suggested = re.search(r"GRANT (.+) ON (\S+) TO", describe_scratch_grant("fir_db"))
    statement = re.search(r"^GRANT (.+?) ON (\S+) TO ", doc_section("security.md", "Restore tests"), re.M | re.S)
    assert suggested and statement, "no GRANT for restore tests in docs/security.md"
    documented = [p.strip() for p in statement.group(1).split(",")]
    assert documented == [p.strip() for p in suggested.group(1).split(",")], statement.group(0)
    assert statement.group(2) == suggested.group(2)


# --- compose files and the container (README quick start, docs/operations.md) ------------------------------------


@pytest.mark.parametrize("compose_name", sorted(COMPOSE_FILES))
def test_the_compose_version_note_matches_the_features_used(compose_name):
    compose = COMPOSE_FILES[compose_name]
    minimum = re.search(r"docker-compose (\d+)\.(\d+)\+", compose)
    assert minimum, f"{compose_name} should say which docker-compose it needs"
    if re.search(r"^\s+profiles:", compose, re.MULTILINE):
        assert (int(minimum.group(1)), int(minimum.group(2))) >= (1, 28), "profiles: needs docker-compose 1.28"
    assert f"docker-compose {minimum.group(1)}.{minimum.group(2)}+" in readme_section("Quick start")


@pytest.mark.parametrize("compose_name", sorted(COMPOSE_FILES))
def test_operations_tells_what_the_restart_policy_does_after_a_bad_setting(compose_name):
    backup = service_block(COMPOSE_FILES[compose_name], "backup")
    policy = re.search(r"^    restart: (\S+)", backup, re.MULTILINE).group(1)
    container = doc_section("operations.md", "The container")
    if policy in ("always", "unless-stopped") or policy.startswith("on-failure"):
        assert "Restarting" in container and "shows it stopped" not in container
    else:
        assert "Restarting" not in container, f"{compose_name} does not restart the container"


@pytest.mark.parametrize("compose_name", sorted(COMPOSE_FILES))
def test_the_job_configuration_tmpfs_is_in_compose_and_the_docker_run_advice(compose_name):
    backup = service_block(COMPOSE_FILES[compose_name], "backup")
    assert re.search(r"tmpfs:\n(?:\s*#.*\n)*\s*- /run/afirgen\n", backup)
    assert "--tmpfs /run/afirgen" in doc_section("operations.md", "The container")


def test_operations_documents_the_compose_file_beside_afirgen():
    beside = doc_section("operations.md", "Beside a running AFIRGen")
    assert "docker-compose -f docker-compose.afirgen.yaml up -d backup" in beside
    assert "docs/operations.md" in COMPOSE_FILES["docker-compose.afirgen.yaml"]
    for name, default in COMPOSE_VARIABLES:
        if name.startswith("AFIRGEN_"):
            assert f"`{name}`" in beside and default in beside, name


# --- benchmark history (docs/performance.md) and the changelog ---------------------------------------------------


def test_the_benchmark_history_lives_in_performance_md():
    printed_targets = re.compile(r"^(?:PASS|FAIL)  ", re.M)
    assert not printed_targets.search(BENCHMARKS_README), "benchmarks/README.md: only how to run it, what it measures"
    assert "](../docs/performance.md" in BENCHMARKS_README
    assert len(printed_targets.findall(DOCS["performance.md"])) >= 30, "docs/performance.md lost measured runs"


CHANGELOG_GROUPS = ("Point-in-time recovery", "Off-site copies", "Docs")


def test_the_changelog_is_newest_first_and_groups_its_latest_entry():
    entries = [(title, number) for level, title, number in headings(CHANGELOG) if level == 2]
    dates = [re.match(r"(\d{4}-\d{2}-\d{2})", title) for title, _ in entries]
    assert entries and all(dates), f"every entry of CHANGELOG.md starts with its date: {entries}"
    stamps = [d.group(1) for d in dates if d]
    assert stamps == sorted(stamps, reverse=True), f"CHANGELOG.md is not newest first: {stamps}"
    latest = section(CHANGELOG, entries[0][0], "CHANGELOG.md")
    groups = [title for level, title, _ in headings(latest) if level == 3]
    assert groups == list(CHANGELOG_GROUPS), groups
