"""The reporting mart's files: one Parquet file per dataset and day under `<home>/mart/<dataset>/dia=D/`,
and DuckDB views over them (in `mart.duckdb` for analysts and Dagster, in a private in-memory database for
the read side).

A day is written whole and swapped in with one rename, so rebuilding a day (a backfill) replaces it and a
reader sees the old day or the new one, never half of it. Readers never open `mart.duckdb`: DuckDB lets one
process write a database file or many read it, not both, and a report request must not wait for (or
block) a build — or fail while someone has the file open in the DuckDB shell."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

MART_DB = "mart.duckdb"

# Every dataset's columns and DuckDB types (the `dia` of its folder name comes on top). An empty mart
# still has every view, with these columns and no rows.
DATASETS: dict[str, dict[str, str]] = {
    # facts exported from PostgreSQL
    "fatos_disparos": {
        "tenant_id": "UUID", "disparo_id": "UUID", "campanha_id": "UUID", "canal": "VARCHAR",
        "status": "VARCHAR", "created_at": "TIMESTAMPTZ", "data_agendado": "TIMESTAMPTZ",
        "data_envio": "TIMESTAMPTZ", "data_retorno": "TIMESTAMPTZ", "tentativas": "INTEGER",
        "em_dlq": "BOOLEAN",
    },
    "fatos_agendamentos": {
        "tenant_id": "UUID", "agendamento_id": "UUID", "tipo": "VARCHAR", "canal": "VARCHAR",
        "status": "VARCHAR", "data_criacao": "TIMESTAMPTZ", "data_agendada": "TIMESTAMPTZ",
        "realizado_em": "TIMESTAMPTZ", "cancelado_em": "TIMESTAMPTZ", "lembretes_enviados": "BIGINT",
        "lembretes_erro": "BIGINT",
    },
    "ingest_jobs": {
        "tenant_id": "UUID", "job_id": "UUID", "arquivo_origem": "VARCHAR", "origem": "VARCHAR",
        "status": "VARCHAR", "created_at": "TIMESTAMPTZ", "concluido_em": "TIMESTAMPTZ",
        "linhas_total": "INTEGER", "linhas_processadas": "INTEGER", "linhas_rejeitadas": "INTEGER",
        "leads_criados": "INTEGER", "leads_atualizados": "INTEGER", "telefones_criados": "INTEGER",
        "emails_criados": "INTEGER", "leads_sem_contato": "INTEGER", "duracao_s": "DOUBLE",
        "mensagem_erro": "VARCHAR", "taxa_rejeicao": "DOUBLE", "taxa_contato_valido": "DOUBLE",
    },
    "ingest_rejeicoes": {
        "tenant_id": "UUID", "job_id": "UUID", "coluna": "VARCHAR", "motivo": "VARCHAR",
        "linhas": "BIGINT", "primeira_linha": "INTEGER",
    },
    # aggregates built in DuckDB from the facts
    "funil": {
        "tenant_id": "UUID", "canal": "VARCHAR", "campanha_id": "UUID", "criados": "BIGINT",
        "pendentes": "BIGINT", "enviados": "BIGINT", "confirmados": "BIGINT", "erro": "BIGINT",
        "bloqueado": "BIGINT", "cancelado": "BIGINT", "dlq": "BIGINT", "taxa_falha": "DOUBLE",
        "tempo_ate_envio_p50_s": "DOUBLE", "tempo_ate_envio_p95_s": "DOUBLE",
    },
    "agendamentos": {
        "tenant_id": "UUID", "tipo": "VARCHAR", "canal": "VARCHAR", "criados": "BIGINT",
        "pendentes": "BIGINT", "realizados": "BIGINT", "cancelados": "BIGINT",
        "lembretes_enviados": "BIGINT", "lembretes_erro": "BIGINT",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Mart:
    """The mart's folder (`<home>/mart` unless given) and its DuckDB catalog file."""

    root: Path
    catalog: Path | None = None  # the DuckDB file; default <root>/mart.duckdb

    @classmethod
    def under(cls, home: Path) -> Mart:
        return cls(home / "mart")

    @property
    def database(self) -> Path:
        return self.catalog or self.root / MART_DB

    def day_dir(self, dataset: str, dia: date) -> Path:
        return self.root / dataset / f"dia={dia.isoformat()}"

    def day_file(self, dataset: str, dia: date) -> Path:
        return self.day_dir(dataset, dia) / f"{dataset}.parquet"

    def glob(self, dataset: str) -> str:
        return str(self.root / dataset / "dia=*" / "*.parquet")

    def has_data(self, dataset: str) -> bool:
        return any((self.root / dataset).glob("dia=*/*.parquet"))

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A scratch folder on the mart's file system (renames into place stay atomic); removed after."""
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        try:
            yield tmp
        finally:
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()

    def publish(self, staged: Path, dataset: str, dia: date) -> Path:
        """Put a staged Parquet file in place as the dataset's day (atomic replace)."""
        target = self.day_file(dataset, dia)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return target


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_sql(mart: Mart, dataset: str) -> str:
    """CREATE OR REPLACE VIEW of one dataset: its Parquet days (`dia` from the folder name, so a filter
    on `dia` reads only those days' files), or an empty view of the same columns while it has no day."""
    columns = DATASETS[dataset]
    if mart.has_data(dataset):
        select = (
            f"SELECT * FROM read_parquet({_sql_string(mart.glob(dataset))}, hive_partitioning = true, "
            "hive_types = {'dia': DATE})"
        )
    else:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items())
        select = f"SELECT {cols}, CAST(NULL AS DATE) AS dia WHERE false"
    return f"CREATE OR REPLACE VIEW {dataset} AS {select}"


def create_views(con: duckdb.DuckDBPyConnection, mart: Mart, datasets: tuple[str, ...] = ()) -> None:
    """The mart's views (all, or the ones named) on a DuckDB connection."""
    for dataset in datasets or tuple(DATASETS):
        con.execute(view_sql(mart, dataset))


def refresh_catalog(mart: Mart) -> None:
    """The views of `mart.duckdb` (outside Dagster: the assets use the DuckDB resource's connection)."""
    mart.root.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(mart.database)) as catalog:
        create_views(catalog, mart)


def compute_connection(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for building and reading: no file, so no lock to wait for."""
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = threads
    return duckdb.connect(":memory:", config=config)


_readers: dict[Path, tuple[duckdb.DuckDBPyConnection, set[str]]] = {}
_readers_lock = threading.Lock()


def reader(mart: Mart, datasets: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    """A connection (close it after use) to this process's in-memory DuckDB holding the mart's views.

    One database per process: starting a DuckDB instance costs far more than a report query. A view is
    bound to its files at query time, so days built later show up by themselves; only a view created
    while its dataset had no day is created again, once the first day exists."""
    with _readers_lock:
        base, bound = _readers.get(mart.root) or (compute_connection(threads=1), set())
        _readers[mart.root] = (base, bound)
        for dataset in datasets:
            if dataset not in bound:
                base.execute(view_sql(mart, dataset))
                if mart.has_data(dataset):
                    bound.add(dataset)
        return base.cursor()


def forget_views(mart: Mart) -> None:
    """Drop this process's in-memory database of the mart: `reader` starts a fresh one on next use (DuckDB
    keeps bound statements, so replacing a view in place is not enough once its files are gone)."""
    with _readers_lock:
        base, _ = _readers.pop(mart.root, (None, None))
    if base is not None:
        base.close()
