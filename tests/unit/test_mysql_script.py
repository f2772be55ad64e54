"""The reader a restore sends every dump through: what passes unchanged, what is adjusted, what is refused.

The dumps below follow what mariadb-dump 10.11 and MySQL 9.7's mysqldump write (the integration tests load real
ones); the hostile ones are what a person who can write into BACKUP_DIR could put there, manifest recomputed.
Every case is run at several chunk sizes: where a chunk ends must never change what is decided.
"""

from __future__ import annotations

import pytest

from afirgen_backup.sources.mysql.policy import DumpPolicy, GeneratedTable
from afirgen_backup.sources.mysql.script import ScriptReader, ScriptRefused

CHUNKS = (1, 2, 3, 7, 64, 1 << 20)

MARIADB_DUMP = (
    b"/*M!999999\\- enable the sandbox mode */ \n"
    b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n"
    b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    b"/*!40101 SET NAMES utf8mb4 */;\n"
    b"/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n"
    b"/*!40103 SET TIME_ZONE='+00:00' */;\n"
    b"/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n"
    b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
    b"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n"
    b"DROP SEQUENCE IF EXISTS `evidence_id_seq`;\n"
    b"CREATE SEQUENCE `evidence_id_seq` start with 5000 minvalue 1 maxvalue 999999999 increment by 5 cache 10 "
    b"nocycle ENGINE=InnoDB;\n"
    b"DO SETVAL(`evidence_id_seq`, 5400, 0);\n"
    b"DROP TABLE IF EXISTS `evidence`;\n"
    b"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
    b"/*!40101 SET character_set_client = utf8mb4 */;\n"
    b"CREATE TABLE `evidence` (\n"
    b"  `id` bigint(20) NOT NULL DEFAULT nextval(`fir_db`.`evidence_id_seq`),\n"
    b"  `note` text DEFAULT 'nextval(`fir_db`.`quoted`) in a default' COMMENT 'it''s -- not a comment; \\\\! x',\n"
    b"  `blob` longblob,\n"
    b"  PRIMARY KEY (`id`)\n"
    b") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n"
    b"/*!40101 SET character_set_client = @saved_cs_client */;\n"
    b"/*!40000 ALTER TABLE `evidence` DISABLE KEYS */;\n"
    b"INSERT INTO `evidence` VALUES\n"
    b"(5000,'nextval(`fir_db`.`evidence_id_seq`) by hand; \\\\! not a command \\' \\n',0x00FF10),\n"
    b"(5005,NULL,NULL),\n"
    b"(5010,'-- not a comment /* nor this */ # nor this',0x),\n"
    b"(-5,'1e5',-1.5e-30);\n"
    b"/*!40000 ALTER TABLE `evidence` ENABLE KEYS */;\n"
    b"DROP TABLE IF EXISTS `firs`;\n"
    b"CREATE TABLE `firs` (\n"
    b"  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n"
    b"  `status` enum('draft','filed') NOT NULL,\n"
    b"  `row_start` timestamp(6) GENERATED ALWAYS AS ROW START,\n"
    b"  `row_end` timestamp(6) GENERATED ALWAYS AS ROW END,\n"
    b"  PRIMARY KEY (`id`,`row_end`),\n"
    b"  PERIOD FOR SYSTEM_TIME (`row_start`, `row_end`)\n"
    b") ENGINE=InnoDB AUTO_INCREMENT=900000241 DEFAULT CHARSET=utf8mb4 WITH SYSTEM VERSIONING;\n"
    b"/*M!101100 SET @old_system_versioning_insert_history=@@session.system_versioning_insert_history, "
    b"@@session.system_versioning_insert_history=1 */;\n"
    b"INSERT INTO `firs` (`id`, `status`, row_start, row_end) VALUES (1,'filed','2024-01-01 00:00:00.000000',"
    b"'2038-01-19 03:14:07.999999');\n"
    b"/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n"
    b"/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO' */ ;\n"
    b"DELIMITER ;;\n"
    b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 TRIGGER trg_firs BEFORE INSERT ON firs "
    b"FOR EACH ROW\n    BEGIN\n        INSERT INTO fir_db.evidence (note) VALUES ('from; a trigger');\n"
    b"    END */;;\n"
    b"DELIMITER ;\n"
    b"/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"
    b"/*!50001 DROP VIEW IF EXISTS `open_firs`*/;\n"
    b"/*!50001 CREATE VIEW `open_firs` AS SELECT\n 1 AS `id` */;\n"
    b"/*!50106 DROP EVENT IF EXISTS `purge` */;\n"
    b"DELIMITER ;;\n"
    b"/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`127.0.0.1`*/ /*!50106 EVENT `purge` ON SCHEDULE EVERY 1 DAY "
    b"STARTS '2035-01-01 03:00:00' ON COMPLETION PRESERVE ENABLE COMMENT 'DO nothing' DO DELETE FROM "
    b"`fir_db`.`firs` WHERE status = 'draft' */ ;;\n"
    b"DELIMITER ;\n"
    b"/*!50003 DROP PROCEDURE IF EXISTS `close_fir` */;\n"
    b"DELIMITER ;;\n"
    b"CREATE DEFINER=`root`@`127.0.0.1` PROCEDURE `close_fir`(IN p_id INT)\n"
    b"BEGIN\n    UPDATE fir_db.firs SET status = 'filed' WHERE id = p_id;\n"
    b"    SELECT nextval(`fir_db`.`evidence_id_seq`);\nEND ;;\n"
    b"DELIMITER ;\n"
    b"/*!50001 DROP VIEW IF EXISTS `open_firs`*/;\n"
    b"/*!50001 CREATE ALGORITHM=UNDEFINED */\n"
    b"/*!50013 DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER */\n"
    b"/*!50001 VIEW `open_firs` AS select `firs`.`id` AS `id`,nextval(`fir_db`.`evidence_id_seq`) AS `n`,"
    b"'`fir_db`.x' AS `q` from `firs` */;\n"
    b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n"
    b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n"
    b"\n-- Dump completed on 2026-12-04 15:08:42\n"
)

