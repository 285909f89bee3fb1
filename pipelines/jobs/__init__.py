"""Dagster jobs and their ops, one module per domain, each a thin shell over pipelines.core. Assets live
in assets/, sensors and schedules in sensors/; pipelines/definitions.py lists them all."""
