"""Set-based seeding of one day of disparos in every state (generate_series; no row-by-row insert) for
the mart benchmark and the mart tests."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import psycopg

# Share of the day's disparos per final state: disparo i takes the state whose cumulative share covers
# (i * 7919) mod 1000, a permutation of 0..999, so any 1000 consecutive disparos have the exact mix.
STATES = (
    ("enviado", 0.80),
    ("confirmado", 0.08),
    ("erro", 0.04),
    ("bloqueado", 0.02),
    ("cancelado", 0.01),
    ("pendente", 0.05),
)


def seed_day(
    conn: psycopg.Connection,
    tenant_ids: list[UUID],
    dia: date,
    n: int,
    *,
    campanhas_por_tenant: int = 10,
    timezone: str = "America/Sao_Paulo",
) -> None:
    """n disparos created over `dia` (in `timezone`), spread evenly over the tenants and their campaigns
    (half WhatsApp, half e-mail), in the STATES mix; every erro has its DLQ entry. Each tenant gets as many
    leads as one campaign has disparos, so no lead is in one campaign twice."""
    k = len(tenant_ids)
    per_campaign = -(-n // (k * campanhas_por_tenant))
    bounds = []
    acc = 0.0
    for status, share in STATES:
        acc += share
        bounds.append((status, acc))
    case = " ".join(f"WHEN mod(i::bigint * 7919, 1000) < {round(b * 1000)} THEN '{s}'" for s, b in bounds)
    with conn.transaction():
        conn.execute(
            """INSERT INTO leads (tenant_id, lead_id_externo, origem_arquivo, origem_aba, linha_planilha, nome)
               SELECT t, 'M' || i, 'mart.xlsx', 'Leads', i + 1, 'Lead ' || i
               FROM unnest(%(tenants)s::uuid[]) AS t, generate_series(1, %(m)s) AS i
               ON CONFLICT (tenant_id, lead_id_externo) DO NOTHING""",
            {"tenants": tenant_ids, "m": per_campaign},
        )
        conn.execute(
            """INSERT INTO campanhas (tenant_id, nome, canal, template, inicio)
               SELECT t, 'mart ' || %(dia)s::text || ' ' || c, CASE WHEN mod(c, 2) = 0 THEN 'whatsapp' ELSE 'email' END, 'mart',
                      (%(dia)s::date)::timestamp AT TIME ZONE %(tz)s
               FROM unnest(%(tenants)s::uuid[]) AS t, generate_series(0, %(c)s - 1) AS c""",
            {"tenants": tenant_ids, "c": campanhas_por_tenant, "dia": dia, "tz": timezone},
        )
        conn.execute(
            f"""CREATE TEMP TABLE mart_seed ON COMMIT DROP AS
                SELECT i, (%(tenants)s::uuid[])[1 + mod(i, %(k)s)] AS tenant_id,
                       mod(i / %(k)s, %(c)s) AS camp, (i / (%(k)s * %(c)s)) + 1 AS lead_n,
                       CASE {case} END AS status,
                       (%(dia)s::date)::timestamp AT TIME ZONE %(tz)s
                           + make_interval(secs => 86399.0 * i / %(n)s) AS criado
                FROM generate_series(0, %(n)s - 1) AS i""",
            {"tenants": tenant_ids, "k": k, "c": campanhas_por_tenant, "dia": dia, "tz": timezone, "n": n},
        )
        conn.execute(
            """INSERT INTO disparos (tenant_id, lead_id, campanha_id, canal, destino, template, status,
                                     data_agendado, data_envio, data_retorno, tentativas, created_at, updated_at)
               SELECT s.tenant_id, l.lead_id, k.campanha_id, k.canal,
                      CASE WHEN k.canal = 'whatsapp' THEN '+5584' || lpad((900000000 + s.lead_n)::text, 9, '0')
                           ELSE 'm' || s.lead_n || '@example.com' END,
                      'mart', s.status, s.criado,
                      CASE WHEN s.status IN ('enviado', 'confirmado', 'erro')
                           THEN s.criado + make_interval(secs => 0.05 + mod(s.i, 97) / 10.0) END,
                      CASE WHEN s.status = 'confirmado' THEN s.criado + interval '30 seconds' END,
                      CASE WHEN s.status IN ('enviado', 'confirmado') THEN 1
                           WHEN s.status = 'erro' THEN 3 ELSE 0 END,
                      s.criado, s.criado
               FROM mart_seed s
               JOIN leads l ON l.tenant_id = s.tenant_id AND l.lead_id_externo = 'M' || s.lead_n
               JOIN campanhas k ON k.tenant_id = s.tenant_id AND k.nome = 'mart ' || %(dia)s::text || ' ' || s.camp""",
            {"dia": dia},
        )
        conn.execute(
            """INSERT INTO disparos_dlq (tenant_id, disparo_id, canal, payload, ultimo_erro, tentativas, created_at)
               SELECT tenant_id, disparo_id, canal, '{}', 'falha permanente', tentativas, data_envio
               FROM disparos
               WHERE status = 'erro' AND created_at >= (%(dia)s::date)::timestamp AT TIME ZONE %(tz)s
                 AND created_at < (%(dia)s::date + 1)::timestamp AT TIME ZONE %(tz)s""",
            {"dia": dia, "tz": timezone},
        )
