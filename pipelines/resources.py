"""Dagster resources: thin wrappers that hand pipelines.core a connection and settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from pipelines.core.common.db import connect, database_url
from pipelines.core.common.settings import Settings


class PostgresResource(dg.ConfigurableResource):
    """PostgreSQL of the product. `database_url` unset: DATABASE_URL, else the embedded server —
    resolved when the run starts, never when definitions load."""

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or database_url()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Autocommit connection with dict rows; use `conn.transaction()` for writes."""
        conn = connect(self.url(), autocommit=True)
        try:
            yield conn
        finally:
            conn.close()


class SettingsResource(dg.ConfigurableResource):
    """MCP endpoints and file-store folders, read from the environment at run time."""

    home: str | None = None

    def get(self) -> Settings:
        settings = Settings.from_env()
        if self.home:
            from dataclasses import replace
            from pathlib import Path

            settings = replace(settings, home=Path(self.home).resolve())
        return settings
