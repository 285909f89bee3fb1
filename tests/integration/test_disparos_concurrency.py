"""Concurrent requests with one Idempotency-Key create one disparo; concurrent campaign applies do not
duplicate (partial unique index + ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from disparos_support import make_lead, make_template

from pipelines.core.common.db import connect
from pipelines.core.disparos.campanhas import aplicar_campanha, create_campanha
from pipelines.core.disparos.single import create_disparo


def test_same_key_in_parallel_creates_one(database_url, conn, tenant) -> None:
    make_template(conn, tenant["id"], corpo="Oi {{nome}}")
    lead = make_lead(conn, tenant["id"])
    body = {"canal": "whatsapp", "template": "cobranca", "agendar_para": "2099-01-01T00:00:00Z"}

    def call(_: int):
        with connect(database_url, autocommit=True) as c:
            return create_disparo(c, tenant["tenant"], lead["lead_id"], body, idempotency_key="k")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    assert len({r[0]["disparo_id"] for r in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert conn.execute("SELECT count(*) AS n FROM disparos").fetchone()["n"] == 1


def test_parallel_applies_do_not_duplicate(database_url, conn, tenant) -> None:
    make_template(conn, tenant["id"], corpo="Oi {{nome}}")
    for _ in range(20):
        make_lead(conn, tenant["id"])
    c = create_campanha(
        conn, tenant["tenant"], {"canal": "whatsapp", "template": "cobranca", "filtro": {"tags": ["x"]}}
    )
    assert c["criados"] == 0
    conn.execute("UPDATE leads SET tags = '[\"x\"]'")

    def call(_: int):
        with connect(database_url, autocommit=True) as cx:
            return aplicar_campanha(cx, tenant["tenant"], c["campanha_id"])["criados"]

    with ThreadPoolExecutor(3) as pool:
        created = list(pool.map(call, range(3)))
    assert sum(created) == 20
    n = conn.execute("SELECT count(*) AS n, count(DISTINCT lead_id) AS l FROM disparos").fetchone()
    assert n["n"] == n["l"] == 20
