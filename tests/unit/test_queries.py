import pytest

from pipelines.core.common.errors import ConfigError
from pipelines.core.common.queries import parse


def test_parse_splits_statements_by_name_and_drops_the_preamble() -> None:
    text = "-- room preamble\n-- name: one\nSELECT 1;\n\n-- name: two_b\nSELECT 2\nFROM t;\n"
    assert parse(text) == {"one": "SELECT 1", "two_b": "SELECT 2\nFROM t"}


def test_a_repeated_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="repetida: one"):
        parse("-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;\n")


def test_comments_above_a_header_belong_to_the_next_statement() -> None:
    text = "-- name: frag\nx IS NULL;\n\n-- what the next one does\n-- name: other\n-- inside\nSELECT 1;\n"
    assert parse(text) == {"frag": "x IS NULL", "other": "-- inside\nSELECT 1"}


def test_an_empty_statement_is_refused() -> None:
    with pytest.raises(ConfigError, match="vazia: one"):
        parse("-- name: one\n-- only a comment\n-- name: two\nSELECT 2;\n")
