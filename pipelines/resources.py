"""Dagster resources: `ConfigurableResource`s whose fields are the product's environment variables, given
as `dg.EnvVar` in `build_resources()`. Dagster resolves them when a run or a sensor tick starts (the UI
shows the variable's name, never its value); the resources never read the environment themselves.

Dagster has no optional EnvVar: an `EnvVar` of an unset variable fails every run that uses the resource
(dagster-io/dagster#16232). Here an unset variable has a meaning — no DATABASE_URL is the embedded
server, no MCP_*_ENDPOINT is a channel without an endpoint — so `build_resources()` passes `EnvVar(name)`
only for the variables that are set where the definitions load (its presence, never its value) and
leaves the others at their default. The code location, the daemon and the runs they start share one
environment (`disparo-agenda dev` and the deploy files start them all from it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines.core.common.db import connect, database_url
from pipelines.core.common.settings import Settings
from pipelines.core.reports.mart import Mart


def optional_env(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable is set (and not empty), else None (the field's default)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


class PostgresResource(dg.ConfigurableResource):
    """PostgreSQL of the product: `database_url`, or (unset) the embedded server under `home`, started
    or joined when the run asks for a connection, never when definitions load."""

    database_url: str | None = None
    home: str | None = None

    def url(self) -> str:
        return database_url(
            Settings.from_mapping({"DATABASE_URL": self.database_url, "DISPARO_AGENDA_HOME": self.home})
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Autocommit connection with dict rows; use `conn.transaction()` for writes."""
        conn = connect(self.url(), autocommit=True)
        try:
            yield conn
        finally:
            conn.close()


class SettingsResource(dg.ConfigurableResource):
    """MCP endpoints and the file-store folder (`home`: inbox/, arquivos/) for pipelines.core."""

    home: str | None = None
    mcp_whatsapp_endpoint: str | None = None
    mcp_email_endpoint: str | None = None
    mcp_calendar_endpoint: str | None = None
    mcp_token: str | None = None

    def get(self) -> Settings:
        return Settings.from_mapping(
            {
                "DISPARO_AGENDA_HOME": self.home,
                "MCP_WHATSAPP_ENDPOINT": self.mcp_whatsapp_endpoint,
                "MCP_EMAIL_ENDPOINT": self.mcp_email_endpoint,
                "MCP_CALENDAR_ENDPOINT": self.mcp_calendar_endpoint,
                "MCP_TOKEN": self.mcp_token,
            }
        )


class MartResource(DuckDBResource):
    """The reporting mart: the DuckDB catalog `database` (empty: `<home>/mart/mart.duckdb`) with the
    Parquet days beside it. `get_connection()` opens the catalog for writing, as DuckDBResource does."""

    database: str = Field(default="", description="arquivo DuckDB do mart; vazio: <home>/mart/mart.duckdb")
    home: str | None = None

    def mart(self) -> Mart:
        if self.database:
            catalog = Path(self.database).resolve()
            return Mart(catalog.parent, catalog)
        return Mart.under(Settings.from_mapping({"DISPARO_AGENDA_HOME": self.home}).home)

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        mart = self.mart()
        mart.root.mkdir(parents=True, exist_ok=True)
        catalog = DuckDBResource(database=str(mart.database), connection_config=self.connection_config)
        with catalog.get_connection() as conn:
            yield conn


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, keyed as the assets, jobs and sensors ask for them."""
    home = optional_env("DISPARO_AGENDA_HOME")
    return {
        "postgres": PostgresResource(database_url=optional_env("DATABASE_URL"), home=home),
        "settings": SettingsResource(
            home=home,
            mcp_whatsapp_endpoint=optional_env("MCP_WHATSAPP_ENDPOINT"),
            mcp_email_endpoint=optional_env("MCP_EMAIL_ENDPOINT"),
            mcp_calendar_endpoint=optional_env("MCP_CALENDAR_ENDPOINT"),
            mcp_token=optional_env("MCP_TOKEN"),
        ),
        "mart": MartResource(home=home),
    }
