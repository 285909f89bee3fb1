"""Creating single disparos (the seed's `POST /leads/{lead_id}/disparos`), reading and cancelling them.

Everything is validated before anything is stored; the template is rendered here, strictly, and the
row's payload holds exactly what the send engine sends ({"variaveis", "mensagem", "assunto",
"template_id"?}). An `Idempotency-Key` makes a retried request return the first result.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from pipelines.core.common.convert import iso_utc, parse_uuid
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError, reject_unknown_fields
from pipelines.core.common.idempotency import request_digest, run_idempotent
from pipelines.core.common.queries import query
from pipelines.core.common.settings import Settings
from pipelines.core.disparos import templates as tpl
from pipelines.core.send.mcp import CANAIS, check_canal, endpoint_for
from pipelines.core.tenancy.tenants import Tenant

STATUSES = ("pendente", "enviando", "enviado", "confirmado", "erro", "cancelado", "bloqueado")
MAX_LIMIT = 500
_BODY_FIELDS = {"canal", "telefone_id", "email_id", "template", "payload", "agendar_para"}
_COLUMNS = (
    "disparo_id, lead_id, campanha_id, canal, telefone_id, email_id, destino, template, payload, status, "
    "mensagem_erro, message_id, data_agendado, data_envio, data_retorno, tentativas, max_tentativas, "
    "created_at, updated_at"
)


_ENDPOINT_VARS = {"whatsapp": "MCP_WHATSAPP_ENDPOINT", "email": "MCP_EMAIL_ENDPOINT"}
WARNING_HEADER = "Aviso-Envio"  # on POST /leads/{lead_id}/disparos when nothing will be sent


def channels_without_endpoint(settings: Settings) -> list[str]:
    """Channels this installation cannot send on: no MCP endpoint configured."""
    return [canal for canal in CANAIS if not endpoint_for(settings, canal)]


def delivery_warning(settings: Settings, canal: str) -> str | None:
    """What a caller must be told when a disparo on `canal` will not be sent (no MCP endpoint), or None.
    The disparo is still created: it waits, pendente, until the endpoint is configured."""
    if canal not in channels_without_endpoint(settings):
        return None
    return (
        f"nenhum endpoint MCP de {canal} configurado ({_ENDPOINT_VARS.get(canal, 'MCP_*_ENDPOINT')}): "
        "nada será enviado; o disparo fica pendente até que o endpoint seja definido"
    )


def header_safe(text: str) -> str:
    """The text in plain ASCII, as an HTTP header value travels everywhere intact."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def parse_when(value: Any, tenant: Tenant, *, field: str = "agendar_para") -> datetime | None:
    """ISO-8601 date and time; without an offset it is read in the tenant's time zone. None stays None."""
    if value is None:
        return None
    if not isinstance(value, str) or ("T" not in value and " " not in value.strip()):
        raise ValidationError(
            f"{field} deve ser data e hora ISO-8601 (ex.: 2025-11-27T09:00:00-03:00), recebido {value!r}",
            field=field,
        )
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{field} não é uma data e hora ISO-8601 válida: {value!r} (ex.: 2025-11-27T09:00:00Z)",
            field=field,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tenant.tz)
    return when


def disparo_doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    for k in ("disparo_id", "lead_id", "campanha_id", "telefone_id", "email_id"):
        if k in doc:
            doc[k] = str(doc[k]) if doc[k] is not None else None
    for k in ("data_agendado", "data_envio", "data_retorno", "created_at", "updated_at"):
        if k in doc:
            doc[k] = iso_utc(doc[k])
    return doc


def _body_hash(lead_id: str, body: dict[str, Any]) -> str:
    return request_digest(f"disparo:{lead_id}", body)


def _validate_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("o corpo deve ser um objeto JSON")
    reject_unknown_fields(body, _BODY_FIELDS)
    canal = check_canal(body.get("canal"))
    if canal == "whatsapp" and body.get("email_id") is not None:
        raise ValidationError("email_id não vale para o canal whatsapp; use telefone_id", field="email_id")
    if canal == "email" and body.get("telefone_id") is not None:
        raise ValidationError("telefone_id não vale para o canal email; use email_id", field="telefone_id")
    template = body.get("template")
    if not isinstance(template, str) or not template.strip():
        raise ValidationError("template é obrigatório (nome do template)", field="template")
    payload = body.get("payload") or {}
    if not isinstance(payload, dict):
        raise ValidationError("payload deve ser um objeto", field="payload")
    variaveis = payload.get("variaveis") or {}
    if not isinstance(variaveis, dict):
        raise ValidationError("payload.variaveis deve ser um objeto", field="payload.variaveis")
    for k, v in variaveis.items():
        if v is not None and not isinstance(v, str | int | float | bool):
            raise ValidationError(
                f"payload.variaveis.{k} deve ser texto ou número", field=f"payload.variaveis.{k}"
            )
    return {
        "canal": canal,
        "template": template.strip(),
        "variaveis": {k: str(v) for k, v in variaveis.items() if v is not None},
        "dest_field": "telefone_id" if canal == "whatsapp" else "email_id",
        "dest_id": body.get("telefone_id") if canal == "whatsapp" else body.get("email_id"),
    }


