"""Dagster assets and their checks: thin shells over pipelines.core.

The beta features used on purpose (a backfill policy per asset, the product's tables as one multi
observable source asset, sensor owners set by Dagster itself) warn at every import — in every code-server
start and every run, dozens of lines in `disparo-agenda dev`. Those three warnings, and only those, are
silenced; any other beta or deprecation warning still shows."""

import warnings

import dagster as dg

for _used_on_purpose in (
    r"Parameter `backfill_policy` of function `asset`",
    r"Function `multi_observable_source_asset`",
    r"Parameter `owners` of initializer `SensorDefinition",
):
    warnings.filterwarnings("ignore", message=_used_on_purpose, category=dg.BetaWarning)
