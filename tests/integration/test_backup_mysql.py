"""End to end: backup_database.py backs up the FIR fixture as the least-privileged user, and the dump loads
with a plain `gunzip -c | mariadb` (or MySQL's `mysql`) into a database of another name that compares equal to
the source; on every server/client pairing (helpers.PAIRINGS).
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dbcompare import (
    all_differences,
    history_counts,
    history_digests,
    load_dump_with_client,
    object_lists,
    row_counts,
    sequence_states,
    table_checksums,
)
from helpers import (
    Pairing,
    backups_of,
    describe,
    mode_of,
    on_pairings,
    plant_backup,
    read_manifest,
    run_cli,
    sha256_and_size,
)

NAME = re.compile(r"^(mysql_backup_(\d{8}_\d{6})\.sql\.gz|sessions_backup_(\d{8}_\d{6})\.db\.gz)(\.json)?$")


@on_pairings()
def test_a_backup_as_the_least_privileged_user_loads_into_another_database_name_and_compares_equal(
    pairing: Pairing,
) -> None:
    server, fir_db, backup_env = pairing.server, pairing.db, pairing.env
    expected_objects = pairing.expected_objects
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_env["TZ"] = "Asia/Kolkata"  # UTC+05:30: names must still carry UTC
    before = datetime.now(UTC).replace(microsecond=0)

    result = run_cli(backup_env)

    after = datetime.now(UTC)
    assert result.returncode == 0, describe(result)
    assert result.stderr.count("error") == 0, describe(result)
    [dump] = backups_of(backup_dir, "mysql")
    [sessions] = backups_of(backup_dir, "sessions")
    published = sorted(p.name for p in backup_dir.iterdir() if NAME.match(p.name))
    assert published == sorted([dump.name, dump.name + ".json", sessions.name, sessions.name + ".json"])
    stamp = dump.name[len("mysql_backup_") : -len(".sql.gz")]
    assert sessions.name == f"sessions_backup_{stamp}.db.gz", "both parts of one run carry the same timestamp"
    taken = datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    assert before <= taken <= after, "the timestamp in the name is the run's time in UTC"

    assert mode_of(backup_dir) == 0o700
    for path in (dump, sessions, dump.with_name(dump.name + ".json"), sessions.with_name(sessions.name + ".json")):
        assert mode_of(path) == 0o600, path.name
    subprocess.run(["gzip", "-t", str(dump)], check=True, timeout=60)

    manifest = read_manifest(dump)
    assert (manifest["sha256"], manifest["size"]) == sha256_and_size(dump)
    assert manifest["kind"] == "mysql"
    assert manifest["file"] == dump.name
    assert manifest["server"]["flavor"] == pairing.flavor
    assert manifest["client"]["flavor"] == ("mysql" if pairing.name == "mysql-own-client" else "mariadb")
    with server.connect() as conn:
        source_objects = object_lists(conn, fir_db)
        source_rows = row_counts(conn, fir_db)
    assert manifest["row_counts"] == source_rows
    assert manifest["objects"]["tables"] == len(source_objects["tables"]) == len(expected_objects["tables"])
    assert manifest["objects"]["views"] == len(source_objects["views"]) == len(expected_objects["views"])
    assert manifest["objects"]["routines"] == len(source_objects["procedures"]) + len(source_objects["functions"])
    assert manifest["objects"]["routines"] == len(expected_objects["procedures"] + expected_objects["functions"])
    assert manifest["objects"]["triggers"] == len(source_objects["triggers"]) == len(expected_objects["triggers"])
    assert manifest["objects"]["events"] == len(source_objects["events"]) == len(expected_objects["events"])
    assert manifest["objects"]["sequences"] == len(source_objects["sequences"])

    restored = pairing.make_database("restored")
    assert restored != fir_db
    load_dump_with_client(dump, server, restored, program=pairing.load_client)

    with server.connect() as conn:
        assert object_lists(conn, restored) == source_objects
        assert table_checksums(conn, restored) == table_checksums(conn, fir_db)
        if pairing.flavor == "mariadb":
            assert history_counts(conn, restored) == history_counts(conn, fir_db)
            assert history_counts(conn, fir_db)["case_assignments"] > source_rows["case_assignments"], (
                "the fixture has history rows, so equal history counts mean the history came back"
            )
            assert history_digests(conn, restored) == history_digests(conn, fir_db)
            assert sequence_states(conn, restored) == sequence_states(conn, fir_db)
        else:  # and every definition: generated columns, invisible column, functional index, trigger order...
            assert all_differences(conn, fir_db, restored) == []


@on_pairings()
def test_the_dump_names_no_database_so_it_cannot_touch_the_source_when_loaded_elsewhere(pairing: Pairing) -> None:
    backup_env = pairing.env
    backup_env["BACKUP_SESSIONS_ENABLED"] = "false"

    result = run_cli(backup_env, "backup")

    assert result.returncode == 0, describe(result)
    [dump] = backups_of(Path(backup_env["BACKUP_DIR"]), "mysql")
    text = subprocess.run(["gunzip", "-c", str(dump)], capture_output=True, check=True, timeout=60).stdout
    assert not re.search(rb"^(CREATE DATABASE|USE )", text, re.MULTILINE)
    named = [line for line in text.splitlines() if f"`{pairing.db}`".encode() in line]
    sequence_default = f"nextval(`{pairing.db}`.`evidence_id_seq`)".encode()  # MariaDB; restore retargets it
    assert [line for line in named if sequence_default not in line] == [], "no other definition names it"
    assert len(named) == (1 if pairing.flavor == "mariadb" else 0), named
    assert text.rstrip().splitlines()[-1].startswith(b"-- Dump completed")


def test_a_successful_run_prunes_old_backups_but_keeps_the_newest_good_ones(
    backup_env: dict[str, str],
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    old = [plant_backup(backup_dir, kind, timedelta(days=20 + day)) for kind in ("mysql", "sessions") for day in (0, 1)]
    backup_env.update({"BACKUP_RETENTION_DAYS": "7", "BACKUP_KEEP_LAST": "2"})

    result = run_cli(backup_env)

    assert result.returncode == 0, describe(result)
    left = {p.name for p in backup_dir.iterdir()}
    for kind in ("mysql", "sessions"):
        newest_old, oldest = [p for p in old if p.name.startswith(kind)]
        assert newest_old.name in left, "one of the newest 2 good backups, whatever its age"
        assert oldest.name not in left and oldest.name + ".json" not in left
        assert len(backups_of(backup_dir, kind)) == 2