def _destination(
    conn: psycopg.Connection, tenant_id: UUID, lead_id: UUID, req: dict[str, Any]
) -> tuple[UUID, str]:
    """(id, address) of the phone/e-mail to use: the given one, checked, or the lead's principal valid one."""
    field = req["dest_field"]
    if req["canal"] == "whatsapp":
        what, padrao, escolhido = "telefone", "telefone_padrao", "telefone_escolhido"
    else:
        what, padrao, escolhido = "e-mail", "email_padrao", "email_escolhido"
    if req["dest_id"] is None:
        row = conn.execute(query("disparos", padrao), {"t": tenant_id, "l": lead_id}).fetchone()
        if row is None:
            raise ValidationError(
                f"o lead não tem {what} válido para disparo no canal {req['canal']}", field=field
            )
        return row["id"], row["destino"]
    try:
        dest_id = UUID(str(req["dest_id"]))
    except ValueError:
        raise ValidationError(f"{field} inválido: {req['dest_id']!r} não é um UUID", field=field) from None
    row = conn.execute(query("disparos", escolhido), {"t": tenant_id, "l": lead_id, "id": dest_id}).fetchone()
    if row is None:
        raise ValidationError(f"{field} {dest_id} não pertence a este lead", field=field)
    if not row["valido_para_disparo"]:
        raise ValidationError(f"o {what} {row['destino']} não é válido para disparo", field=field)
    if row["tipo_origem"] == "fixo":
        raise ValidationError(f"o telefone {row['destino']} é fixo e não recebe WhatsApp", field=field)
    if not row["recebe_whatsapp"]:
        raise ValidationError(
            f"o telefone {row['destino']} não é reconhecido como celular e não recebe WhatsApp", field=field
        )
    return row["id"], row["destino"]


def provider_template_payload(canal: str, nome: str, variaveis: dict[str, str]) -> dict[str, Any]:
    """A WhatsApp template name with no local template is the provider's approved template: MCP gets it as
    `templateId` with the `variaveis` (the provider renders it; `message` carries the name). E-mail has no
    provider templates here: its template must exist locally."""
    if canal != "whatsapp":
        raise ValidationError(
            f"template {nome!r} não existe no canal {canal} (crie com POST /templates)", field="template"
        )
    return {"variaveis": dict(variaveis), "template_id": nome}


