"""Settings read from the environment at call time (never at import time, so nothing is baked in).

A `pydantic-settings` model: every field is read from its environment variable (``validation_alias``;
unset or empty: the default) and validated, so a bad value fails at once with a Portuguese `ConfigError`
naming the variable (the CLI prints it as one ``erro: …`` line). ``Settings.from_mapping`` reads the same
names from a mapping instead of the process environment — how the Dagster resources and ``dev`` build
them from explicit values (``None``: unset). Change a copy with ``settings.model_copy(update={...})``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pipelines.core.common.errors import ConfigError

# the mapping `from_mapping` reads instead of os.environ (a context variable: safe across threads)
_MAPPING: ContextVar[Mapping[str, str | None] | None] = ContextVar("_settings_mapping", default=None)


class _MappingSource(EnvSettingsSource):
    """The environment source over a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], mapping: Mapping[str, str | None]) -> None:
        self._mapping = mapping
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._mapping.items() if v not in (None, "")}


def _positive(alias: str, default: int) -> Any:
    return Field(default, validation_alias=alias, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,  # VAR= counts as unset
        validate_default=True,
    )

    home: Path = Field(Path(".data"), validation_alias="DISPARO_AGENDA_HOME")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    mcp_whatsapp_endpoint: str | None = Field(None, validation_alias="MCP_WHATSAPP_ENDPOINT")
    mcp_email_endpoint: str | None = Field(None, validation_alias="MCP_EMAIL_ENDPOINT")
    mcp_calendar_endpoint: str | None = Field(None, validation_alias="MCP_CALENDAR_ENDPOINT")
    mcp_token: str | None = Field(None, validation_alias="MCP_TOKEN", repr=False)
    metrics_token: str | None = Field(None, validation_alias="DISPARO_AGENDA_METRICS_TOKEN", repr=False)
    # sizes in the unit of their variable; the byte figures are the properties below
    max_upload_mb: int = _positive("DISPARO_AGENDA_MAX_UPLOAD_MB", 200)
    max_body_kb: int = _positive("DISPARO_AGENDA_MAX_BODY_KB", 1024)
    max_planilha_mb: int = _positive(
        "DISPARO_AGENDA_MAX_PLANILHA_MB", 1024
    )  # a sheet once inflated, or a CSV
    max_linhas: int = _positive("DISPARO_AGENDA_MAX_LINHAS", 1_048_576)
    max_colunas: int = _positive("DISPARO_AGENDA_MAX_COLUNAS", 512)
    max_celulas: int = _positive("DISPARO_AGENDA_MAX_CELULAS", 50_000_000)  # rows x columns of a sheet
    # requests per API key (api_lite.ratelimit, which parses it); "0" turns it off
    rate_limit: str = Field("1200/minute", validation_alias="DISPARO_AGENDA_RATE_LIMIT")

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        mapping = _MAPPING.get()
        if mapping is not None:
            return init_settings, _MappingSource(settings_cls, mapping)
        return init_settings, env_settings  # no .env file, no secrets directory

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the process environment, now (API middleware calls this per request: the
        validated result is cached by the values of our variables and the working directory)."""
        ours = _aliases(cls)
        relevant = tuple(sorted((k.upper(), v) for k, v in os.environ.items() if k.lower() in ours))
        return _from_env_cached(cls, relevant, os.getcwd())

    @classmethod
    def from_mapping(cls, env: Mapping[str, str | None]) -> Settings:
        """Settings from variables given by name (unset, None or empty: the default), without reading the
        process environment."""
        return cls._build(env)

    @classmethod
    def _build(cls, mapping: Mapping[str, str | None] | None) -> Settings:
        token = _MAPPING.set(mapping)
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigError(_message(cls, exc)) from None
        finally:
            _MAPPING.reset(token)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kb * 1024

    @property
    def max_planilha_bytes(self) -> int:
        return self.max_planilha_mb * 1024 * 1024

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
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster").resolve()

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(home={self.home!s}, database_url={'set' if self.database_url else 'embedded'})"

    __str__ = __repr__


@functools.cache
def _aliases(cls: type[Settings]) -> frozenset[str]:
    return frozenset(str(f.validation_alias).lower() for f in cls.model_fields.values())


@functools.lru_cache(maxsize=16)
def _from_env_cached(cls: type[Settings], relevant: tuple[tuple[str, str], ...], cwd: str) -> Settings:
    return cls._build(dict(relevant))


_KINDS = {
    "int_parsing": "não é um número inteiro",
    "int_from_float": "não é um número inteiro",
    "greater_than": "deve ser maior que zero",
}


def _message(cls: type[Settings], exc: ValidationError) -> str:
    """One Portuguese line per bad variable, naming it and the value given (never a secret's value)."""
    parts = []
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else "?"
        field = next((f for f in cls.model_fields.values() if f.validation_alias == name), None)
        shown = "***" if field is not None and field.repr is False else repr(err.get("input"))
        parts.append(f"variável {name} inválida ({shown}): {_KINDS.get(err['type'], err['msg'])}")
    return "; ".join(parts)
