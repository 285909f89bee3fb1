"""One mart day per subject: export the day's facts from PostgreSQL, load them once into a private DuckDB,
write the facts and the aggregates as that day's Parquet files (replacing the day's previous ones), and
summarize. Rebuilding a day gives the same files for the same database state, so a backfill is safe to
repeat; a day holds the facts created on it, each in the state it is in when the day is built."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from pipelines.core.common.queries import query
from pipelines.core.reports.export import (
    DayBounds,
    arrow_source,
    day_bounds,
    exported_columns,
    fetch_day,
    statement,
)
from pipelines.core.reports.mart import DATASETS, Mart, compute_connection

# subject -> (facts dataset exported, [(dataset written, build query or None for the facts as exported)],
#             summary query)
SUBJECTS: dict[str, tuple[str, list[tuple[str, str | None]], str]] = {
    "funil": ("fatos_disparos", [("fatos_disparos", None), ("funil", "build_funil")], "summary_funil"),
    "ingest": (
        "ingest_jobs",
        [("ingest_jobs", "build_ingest_jobs"), ("ingest_rejeicoes", None)],
        "summary_ingest",
    ),
    "agendamentos": (
        "fatos_agendamentos",
        [("fatos_agendamentos", None), ("agendamentos", "build_agendamentos")],
        "summary_agendamentos",
    ),
}


@dataclass
class DayBuild:
    """What one subject's day wrote: rows per dataset, the summary table, where the time went."""

    subject: str
    dia: date
    linhas: dict[str, int] = field(default_factory=dict)
    summary_columns: list[str] = field(default_factory=list)
    summary_rows: list[tuple[Any, ...]] = field(default_factory=list)
    tempos_s: dict[str, float] = field(default_factory=dict)
    arquivos: dict[str, Path] = field(default_factory=dict)

    def summary_markdown(self) -> str:
        return markdown_table(self.summary_columns, self.summary_rows)


BACKGROUND_NICE = 10


def run_in_background_priority() -> None:
    """Lower this process's CPU priority (nice 10, and SCHED_IDLE on Linux) so a mart build yields the CPU
    to the send engine and the API on the same host; for processes that only build (a Dagster run, the
    CLI), never the API's. The PostgreSQL backend serving the export is left at its priority: a starved
    backend holding a buffer lock would stall the send engine's backends (priority inversion), and
    lowering it measured within noise (bench_mart)."""
    # Linux sets both per thread: every thread already running (polars' and the allocator's, started at
    # import) is lowered too; threads started later inherit it from this one.
    tasks = Path("/proc/self/task")
    for tid in [int(t) for t in os.listdir(tasks)] if tasks.is_dir() else [0]:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
        except OSError:
            pass  # a thread that just ended
        _idle_policy(tid)


def _idle_policy(tid: int) -> None:
    """SCHED_IDLE (Linux): the thread runs only on CPU time nobody else at normal priority wants; nice 10
    alone still takes about a tenth of a contended core."""
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass


def build_day(
    conn: psycopg.Connection,
    url: str,
    mart: Mart,
    subject: str,
    dia: date,
    *,
    threads: int | None = None,
    log: Callable[[str], Any] | None = None,
) -> DayBuild:
    """Build one subject's day (see SUBJECTS) and publish its files. `conn` reads the day's bounds and
    binds the export's values; `url` is the same database, for the Arrow export."""
    return build_days(conn, url, mart, subject, [dia], threads=threads, log=log)[0]


def build_days(
    conn: psycopg.Connection,
    url: str,
    mart: Mart,
    subject: str,
    dias: list[date],
    *,
    threads: int | None = None,
    log: Callable[[str], Any] | None = None,
) -> list[DayBuild]:
    """Several days of one subject on one export connection and one DuckDB (a backfill's range)."""
    results = []
    with arrow_source(url) as source, compute_connection(threads) as duck:
        for dia in dias:
            result = _build(conn, source, duck, mart, subject, dia)
            if log:
                log(f"mart {subject} {dia}: {result.linhas} em {result.tempos_s['total']} s")
            results.append(result)
    return results


def _build(
    conn: psycopg.Connection,
    source: Any,
    duck: duckdb.DuckDBPyConnection,
    mart: Mart,
    subject: str,
    dia: date,
) -> DayBuild:
    facts, outputs, summary = SUBJECTS[subject]
    result = DayBuild(subject, dia)
    t0 = time.perf_counter()
    bounds = day_bounds(conn, dia)
    tables = (facts, *_extra_exports(subject))
    with mart.staging() as tmp:
        _load_facts(conn, source, duck, tables, bounds)
        result.tempos_s["exportar"] = round(time.perf_counter() - t0, 3)
        staged: dict[str, Path] = {}
        for dataset, build_query in outputs:
            step = time.perf_counter()
            select = query("mart", build_query) if build_query else f"SELECT * FROM {_table(dataset)}"
            path = tmp / f"{dataset}.parquet"
            columns = ", ".join(DATASETS[dataset])
            written = duck.execute(
                f"COPY (SELECT {columns} FROM (\n{select}\n)) TO '{_escape(path)}' (FORMAT parquet)"
            ).fetchone()
            staged[dataset] = path
            result.linhas[dataset] = int(written[0]) if written else 0
            result.tempos_s[dataset] = round(time.perf_counter() - step, 3)
        step = time.perf_counter()
        cur = duck.execute(query("mart", summary))
        result.summary_columns = [d[0] for d in cur.description]
        result.summary_rows = cur.fetchall()
        result.tempos_s["resumo"] = round(time.perf_counter() - step, 3)
        for dataset, path in staged.items():
            result.arquivos[dataset] = mart.publish(path, dataset, dia)
    for dataset in tables:
        duck.execute(f"DROP TABLE {_table(dataset)}")
    result.tempos_s["total"] = round(time.perf_counter() - t0, 3)
    return result


def _extra_exports(subject: str) -> tuple[str, ...]:
    return ("ingest_rejeicoes",) if subject == "ingest" else ()


def _table(dataset: str) -> str:
    return "f" if dataset in {s[0] for s in SUBJECTS.values()} else dataset


def _load_facts(
    conn: psycopg.Connection,
    source: Any,
    duck: duckdb.DuckDBPyConnection,
    datasets: tuple[str, ...],
    bounds: DayBounds,
) -> None:
    """The day's rows of each dataset as a DuckDB table (`f` for the subject's facts), with the dataset's
    declared types."""
    for dataset in datasets:
        columns = exported_columns(dataset)
        types = DATASETS[dataset]
        table = _table(dataset)
        if bounds.empty:  # no tenant yet: an empty day
            cols = ", ".join(f"CAST(NULL AS {types[c]}) AS {c}" for c in columns)
            duck.execute(f"CREATE TABLE {table} AS SELECT {cols} WHERE false")
            continue
        cols = ", ".join(f"CAST({c} AS {types[c]}) AS {c}" for c in columns)
        with fetch_day(source, statement(conn, dataset, bounds)) as batches:
            duck.register("day_batches", batches)
            duck.execute(f"CREATE TABLE {table} AS SELECT {cols} FROM day_batches")
            duck.unregister("day_batches")


def markdown_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A GitHub-style markdown table (the Dagster UI renders it); rates as %, seconds with 2 decimals."""
    if not rows:
        return "_nenhum registro no dia_"

    def cell(column: str, value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:.1%}" if column.startswith("taxa") else f"{value:.2f}"
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(columns, row, strict=True)) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")
