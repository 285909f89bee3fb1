"""Fixtures of the Dagster shells' tests: a file store of the test's own, resources over the test's
database, and a throwaway Dagster instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines.resources import PostgresResource, SettingsResource


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def resources(database_url: str, home: Path) -> dict[str, Any]:
    return {
        "postgres": PostgresResource(database_url=database_url),
        "settings": SettingsResource(home=str(home)),
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
