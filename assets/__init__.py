"""Dagster assets and their checks: thin shells over pipelines.core.

Beta features used on purpose (a backfill policy per asset, the product's tables as one multi observable
source asset, sensor owners set by Dagster itself, the instance's LogEntry log handlers) warn at every
code-server start and every run: dozens of lines in `disparo-agenda dev`. Those warnings, and only those,
are silenced; any other beta or deprecation warning still shows."""

import warnings

import dagster as dg

for _used_on_purpose in (
    r"Parameter `backfill_policy` of function `asset`",
    r"Function `multi_observable_source_asset`",
    r"Parameter `owners` of initializer `SensorDefinition",
    r"Handling yaml-defined logging configuration",  # deploy/dagster.*.yaml: runs log in LogEntry format
):
    warnings.filterwarnings("ignore", message=_used_on_purpose, category=dg.BetaWarning)
