"""Operations sensors and schedules: the seed's alarms (incidents opened, cleared and notified to the
tenant's team), the outbox publisher (events to each tenant's webhook) and the daily housekeeping. Thin shells over pipelines.core.observability;
what they did is the tick's message in the UI.

The publisher works inside the tick instead of launching runs: a batch is one HTTP request per tenant, and
a run every few seconds (each costing seconds to start) would bury the run list for no gain."""

from __future__ import annotations

import dagster as dg

from pipelines.core.observability import alarms
from pipelines.core.observability.outbox import publish_due
from pipelines.jobs.housekeeping import limpeza_diaria
from pipelines.resources import PostgresResource, SettingsResource

PUBLISH_BUDGET_S = 20.0  # well inside the tick's time limit


@dg.sensor(
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publica os eventos do outbox (ingest.job_created/job_completed, disparo.completed, "
    "agendamento.*) no webhook de cada tenant (tenant set --webhook-url), em lotes assinados com HMAC; "
    "falhas esperam com backoff exponencial e voltam a ser tentadas (entrega pelo menos uma vez).",
)
def publicar_eventos(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    with postgres.connection() as conn:
        stats = publish_due(conn, budget_s=PUBLISH_BUDGET_S)
    for line in stats.erros:
        context.log.warning(line)
    return dg.SensorResult(skip_reason=stats.summary())


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alarmes do design: DisparoHighFailureRate (taxa de falha > 10 % em dois períodos seguidos "
    "de 5 minutos, por tenant e canal) e IngestJobFailed (job de ingestão em erro nos últimos 5 minutos). "
    "Cada incidente é avisado uma vez à equipe do tenant (tenant set --equipe-canal/--equipe-destino, pelo "
    "MCP) e mais uma vez quando normaliza; a mensagem do tick diz o que abriu, fechou e foi avisado.",
)
def alarmes(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: SettingsResource
) -> dg.SensorResult:
    with postgres.connection() as conn:
        evaluation = alarms.evaluate(conn)
        sent = alarms.notify(conn, settings.get())
    for incident in evaluation.abertos:
        context.log.error(f"alarme aberto: {alarms.describe(incident)}")
    for incident in evaluation.fechados:
        context.log.info(f"alarme normalizado: {alarms.describe(incident)}")
    parts = [evaluation.summary()]
    if sent.enviadas:
        parts.append("avisos enviados: " + ", ".join(sent.enviadas))
    if sent.pendentes:
        parts.append("avisos pendentes: " + "; ".join(sent.pendentes))
        for line in sent.pendentes:
            context.log.warning(f"aviso de alarme não enviado: {line}")
    return dg.SensorResult(skip_reason=" | ".join(parts))


limpeza_diaria_schedule = dg.ScheduleDefinition(
    name="limpeza_diaria_schedule",
    job=limpeza_diaria,
    cron_schedule="0 3 * * *",
    execution_timezone="America/Sao_Paulo",
    description="Todo dia às 03:00 (São Paulo): retenção de planilhas, rejeições e eventos por tenant, "
    "lembretes vencidos e o resumo da DLQ para a equipe de cada tenant.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
