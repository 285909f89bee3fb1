"""Message templates per tenant and channel, with `{{variavel}}` placeholders rendered strictly.

A template is parsed once into literal text and variable names. Rendering fails on any missing
variable (a message with a hole is never produced), and the same parse drives the set-based SQL
rendering of campaigns (pipelines.core.disparos.campanhas)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from pipelines.core.common.convert import iso_utc, parse_uuid
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError, reject_unknown_fields
from pipelines.core.send.mcp import check_canal

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_COLUMNS = (
    "template_id, nome, canal, corpo, assunto, html, whatsapp_template_id, variaveis, created_at, updated_at"
)

# Lead fields a template may use without the caller passing them.
LEAD_VARIABLES = ("nome", "contato_nome", "documento", "documento_tipo", "lead_id_externo", "origem_arquivo")


@dataclass(frozen=True)
class Parsed:
    """Alternating literal/variable segments: ("lit", text) or ("var", name)."""

    segments: tuple[tuple[str, str], ...]

    @property
    def variables(self) -> list[str]:
        seen: dict[str, None] = {}
        for kind, value in self.segments:
            if kind == "var":
                seen.setdefault(value, None)
        return list(seen)


def parse(text: str, *, field: str = "corpo") -> Parsed:
    """Split a template; a stray `{{` or `}}` (e.g. `{{ 1x }}`, `{{nome}`) is an error, not literal text."""
    segments: list[tuple[str, str]] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[pos : match.start()]
        _check_literal(literal, field)
        if literal:
            segments.append(("lit", literal))
        segments.append(("var", match.group(1)))
        pos = match.end()
    tail = text[pos:]
    _check_literal(tail, field)
    if tail:
        segments.append(("lit", tail))
    return Parsed(tuple(segments))


def _check_literal(literal: str, field: str) -> None:
    if "{{" in literal or "}}" in literal:
        bad = literal[max(literal.find("{{"), literal.find("}}"), 0) :][:30]
        raise ValidationError(
            f"{field}: marcador malformado perto de {bad!r}; use {{{{nome_da_variavel}}}} "
            "(letras, dígitos e '_', começando por letra)",
            field=field,
        )


def render(text: str, variables: Mapping[str, Any], *, field: str = "corpo") -> str:
    """Strict rendering: every placeholder must have a non-null value."""
    parsed = parse(text, field=field)
    missing = [v for v in parsed.variables if variables.get(v) is None]
    if missing:
        raise ValidationError(
            f"variáveis ausentes para o template: {', '.join(missing)} "
            "(passe-as em payload.variaveis ou preencha o campo do lead)",
            field="payload.variaveis",
        )
    return "".join(value if kind == "lit" else str(variables[value]) for kind, value in parsed.segments)


def render_html(text: str, variables: Mapping[str, Any]) -> str:
    """Like `render`, for an HTML body: the values are HTML-escaped (a lead's name cannot inject markup)."""
    escaped = {k: None if v is None else html.escape(str(v)) for k, v in variables.items()}
    return render(text, escaped, field="html")


def template_variables(corpo: str, assunto: str | None, html_body: str | None = None) -> list[str]:
    names = parse(corpo, field="corpo").variables
    for text, field in ((assunto, "assunto"), (html_body, "html")):
        if text:
            names += [v for v in parse(text, field=field).variables if v not in names]
    return names


def _doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    doc["template_id"] = str(row["template_id"])
    doc["variaveis"] = list(row["variaveis"] or [])
    for k in ("created_at", "updated_at"):
        if isinstance(doc.get(k), datetime):
            doc[k] = iso_utc(doc[k])
    return doc


def _validate(
    nome: Any, canal: Any, corpo: Any, assunto: Any, whatsapp_template_id: Any, html: Any = None
) -> None:
    if not isinstance(nome, str) or not 1 <= len(nome.strip()) <= 100:
        raise ValidationError("nome é obrigatório (1 a 100 caracteres)", field="nome")
    check_canal(canal)
    if not isinstance(corpo, str) or not corpo.strip():
        raise ValidationError("corpo é obrigatório", field="corpo")
    if assunto is not None and not isinstance(assunto, str):
        raise ValidationError("assunto deve ser texto", field="assunto")
    if canal == "email" and not (assunto or "").strip():
        raise ValidationError("templates de e-mail precisam de assunto", field="assunto")
    if html is not None:
        if canal != "email":
            raise ValidationError("html só vale para o canal email", field="html")
        if not isinstance(html, str) or not html.strip():
            raise ValidationError("html deve ser texto não vazio", field="html")
    if whatsapp_template_id is not None:
        if canal != "whatsapp":
            raise ValidationError(
                "whatsapp_template_id só vale para o canal whatsapp", field="whatsapp_template_id"
            )
        if not isinstance(whatsapp_template_id, str) or not whatsapp_template_id.strip():
            raise ValidationError(
                "whatsapp_template_id deve ser texto não vazio", field="whatsapp_template_id"
            )


def create_template(
    conn: psycopg.Connection,
    tenant_id: UUID | str,
    *,
    nome: str,
    canal: str,
    corpo: str,
    assunto: str | None = None,
    whatsapp_template_id: str | None = None,
    html: str | None = None,
) -> dict[str, Any]:
    _validate(nome, canal, corpo, assunto, whatsapp_template_id, html)
    variaveis = template_variables(corpo, assunto, html)
    try:
        with conn.transaction():
            row = conn.execute(
                f"""INSERT INTO templates (tenant_id, nome, canal, corpo, assunto, html, whatsapp_template_id,
                                           variaveis)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
                (tenant_id, nome.strip(), canal, corpo, assunto, html, whatsapp_template_id, variaveis),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise ConflictError(
            f"já existe um template {nome.strip()!r} no canal {canal}", field="nome"
        ) from None
    return _doc(row)


def list_templates(
    conn: psycopg.Connection, tenant_id: UUID | str, canal: str | None = None
) -> list[dict[str, Any]]:
    if canal is not None:
        check_canal(canal)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM templates WHERE tenant_id = %s AND (%s::text IS NULL OR canal = %s) "
        "ORDER BY canal, nome",
        (tenant_id, canal, canal),
    ).fetchall()
    return [_doc(r) for r in rows]


def get_template(conn: psycopg.Connection, tenant_id: UUID | str, template_id: UUID | str) -> dict[str, Any]:
    tid = parse_uuid(template_id, "template")
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM templates WHERE tenant_id = %s AND template_id = %s", (tenant_id, tid)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"template {template_id} não encontrado")
    return _doc(row)


def find_template(
    conn: psycopg.Connection, tenant_id: UUID | str, canal: str, nome: str
) -> dict[str, Any] | None:
    """The template a disparo names (by name, per channel), or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM templates WHERE tenant_id = %s AND canal = %s AND nome = %s",
        (tenant_id, canal, nome),
    ).fetchone()
    return _doc(row) if row else None


def resolve_template(
    conn: psycopg.Connection, tenant_id: UUID | str, ref: str, canal: str | None = None
) -> dict[str, Any]:
    """A template by id, or by name (with canal when the name exists in both channels). For the CLI."""
    try:
        return get_template(conn, tenant_id, UUID(ref))
    except ValueError:
        pass
    rows = [t for t in list_templates(conn, tenant_id, canal) if t["nome"] == ref]
    if not rows:
        raise NotFoundError(f"template {ref!r} não encontrado" + (f" no canal {canal}" if canal else ""))
    if len(rows) > 1:
        raise ValidationError(f"o template {ref!r} existe nos dois canais; use --canal", field="canal")
    return rows[0]


def update_template(
    conn: psycopg.Connection, tenant_id: UUID | str, template_id: UUID | str, **changes: Any
) -> dict[str, Any]:
    """Partial update; the result is validated as a whole (e.g. an e-mail template keeps an assunto)."""
    fields = ("nome", "canal", "corpo", "assunto", "whatsapp_template_id", "html")
    reject_unknown_fields(changes, set(fields))
    current = get_template(conn, tenant_id, template_id)
    merged = {k: changes.get(k, current[k]) for k in fields}
    _validate(**merged)
    variaveis = template_variables(merged["corpo"], merged["assunto"], merged["html"])
    try:
        with conn.transaction():
            row = conn.execute(
                f"""UPDATE templates SET nome = %s, canal = %s, corpo = %s, assunto = %s, html = %s,
                           whatsapp_template_id = %s, variaveis = %s, updated_at = now()
                    WHERE tenant_id = %s AND template_id = %s RETURNING {_COLUMNS}""",
                (
                    merged["nome"].strip(), merged["canal"], merged["corpo"], merged["assunto"],
                    merged["html"], merged["whatsapp_template_id"], variaveis, tenant_id,
                    current["template_id"],
                ),
            ).fetchone()  # fmt: skip
    except psycopg.errors.UniqueViolation:
        raise ConflictError(
            f"já existe um template {merged['nome']!r} no canal {merged['canal']}", field="nome"
        ) from None
    if row is None:
        raise NotFoundError(f"template {template_id} não encontrado")
    return _doc(row)


def delete_template(conn: psycopg.Connection, tenant_id: UUID | str, template_id: UUID | str) -> None:
    """Disparos already created keep their rendered text, so deleting a template never changes them."""
    tid = parse_uuid(template_id, "template")
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM templates WHERE tenant_id = %s AND template_id = %s", (tenant_id, tid)
        )
    if cur.rowcount == 0:
        raise NotFoundError(f"template {template_id} não encontrado")