MYSQL_DUMP = (
    b"-- MySQL dump 10.13  Distrib 9.7.4, for Linux (x86_64)\n"
    b"/*!50503 SET NAMES utf8mb4 */;\n"
    b"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
    b"/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n"
    b"DROP TABLE IF EXISTS `t`;\n"
    b"CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `a` int DEFAULT NULL,\n"
    b"  `b` int GENERATED ALWAYS AS ((`a` * 2)) VIRTUAL,\n  `d` int DEFAULT '7' /*!80023 INVISIBLE */,\n"
    b"  `j` json DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `fi` (((`a` * 3)))\n"
    b") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n"
    b"LOCK TABLES `t` WRITE;\n"
    b"INSERT INTO `t` (`id`, `a`, `d`, `j`) VALUES (1,10,5,'{\\\"x\\\": 3}'),(2,20,6,NULL);\n"
    b"UNLOCK TABLES;\n"
    b"DELIMITER ;;\n"
    b"CREATE DEFINER=`root`@`localhost` FUNCTION `f`() RETURNS int\n    DETERMINISTIC\nRETURN 1 ;;\n"
    b"DELIMITER ;\n"
    b"-- Dump completed on 2026-12-04 15:09:00\n"
)


def read(dump: bytes, chunk: int = 1 << 20, *, trusted: bool = False, **policy: object) -> bytes:
    reader = ScriptReader(DumpPolicy(**policy), trusted_rows=trusted)  # type: ignore[arg-type]
    out = [reader.feed(dump[i : i + chunk]) for i in range(0, len(dump), chunk)]
    return b"".join(out) + reader.finish()


def read_everywhere(dump: bytes, **policy: object) -> bytes:
    """The output, after checking that every chunk size gives the same."""
    outputs = {read(dump, chunk, **policy) for chunk in CHUNKS}
    assert len(outputs) == 1
    return outputs.pop()


def refusal(dump: bytes, **policy: object) -> str:
    """The reason the dump is refused, after checking that every chunk size refuses it for that reason."""
    reasons = set()
    for chunk in CHUNKS:
        with pytest.raises(ScriptRefused) as caught:
            read(dump, chunk, **policy)
        reasons.add(str(caught.value))
    assert len(reasons) == 1, reasons
    return reasons.pop()


def with_table(statements: bytes) -> bytes:
    return b"CREATE TABLE `t` (`id` int, `v` text) ENGINE=InnoDB;\n" + statements


