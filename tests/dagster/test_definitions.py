"""The code location loads, lists exactly what the product runs, and its resources resolve the
environment when a run starts (DATABASE_URL unset: the embedded server)."""

from pathlib import Path

import dagster as dg

from pipelines.core.common.db import embedded_url


def test_definitions_load_with_every_asset_job_sensor_and_resource() -> None:
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    tables = {"leads", "lead_telefones", "lead_emails", "disparos", "disparos_dlq", "agendamentos"}
    mart = {"mart_funil", "mart_ingest", "mart_agendamentos"}
    assert {k.to_user_string() for k in defs.resolve_all_asset_keys()} == {"leads_ingest", *tables, *mart}
    checks = {c.name for c in defs.resolve_assets_def("leads_ingest").check_specs}
    assert checks == {"taxa_de_rejeicao", "leads_com_contato_valido"}
    jobs = {j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")}
    assert jobs == {
        "leads_ingest_job",
        "enviar_disparos",
        "redrive_dlq",
        "enviar_lembretes",
        "mart_diario",
        "observar_tabelas",
        "limpeza_diaria",
    }
    assert {s.name for s in defs.schedules} == {
        "mart_diario_schedule",
        "observar_tabelas_schedule",
        "limpeza_diaria_schedule",
    }
    assert {s.name for s in defs.sensors} == {
        "inbox_ingest_sensor",
        "pending_ingest_jobs_sensor",
        "ingest_fora_do_dagster",
        "disparos_devidos",
        "lembretes_devidos_sensor",
        "alerta_run_falhou",
        "publicar_eventos",
        "alarmes",
    }
    assert set(defs.resources) == {"postgres", "settings", "mart"}


def test_resources_take_the_environment_through_envvar(monkeypatch, tmp_path: Path) -> None:
    from pipelines.resources import build_resources

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/x")
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", "http://mcp.example")
    monkeypatch.delenv("MCP_EMAIL_ENDPOINT", raising=False)
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    resources = build_resources()
    # the definitions hold the variable's name, not its value
    assert isinstance(resources["postgres"].database_url, dg.EnvVar)
    monkeypatch.setenv("MCP_WHATSAPP_ENDPOINT", "http://outro.example")  # changed before the run starts
    postgres = resources["postgres"].process_config_and_initialize()
    settings = resources["settings"].process_config_and_initialize().get()
    assert postgres.url() == "postgresql://u@db.example/x"
    assert settings.mcp_whatsapp_endpoint == "http://outro.example"
    assert settings.mcp_email_endpoint is None and settings.home == tmp_path
    assert (
        resources["mart"].process_config_and_initialize().mart().database == tmp_path / "mart" / "mart.duckdb"
    )


def test_unset_database_url_means_the_embedded_server(monkeypatch) -> None:
    from pipelines.resources import build_resources

    home = Path(__file__).resolve().parents[2] / ".data" / "pgtest"  # the suite's own embedded server
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(home))
    postgres = build_resources()["postgres"].process_config_and_initialize()
    assert postgres.url() == embedded_url(home)


def test_loading_the_definitions_prints_no_beta_warning_noise() -> None:
    """The beta features used on purpose warned at every code-server start and run (dozens of lines in
    `dev`); loading the code location in a fresh interpreter, with every warning shown, prints none."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('default'); "
        "import pipelines.definitions as d; repo = d.defs.get_repository_def(); "
        "repo.get_all_jobs(); repo.sensor_defs; repo.schedule_defs"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "BetaWarning" not in done.stderr, done.stderr
