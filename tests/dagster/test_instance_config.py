"""The instance configs we ship load, queue runs, and cap send runs per channel."""

from pathlib import Path
from urllib.parse import quote

import dagster as dg
import yaml
from psycopg.conninfo import conninfo_to_dict

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_local_instance_config_queues_and_limits_per_channel() -> None:
    overrides = yaml.safe_load((DEPLOY / "dagster.local.yaml").read_text())
    with dg.instance_for_test(overrides=overrides) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        canal = next(x for x in limits if x["key"] == "disparo-agenda/canal")
        assert canal["value"] == {"applyLimitPerUniqueValue": True} and canal["limit"] >= 1
        assert instance.get_settings("sensors")["use_threads"] is True  # inbox watch never blocks others


def test_production_config_uses_postgres_storage(empty_database_url: str, monkeypatch, tmp_path) -> None:
    params = conninfo_to_dict(empty_database_url)
    host = params.get("host", "")
    where = f"{host}:{params.get('port', 5432)}" if host and not host.startswith("/") else ""
    query = f"?host={host}" if host.startswith("/") else ""
    url = f"postgresql://{quote(params.get('user', 'postgres'))}@{where}/{params['dbname']}{query}"
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    finally:
        instance.dispose()


def test_runs_log_in_log_entry_format(capfd) -> None:
    import json
    import logging

    @dg.op
    def registra(context) -> None:
        context.log.info("do op")
        logging.getLogger("pipelines.core.send.engine").warning("do core", extra={"tenant_id": "t-1"})

    @dg.job
    def registra_job() -> None:
        registra()

    overrides = yaml.safe_load((DEPLOY / "dagster.local.yaml").read_text())
    with dg.instance_for_test(overrides=overrides) as instance:
        assert registra_job.execute_in_process(instance=instance).success
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    op = next(x for x in lines if x["message"] == "do op")
    core = next(x for x in lines if x["message"] == "do core")
    assert op["service"] == "dagster" and op["metadata"]["step_key"] == "registra" and op["level"] == "INFO"
    assert core["service"] == "disparo" and core["tenant_id"] == "t-1" and core["level"] == "WARN"
