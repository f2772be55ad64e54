"""Reading one value of the configuration: whole numbers, booleans, choices, text, and secrets that may come from a
file (a Docker secret). Each refusal names the variable, its value (never a secret's) and what is allowed."""

from __future__ import annotations

import re
from collections.abc import Mapping

from afirgen_backup.errors import ConfigError

WHOLE_NUMBER = re.compile(r"-?[0-9]+")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int, what: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # Plain ASCII digits only: int() would also take `1_0` (10), `+3` and other scripts' digits such as `٣` (3).
    # A minus sign is read, so that `-1` is reported as out of range rather than as not a number.
    if not WHOLE_NUMBER.fullmatch(raw):
        raise ConfigError(f"{name}={raw!r} is not a whole number; allowed: {what} from {minimum} to {maximum}")
    value = int(raw, 10)
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} is out of range; allowed: {what} from {minimum} to {maximum}")
    return value


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={env[name]!r} is not a boolean; allowed: true/false, yes/no, on/off, 1/0")


def parse_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigError(f"{name}={env[name]!r} is not allowed; allowed: {', '.join(choices)}")
    return raw


def utf8_text(name: str, value: str) -> str:
    """The value, when it can be sent as UTF-8 (an environment variable's bytes that are not UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{name} is not UTF-8 text; allowed: any text in UTF-8") from None
    return value


def read_secret(env: Mapping[str, str], name: str) -> str:
    """`<name>_FILE` (a Docker secret) wins over `<name>`; one trailing newline of the file is dropped."""
    path = env.get(f"{name}_FILE", "").strip()
    if not path:
        return utf8_text(name, env.get(name, ""))
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"{name}_FILE={path!r} does not exist; allowed: a readable file holding the value") from None
    except OSError as error:
        raise ConfigError(
            f"{name}_FILE={path!r} cannot be read ({error.strerror}); allowed: the path of a readable file holding "
            "the value"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}_FILE={path!r} is not UTF-8 text; allowed: a UTF-8 text file") from None
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value
