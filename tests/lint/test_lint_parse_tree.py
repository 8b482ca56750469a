"""libpg_query's JSON tree is read with json's scanner directly; it must read what json.loads reads."""

from __future__ import annotations

import json

import pytest

from safemigrate.lint.pgparse import _load_tree
from safemigrate.sql.postgres import pglast_parser


def test_the_tree_read_with_the_scanner_is_the_tree_json_loads_reads() -> None:
    document = pglast_parser().parse_sql_json(
        "CREATE TABLE t (id bigint PRIMARY KEY, note text DEFAULT 'é\\n\"x\"');\n"
        "ALTER TABLE t ADD COLUMN n numeric(12, 2) NOT NULL DEFAULT 0.5, DROP COLUMN note;")
    assert _load_tree(document) == json.loads(document)


@pytest.mark.parametrize("document", ['{"stmts": []} ', ' {"stmts": []}', '{"stmts": [1, 2]}'])
def test_a_document_the_scanner_does_not_read_whole_is_read_by_json_loads(document: str) -> None:
    assert _load_tree(document) == json.loads(document)


def test_a_broken_document_is_an_error_of_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        _load_tree('{"stmts": [')
