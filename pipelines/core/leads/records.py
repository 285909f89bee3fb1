"""Lead queries (the seed's `GET /leads` and `GET /leads/{lead_id}`), always scoped to one tenant."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from pipelines.core.common.convert import iso_utc, parse_uuid
from pipelines.core.common.errors import NotFoundError, ValidationError

LEAD_STATUSES = ("novo", "em_disparo", "agendado", "convertido", "descartado")
MAX_LIMIT = 500


def list_leads(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the tenant's leads, newest first, with the total for the same filter."""
    if status is not None and status not in LEAD_STATUSES:
        raise ValidationError(
            f"status inválido: {status!r}; use um de: {', '.join(LEAD_STATUSES)}", field="status"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit deve estar entre 1 e {MAX_LIMIT} (recebido {limit})", field="limit")
    if offset < 0:
        raise ValidationError(f"offset deve ser >= 0 (recebido {offset})", field="offset")
    where = "tenant_id = %(t)s" + (" AND status = %(s)s" if status else "")
    params = {"t": tenant_id, "s": status, "limit": limit, "offset": offset}
    total = conn.execute(f"SELECT count(*) AS n FROM leads WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"""SELECT lead_id, nome, contato_nome, documento, status, data_ingestao
            FROM leads WHERE {where}
            ORDER BY data_ingestao DESC, lead_id
            LIMIT %(limit)s OFFSET %(offset)s""",
        params,
    ).fetchall()
    items = [
        {
            "lead_id": str(r["lead_id"]),
            "nome": r["nome"],
            "contato_nome": r["contato_nome"],
            "documento": r["documento"],
            "status": r["status"],
            "data_ingestao": iso_utc(r["data_ingestao"]),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def get_lead(conn: psycopg.Connection, tenant_id: UUID | str, lead_id: UUID | str) -> dict[str, Any]:
    """The lead with its phones and e-mails (principal first). Another tenant's lead is a 404."""
    lid = parse_uuid(lead_id, "lead")
    row = conn.execute(
        """SELECT lead_id, lead_id_externo, nome, contato_nome, documento, documento_tipo, status, tags,
                  origem_arquivo, origem_aba, linha_planilha, ingest_job_id, email_raw, telefone_raw,
                  data_ingestao, data_ultimo_evento
           FROM leads WHERE tenant_id = %s AND lead_id = %s""",
        (tenant_id, lid),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"lead {lead_id} não encontrado")
    phones = conn.execute(
        """SELECT telefone_id, telefone, telefone_principal, tipo_origem, valido_para_disparo, data_criacao
           FROM lead_telefones WHERE tenant_id = %s AND lead_id = %s
           ORDER BY telefone_principal DESC, data_criacao, telefone""",
        (tenant_id, lid),
    ).fetchall()
    emails = conn.execute(
        """SELECT email_id, email, email_principal, valido_para_disparo, data_criacao
           FROM lead_emails WHERE tenant_id = %s AND lead_id = %s
           ORDER BY email_principal DESC, data_criacao, email""",
        (tenant_id, lid),
    ).fetchall()
    doc = {k: row[k] for k in row}
    doc["lead_id"] = str(row["lead_id"])
    doc["ingest_job_id"] = str(row["ingest_job_id"]) if row["ingest_job_id"] else None
    doc["data_ingestao"] = iso_utc(row["data_ingestao"])
    doc["data_ultimo_evento"] = iso_utc(row["data_ultimo_evento"])
    doc["telefones"] = [
        {**p, "telefone_id": str(p["telefone_id"]), "data_criacao": iso_utc(p["data_criacao"])}
        for p in phones
    ]
    doc["emails"] = [
        {**e, "email_id": str(e["email_id"]), "data_criacao": iso_utc(e["data_criacao"])} for e in emails
    ]
    return doc


SETTABLE_STATUSES = ("novo", "convertido", "descartado")


def set_lead_status(
    conn: psycopg.Connection, tenant_id: UUID | str, lead_id: UUID | str, status: str
) -> dict[str, Any]:
    """A person's outcome for the lead: convertido or descartado (or novo to reopen it). em_disparo and
    agendado are set by disparos and agendamentos, never by hand. Returns the lead document."""
    if status not in SETTABLE_STATUSES:
        raise ValidationError(
            f"status inválido: {status!r}; use um de: {', '.join(SETTABLE_STATUSES)}", field="status"
        )
    lid = parse_uuid(lead_id, "lead")
    row = conn.execute(
        """UPDATE leads SET status = %s, data_ultimo_evento = now()
           WHERE tenant_id = %s AND lead_id = %s RETURNING lead_id""",
        (status, tenant_id, lid),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"lead {lead_id} não encontrado")
    return get_lead(conn, tenant_id, lid)