# --- what passes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dump", [MARIADB_DUMP, MYSQL_DUMP], ids=["mariadb-dump", "mysqldump"])
def test_a_dump_loaded_under_its_own_name_passes_byte_for_byte_at_any_chunk_size(dump: bytes) -> None:
    assert read_everywhere(dump, source="fir_db", target="fir_db") == dump


@pytest.mark.parametrize("dump", [MARIADB_DUMP, MYSQL_DUMP], ids=["mariadb-dump", "mysqldump"])
def test_a_dump_written_by_the_dump_program_passes_unread_rows_byte_for_byte(dump: bytes) -> None:
    outputs = {read(dump, chunk, trusted=True, source="fir_db", target="fir_db") for chunk in CHUNKS}

    assert outputs == {dump}


def test_the_reader_lists_what_the_dump_creates() -> None:
    policy = DumpPolicy(source="fir_db", target="fir_db")
    reader = ScriptReader(policy)
    reader.feed(MARIADB_DUMP)
    reader.finish()

    assert policy.contents.names == {
        "tables": {"evidence", "firs"},
        "views": {"open_firs"},
        "procedures": {"close_fir"},
        "functions": set(),
        "triggers": {"trg_firs"},
        "events": {"purge"},
        "sequences": {"evidence_id_seq"},
    }


def test_a_long_value_is_passed_on_before_its_end_arrives() -> None:
    reader = ScriptReader(DumpPolicy())
    reader.feed(with_table(b"INSERT INTO `t` VALUES (1,'"))

    assert reader.feed(b"x" * 100_000) == b"x" * 100_000
    assert len(reader.feed(b"0x" + b"AB" * 50_000)) >= 100_000  # in a string, then on
    assert reader.feed(b"'),(2,0x" + b"CD" * 50_000).startswith(b"'),(2,0x")


# --- loaded under another name --------------------------------------------------------------------------------------


def test_under_another_name_every_reference_to_the_source_database_points_at_the_target() -> None:
    out = read_everywhere(MARIADB_DUMP, source="fir_db", target="copy")

    assert b"DEFAULT nextval(`copy`.`evidence_id_seq`)" in out
    assert b"INSERT INTO `copy`.evidence (note) VALUES ('from; a trigger')" in out
    assert b"DELETE FROM `copy`.`firs`" in out
    assert b"UPDATE `copy`.firs SET" in out
    assert b"nextval(`copy`.`evidence_id_seq`) AS `n`" in out
    assert b"fir_db`." not in out.replace(b"'nextval(`fir_db`.`quoted`) in a default'", b"").replace(
        b"'nextval(`fir_db`.`evidence_id_seq`) by hand; \\\\! not a command \\' \\n'", b""
    ).replace(b"'`fir_db`.x'", b"")


def test_under_another_name_strings_comments_and_rows_come_back_exactly() -> None:
    out = read_everywhere(MARIADB_DUMP, source="fir_db", target="copy")

    assert b"DEFAULT 'nextval(`fir_db`.`quoted`) in a default'" in out
    assert b"(5000,'nextval(`fir_db`.`evidence_id_seq`) by hand; \\\\! not a command \\' \\n',0x00FF10),\n" in out
    assert b"'`fir_db`.x' AS `q`" in out


def test_a_trigger_created_on_the_source_database_is_created_on_the_target() -> None:
    dump = with_table(b"CREATE TRIGGER `fir_db`.`tr` BEFORE INSERT ON `fir_db`.`t` FOR EACH ROW SET NEW.v = 'x';\n")

    assert read_everywhere(dump, source="fir_db", target="copy") == dump.replace(b"`fir_db`.", b"`copy`.")


def test_alter_database_of_the_source_is_pointed_at_the_target() -> None:
    dump = b"ALTER DATABASE `fir_db` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;\n"

    assert read_everywhere(dump, source="fir_db", target="copy") == dump.replace(b"`fir_db`", b"`copy`")


@pytest.mark.parametrize(
    ("status", "disabled"),
    [
        (b"ENABLE", b"DISABLE"),
        (b"DISABLE ON SLAVE", b"DISABLE"),
        (b"DISABLE ON REPLICA", b"DISABLE"),
        (b"DISABLE", b"DISABLE"),
        (b"", b"DISABLE "),
    ],
)
def test_events_of_a_copy_are_created_disabled(status: bytes, disabled: bytes) -> None:
    event = b"CREATE EVENT `e` ON SCHEDULE EVERY 1 HOUR ON COMPLETION PRESERVE %s%sDO DELETE FROM t;\n"
    dump = event % (status, b" " if status else b"")

    out = read_everywhere(dump, disable_events=True)

    assert out == event % (disabled, b" " if status else b"")


