"""A failed restore test keeps counting in `status` until a later restore test of that backup passes: neither a
plain verify nor a restore clears it."""

from __future__ import annotations

from helpers import Pairing, as_root, describe, newest_backup, on_pairings, read_manifest, run_cli


@on_pairings("mariadb", "mysql-own-client")
def test_a_failed_restore_test_stays_unhealthy_through_verify_and_restore_until_one_passes(
    backed_up_pairing: Pairing,
) -> None:
    pairing = backed_up_pairing
    env, root = pairing.env, as_root(pairing.env)
    name = newest_backup(env).name
    assert run_cli(env, "status").returncode == 0

    failed = run_cli(env, "verify", "--restore-test", name)  # the backup user may not create scratch databases
    after_failure = run_cli(env, "status")
    plain = run_cli(env, "verify", name)
    after_verify = run_cli(env, "status")
    restored = run_cli(root, "restore", "mysql", name, "--target-db", f"{pairing.db}_copy")
    after_restore = run_cli(env, "status")
    listed = run_cli(env, "list")
    passed = run_cli(root, "verify", "--restore-test", name)
    after_pass = run_cli(env, "status")
    pairing.server.execute(f"DROP DATABASE IF EXISTS `{pairing.db}_copy`")

    assert failed.returncode == 1, describe(failed)
    for result in (after_failure, after_verify, after_restore):
        assert result.returncode == 1, describe(result)
        assert f"the restore test of {name} failed" in result.stdout
        assert f"verify --restore-test {name}" in result.stdout
    assert f"{name}" in listed.stdout and "RESTORE TEST FAILED at" in listed.stdout, describe(listed)
    assert plain.returncode == 0 and restored.returncode == 0, describe(plain) + describe(restored)
    assert passed.returncode == 0, describe(passed)
    assert after_pass.returncode == 0, describe(after_pass)
    assert read_manifest(newest_backup(env))["restore_test"]["ok"] is True
