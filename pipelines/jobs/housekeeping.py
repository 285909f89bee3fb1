"""The daily housekeeping job: retention of stored sheets, ingest rejects and outbox events (per tenant,
`retencao_dias`), expired reminders and the DLQ digest to each team —
pipelines.core.observability.housekeeping. sensors/observability.py schedules it."""

from typing import Any

import dagster as dg

from pipelines.core.observability.housekeeping import run_housekeeping
from pipelines.dagster_common import KIND_TAG
from pipelines.resources import PostgresResource, SettingsResource

JOB_NAME = "limpeza_diaria"


class LimpezaConfig(dg.Config):
    enviar_resumo_dlq: bool = True  # false: the digest is only computed (shown here), not sent


def _digest_table(resumos: list[dict[str, Any]]) -> str:
    if not resumos:
        return "DLQ vazia em todos os tenants."
    lines = ["| tenant | pendentes | novos (24 h) | por canal | aviso |", "|---|---|---|---|---|"]
    for r in resumos:
        canais = ", ".join(f"{c}: {n}" for c, n in r["por_canal"].items())
        aviso = "enviado" if r["enviado"] else r.get("erro") or "não enviado"
        lines.append(f"| {r['tenant']} | {r['pendentes']} | {r['novos_24h']} | {canais} | {aviso} |")
    return "\n".join(lines)


@dg.op(
    description="Apaga planilhas guardadas, rejeições e eventos mais velhos que a retenção do tenant "
    "(retencao_dias, padrão 90), encerra lembretes vencidos e manda o resumo da DLQ para a equipe de cada tenant."
)
def limpeza(
    context: dg.OpExecutionContext,
    config: LimpezaConfig,
    postgres: PostgresResource,
    settings: SettingsResource,
) -> dict[str, Any]:
    with postgres.connection() as conn:
        stats = run_housekeeping(conn, settings.get(), digest=config.enviar_resumo_dlq)
    context.add_output_metadata(
        {
            "rejeicoes_removidas": stats.rejeicoes_removidas,
            "arquivos_removidos": stats.arquivos_removidos,
            "bytes_liberados": stats.bytes_liberados,
            "eventos_removidos": stats.eventos_removidos,
            "lembretes": dg.MetadataValue.json(stats.lembretes),
            "resumo_dlq": dg.MetadataValue.md(_digest_table(stats.resumos_dlq)),
        }
    )
    for r in stats.resumos_dlq:
        if r.get("erro"):
            context.log.warning(f"resumo da DLQ de {r['tenant']} não enviado: {r['erro']}")
    return stats.as_dict()


@dg.job(
    name=JOB_NAME,
    tags={KIND_TAG: "limpeza"},
    description="Limpeza diária: retenção, lembretes vencidos, resumo da DLQ.",
)
def limpeza_diaria() -> None:
    limpeza()
