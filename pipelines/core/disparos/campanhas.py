"""Campaigns: one template sent to every lead matching an audience filter, created set-based.

`create_campanha` stores the campaign and then, in ONE INSERT … SELECT, creates one disparo per
matching lead: the destination is the lead's principal valid mobile (whatsapp) or e-mail (email),
the message is rendered in SQL (the template is parsed once in Python into literals and variable
references, which become one `||` expression over lead columns and campaign constants), opted-out
destinations and leads without a value for a variable are skipped and counted, and leads already in
an active disparo of the campaign are skipped by the partial unique index (ON CONFLICT DO NOTHING).
`data_agendado` is spread over `espalhar_minutos` or paced at `taxa_por_minuto` from `inicio`.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipelines.core.common import csvsafe
from pipelines.core.common.convert import iso_utc, parse_uuid
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError, reject_unknown_fields
from pipelines.core.common.ids import MAX_BATCH, uuid7_prefix, uuid7_sql
from pipelines.core.common.queries import query
from pipelines.core.disparos import templates as tpl
from pipelines.core.disparos.single import STATUSES, parse_when
from pipelines.core.leads.records import LEAD_STATUSES
from pipelines.core.send.mcp import check_canal
from pipelines.core.tenancy.tenants import Tenant

log = logging.getLogger(__name__)
_FILTER_KEYS = {"status", "ingest_job_id", "origem_arquivo", "tags", "com_celular", "com_email"}
CSV_COLUMNS = (
    "lead_id", "lead_id_externo", "nome", "disparo_id", "canal", "destino", "status", "data_agendado",
    "data_envio", "data_retorno", "tentativas", "message_id", "mensagem_erro",
)  # fmt: skip


def validate_filtro(filtro: Any) -> dict[str, Any]:
    """Audience filter: status (one or a list), ingest_job_id, origem_arquivo, tags (lead has all of
    them), com_celular / com_email (has a valid mobile / e-mail). Empty: every lead of the tenant."""
    if filtro is None:
        return {}
    if not isinstance(filtro, dict):
        raise ValidationError("filtro deve ser um objeto", field="filtro")
    unknown = set(filtro) - _FILTER_KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(
            f"filtro.{name} desconhecido; use {', '.join(sorted(_FILTER_KEYS))}", field=f"filtro.{name}"
        )
    out: dict[str, Any] = {}
    status = filtro.get("status")
    if status is not None:
        values = [status] if isinstance(status, str) else status
        if not isinstance(values, list) or not values or any(v not in LEAD_STATUSES for v in values):
            raise ValidationError(
                f"filtro.status inválido: {status!r}; use {', '.join(LEAD_STATUSES)}", field="filtro.status"
            )
        out["status"] = list(values)
    if filtro.get("ingest_job_id") is not None:
        try:
            out["ingest_job_id"] = str(UUID(str(filtro["ingest_job_id"])))
        except ValueError:
            raise ValidationError(
                "filtro.ingest_job_id não é um UUID", field="filtro.ingest_job_id"
            ) from None
    if filtro.get("origem_arquivo") is not None:
        if not isinstance(filtro["origem_arquivo"], str) or not filtro["origem_arquivo"].strip():
            raise ValidationError("filtro.origem_arquivo deve ser texto", field="filtro.origem_arquivo")
        out["origem_arquivo"] = filtro["origem_arquivo"].strip()
    tags = filtro.get("tags")
    if tags is not None:
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise ValidationError("filtro.tags deve ser uma lista de textos", field="filtro.tags")
        if tags:
            out["tags"] = tags
    for key in ("com_celular", "com_email"):
        if filtro.get(key) is not None:
            if not isinstance(filtro[key], bool):
                raise ValidationError(f"filtro.{key} deve ser true ou false", field=f"filtro.{key}")
            out[key] = filtro[key]
    return out


def _filter_sql(filtro: dict[str, Any], implied: str | None = None) -> sql.Composed:
    """The audience WHERE clause; `implied` names a contact filter (com_celular / com_email) the caller
    enforces itself by joining the destination, so it is not evaluated twice."""
    parts = [sql.SQL("l.tenant_id = %(t)s")]
    if "status" in filtro:
        parts.append(sql.SQL("l.status = ANY(%(f_status)s)"))
    if "ingest_job_id" in filtro:
        parts.append(sql.SQL("l.ingest_job_id = %(f_job)s"))
    if "origem_arquivo" in filtro:
        parts.append(sql.SQL("l.origem_arquivo = %(f_arquivo)s"))
    if "tags" in filtro:
        parts.append(sql.SQL("l.tags @> %(f_tags)s"))
    mobile = sql.SQL(query("campanhas", "filtro_tem_celular"))
    email = sql.SQL(query("campanhas", "filtro_tem_email"))
    for key, expr in (("com_celular", mobile), ("com_email", email)):
        if key in filtro and key != implied:
            parts.append(expr if filtro[key] else sql.SQL("NOT ") + expr)
    return sql.SQL(" AND ").join(parts)


def _filter_params(filtro: dict[str, Any]) -> dict[str, Any]:
    return {
        "f_status": filtro.get("status"),
        "f_job": filtro.get("ingest_job_id"),
        "f_arquivo": filtro.get("origem_arquivo"),
        "f_tags": Jsonb(filtro.get("tags") or []),
    }


def _bind(binds: dict[str, Any], value: str) -> sql.Composable:
    """A bound text parameter. Template text never becomes SQL text: literals with '%' or quotes would
    otherwise be parsed as placeholders or break out of the string."""
    name = f"b{len(binds)}"
    binds[name] = value
    return sql.SQL("{}::text").format(sql.Placeholder(name))


def _html_escape_sql(expr: sql.Composable) -> sql.Composable:
    """The SQL form of html.escape (quote=True), for values put into an HTML body."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        expr = sql.SQL("replace({}, {}, {})").format(expr, sql.Literal(char), sql.Literal(entity))
    return expr


