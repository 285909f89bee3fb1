"""Settings (pydantic-settings): defaults, unset vs empty vs None, units, explicit mappings that never read
the process environment, and one Portuguese line for a bad value (CLI: `erro: …`, exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.core.common.errors import ConfigError
from pipelines.core.common.settings import Settings

_VARS = (
    "DISPARO_AGENDA_HOME",
    "DATABASE_URL",
    "MCP_WHATSAPP_ENDPOINT",
    "MCP_EMAIL_ENDPOINT",
    "MCP_CALENDAR_ENDPOINT",
    "MCP_TOKEN",
    "DISPARO_AGENDA_METRICS_TOKEN",
    "DISPARO_AGENDA_MAX_UPLOAD_MB",
    "DISPARO_AGENDA_MAX_BODY_KB",
    "DISPARO_AGENDA_MAX_PLANILHA_MB",
    "DISPARO_AGENDA_MAX_LINHAS",
    "DISPARO_AGENDA_MAX_COLUNAS",
    "DISPARO_AGENDA_MAX_CELULAS",
    "DISPARO_AGENDA_RATE_LIMIT",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_and_units(clean_env, tmp_path) -> None:
    s = Settings.from_env()
    assert s.home == tmp_path.resolve() / ".data"  # relative to the working directory, made absolute
    assert (s.database_url, s.mcp_whatsapp_endpoint, s.mcp_token, s.metrics_token) == (None, None, None, None)
    assert s.max_upload_bytes == 200 * 1024 * 1024
    assert s.max_body_bytes == 1024 * 1024
    assert s.max_planilha_bytes == 1024 * 1024 * 1024
    assert (s.max_linhas, s.max_colunas, s.max_celulas) == (1_048_576, 512, 50_000_000)
    assert s.rate_limit == "1200/minute"
    assert s.inbox_dir == s.home / "inbox" and s.arquivos_dir == s.home / "arquivos"


def test_environment_read_at_call_time_and_empty_is_unset(clean_env, tmp_path) -> None:
    clean_env.setenv("HOME", "/nao/e/a/pasta/do/produto")  # a field's bare name is not read
    clean_env.setenv("DISPARO_AGENDA_HOME", str(tmp_path / "h"))
    clean_env.setenv("MCP_TOKEN", "")
    clean_env.setenv("DISPARO_AGENDA_MAX_BODY_KB", "64")
    s = Settings.from_env()
    assert s.home == tmp_path / "h"
    assert s.mcp_token is None
    assert s.max_body_bytes == 64 * 1024
    clean_env.setenv("DISPARO_AGENDA_MAX_BODY_KB", "8")
    assert Settings.from_env().max_body_bytes == 8 * 1024


def test_from_mapping_never_reads_the_process_environment(clean_env, tmp_path) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://do-ambiente/db")
    clean_env.setenv("DISPARO_AGENDA_MAX_LINHAS", "abc")  # would fail if it were read
    s = Settings.from_mapping(
        {"DISPARO_AGENDA_HOME": str(tmp_path), "MCP_TOKEN": None, "MCP_EMAIL_ENDPOINT": "", "OUTRA": "x"}
    )
    assert s.home == tmp_path
    assert (s.database_url, s.mcp_token, s.mcp_email_endpoint) == (None, None, None)
    assert s.max_linhas == 1_048_576
    assert Settings.from_mapping({"DISPARO_AGENDA_MAX_LINHAS": "10"}).max_linhas == 10


def test_copies_are_changed_explicitly_and_secrets_stay_out_of_repr(clean_env) -> None:
    s = Settings.from_mapping({"MCP_TOKEN": "segredo", "DATABASE_URL": "postgresql://u:senha@h/db"})
    with pytest.raises(Exception, match="frozen"):
        s.mcp_token = "outro"
    other = s.model_copy(update={"mcp_whatsapp_endpoint": "http://mcp"})
    assert (other.mcp_whatsapp_endpoint, other.mcp_token, s.mcp_whatsapp_endpoint) == (
        "http://mcp",
        "segredo",
        None,
    )
    assert "segredo" not in repr(s) and "senha" not in repr(s) and "senha" not in str(s)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DISPARO_AGENDA_MAX_UPLOAD_MB",
            "abc",
            "variável DISPARO_AGENDA_MAX_UPLOAD_MB inválida ('abc'): não é um número inteiro",
        ),
        (
            "DISPARO_AGENDA_MAX_LINHAS",
            "1.5",
            "variável DISPARO_AGENDA_MAX_LINHAS inválida ('1.5'): não é um número inteiro",
        ),
        (
            "DISPARO_AGENDA_MAX_COLUNAS",
            "0",
            "variável DISPARO_AGENDA_MAX_COLUNAS inválida ('0'): deve ser maior que zero",
        ),
    ],
)
def test_a_bad_value_is_one_portuguese_config_error(clean_env, variable, value, message) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_mapping({variable: value})
    assert err.value.message == message
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        Settings.from_env()
    assert err.value.message == message


def test_cli_prints_one_error_line(clean_env, capsys) -> None:
    clean_env.setenv("DISPARO_AGENDA_MAX_UPLOAD_MB", "duzentos")
    assert main(["tenant", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        err == "erro: variável DISPARO_AGENDA_MAX_UPLOAD_MB inválida ('duzentos'): não é um número inteiro\n"
    )


def test_home_given_relative_is_made_absolute(clean_env, tmp_path) -> None:
    assert Settings.from_mapping({"DISPARO_AGENDA_HOME": "dados"}).home == Path(tmp_path / "dados").resolve()
