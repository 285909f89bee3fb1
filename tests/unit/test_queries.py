import pytest

from pipelines.core.common.errors import ConfigError
from pipelines.core.common.queries import parse


def test_parse_splits_statements_by_name_and_drops_the_preamble() -> None:
    text = "-- room preamble\n-- name: one\nSELECT 1;\n\n-- name: two_b\nSELECT 2\nFROM t;\n"
    assert parse(text) == {"one": "SELECT 1", "two_b": "SELECT 2\nFROM t"}


def test_a_repeated_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="repetida: one"):
        parse("-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;\n")