def _render_sql(
    text: str,
    field: str,
    constants: dict[str, str],
    canal: str,
    binds: dict[str, Any],
    *,
    escape_html: bool = False,
) -> tuple[sql.Composable, set[str]]:
    """SQL expression rendering `text` per row, and the lead columns it needs non-null (`escape_html`:
    the values are HTML-escaped, the template's own text is not)."""

    def value_(expr: sql.Composable) -> sql.Composable:
        return _html_escape_sql(sql.SQL("({})::text").format(expr)) if escape_html else expr

    dest_var = "telefone" if canal == "whatsapp" else "email"
    pieces: list[sql.Composable] = []
    needed: set[str] = set()
    for kind, value in tpl.parse(text, field=field).segments:
        if kind == "lit":
            pieces.append(_bind(binds, value))
        elif value in constants:
            text_value = constants[value]
            pieces.append(_bind(binds, html.escape(text_value) if escape_html else text_value))
        elif value == dest_var:
            pieces.append(value_(sql.SQL("e.destino")))
        elif value in tpl.LEAD_VARIABLES:
            pieces.append(value_(sql.SQL("e.{}").format(sql.Identifier(value))))
            needed.add(value)
        else:
            raise ValidationError(
                f"a variável {value!r} do template não é campo do lead; informe-a em variaveis",
                field="variaveis",
            )
    if not pieces:
        return _bind(binds, ""), needed
    return sql.SQL("(") + sql.SQL(" || ").join(pieces) + sql.SQL(")::text"), needed


def _schedule_sql(espalhar: int | None, taxa: int | None) -> sql.Composable:
    if taxa:
        return sql.SQL("%(inicio)s::timestamptz + (seq::float8 / %(taxa)s) * interval '1 minute'")
    if espalhar:
        return sql.SQL(
            "%(inicio)s::timestamptz + (seq::float8 * %(espalhar)s / %(elegiveis)s) * interval '1 minute'"
        )
    return sql.SQL("%(inicio)s::timestamptz")


