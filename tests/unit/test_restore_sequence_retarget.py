"""A dump loaded under another name must draw ids from its own sequences, not from the source database's."""

from __future__ import annotations

import pytest

from afirgen_backup.sources.mysql_restore import SequenceRetargeter

DUMP = (
    b"-- MariaDB dump\n"
    b"CREATE TABLE `evidence` (\n"
    b"  `id` bigint(20) NOT NULL DEFAULT nextval(`fir_db`.`evidence_id_seq`),\n"
    b"  `prev` bigint(20) DEFAULT lastval(`fir_db`.`evidence_id_seq`)\n"
    b") ENGINE=InnoDB;\n"
    b"INSERT INTO `evidence` VALUES (1,'nextval(`fir_db`.`x` stays as written in row data'),(2,NULL);\n"
    b"-- Dump completed on 2024-06-01 10:00:00\n"
)
EXPECTED = DUMP.replace(b"nextval(`fir_db`.`evidence", b"nextval(`copy`.`evidence").replace(
    b"lastval(`fir_db`.", b"lastval(`copy`."
)


def run(chunks: list[bytes], source: str = "fir_db", target: str = "copy") -> bytes:
    retarget = SequenceRetargeter(source, target)
    return b"".join(retarget.feed(chunk) for chunk in chunks) + retarget.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 11, 64, len(DUMP)])
def test_sequence_references_are_retargeted_whatever_the_chunk_boundaries(size: int) -> None:
    chunks = [DUMP[i : i + size] for i in range(0, len(DUMP), size)]

    assert run(chunks) == EXPECTED


def test_row_data_that_looks_like_a_sequence_reference_is_left_alone() -> None:
    output = run([DUMP])

    assert b"'nextval(`fir_db`.`x` stays as written in row data'" in output


def test_a_dump_without_a_final_newline_keeps_its_last_line() -> None:
    assert run([b"DO 1;\n-- Dump completed"]) == b"DO 1;\n-- Dump completed"


def test_backticks_in_database_names_are_matched_quoted() -> None:
    dump = b"CREATE TABLE `t` (\n  `id` int DEFAULT nextval(`we``ird`.`s`)\n);\n"

    assert run([dump], source="we`ird", target="copy") == dump.replace(b"`we``ird`", b"`copy`")
