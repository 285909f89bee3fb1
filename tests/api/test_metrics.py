def test_metrics_aggregates_without_tenant_labels(api_client, conn, tenant, other_tenant) -> None:
    for t in (tenant, other_tenant):
        conn.execute(
            "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status) VALUES (%s, 'a.xlsx', 'concluido')",
            (t["id"],),
        )
    conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, status) VALUES (%s, 'b.xlsx', 'erro')",
        (tenant["id"],),
    )
    r = api_client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    assert 'disparo_agenda_ingest_jobs{status="concluido"} 2' in body
    assert 'disparo_agenda_ingest_jobs{status="erro"} 1' in body
    assert str(tenant["id"]) not in body and "acme" not in body
