"""Dagster assets and their checks: thin shells over pipelines.core."""

from pipelines.dagster_warnings import silence

silence()  # before the asset modules use the beta features they opt into
