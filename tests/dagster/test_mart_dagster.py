"""Dagster shells of the mart and of the tables: assets materialized in process, the daily schedule
(build_schedule_context), a 7-day backfill, the tables' observation and health checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import pytest
from mart_support import pg_funnel

from assets.mart import MART_ASSETS, mart_funil
from assets.tables import CHECK_ATRASO, CHECK_DLQ, CHECK_INGEST, CHECK_LEASES, tabelas_do_produto
from bench.mart_data import seed_day
from pipelines.core.reports.health import TABLES
from pipelines.definitions import defs
from pipelines.jobs.mart import observar_tabelas
from pipelines.resources import MartResource, PostgresResource
from sensors.mart import mart_diario_schedule

DIA = date(2025, 3, 9)
# in-process runs keep the test process's priority (a real run builds at nice 10: MartConfig)
FOREGROUND = {"ops": {a.op.name: {"config": {"segundo_plano": False}} for a in MART_ASSETS}}


@pytest.fixture
def resources(database_url, tmp_path):
    return {"postgres": PostgresResource(database_url=database_url), "mart": MartResource(home=str(tmp_path))}


def _only(asset) -> dict:
    return {"ops": {asset.op.name: FOREGROUND["ops"][asset.op.name]}}


def _catalog_rows(resources, sql: str) -> list[tuple]:
    with duckdb.connect(str(resources["mart"].mart().database), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_mart_assets_materialize_a_day_with_summary(conn, tenant, resources) -> None:
    seed_day(conn, [tenant["id"]], DIA, 200, campanhas_por_tenant=2)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            MART_ASSETS, partition_key=DIA.isoformat(), resources=resources, instance=instance
        )
        assert result.success
        by_asset = {
            m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("mart_funil")
        }
    meta = by_asset["mart_funil"]
    summary = meta["resumo"].value
    assert summary.splitlines()[0].startswith("| canal |") and "| whatsapp | 1 | 100 |" in summary
    assert meta["linhas_fatos_disparos"].value == 200
    # the catalog's views read the day just written
    criados = _catalog_rows(resources, "SELECT sum(criados) FROM funil WHERE dia = DATE '2025-03-09'")
    assert criados == [(200,)]
    assert _catalog_rows(resources, "SELECT count(*) FROM fatos_disparos") == [(200,)]
    assert _catalog_rows(resources, "SELECT count(*) FROM ingest_jobs") == [(0,)]


def test_backfill_of_seven_days_in_one_run_is_idempotent(conn, tenant, resources) -> None:
    days = [DIA - timedelta(days=i) for i in range(7)]
    for i, d in enumerate(days):
        seed_day(conn, [tenant["id"]], d, 10 * (i + 1), campanhas_por_tenant=1)
    backfill = {
        "dagster/asset_partition_range_start": days[-1].isoformat(),
        "dagster/asset_partition_range_end": days[0].isoformat(),
    }
    with dg.instance_for_test() as instance:
        for _ in range(2):  # the same backfill twice
            result = dg.materialize(
                [mart_funil],
                tags=backfill,
                resources=resources,
                instance=instance,
                run_config=_only(mart_funil),
            )
            assert result.success
        rebuilt = dg.materialize(
            [mart_funil], partition_key=days[3].isoformat(), resources=resources, instance=instance
        )
        assert rebuilt.success
        materialized = instance.get_materialized_partitions(mart_funil.key)
    assert materialized == {d.isoformat() for d in days}
    summary = result.asset_materializations_for_node("mart_funil")[0].metadata["resumo"].value
    assert summary.startswith("| dia | canal |") and days[0].isoformat() in summary
    rows = dict(_catalog_rows(resources, "SELECT dia, sum(criados) FROM funil GROUP BY dia"))
    expected = {d: sum(v["criados"] for v in pg_funnel(conn, tenant["id"], d).values()) for d in days}
    assert rows == expected and sorted(expected.values()) == [10, 20, 30, 40, 50, 60, 70]


def test_daily_schedule_builds_yesterday() -> None:
    schedule = defs.resolve_schedule_def(mart_diario_schedule.name)
    # 04:00 in São Paulo on the 10th (07:00 UTC): the 9th is yesterday there
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
        )
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in requests] == ["2025-03-09"]
    assert schedule.job_name == "mart_diario"
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "0 4 * * *",
        "America/Sao_Paulo",
    )


def test_definitions_list_the_tables_mart_and_schedules() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.path[-1] for k in graph.get_all_asset_keys()}
    assert set(TABLES) | {"mart_funil", "mart_ingest", "mart_agendamentos", "leads_ingest"} <= keys
    assert {k.path[-1] for k in graph.get(dg.AssetKey("mart_funil")).parent_keys} == {
        "disparos",
        "disparos_dlq",
    }
    assert defs.resolve_schedule_def("mart_diario_schedule") and defs.resolve_schedule_def(
        "observar_tabelas_schedule"
    )
    assert defs.resolve_job_def("mart_diario") and defs.resolve_job_def("observar_tabelas")


def _observe(resources) -> dict[str, dg.AssetCheckEvaluation]:
    with dg.instance_for_test() as instance:
        job = dg.Definitions(
            assets=[tabelas_do_produto], jobs=[observar_tabelas], resources=resources
        ).resolve_job_def(observar_tabelas.name)
        result = job.execute_in_process(instance=instance)
        assert result.success
        observed = {e.asset_key.path[-1] for e in result.get_asset_observation_events()}
        assert observed == set(TABLES)
        return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_table_checks_pass_on_a_healthy_database(conn, tenant, resources) -> None:
    seed_day(conn, [tenant["id"]], date.today(), 20, campanhas_por_tenant=1)
    conn.execute("UPDATE disparos SET data_agendado = now() + interval '1 hour' WHERE status = 'pendente'")
    conn.execute("DELETE FROM disparos_dlq")
    checks = _observe(resources)
    assert {name: c.passed for name, c in checks.items()} == dict.fromkeys(
        (CHECK_DLQ, CHECK_LEASES, CHECK_ATRASO, CHECK_INGEST), True
    )


def test_table_checks_fail_on_each_problem(conn, tenant, resources) -> None:
    seed_day(conn, [tenant["id"]], date.today(), 200, campanhas_por_tenant=1)  # a few erro, each in the DLQ
    conn.execute("UPDATE disparos_dlq SET created_at = now()")
    conn.execute("INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, tentativas) "
                 "SELECT tenant_id, disparo_id, canal, '{}', 3 FROM disparos LIMIT 50")  # fmt: skip
    conn.execute(
        """UPDATE disparos SET status = 'enviando', lease_ate = now() - interval '20 minutes', lease_owner = 'morto'
           WHERE disparo_id IN (SELECT disparo_id FROM disparos WHERE status = 'pendente' LIMIT 2)"""
    )
    conn.execute("UPDATE disparos SET data_agendado = now() - interval '1 hour' WHERE status = 'pendente'")
    conn.execute(
        """INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status, mensagem_erro)
           VALUES (%s, 'quebrada.xlsx', 'erro', 'aba Leads não encontrada')""",
        (tenant["id"],),
    )
    dlq = conn.execute("SELECT count(*) AS n FROM disparos_dlq").fetchone()["n"]
    checks = _observe(resources)
    assert not any(c.passed for c in checks.values())
    assert checks[CHECK_DLQ].metadata["novas"].value == dlq > 50
    assert checks[CHECK_LEASES].metadata["presos"].value == 2
    assert checks[CHECK_ATRASO].metadata["atraso_s"].value >= 3600
    assert checks[CHECK_INGEST].metadata["detalhe"].value[0]["arquivo"] == "quebrada.xlsx"
    assert checks[CHECK_LEASES].severity == dg.AssetCheckSeverity.ERROR
