"""Dagster beta warnings of features the product uses on purpose (a backfill policy per asset, the tables
as one multi observable source asset, sensor owners set by Dagster itself, the instance's LogEntry log
handlers in deploy/dagster*.yaml). They are printed at every code-server start and every run, dozens of
lines in `disparo-agenda dev`; these, and only these, are silenced. No dagster import here: `dev` reads
this module before it starts anything."""

from __future__ import annotations

import re
import warnings

USED_ON_PURPOSE = (
    "Parameter `backfill_policy` of function `asset`",
    "Function `multi_observable_source_asset`",
    "Parameter `owners` of initializer `SensorDefinition",
    "Handling yaml-defined logging configuration",
)


def silence() -> None:
    """In this process (the code location calls it when it is imported)."""
    for message in USED_ON_PURPOSE:
        warnings.filterwarnings("ignore", message=re.escape(message))


def pythonwarnings(current: str | None) -> str:
    """PYTHONWARNINGS for child processes: a run's step process builds the instance (and warns about its
    yaml log handlers) before it imports the code location."""
    return ",".join(filter(None, (current, *(f"ignore:{m}" for m in USED_ON_PURPOSE))))
