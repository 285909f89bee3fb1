"""The one Definitions of the code location (workspace.yaml and [tool.dg] load this module), listing by
name every asset, job, schedule, sensor and resource. The ingest asset's checks (`taxa_de_rejeicao`,
`leads_com_contato_valido`) are declared with the asset: they are computed in the same step, from the
same job. Jobs and ops live in pipelines/jobs/, assets in assets/, sensors and schedules in sensors/."""

import dagster as dg

from assets.ingest import leads_ingest
from assets.mart import MART_ASSETS
from assets.tables import tabelas_do_produto
from pipelines.jobs.housekeeping import limpeza_diaria
from pipelines.jobs.ingest import ingest_job
from pipelines.jobs.lembretes import enviar_lembretes
from pipelines.jobs.mart import mart_diario, observar_tabelas
from pipelines.jobs.send import enviar_disparos, redrive_dlq
from pipelines.resources import build_resources
from sensors.ingest import inbox_ingest_sensor, ingest_fora_do_dagster, pending_ingest_jobs_sensor
from sensors.lembretes import lembretes_devidos_sensor
from sensors.mart import mart_diario_schedule, observar_tabelas_schedule
from sensors.observability import alarmes, limpeza_diaria_schedule, publicar_eventos
from sensors.run_failure import alerta_run_falhou
from sensors.send import disparos_devidos

defs = dg.Definitions(
    assets=[leads_ingest, tabelas_do_produto, *MART_ASSETS],
    jobs=[
        ingest_job,
        enviar_disparos,
        redrive_dlq,
        enviar_lembretes,
        mart_diario,
        observar_tabelas,
        limpeza_diaria,
    ],
    schedules=[mart_diario_schedule, observar_tabelas_schedule, limpeza_diaria_schedule],
    sensors=[
        inbox_ingest_sensor,
        pending_ingest_jobs_sensor,
        ingest_fora_do_dagster,
        disparos_devidos,
        lembretes_devidos_sensor,
        alerta_run_falhou,
        publicar_eventos,
        alarmes,
    ],
    resources=build_resources(),
)