def test_events_keep_their_status_when_the_database_is_restored_under_its_own_name() -> None:
    assert b"ON COMPLETION PRESERVE ENABLE COMMENT" in read_everywhere(MARIADB_DUMP, source="fir_db", target="fir_db")


def test_objects_only_keeps_views_triggers_routines_events_and_settings_and_drops_tables_and_rows() -> None:
    out = read_everywhere(MARIADB_DUMP, source="fir_db", target="copy", objects_only=True)

    assert b"INSERT INTO `evidence`" not in out and b"(5005,NULL,NULL)" not in out
    assert b"CREATE TABLE" not in out and b"CREATE SEQUENCE" not in out and b"SETVAL" not in out
    assert b"TRIGGER trg_firs BEFORE INSERT ON firs" in out
    assert b"EVENT `purge`" in out and b"PROCEDURE `close_fir`" in out and b"VIEW `open_firs` AS select" in out
    assert b"SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO'" in out


# --- generated columns (a backup of MySQL through mariadb-dump) ------------------------------------------------------


GENERATED = {"t": GeneratedTable(("id", "a", "b", "c", "d"), frozenset({"b", "c"}))}
GENERATED_DUMP = (
    b"CREATE TABLE `t` (`id` int, `a` int, `b` int AS (`a`*2) VIRTUAL, `c` int AS (`a`+1) STORED, `d` int) "
    b"ENGINE=InnoDB;\n"
    b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
    b"INSERT INTO `t` VALUES\n(1,10,20,11,5),\n(2,20,40,21,NULL);\n"
    b"INSERT INTO `t` VALUES\n(3,30,60,31,7);\n"
    b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n"
    b"-- Dump completed on 2026-12-04\n"
)


def test_rows_with_generated_values_go_through_a_temporary_table_without_them() -> None:
    outputs = {read(GENERATED_DUMP, chunk, trusted=True, generated=GENERATED) for chunk in CHUNKS}
    assert len(outputs) == 1
    out = outputs.pop()

    assert out == (
        b"CREATE TABLE `t` (`id` int, `a` int, `b` int AS (`a`*2) VIRTUAL, `c` int AS (`a`+1) STORED, `d` int) "
        b"ENGINE=InnoDB;\n"
        b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
        b"CREATE TEMPORARY TABLE `afirgen_load_1` SELECT `id`, `a`, `b`, `c`, `d` FROM `t` LIMIT 0;\n"
        b"INSERT INTO `afirgen_load_1` VALUES\n(1,10,20,11,5),\n(2,20,40,21,NULL);\n"
        b"INSERT INTO `afirgen_load_1` VALUES\n(3,30,60,31,7);\n"
        b"INSERT INTO `t` (`id`, `a`, `d`) SELECT `id`, `a`, `d` FROM `afirgen_load_1`;\n"
        b"DROP TEMPORARY TABLE `afirgen_load_1`;\n"
        b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n"
        b"-- Dump completed on 2026-12-04\n"
    )


def test_a_dump_with_the_generated_columns_load_reads_back_unchanged_and_its_objects_only_part_has_none_of_it() -> None:
    written = read(GENERATED_DUMP, trusted=True, generated=GENERATED)

    assert read_everywhere(written, source="fir_db", target="copy") == written
    assert b"afirgen_load" not in read_everywhere(written, objects_only=True)


# --- client commands ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        b"\\! touch /tmp/pwned\n",
        b"system touch /tmp/pwned\n",
        b"SYSTEM touch /tmp/pwned;\n",
        b"  source /etc/passwd\n",
        b"\\. /etc/passwd\n",
        b"connect other_host\n",
        b"tee /tmp/out\n",
        b"pager sh -c 'touch /tmp/pwned'\n",
        b"DROP TABLE IF EXISTS `t`; \\! touch /tmp/pwned\n",
        b"DROP TABLE IF EXISTS `t`; system touch /tmp/pwned\n",
        b"CREATE TABLE `t` (`a` int) \\! touch /tmp/pwned\n;\n",
        b"/*!50000 \\! touch /tmp/pwned */;\n",
        b"/*M!100000 \\! touch /tmp/pwned */;\n",
    ],
)
def test_a_client_command_anywhere_outside_a_string_is_refused(hostile: bytes) -> None:
    assert "client command" in refusal(b"-- MariaDB dump\n" + hostile + b"-- Dump completed\n")