def _materialize(
    conn: psycopg.Connection, tenant: Tenant, campanha: dict[str, Any], inicio: datetime, *, fresh: bool
) -> dict[str, int]:
    """Set-based, in the caller's transaction: audience with destination and exclusion flags (temp
    table) -> counts -> lead status (one UPDATE) -> every disparo in one INSERT … SELECT.

    `fresh`: the campaign was created in this transaction, so no other transaction can see it and it has
    no disparos yet: the already-active check and the ON CONFLICT arbitration (speculative insertion into
    the partial unique index, per row) are skipped. Re-applying (`aplicar`) holds the campaign row lock
    and keeps both."""
    canal = campanha["canal"]
    template = tpl.find_template(conn, tenant.id, canal, campanha["template"])
    if template is None and canal == "whatsapp":
        # the provider's approved template (see single.provider_template_payload): MCP renders it
        name = campanha["template"]
        template = {"nome": name, "corpo": "", "assunto": None, "html": None, "whatsapp_template_id": name,
                    "variaveis": []}  # fmt: skip
    if template is None:
        raise ValidationError(
            f"template {campanha['template']!r} não existe no canal {canal}", field="template"
        )
    constants = {k: str(v) for k, v in (campanha["variaveis"] or {}).items()}
    binds: dict[str, Any] = {}
    corpo_sql, needed = _render_sql(template["corpo"], "corpo", constants, canal, binds)
    assunto_sql = None
    if canal == "email":
        assunto_sql, needed_assunto = _render_sql(template["assunto"], "assunto", constants, canal, binds)
        needed |= needed_assunto
    html_sql = None
    if canal == "email" and template.get("html"):
        html_sql, needed_html = _render_sql(
            template["html"], "html", constants, canal, binds, escape_html=True
        )
        needed |= needed_html
    # payload.variaveis: the campaign constants plus, per row, every lead field the template uses.
    dest_var = "telefone" if canal == "whatsapp" else "email"
    row_vars = [v for v in template["variaveis"] if v not in constants]
    var_pairs: list[sql.Composable] = []
    for v in row_vars:
        column = sql.SQL("e.destino") if v == dest_var else sql.SQL("e.{}").format(sql.Identifier(v))
        var_pairs += [_bind(binds, v), column]
    variaveis_sql = sql.SQL("%(constvars)s::jsonb")
    if var_pairs:
        variaveis_sql += sql.SQL(" || jsonb_build_object(") + sql.SQL(", ").join(var_pairs) + sql.SQL(")")
    payload_parts: list[sql.Composable] = [
        sql.SQL("'variaveis', ") + variaveis_sql,
        sql.SQL("'mensagem', ") + corpo_sql,
    ]
    if assunto_sql is not None:
        payload_parts.append(sql.SQL("'assunto', ") + assunto_sql)
    if html_sql is not None:
        payload_parts.append(sql.SQL("'html', ") + html_sql)
    if template["whatsapp_template_id"]:
        payload_parts.append(sql.SQL("'template_id', ") + _bind(binds, template["whatsapp_template_id"]))
    payload_sql = sql.SQL("jsonb_build_object(") + sql.SQL(", ").join(payload_parts) + sql.SQL(")")
    missing_sql = (
        sql.SQL(" OR ").join(sql.SQL("a.{} IS NULL").format(sql.Identifier(c)) for c in sorted(needed))
        if needed
        else sql.SQL("false")
    )
    if canal == "whatsapp":
        dest_sql = sql.SQL(query("campanhas", "destino_whatsapp"))
        ids_sql = sql.SQL("dest_id, NULL::uuid")
    else:
        dest_sql = sql.SQL(query("campanhas", "destino_email"))
        ids_sql = sql.SQL("NULL::uuid, dest_id")
    # "com_celular"/"com_email" true on its own channel is the destination itself: an inner join to it
    # filters the same leads as the EXISTS would, without a second pass over the contacts.
    contact_filter = "com_celular" if canal == "whatsapp" else "com_email"
    implied = contact_filter if campanha["filtro"].get(contact_filter) is True else None
    lead_cols = sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c)) for c in tpl.LEAD_VARIABLES)
    params = {
        "t": tenant.id,
        "c": campanha["campanha_id"],
        "canal": canal,
        "template": template["nome"],
        "constvars": Jsonb(constants),
        "inicio": inicio,
        "taxa": campanha["taxa_por_minuto"],
        "espalhar": campanha["espalhar_minutos"],
        "id_prefix": uuid7_prefix(),
        **_filter_params(campanha["filtro"]),
        **binds,
    }
    # Sorts and hashes of 100k rows stay in memory; the temp table is not WAL-logged.
    conn.execute("SET LOCAL work_mem = '64MB'")
    t0 = time.perf_counter()
    # 1. The audience with its destination and exclusion flags, and the schedule slot of each eligible lead.
    conn.execute(
        sql.SQL(query("campanhas", "audiencia")).format(
            lead_cols=lead_cols,
            where=_filter_sql(campanha["filtro"], implied),
            dest_join=sql.SQL("JOIN" if implied else "LEFT JOIN"),
            missing=missing_sql,
            dest=dest_sql,
            ja_ativo=sql.SQL("false" if fresh else query("campanhas", "ja_ativo")),
        ),
        params,
    )
    t1 = time.perf_counter()
    counts = conn.execute(query("campanhas", "audiencia_contagens")).fetchone()
    params["elegiveis"] = counts["elegiveis"]
    t2 = time.perf_counter()
    if counts["audiencia"] >= MAX_BATCH:
        raise ValidationError(
            f"a audiência passa de {MAX_BATCH:,} leads; divida a campanha por filtro", field="filtro"
        )
    # 2. Lead status: novo -> em_disparo for every lead that gets a disparo.
    conn.execute(query("campanhas", "marcar_leads"), params)
    t3 = time.perf_counter()
    # 3. The one INSERT … SELECT creating every disparo, rendered in SQL.
    criados = conn.execute(
        sql.SQL(query("campanhas", "inserir_disparos")).format(
            uuid=sql.SQL(uuid7_sql("%(id_prefix)s", "e.seq")),
            ids=ids_sql,
            payload=payload_sql,
            schedule=_schedule_sql(campanha["espalhar_minutos"], campanha["taxa_por_minuto"]),
            conflict=sql.SQL("" if fresh else query("campanhas", "sem_duplicar_ativo")),
        ),
        params,
    ).rowcount
    t4 = time.perf_counter()
    log.debug(
        "campanha %s: audiencia %.3fs, contagens %.3fs, leads %.3fs, insert %.3fs",
        campanha["campanha_id"], t1 - t0, t2 - t1, t3 - t2, t4 - t3,
    )  # fmt: skip
    conn.execute("DROP TABLE _campanha_aud")
    conn.execute(
        query("campanhas", "total_disparos"),
        {"criados": criados, "t": tenant.id, "c": campanha["campanha_id"]},
    )
    return {
        "audiencia": counts["audiencia"],
        "criados": criados,
        "excluidos": {
            "sem_destino": counts["sem_destino"],
            "optout": counts["optout"],
            "variavel_ausente": counts["variavel_ausente"],
            # plus any lead a concurrent apply reached first (ON CONFLICT DO NOTHING)
            "ja_em_disparo_ativo": counts["ja_ativo"]
            + (
                counts["audiencia"]
                - counts["sem_destino"]
                - counts["optout"]
                - counts["variavel_ausente"]
                - counts["ja_ativo"]
                - criados
            ),
        },
    }


