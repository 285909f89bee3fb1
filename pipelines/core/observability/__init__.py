"""Operations: the seed's metrics (metrics.py) and alarms (alarms.py), the published outbox events
(outbox.py) and the housekeeping sweep (housekeeping.py). Dagster-free; the shells are sensors/ and
pipelines/jobs/ (Dagster), api_lite/routes/metrics.py (HTTP) and the CLI."""
