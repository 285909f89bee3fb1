import dagster as dg


def test_definitions_load() -> None:
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert "postgres" in defs.resources
