"""Only table and view definitions are retargeted: row data of multi-line INSERTs and quoted text come back as
written.

mariadb-dump 10.11 writes `INSERT INTO t VALUES` on a line of its own and then one line per row, which is the
layout of the dump below (taken from a real 10.11 dump, with a row that quotes a sequence reference).
"""

from __future__ import annotations

import pytest

from afirgen_backup.sources.mysql_restore import SequenceRetargeter

ROW = b"(1,'copied from nextval(`fir_db`.`evidence_id_seq`) and lastval(`fir_db`.`s`) by hand')"
DUMP = (
    b"/*M!999999\\- enable the sandbox mode */ \n"
    b"DROP TABLE IF EXISTS `evidence`;\n"
    b"CREATE TABLE `evidence` (\n"
    b"  `id` bigint(20) NOT NULL DEFAULT nextval(`fir_db`.`evidence_id_seq`),\n"
    b"  `note` text DEFAULT 'nextval(`fir_db`.`quoted` in a default string' COMMENT 'it''s nextval(`fir_db`.`c`)',\n"
    b"  `escaped` text DEFAULT 'a \\' nextval(`fir_db`.`still_quoted`)'\n"
    b") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='nextval(`fir_db`.`table_comment`)';\n"
    b"\n"
    b"INSERT INTO `evidence` VALUES\n" + ROW + b",\n"
    b"(2,'CREATE TABLE nextval(`fir_db`.`x`) in data'),\n"
    b"(3,'nextval(`fir_db`.`evidence_id_seq`)');\n"
    b"/*!50001 DROP VIEW IF EXISTS `next_ids`*/;\n"
    b"/*!50001 CREATE ALGORITHM=UNDEFINED */\n"
    b"/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n"
    b"/*!50001 VIEW `next_ids` AS select nextval(`fir_db`.`evidence_id_seq`) AS `n`,"
    b"'nextval(`fir_db`.`q`)' AS `t` */;\n"
    b"-- Dump completed on 2024-06-01 10:00:00\n"
)
EXPECTED = DUMP.replace(
    b"DEFAULT nextval(`fir_db`.`evidence_id_seq`),", b"DEFAULT nextval(`copy`.`evidence_id_seq`),"
).replace(b"select nextval(`fir_db`.`evidence_id_seq`) AS", b"select nextval(`copy`.`evidence_id_seq`) AS")


def run(chunks: list[bytes]) -> bytes:
    retarget = SequenceRetargeter("fir_db", "copy")
    return b"".join(retarget.feed(chunk) for chunk in chunks) + retarget.finish()


@pytest.mark.parametrize("size", [1, 2, 5, 13, 64, 200, len(DUMP)])
def test_only_the_column_default_is_retargeted_whatever_the_chunk_boundaries(size: int) -> None:
    chunks = [DUMP[i : i + size] for i in range(0, len(DUMP), size)]

    assert run(chunks) == EXPECTED


def test_rows_of_a_multi_line_insert_stream_through_unchanged() -> None:
    output = run([DUMP])

    assert b"\n" + ROW + b",\n" in output
    assert b"(3,'nextval(`fir_db`.`evidence_id_seq`)');\n" in output


def test_a_long_row_line_is_passed_on_before_its_end_arrives() -> None:
    retarget = SequenceRetargeter("fir_db", "copy")
    retarget.feed(b"INSERT INTO `t` VALUES\n")

    assert retarget.feed(b"(1,'nextval(`fir_db`.`s`) ") == b"(1,'nextval(`fir_db`.`s`) "
    assert retarget.feed(b"and more')") == b"and more')"
