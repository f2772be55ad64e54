"""age streams (offsite/crypto.py) against Debian's age CLI, both ways, and the encryption's ends: a consumer
that stops early does not leave the encrypting thread hanging, and an identity file is read as age-keygen writes it."""

from __future__ import annotations

import io
import os
import subprocess
import threading
from pathlib import Path

import pytest
from age_keys import AgeKeypair

from afirgen_backup.errors import ConfigError
from afirgen_backup.offsite.crypto import decrypt, encrypting, load_identities


def test_what_the_tool_encrypts_the_age_cli_decrypts(age_keypair: AgeKeypair) -> None:
    plain = os.urandom(3 << 20)
    with encrypting(io.BytesIO(plain), (age_keypair.recipient,)) as stream:
        encrypted = stream.read()

    result = subprocess.run(["age", "-d", "-i", str(age_keypair.identity_file)], input=encrypted, capture_output=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout == plain and encrypted.startswith(b"age-encryption.org/v1\n")


def test_what_the_age_cli_encrypts_the_tool_decrypts_from_a_stream_of_chunks(age_keypair: AgeKeypair) -> None:
    plain = os.urandom(3 << 20)
    encrypted = subprocess.run(
        ["age", "-r", age_keypair.recipient], input=plain, capture_output=True, check=True
    ).stdout
    chunks = [encrypted[i : i + 100_000] for i in range(0, len(encrypted), 100_000)]
    sink = io.BytesIO()

    decrypt(chunks, load_identities(age_keypair.identity_file), sink)

    assert sink.getvalue() == plain


def test_a_consumer_that_stops_early_ends_the_encryption(age_keypair: AgeKeypair) -> None:
    before = threading.active_count()
    with (
        pytest.raises(RuntimeError, match="the upload failed"),
        encrypting(io.BytesIO(os.urandom(8 << 20)), (age_keypair.recipient,)) as stream,
    ):
        stream.read(1 << 16)
        raise RuntimeError("the upload failed")
    assert threading.active_count() == before


def test_an_identity_file_is_read_and_a_bad_one_is_named_without_its_content(tmp_path: Path) -> None:
    good = tmp_path / "identity.txt"
    subprocess.run(["age-keygen", "-o", str(good)], capture_output=True, check=True)
    assert len(load_identities(good)) == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("# created: today\nAGE-SECRET-KEY-1NOTAKEYATALL\n")

    with pytest.raises(ConfigError) as caught:
        load_identities(bad)
    with pytest.raises(ConfigError) as unset:
        load_identities(None)

    assert "line 2 is not an age identity" in str(caught.value) and "NOTAKEY" not in str(caught.value)
    assert "BACKUP_AGE_IDENTITY_FILE is not set" in str(unset.value)
