"""BACKUP_DIR must be the owner's alone: a directory other users may write to is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from afirgen_backup.config import check_backup_dir, load_settings
from afirgen_backup.errors import ConfigError


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return {
        "BACKUP_ENV_FILE": str(empty),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "SESSIONS_DB_PATH": str(tmp_path / "sessions.db"),
        "MYSQLDUMP_BIN": "/bin/true",
        "PATH": "/usr/bin:/bin",
    }


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777, 0o770, 0o757, 0o720, 0o702], ids="{:04o}".format)
@pytest.mark.parametrize("create", [True, False], ids=["writing", "check-config"])
def test_a_backup_dir_others_may_write_to_is_refused_with_the_fix(env, mode, create):
    shared = Path(env["BACKUP_DIR"])
    shared.mkdir()
    shared.chmod(mode)

    with pytest.raises(ConfigError) as caught:
        load_settings(env, create_dirs=create)

    assert str(caught.value) == (
        f"BACKUP_DIR={str(shared)!r} is writable by users other than its owner (mode {mode:04o}), who could plant "
        f"symlinks and files among the backups; allowed: a directory only its owner can write to: run "
        f"`chmod go-w {shared}`"
    )
    assert caught.value.exit_code == 2
    assert list(shared.iterdir()) == [], "not even the write probe goes into such a directory"
    assert shared.stat().st_mode & 0o7777 == mode, "its mode is the owner's to change"


def test_the_fix_quotes_a_path_with_spaces(tmp_path):
    shared = tmp_path / "my backups"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match=r"run `chmod go-w '.*/my backups'`$"):
        check_backup_dir(shared)


def test_a_symlink_to_a_shared_directory_is_judged_by_the_directory(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    link = tmp_path / "backups"
    link.symlink_to(shared)
    for create in (True, False):
        with pytest.raises(ConfigError, match="is writable by users other than its owner"):
            check_backup_dir(link, create=create)


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o755, 0o705], ids="{:04o}".format)
def test_a_backup_dir_only_its_owner_writes_to_is_accepted_and_kept_as_it_is(tmp_path, mode):
    own = tmp_path / "own"
    own.mkdir()
    own.chmod(mode)
    for create in (True, False):
        check_backup_dir(own, create=create)
    assert own.stat().st_mode & 0o7777 == mode


def test_a_missing_backup_dir_is_still_created_0700_under_a_loose_umask(env):
    previous = os.umask(0)
    try:
        settings = load_settings(env)
    finally:
        os.umask(previous)
    assert settings.backup_dir.stat().st_mode & 0o7777 == 0o700


def test_check_config_still_creates_nothing_for_a_missing_backup_dir(env, tmp_path):
    env["BACKUP_DIR"] = str(tmp_path / "not" / "yet")
    load_settings(env, create_dirs=False)
    assert not (tmp_path / "not").exists()
