"""age key pairs for the off-site tests, made by Debian's `age-keygen` (package `age`).

The keys come from the reference command-line tool, not from pyrage (which the tool under test uses), so a test
that decrypts with `age -d -i IDENTITY` checks the tool's output against an independent implementation.

No pytest dependency.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

AGE_PROGRAMS = ("age", "age-keygen")
#: An X25519 recipient: `age1` and 58 bech32 characters.
RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")


class AgeToolError(RuntimeError):
    """Debian's age tools are missing or did not make a key."""


@dataclass(frozen=True)
class AgeKeypair:
    """An X25519 identity in a 0600 file (what `age -d -i` reads) and its `age1...` recipient (`age -r`)."""

    identity_file: Path
    recipient: str

    @property
    def identity(self) -> str:
        """The `AGE-SECRET-KEY-1...` line of the identity file (what pyrage's Identity.from_str takes)."""
        for line in self.identity_file.read_text().splitlines():
            if line.startswith("AGE-SECRET-KEY-"):
                return line
        raise AgeToolError(f"no AGE-SECRET-KEY line in {self.identity_file}")


def age_programs_missing() -> list[str]:
    """The age programs (age, age-keygen) that are not on PATH."""
    return [name for name in AGE_PROGRAMS if shutil.which(name) is None]


def generate_keypair(path: Path) -> AgeKeypair:
    """Make a new identity with `age-keygen`, write it to `path` with mode 0600, and read its recipient back
    with `age-keygen -y`.

    The file is written here rather than by `age-keygen -o`, so its mode does not depend on the umask or on the
    version of age.
    """
    missing = age_programs_missing()
    if missing:
        raise AgeToolError(
            f"{' and '.join(missing)} not found: install Debian's age (tools/install-system-packages test)"
        )
    identity = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True, timeout=30).stdout
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(identity)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    if not RECIPIENT.fullmatch(recipient):
        raise AgeToolError(f"age-keygen -y {path} printed {recipient!r}, not an age1... recipient")
    return AgeKeypair(identity_file=path, recipient=recipient)
