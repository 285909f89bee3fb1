"""One rule for which phone may get a WhatsApp (the view telefones_whatsapp, sql/0016): a valid mobile, or an
unclassified number with the mobile shape. A landline never gets one, from any path; a mobile does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.core.agenda.agendamentos import create_agendamento
from pipelines.core.common.errors import ValidationError
from pipelines.core.disparos.campanhas import create_campanha
from pipelines.core.disparos.single import create_disparo
from pipelines.core.ingest.surfaces import contact_stats
from tests.disparos_support import make_lead, make_template

LANDLINE = "+551133335555"
UNCLASSIFIED_LANDLINE = "+551133334444"  # 10 national digits: not a mobile by the numbering plan
MOBILE = "+5511987650000"
UNCLASSIFIED_MOBILE = "+5511976540000"  # 11 national digits starting with 9: a mobile


@pytest.fixture
def world(conn, tenant) -> dict[str, Any]:
    t = tenant["id"]
    make_template(conn, t, corpo="Oi {{nome}}")
    make_template(conn, t, nome="cobranca", canal="email", corpo="Oi {{nome}}")
    leads = {
        "fixo": make_lead(conn, t, phones=[(LANDLINE, "fixo", True, True)], emails=[("fixo@x.com.br", True, True)]),
        "nao_classificado_fixo": make_lead(
            conn, t, phones=[(UNCLASSIFIED_LANDLINE, "nao_classificado", True, True)],
            emails=[("nc@x.com.br", True, True)],
        ),
        "celular": make_lead(conn, t, phones=[(MOBILE, "celular", True, True)], emails=[("cel@x.com.br", True, True)]),
        "nao_classificado_celular": make_lead(
            conn, t, phones=[(UNCLASSIFIED_MOBILE, "nao_classificado", True, True)],
            emails=[("ncc@x.com.br", True, True)],
        ),
        # a landline marked principal never wins over the mobile
        "fixo_e_celular": make_lead(
            conn, t, phones=[(LANDLINE.replace("5555", "5556"), "fixo", True, True),
                             (MOBILE.replace("0000", "0001"), "celular", False, True)],
        ),
    }  # fmt: skip
    return leads


WHATSAPP_TO = {
    "fixo": None,
    "nao_classificado_fixo": None,
    "celular": MOBILE,
    "nao_classificado_celular": UNCLASSIFIED_MOBILE,
    "fixo_e_celular": MOBILE.replace("0000", "0001"),
}


def _by_lead(world: dict[str, Any]) -> dict[str, str]:
    return {lead["lead_id"]: key for key, lead in world.items()}


def test_campaign_sends_whatsapp_to_mobiles_only(conn, tenant, world) -> None:
    create_campanha(conn, tenant["tenant"], {"canal": "whatsapp", "template": "cobranca"})
    rows = conn.execute("SELECT lead_id::text, destino FROM disparos WHERE canal = 'whatsapp'").fetchall()
    got = {_by_lead(world)[r["lead_id"]]: r["destino"] for r in rows}
    assert got == {k: v for k, v in WHATSAPP_TO.items() if v}


def test_campaign_com_celular_filter_follows_the_same_rule(conn, tenant, world) -> None:
    create_campanha(
        conn, tenant["tenant"], {"canal": "email", "template": "cobranca", "filtro": {"com_celular": True}}
    )
    rows = conn.execute("SELECT lead_id::text FROM disparos WHERE canal = 'email'").fetchall()
    assert {_by_lead(world)[r["lead_id"]] for r in rows} == {"celular", "nao_classificado_celular"}


@pytest.mark.parametrize("key", list(WHATSAPP_TO))
def test_single_disparo_default_phone(conn, tenant, world, key) -> None:
    body = {"canal": "whatsapp", "template": "cobranca"}
    if WHATSAPP_TO[key] is None:
        with pytest.raises(ValidationError, match="não tem telefone válido"):
            create_disparo(conn, tenant["tenant"], world[key]["lead_id"], body)
        return
    doc, _ = create_disparo(conn, tenant["tenant"], world[key]["lead_id"], body)
    destino = conn.execute(
        "SELECT destino FROM disparos WHERE disparo_id = %s", (doc["disparo_id"],)
    ).fetchone()
    assert destino["destino"] == WHATSAPP_TO[key]


@pytest.mark.parametrize("key", ["fixo", "nao_classificado_fixo", "celular", "nao_classificado_celular"])
def test_single_disparo_chosen_phone(conn, tenant, world, key) -> None:
    lead = world[key]
    body = {"canal": "whatsapp", "template": "cobranca", "telefone_id": lead["telefones"][0]}
    if WHATSAPP_TO[key] is None:
        with pytest.raises(ValidationError, match="não recebe WhatsApp") as err:
            create_disparo(conn, tenant["tenant"], lead["lead_id"], body)
        assert err.value.field == "telefone_id"
        assert conn.execute("SELECT count(*) AS n FROM disparos").fetchone()["n"] == 0
        return
    create_disparo(conn, tenant["tenant"], lead["lead_id"], body)
    assert conn.execute("SELECT destino FROM disparos").fetchone()["destino"] == WHATSAPP_TO[key]


def test_lead_reminder_never_goes_by_whatsapp_to_a_landline(conn, tenant, world) -> None:
    when = datetime.now(UTC) + timedelta(days=2)
    for lead in world.values():
        create_agendamento(
            conn, tenant["tenant"], lead["lead_id"], tipo="reuniao", canal="telefone", data_agendada=when.isoformat(),
            lembrete_lead=True,
        )  # fmt: skip
    rows = conn.execute(
        """SELECT a.lead_id::text, l.canal, l.destino FROM agendamento_lembretes l
           JOIN agendamentos a USING (agendamento_id) WHERE l.destinatario = 'lead'"""
    ).fetchall()
    got = {_by_lead(world)[r["lead_id"]]: (r["canal"], r["destino"]) for r in rows}
    assert got == {
        "fixo": ("email", "fixo@x.com.br"),
        "nao_classificado_fixo": ("email", "nc@x.com.br"),
        "celular": ("whatsapp", MOBILE),
        "nao_classificado_celular": ("whatsapp", UNCLASSIFIED_MOBILE),
        "fixo_e_celular": ("whatsapp", MOBILE.replace("0000", "0001")),
    }


def test_a_lead_with_only_a_landline_has_no_contact_to_send_to(conn, tenant) -> None:
    job = conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem, aba, origem) VALUES (%s, 'x.xlsx', 'Leads', 'cli') "
        "RETURNING job_id",
        (tenant["id"],),
    ).fetchone()["job_id"]
    make_lead(conn, tenant["id"], phones=[(LANDLINE, "fixo", True, True)], ingest_job_id=job)
    make_lead(conn, tenant["id"], phones=[(MOBILE, "celular", True, True)], ingest_job_id=job)
    assert contact_stats(conn, tenant["id"], job) == {"leads": 2, "com_contato": 1}
