"""Set-based seeding of leads and due disparos for the send benchmark and tests (generate_series)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg


def seed_due(
    conn: psycopg.Connection,
    tenant_id: UUID,
    n: int,
    *,
    canal: str = "whatsapp",
    due_in_s: float = -1.0,
    spread_s: float = 0.0,
    max_tentativas: int = 3,
    prefix: str = "L",
    payload: dict[str, Any] | None = None,
) -> list[UUID]:
    """n leads (one disparo each) due at now()+due_in_s (+ i/n·spread_s); returns the disparo ids."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute(
            """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome)
               SELECT %(t)s, %(p)s || i, 'seed.xlsx', 'Leads', i + 1, 'Lead ' || i
               FROM generate_series(1, %(n)s) AS i
               ON CONFLICT (tenant_id, lead_id_externo) DO NOTHING""",
            {"t": tenant_id, "p": prefix, "n": n},
        )
        rows = conn.execute(
            """INSERT INTO disparos (tenant_id, lead_id, canal, destino, template, payload, data_agendado,
                                     max_tentativas)
               SELECT l.tenant_id, l.lead_id, %(canal)s,
                      CASE WHEN %(canal)s = 'whatsapp' THEN '+5584' || lpad((900000000 + i)::text, 9, '0')
                           ELSE lower(%(p)s) || i || '@example.com' END,
                      'boas_vindas',
                      coalesce(%(payload)s, jsonb_build_object('mensagem', 'Olá, ' || l.nome || '!',
                                                               'assunto', 'Bem-vindo')),
                      now() + make_interval(secs => %(due)s + %(spread)s * i / %(n)s),
                      %(max)s
               FROM generate_series(1, %(n)s) AS i
               JOIN leads l ON l.tenant_id = %(t)s AND l.lead_id_externo = %(p)s || i
               RETURNING disparo_id""",
            {
                "t": tenant_id, "p": prefix, "n": n, "canal": canal, "due": due_in_s, "spread": spread_s,
                "max": max_tentativas, "payload": Jsonb(payload) if payload is not None else None,
            },
        ).fetchall()  # fmt: skip
    return [r["disparo_id"] if isinstance(r, dict) else r[0] for r in rows]
