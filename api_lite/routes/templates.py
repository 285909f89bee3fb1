"""Message templates per tenant and channel: `{{variavel}}` placeholders, strict rendering."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import ConfigDict, Field

from api_lite.contract import AssuntoTemplate, Body, Canal, CorpoTemplate, HtmlTemplate, NomeTemplate
from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import templates

router = APIRouter(prefix="/templates", tags=["templates"])


class TemplateIn(Body):
    """corpo (and assunto) with `{{variavel}}` placeholders. E-mail: assunto required; whatsapp_template_id
    only for WhatsApp (the provider's approved template, sent to MCP as templateId)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "nome": "cobranca_padrao_1",
                "canal": "whatsapp",
                "corpo": "Olá {{contato_nome}}, a {{nome}} tem {{valor_aberto}} em aberto.",
                "whatsapp_template_id": "cobranca_v1",
            },
            "anyOf": [
                {"properties": {"canal": {"const": "whatsapp"}, "html": {"type": "null"}}},
                {
                    "properties": {"canal": {"const": "email"}, "assunto": {"type": "string"}},
                    "required": ["assunto"],
                    "not": {"required": ["whatsapp_template_id"]},
                },
            ],
        },
    )
    nome: NomeTemplate
    canal: Canal
    corpo: CorpoTemplate
    assunto: AssuntoTemplate | None = None
    html: HtmlTemplate | None = Field(
        None, description="só e-mail: corpo HTML (vai ao MCP como html; valores das variáveis escapados)"
    )
    whatsapp_template_id: NomeTemplate | None = Field(
        None, description="id do template aprovado no provedor (vai ao MCP como templateId)"
    )


class TemplatePatch(Body):
    """Only the fields sent change; the result must still be a valid template (e.g. an e-mail template
    keeps its assunto; whatsapp_template_id only on whatsapp)."""

    nome: NomeTemplate | None = None
    canal: Canal | None = None
    corpo: CorpoTemplate | None = None
    assunto: AssuntoTemplate | None = None
    html: HtmlTemplate | None = None
    whatsapp_template_id: NomeTemplate | None = None


@router.post("", status_code=201)
def create_template(body: TemplateIn, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    """409 when the tenant already has a template with this nome on this canal."""
    return templates.create_template(conn, tenant.id, **body.model_dump())


@router.get("")
def list_templates(tenant: TenantDep, conn: ConnDep, canal: Canal | None = None) -> dict[str, Any]:
    items = templates.list_templates(conn, tenant.id, canal)
    return {"items": items, "total": len(items)}


@router.get("/{template_id}")
def get_template(template_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return templates.get_template(conn, tenant.id, template_id)


@router.patch("/{template_id}")
@router.put("/{template_id}")
def update_template(
    template_id: UUID, body: TemplatePatch, tenant: TenantDep, conn: ConnDep
) -> dict[str, Any]:
    """Only the fields sent change (PUT and PATCH alike); the result is validated as a whole."""
    return templates.update_template(conn, tenant.id, template_id, **body.model_dump(exclude_unset=True))


@router.delete("/{template_id}", status_code=204)
def delete_template(template_id: UUID, tenant: TenantDep, conn: ConnDep) -> Response:
    templates.delete_template(conn, tenant.id, template_id)
    return Response(status_code=204)
