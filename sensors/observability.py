"""Operations sensors: the outbox publisher (events to each tenant's webhook). Thin shells over
pipelines.core.observability; what they did is the tick's message in the UI.

The publisher works inside the tick instead of launching runs: a batch is one HTTP request per tenant, and
a run every few seconds (each costing seconds to start) would bury the run list for no gain."""

from __future__ import annotations

import dagster as dg

from pipelines.core.observability.outbox import publish_due
from pipelines.resources import PostgresResource

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