def _int_or_none(value: Any, field: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{field} deve ser um inteiro >= {minimum}", field=field)
    return value


def create_campanha(conn: psycopg.Connection, tenant: Tenant, body: Any) -> dict[str, Any]:
    """Validate, store the campaign and create its disparos, all in one transaction."""
    if not isinstance(body, dict):
        raise ValidationError("o corpo deve ser um objeto JSON")
    allowed = {
        "nome",
        "canal",
        "template",
        "variaveis",
        "filtro",
        "inicio",
        "espalhar_minutos",
        "taxa_por_minuto",
    }
    reject_unknown_fields(body, allowed)
    canal = check_canal(body.get("canal"))
    template = body.get("template")
    if not isinstance(template, str) or not template.strip():
        raise ValidationError("template é obrigatório (nome do template)", field="template")
    nome = body.get("nome") or template.strip()
    if not isinstance(nome, str) or not nome.strip():
        raise ValidationError("nome deve ser texto", field="nome")
    variaveis = body.get("variaveis") or {}
    if not isinstance(variaveis, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in variaveis.values()
    ):
        raise ValidationError("variaveis deve ser um objeto de textos", field="variaveis")
    filtro = validate_filtro(body.get("filtro"))
    espalhar = _int_or_none(body.get("espalhar_minutos"), "espalhar_minutos", 0)
    taxa = _int_or_none(body.get("taxa_por_minuto"), "taxa_por_minuto", 1)
    if espalhar is not None and taxa is not None:
        raise ValidationError("use espalhar_minutos ou taxa_por_minuto, não os dois", field="taxa_por_minuto")
    inicio = parse_when(body.get("inicio"), tenant, field="inicio")
    with conn.transaction():
        now = conn.execute("SELECT now() AS now").fetchone()["now"]
        inicio = max(inicio or now, now)
        row = conn.execute(
            query("campanhas", "campanha_insert"),
            {
                "t": tenant.id, "nome": nome.strip(), "canal": canal, "template": template.strip(),
                "filtro": Jsonb(filtro), "variaveis": Jsonb({k: str(v) for k, v in variaveis.items()}),
                "inicio": inicio, "espalhar": espalhar, "taxa": taxa,
            },
        ).fetchone()  # fmt: skip
        result = _materialize(conn, tenant, row, inicio, fresh=True)
    doc = _campanha_doc(row)
    doc["total_disparos"] = result["criados"]
    return {**doc, **result}


def aplicar_campanha(conn: psycopg.Connection, tenant: Tenant, campanha_id: UUID | str) -> dict[str, Any]:
    """Re-apply an active campaign's filter: leads that match now and are not in an active disparo of
    it get one (e.g. leads ingested after the campaign was created)."""
    cid = parse_uuid(campanha_id, "campanha")
    with conn.transaction():
        row = conn.execute(query("campanhas", "campanha_lock"), {"t": tenant.id, "c": cid}).fetchone()
        if row is None:
            raise NotFoundError(f"campanha {campanha_id} não encontrada")
        if row["status"] != "ativa":
            raise ConflictError(f"a campanha está {row['status']}", field="status")
        now = conn.execute("SELECT now() AS now").fetchone()["now"]
        result = _materialize(conn, tenant, row, max(row["inicio"], now), fresh=False)
    return {"campanha_id": str(cid), **result}


def cancelar_campanha(conn: psycopg.Connection, tenant: Tenant, campanha_id: UUID | str) -> dict[str, Any]:
    """Cancel the campaign and every disparo of it still pendente (set-based)."""
    cid = parse_uuid(campanha_id, "campanha")
    with conn.transaction():
        row = conn.execute(
            "UPDATE campanhas SET status = 'cancelada' WHERE tenant_id = %s AND campanha_id = %s RETURNING status",
            (tenant.id, cid),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"campanha {campanha_id} não encontrada")
        n = conn.execute(
            query("campanhas", "campanha_cancelar_disparos"), {"t": tenant.id, "c": cid}
        ).rowcount
    return {"campanha_id": str(cid), "status": "cancelada", "disparos_cancelados": n}


def _campanha_doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    doc["campanha_id"] = str(row["campanha_id"])
    for k in ("inicio", "created_at"):
        doc[k] = iso_utc(row.get(k))
    return doc


def get_campanha(conn: psycopg.Connection, tenant_id: UUID | str, campanha_id: UUID | str) -> dict[str, Any]:
    cid = parse_uuid(campanha_id, "campanha")
    params = {"t": tenant_id, "c": cid}
    row = conn.execute(query("campanhas", "campanha_get"), params).fetchone()
    if row is None:
        raise NotFoundError(f"campanha {campanha_id} não encontrada")
    counts = dict.fromkeys(STATUSES, 0)
    for r in conn.execute(query("campanhas", "campanha_contagens"), params).fetchall():
        counts[r["status"]] = r["n"]
    doc = _campanha_doc(row)
    doc["contagens"] = counts
    doc["total"] = sum(counts.values())
    return doc


def list_campanhas(
    conn: psycopg.Connection, tenant_id: UUID | str, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    if not 1 <= limit <= 500:
        raise ValidationError("limit deve estar entre 1 e 500", field="limit")
    if offset < 0:
        raise ValidationError("offset deve ser >= 0", field="offset")
    total = conn.execute("SELECT count(*) AS n FROM campanhas WHERE tenant_id = %s", (tenant_id,)).fetchone()[
        "n"
    ]
    rows = conn.execute(
        query("campanhas", "campanha_list"), {"t": tenant_id, "limit": limit, "offset": offset}
    ).fetchall()
    return {"items": [_campanha_doc(r) for r in rows], "total": total, "limit": limit, "offset": offset}


_CSV_TEXT = ("lead_id_externo", "nome", "canal", "destino", "status", "message_id", "mensagem_erro")


def _export_column(name: str) -> sql.Composed:
    """`l.nome` / `d.destino`…; text columns neutralized against formula injection (common.csvsafe)."""
    col = sql.SQL("{}.{}").format(
        sql.Identifier("l" if name in ("lead_id_externo", "nome") else "d"), sql.Identifier(name)
    )
    if name not in _CSV_TEXT:
        return col
    return sql.SQL("{} AS {}").format(csvsafe.sql_safe(col), sql.Identifier(name))


def export_csv(conn: psycopg.Connection, tenant_id: UUID | str, campanha_id: UUID | str) -> Iterator[bytes]:
    """Per-lead results as CSV, streamed by COPY TO STDOUT (constant memory). Checks existence first so
    a missing campaign is a 404 before the first byte."""
    cid = parse_uuid(campanha_id, "campanha")
    if (
        conn.execute(
            "SELECT 1 FROM campanhas WHERE tenant_id = %s AND campanha_id = %s", (tenant_id, cid)
        ).fetchone()
        is None
    ):
        raise NotFoundError(f"campanha {campanha_id} não encontrada")
    cols = sql.SQL(", ").join(_export_column(c) for c in CSV_COLUMNS)
    statement = sql.SQL(query("campanhas", "export_csv")).format(cols=cols)

    def _gen() -> Iterator[bytes]:
        with conn.cursor().copy(statement, {"t": tenant_id, "c": cid}) as copy:
            for block in copy:
                yield bytes(block)

    return _gen()