@pytest.mark.parametrize(
    "hostile",
    [
        b"INSERT INTO `t` VALUES (1,'x'), \\! touch /tmp/pwned\n;\n",
        b"INSERT INTO `t` VALUES (1,'x');\\! touch /tmp/pwned\n",
        b"INSERT INTO `t` VALUES (1,-- '\n\\! touch /tmp/pwned\n'x');\n",
        b"INSERT INTO `t` VALUES (1,# '\n\\! touch /tmp/pwned\n'x');\n",
        b"INSERT INTO `t` VALUES (1,/* ' */ \\! touch /tmp/pwned\n'x');\n",
        b'INSERT INTO `t` VALUES (1,"x\\" ; \\! touch /tmp/pwned");\n',
    ],
)
def test_rows_that_would_hide_a_client_command_from_a_careless_reader_are_refused(hostile: bytes) -> None:
    refusal(with_table(hostile))


def test_a_backslash_in_a_string_or_a_comment_is_no_command() -> None:
    dump = with_table(
        b"/* \\! in a comment */ SET NAMES utf8mb4;\nINSERT INTO `t` VALUES (1,'\\\\! in a string\\'');\n"
    )

    assert read_everywhere(dump) == dump


def test_use_in_a_dump_is_refused_naming_it() -> None:
    assert "USE" in refusal(b"USE `other_db`;\n")
    assert "USE" in refusal(b"use other_db\n")


def test_the_sandbox_marker_is_taken_only_as_the_first_line_and_dropped_for_a_client_without_it() -> None:
    marker = b"/*M!999999\\- enable the sandbox mode */ \n"

    assert read_everywhere(marker + b"SET NAMES utf8mb4;\n", keep_sandbox_marker=False) == b"SET NAMES utf8mb4;\n"
    assert "client command" in refusal(b"SET NAMES utf8mb4;\n" + marker)


@pytest.mark.parametrize("line", [b"DELIMITER //\n", b"DELIMITER \\!\n", b"delimiter ; ;\n", b"DELIMITER\n"])
def test_a_delimiter_a_dump_does_not_use_is_refused(line: bytes) -> None:
    refusal(line + b"SELECT 1//\n")


@pytest.mark.parametrize(
    "setting",
    [
        b"SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
        b"SET SESSION sql_mode='STRICT_ALL_TABLES,ANSI_QUOTES'",
        b"SET @@sql_mode = 'ansi'",
        b"/*!40101 SET @m = 'NO_BACKSLASH_ESCAPES', SQL_MODE = @m */",
        b"SET sql_mode = 4",
        b"SET sql_mode = ANSI_QUOTES",
    ],
)
def test_an_sql_mode_under_which_the_client_reads_strings_otherwise_is_refused(setting: bytes) -> None:
    refusal(setting + b";\n")


