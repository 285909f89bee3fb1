"""Jobs of the reporting side: `mart_diario` builds one day of the mart (its three assets, one partition),
`observar_tabelas` observes the product's tables and runs their health checks. Their schedules are in
sensors/mart.py."""

import dagster as dg

from assets.mart import MART_ASSETS
from assets.tables import tabelas_do_produto

mart_diario = dg.define_asset_job(
    "mart_diario",
    selection=MART_ASSETS,
    description="Constrói um dia do mart de relatórios (funil, ingestão, agendamentos) em Parquet/DuckDB.",
)

observar_tabelas = dg.define_asset_job(
    "observar_tabelas",
    selection=dg.AssetSelection.assets(tabelas_do_produto),
    description="Observa as tabelas do produto e roda os checks de saúde (DLQ, leases, fila, ingestão).",
)
