"""Leads as the API and the CLI read them (the ingest room writes them)."""
