"""Reporting mart: daily facts exported from PostgreSQL to Parquet, aggregates built in DuckDB, and the
read side of the reports. Never imports dagster."""