# --- statements a dump does not hold ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "words"),
    [
        (b"GRANT ALL ON *.* TO 'x'@'%'", "does not hold"),
        (b"CREATE USER 'x'@'%' IDENTIFIED BY 'y'", "does not hold"),
        (b"SET GLOBAL event_scheduler = ON", "GLOBAL"),
        (b"SET @@GLOBAL.read_only = 1", "GLOBAL"),
        (b"SET PASSWORD = 'x'", "does not change"),
        (b"SET sql_log_bin = 0", "does not change"),
        (b"SET @x = (SELECT authentication_string FROM mysql.user LIMIT 1)", "plain"),
        (b"CREATE DATABASE `other`", "does not hold"),
        (b"DROP DATABASE `fir_db`", "does not hold"),
        (b"CALL `fir_db`.`p`()", "does not hold"),
        (b"SELECT * FROM `t` INTO OUTFILE '/tmp/x'", "does not hold"),
        (b"LOAD DATA INFILE '/etc/passwd' INTO TABLE `t`", "does not hold"),
        (b"DO SLEEP(100)", "does not hold"),
        (b"SHUTDOWN", "does not hold"),
        (b"INSERT INTO `fir_db`.`t` VALUES (1,'x')", "does not hold"),
        (b"INSERT INTO `t` SELECT 1, user FROM mysql.user", "does not hold"),
        (b"INSERT INTO `t` VALUES (1,'x') ON DUPLICATE KEY UPDATE v = 'y'", "not a literal"),
        (b"INSERT INTO `t` VALUES (f(),'x')", "not a literal"),
        (b"INSERT INTO `t` VALUES (1,(SELECT user FROM mysql.user LIMIT 1))", "not a literal"),
        (b"INSERT INTO `t` VALUES (1,@x)", "not a literal"),
        (b"INSERT INTO `t` VALUES (1+sleep(5),'x')", "not a literal"),
        (b"INSERT INTO `t` VALUES (1,fab())", "not a literal"),
        (b"INSERT INTO `t` VALUES (1,x'41' || 'x')", "not a literal"),
        (b"INSERT INTO `missing` VALUES (1,'x')", "did not create"),
        (b"CREATE TABLE `u` ENGINE=CONNECT TABLE_TYPE=DOS FILE_NAME='/etc/passwd'", "ENGINE=CONNECT"),
        (b"CREATE TABLE `u` (`a` int) ENGINE=FEDERATED CONNECTION='mysql://x'", "CONNECTION"),
        (b"CREATE TABLE `u` (`a` int) DATA DIRECTORY='/tmp'", "outside"),
        (b"CREATE TABLE `u` SELECT * FROM mysql.user", "SELECT"),
        (b"CREATE TABLE `u` LIKE mysql.user", "LIKE"),
        (b"CREATE TABLE `fir_db`.`u` (`a` int)", "another database"),
        (b"CREATE FUNCTION sys_exec RETURNS int SONAME 'lib_mysqludf_sys.so'", "SONAME"),
        (b"CREATE TRIGGER `tr` BEFORE INSERT ON `other`.`t` FOR EACH ROW SET @x = 1", "another database"),
        (b"CREATE VIEW `other`.`v` AS SELECT 1", "another database"),
        (b"CREATE TRIGGER `tr` BEFORE INSERT ON `nothere` FOR EACH ROW SET @x = 1", "did not create"),
        (b"ALTER DATABASE `other` CHARACTER SET latin1", "not of this dump"),
        (b"ALTER DATABASE `fir_db` READ ONLY = 1", "more than"),
        (b"ALTER TABLE `t` ADD COLUMN `x` int", "does not hold"),
        (b"DROP TABLE `t`", "IF EXISTS"),
        (b"DROP TABLE IF EXISTS `mysql`.`user`", "another database"),
        (b"LOCK TABLES `mysql`.`user` WRITE", "did not create"),
    ],
)
def test_a_statement_a_dump_does_not_hold_is_refused(hostile: bytes, words: str) -> None:
    assert words in refusal(with_table(hostile + b";\n"), source="fir_db", target="copy")


def test_an_insert_into_a_view_of_another_database_is_refused() -> None:
    dump = b"CREATE VIEW `v` AS SELECT * FROM `other`.`t`;\nINSERT INTO `v` VALUES (1,'x');\n"

    assert "did not create" in refusal(dump)


def test_an_insert_after_a_trigger_on_its_table_is_refused() -> None:
    dump = with_table(b"CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.v = 'x';\n")

    assert "trigger" in refusal(dump + b"INSERT INTO `t` VALUES (1,'x');\n")


@pytest.mark.parametrize(
    "cut",
    [
        b"INSERT INTO `t` VALUES (1,'x",
        b"INSERT INTO `t` VALUES (1,'x')",
        b"CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.v = 'x'",
        b"SET NAMES utf8mb4 /* unclosed",
    ],
)
def test_a_dump_cut_short_is_refused_at_its_end(cut: bytes) -> None:
    assert "ends inside" in refusal(with_table(cut))


def test_a_refused_statement_is_never_handed_on() -> None:
    reader = ScriptReader(DumpPolicy())
    sent = reader.feed(with_table(b"INSERT INTO `t` VALUES (1,'a'),"))

    with pytest.raises(ScriptRefused):
        sent += reader.feed(b"(2,f());\nSELECT 1;\n")

    assert sent.endswith(b"INSERT INTO `t` VALUES (1,'a'),") and b"f()" not in sent
