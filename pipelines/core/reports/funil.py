"""The delivery funnel read from the mart, one tenant at a time: the rows of `funil` for a range of days,
as a JSON document, CSV or Parquet. Shared by `GET /relatorios/funil` and `disparo-agenda relatorio
funil`."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core.common import csvsafe
from pipelines.core.common.errors import NotFoundError, ValidationError
from pipelines.core.common.queries import query
from pipelines.core.reports.mart import Mart, forget_views, reader

FORMATOS = ("json", "csv", "parquet")
CANAIS = ("whatsapp", "email")
MAX_DIAS = 366
DIAS_PADRAO = 30


@dataclass(frozen=True)
class FunilFiltro:
    de: date
    ate: date
    canal: str | None = None
    campanha_id: UUID | None = None


def filtro(
    de: date | None, ate: date | None, canal: str | None, campanha_id: UUID | None, *, hoje: date
) -> FunilFiltro:
    """The range asked for (default: the DIAS_PADRAO days up to `hoje`), checked: de ≤ ate, at most
    MAX_DIAS days."""
    try:
        ate = ate or (de + timedelta(days=DIAS_PADRAO - 1) if de else hoje)
        de = de or ate - timedelta(days=DIAS_PADRAO - 1)
    except OverflowError:
        raise ValidationError("data fora do calendário suportado", field="de" if de else "ate") from None
    if de > ate:
        raise ValidationError(f"'de' ({de}) é depois de 'ate' ({ate})", field="de")
    if (ate - de).days + 1 > MAX_DIAS:
        raise ValidationError(
            f"intervalo de no máximo {MAX_DIAS} dias (pedido: {(ate - de).days + 1})", field="ate"
        )
    if canal is not None and canal not in CANAIS:
        raise ValidationError(f"canal deve ser um de: {', '.join(CANAIS)}", field="canal")
    return FunilFiltro(de, ate, canal, campanha_id)


def ensure_campanha(conn: psycopg.Connection, tenant_id: UUID, campanha_id: UUID | None) -> None:
    """Another tenant's campaign (or none) is a 404, as everywhere else."""
    if campanha_id is None:
        return
    row = conn.execute(
        query("reports", "tenant_campanha"), {"tenant_id": tenant_id, "campanha_id": campanha_id}
    ).fetchone()
    if row is None:
        raise NotFoundError(f"campanha {campanha_id} não encontrada", field="campanha_id")


def read(mart: Mart, tenant_id: UUID, f: FunilFiltro) -> pa.Table:
    """The tenant's funnel rows for the filter, in a private in-memory DuckDB over the mart's files."""
    params = {
        "tenant_id": tenant_id,
        "de": f.de,
        "ate": f.ate,
        "canal": f.canal,
        "campanha_id": f.campanha_id,
    }
    try:
        return _read(mart, params)
    except duckdb.IOException:  # the days the view was bound to were removed: start over, once
        forget_views(mart)
        return _read(mart, params)


def _read(mart: Mart, params: dict[str, Any]) -> pa.Table:
    with reader(mart, ("funil",)) as duck:
        return duck.sql(query("mart", "read_funil"), params=params).to_arrow_table()


def document(table: pa.Table, f: FunilFiltro) -> dict[str, Any]:
    """The JSON document: the filter and one object per (dia, canal, campanha)."""
    return {
        "de": f.de.isoformat(),
        "ate": f.ate.isoformat(),
        "canal": f.canal,
        "campanha_id": str(f.campanha_id) if f.campanha_id else None,
        "linhas": [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()],
    }


def to_csv(table: pa.Table) -> str:
    """CSV with a header; cells that start like a formula are neutralized (common.csvsafe)."""
    return csvsafe.rows_csv(table.column_names, (row.values() for row in table.to_pylist()))


def to_parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