def _rendered_payload(
    template: dict[str, Any], req: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    mensagem = tpl.render(template["corpo"], context, field="corpo")  # 422 when a variable is missing
    payload: dict[str, Any] = {"mensagem": mensagem}
    if req["canal"] == "email":
        payload["assunto"] = tpl.render(template["assunto"], context, field="assunto")
        if template.get("html"):
            payload["html"] = tpl.render_html(template["html"], context)
    payload["variaveis"] = {**{v: str(context[v]) for v in template["variaveis"]}, **req["variaveis"]}
    if template["whatsapp_template_id"]:
        payload["template_id"] = template["whatsapp_template_id"]
    return payload


def create_disparo(
    conn: psycopg.Connection,
    tenant: Tenant,
    lead_id: UUID | str,
    body: Any,
    *,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Validate, render and store one disparo. Returns (response, created); a replayed idempotency key
    returns the stored first response with created=False. The response carries `imediato` so the caller
    knows whether to send it now (the key is stripped from the public response by the caller)."""
    lid = parse_uuid(lead_id, "lead")
    digest = _body_hash(str(lid), body if isinstance(body, dict) else {"_": body})
    return run_idempotent(
        conn,
        tenant.id,
        idempotency_key,
        digest,
        lambda: _create(conn, tenant, lid, body),
        disparo_id_of=lambda response: response["disparo_id"],
    )


def _create(conn: psycopg.Connection, tenant: Tenant, lid: UUID, body: Any) -> dict[str, Any]:
    lead = conn.execute(
        f"""SELECT lead_id, status, {", ".join(tpl.LEAD_VARIABLES)}
            FROM leads WHERE tenant_id = %s AND lead_id = %s FOR UPDATE""",
        (tenant.id, lid),
    ).fetchone()
    if lead is None:
        raise NotFoundError(f"lead {lid} não encontrado", field="lead_id")
    req = _validate_body(body)
    agendar = parse_when(body.get("agendar_para"), tenant)
    dest_id, destino = _destination(conn, tenant.id, lid, req)
    template = tpl.find_template(conn, tenant.id, req["canal"], req["template"])
    context = {k: lead[k] for k in tpl.LEAD_VARIABLES if lead[k] is not None}
    context["telefone" if req["canal"] == "whatsapp" else "email"] = destino
    context.update(req["variaveis"])
    if template is None:
        payload = provider_template_payload(req["canal"], req["template"], req["variaveis"])
    else:
        payload = _rendered_payload(template, req, context)
    if conn.execute(
        "SELECT 1 FROM optouts WHERE tenant_id = %s AND canal = %s AND destino = %s",
        (tenant.id, req["canal"], destino),
    ).fetchone():
        raise ConflictError(
            f"{destino} pediu para não ser contatado no canal {req['canal']} (opt-out)",
            field=req["dest_field"],
        )
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    imediato = agendar is None or agendar <= now + timedelta(seconds=1)
    row = conn.execute(
        """INSERT INTO disparos (tenant_id, lead_id, canal, telefone_id, email_id, destino, template, payload,
                                 data_agendado)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING disparo_id, status, data_agendado""",
        (
            tenant.id, lid, req["canal"],
            dest_id if req["canal"] == "whatsapp" else None,
            dest_id if req["canal"] == "email" else None,
            destino, template["nome"] if template else req["template"], Jsonb(payload),
            now if imediato else agendar,
        ),
    ).fetchone()  # fmt: skip
    conn.execute(
        """UPDATE leads SET status = CASE WHEN status = 'novo' THEN 'em_disparo' ELSE status END,
                            data_ultimo_evento = now()
           WHERE tenant_id = %s AND lead_id = %s""",
        (tenant.id, lid),
    )
    return {
        "disparo_id": str(row["disparo_id"]),
        "status": row["status"],
        "data_agendado": iso_utc(row["data_agendado"]),
        "imediato": imediato,
    }


def get_disparo(conn: psycopg.Connection, tenant_id: UUID | str, disparo_id: UUID | str) -> dict[str, Any]:
    did = parse_uuid(disparo_id, "disparo")
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM disparos WHERE tenant_id = %s AND disparo_id = %s", (tenant_id, did)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"disparo {disparo_id} não encontrado")
    return disparo_doc(row)


def list_lead_disparos(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    lead_id: UUID | str,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    lid = parse_uuid(lead_id, "lead")
    if (
        conn.execute("SELECT 1 FROM leads WHERE tenant_id = %s AND lead_id = %s", (tenant_id, lid)).fetchone()
        is None
    ):
        raise NotFoundError(f"lead {lead_id} não encontrado")
    if status is not None and status not in STATUSES:
        raise ValidationError(
            f"status inválido: {status!r}; use um de: {', '.join(STATUSES)}", field="status"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit deve estar entre 1 e {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationError("offset deve ser >= 0", field="offset")
    params = {"t": tenant_id, "l": lid, "s": status, "limit": limit, "offset": offset}
    where = "tenant_id = %(t)s AND lead_id = %(l)s AND (%(s)s::text IS NULL OR status = %(s)s)"
    total = conn.execute(f"SELECT count(*) AS n FROM disparos WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM disparos WHERE {where} ORDER BY created_at DESC, disparo_id "
        "LIMIT %(limit)s OFFSET %(offset)s",
        params,
    ).fetchall()
    return {"items": [disparo_doc(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def cancel_disparo(conn: psycopg.Connection, tenant_id: UUID | str, disparo_id: UUID | str) -> dict[str, Any]:
    """Only a pendente disparo can be cancelled; once claimed (enviando) it may already be on its way."""
    did = parse_uuid(disparo_id, "disparo")
    with conn.transaction():
        row = conn.execute(
            f"""UPDATE disparos SET status = 'cancelado', updated_at = now()
                WHERE tenant_id = %s AND disparo_id = %s AND status = 'pendente' RETURNING {_COLUMNS}""",
            (tenant_id, did),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE leads SET data_ultimo_evento = now() WHERE tenant_id = %s AND lead_id = %s",
                (tenant_id, row["lead_id"]),
            )
            return disparo_doc(row)
    current = conn.execute(
        "SELECT status FROM disparos WHERE tenant_id = %s AND disparo_id = %s", (tenant_id, did)
    ).fetchone()
    if current is None:
        raise NotFoundError(f"disparo {disparo_id} não encontrado")
    raise ConflictError(
        f"só um disparo pendente pode ser cancelado; este está {current['status']}", field="status"
    )
