"""Settings read from the environment at call time (never at import time, so nothing is baked in)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _env(name: str, env: Mapping[str, str | None] | None = None) -> str | None:
    value = (os.environ if env is None else env).get(name)
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    mcp_whatsapp_endpoint: str | None
    mcp_email_endpoint: str | None
    mcp_calendar_endpoint: str | None
    mcp_token: str | None
    max_upload_bytes: int
    metrics_token: str | None = None  # Bearer token of GET /metrics; unset: the endpoint is off
    max_body_bytes: int = 1024 * 1024
    max_planilha_bytes: int = 1024 * 1024 * 1024  # a spreadsheet once inflated (xlsx/ods) or a CSV
    max_linhas: int = 1_048_576
    max_colunas: int = 512
    max_celulas: int = 50_000_000  # rows x columns of a sheet's extent (the reader allocates all of it)
    rate_limit: str = "1200/minute"  # requests per API key (api_lite.ratelimit); "0" turns it off

    @classmethod
    def from_env(cls) -> Settings:
        return cls.from_mapping(os.environ)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str | None]) -> Settings:
        """Settings from variables given by name (unset or empty: the default) — how the Dagster resources
        build them from their configured fields without reading the process environment."""
        home = Path(_env("DISPARO_AGENDA_HOME", env) or "./.data").resolve()
        return cls(
            home=home,
            database_url=_env("DATABASE_URL", env),
            mcp_whatsapp_endpoint=_env("MCP_WHATSAPP_ENDPOINT", env),
            mcp_email_endpoint=_env("MCP_EMAIL_ENDPOINT", env),
            mcp_calendar_endpoint=_env("MCP_CALENDAR_ENDPOINT", env),
            mcp_token=_env("MCP_TOKEN", env),
            max_upload_bytes=int(_env("DISPARO_AGENDA_MAX_UPLOAD_MB", env) or "200") * 1024 * 1024,
            metrics_token=_env("DISPARO_AGENDA_METRICS_TOKEN", env),
            max_body_bytes=int(_env("DISPARO_AGENDA_MAX_BODY_KB", env) or "1024") * 1024,
            max_planilha_bytes=int(_env("DISPARO_AGENDA_MAX_PLANILHA_MB", env) or "1024") * 1024 * 1024,
            max_linhas=int(_env("DISPARO_AGENDA_MAX_LINHAS", env) or "1048576"),
            max_colunas=int(_env("DISPARO_AGENDA_MAX_COLUNAS", env) or "512"),
            max_celulas=int(_env("DISPARO_AGENDA_MAX_CELULAS", env) or "50000000"),
            rate_limit=_env("DISPARO_AGENDA_RATE_LIMIT", env) or "1200/minute",
        )

    @property
    def inbox_dir(self) -> Path:
        """File-drop folder: inbox/<tenant-slug>/file.xlsx."""
        return self.home / "inbox"

    @property
    def arquivos_dir(self) -> Path:
        """Content-addressed store of every ingested file."""
        return self.home / "arquivos"

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME") or self.home / "dagster").resolve()

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(home={self.home!s}, database_url={'set' if self.database_url else 'embedded'})"
