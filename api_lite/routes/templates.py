"""Message templates per tenant and channel: `{{variavel}}` placeholders, strict rendering."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from api_lite.deps import ConnDep, TenantDep
from pipelines.core.disparos import templates

router = APIRouter(prefix="/templates", tags=["templates"])


class TemplateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "nome": "cobranca_padrao_1",
                "canal": "whatsapp",
                "corpo": "Olá {{contato_nome}}, a {{nome}} tem {{valor_aberto}} em aberto.",
                "whatsapp_template_id": "cobranca_v1",
            }
        },
    )
    nome: str
    canal: str
    corpo: str
    assunto: str | None = None
    whatsapp_template_id: str | None = None


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nome: str | None = None
    canal: str | None = None
    corpo: str | None = None
    assunto: str | None = None
    whatsapp_template_id: str | None = None


@router.post("", status_code=201)
def create_template(body: TemplateIn, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return templates.create_template(conn, tenant.id, **body.model_dump())


@router.get("")
def list_templates(tenant: TenantDep, conn: ConnDep, canal: str | None = None) -> dict[str, Any]:
    items = templates.list_templates(conn, tenant.id, canal)
    return {"items": items, "total": len(items)}


@router.get("/{template_id}")
def get_template(template_id: str, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return templates.get_template(conn, tenant.id, template_id)


@router.patch("/{template_id}")
@router.put("/{template_id}")
def update_template(
    template_id: str, body: TemplatePatch, tenant: TenantDep, conn: ConnDep
) -> dict[str, Any]:
    """Only the fields sent change (PUT and PATCH alike); the result is validated as a whole."""
    return templates.update_template(conn, tenant.id, template_id, **body.model_dump(exclude_unset=True))


@router.delete("/{template_id}", status_code=204)
def delete_template(template_id: str, tenant: TenantDep, conn: ConnDep) -> Response:
    templates.delete_template(conn, tenant.id, template_id)
    return Response(status_code=204)
