"""Schedules of the reporting side: yesterday's mart day every morning, the tables' observation and
health checks every 5 minutes."""

import dagster as dg

from pipelines.jobs.mart import mart_diario, observar_tabelas

# 04:00 in São Paulo: every Brazilian time zone's day has ended (Acre's ends at 02:00 there).
mart_diario_schedule = dg.build_schedule_from_partitioned_job(
    mart_diario,
    name="mart_diario_schedule",
    hour_of_day=4,
    description="Todo dia às 04:00 (São Paulo) constrói a partição de ontem do mart de relatórios.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

observar_tabelas_schedule = dg.ScheduleDefinition(
    name="observar_tabelas_schedule",
    job=observar_tabelas,
    cron_schedule="*/5 * * * *",
    execution_timezone="America/Sao_Paulo",
    description="A cada 5 minutos observa as tabelas e roda os checks de saúde.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
