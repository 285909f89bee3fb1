"""Campaigns: audience filters, exclusions (opt-out, no destination, missing variable, already active),
SQL rendering equal to the Python one, schedule spreading, counts, CSV export, isolation, CLI."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta

import pytest
from disparos_support import make_lead, make_template

from pipelines.core.disparos.templates import render

INICIO = "2099-05-01T09:00:00-03:00"


@pytest.fixture
def audience(conn, tenant, other_tenant):
    tid = tenant["id"]
    job = conn.execute(
        "INSERT INTO ingest_jobs (tenant_id, arquivo_origem) VALUES (%s, 'lote2.xlsx') RETURNING job_id",
        (tid,),
    ).fetchone()["job_id"]
    make_template(
        conn, tid, corpo="Olá {{contato_nome}}, {{nome}} ({{documento}}) deve {{valor}}. {{telefone}}"
    )
    make_template(
        conn, tid, nome="cobranca", canal="email", corpo="Oi {{nome}}", assunto="{{valor}} em aberto"
    )
    leads = {
        "vip": make_lead(conn, tid, nome="A", documento="111", tags=["vip", "sp"], origem_arquivo="lote1.xlsx"),
        "vip2": make_lead(conn, tid, nome="B", documento="222", tags=["vip"], origem_arquivo="lote1.xlsx",
                          emails=[("b@x.com", True, True)]),
        "optout": make_lead(conn, tid, nome="C", documento="333", tags=["vip"], phones=[("+5511977770000", "celular", True, True)]),
        "fixo": make_lead(conn, tid, nome="D", documento="444", phones=[("+551133330000", "fixo", True, True)],
                          emails=[("d@x.com", True, True)]),
        "sem_doc": make_lead(conn, tid, nome="E", documento=None, ingest_job_id=job, origem_arquivo="lote2.xlsx"),
        "descartado": make_lead(conn, tid, nome="F", documento="666", status="descartado"),
    }  # fmt: skip
    conn.execute(
        "INSERT INTO optouts (tenant_id, canal, destino) VALUES (%s, 'whatsapp', '+5511977770000')", (tid,)
    )
    make_lead(conn, other_tenant["id"], nome="Outro", documento="999", tags=["vip"])
    return {"leads": leads, "job": str(job)}


def _create(api_client, tenant, **body):
    body.setdefault("canal", "whatsapp")
    body.setdefault("template", "cobranca")
    body.setdefault("variaveis", {"valor": "R$ 10"})
    return api_client.post("/campanhas", json=body, headers=tenant["headers"])


def test_creates_one_disparo_per_lead_with_exclusions(api_client, conn, tenant, audience) -> None:
    r = _create(api_client, tenant, nome="nov", filtro={"status": ["novo"]}, inicio=INICIO)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["audiencia"] == 5 and c["criados"] == 2 and c["total_disparos"] == 2
    assert c["excluidos"] == {"sem_destino": 1, "optout": 1, "variavel_ausente": 1, "ja_em_disparo_ativo": 0}
    rows = conn.execute(
        "SELECT d.*, l.nome, l.contato_nome, l.documento FROM disparos d JOIN leads l USING (lead_id) "
        "WHERE campanha_id = %s ORDER BY l.nome",
        (c["campanha_id"],),
    ).fetchall()
    assert [r["nome"] for r in rows] == ["A", "B"]
    tpl = "Olá {{contato_nome}}, {{nome}} ({{documento}}) deve {{valor}}. {{telefone}}"
    for row in rows:
        ctx = {"contato_nome": row["contato_nome"], "nome": row["nome"], "documento": row["documento"],
               "valor": "R$ 10", "telefone": row["destino"]}  # fmt: skip
        assert row["payload"]["mensagem"] == render(tpl, ctx)
        assert row["payload"]["variaveis"] == ctx
        assert row["status"] == "pendente" and row["canal"] == "whatsapp" and row["telefone_id"] is not None
        assert row["data_agendado"] == datetime.fromisoformat(INICIO)
    statuses = {
        x["nome"]: x["status"]
        for x in conn.execute(
            "SELECT nome, status FROM leads WHERE tenant_id = %s", (tenant["id"],)
        ).fetchall()
    }
    assert statuses == {
        "A": "em_disparo",
        "B": "em_disparo",
        "C": "novo",
        "D": "novo",
        "E": "novo",
        "F": "descartado",
    }

    g = api_client.get(f"/campanhas/{c['campanha_id']}", headers=tenant["headers"]).json()
    assert g["contagens"]["pendente"] == 2 and g["total"] == 2 and g["filtro"] == {"status": ["novo"]}


FILTERS = [
    ({"tags": ["vip"]}, {"A", "B"}),  # C is vip but opted out
    ({"tags": ["vip", "sp"]}, {"A"}),
    ({"origem_arquivo": "lote1.xlsx"}, {"A", "B"}),
    ({"com_email": True}, {"B"}),  # D has an e-mail but no mobile
    ({"status": "descartado"}, {"F"}),
    ({"com_celular": False}, set()),
]


def test_audience_filters(api_client, conn, tenant, audience) -> None:
    for filtro, expected in FILTERS:  # each is its own campaign, so earlier ones do not interfere
        r = _create(api_client, tenant, filtro=filtro, inicio=INICIO)
        assert r.status_code == 201, r.text
        names = {x["nome"] for x in conn.execute(
            "SELECT l.nome FROM disparos d JOIN leads l USING (lead_id) WHERE campanha_id = %s", (r.json()["campanha_id"],))}  # fmt: skip
        assert names == expected, filtro


def test_ingest_job_filter_and_template_without_lead_fields(api_client, conn, tenant, audience) -> None:
    make_template(conn, tenant["id"], nome="simples", corpo="Oi {{contato_nome}}, {{valor}}")
    r = _create(api_client, tenant, template="simples", filtro={"ingest_job_id": audience["job"]})
    assert (
        r.status_code == 201 and r.json()["criados"] == 1
    )  # E has no documento, but this template needs none


def test_email_campaign_uses_principal_valid_email(api_client, conn, tenant, audience) -> None:
    r = _create(api_client, tenant, canal="email")
    assert r.status_code == 201, r.text
    rows = conn.execute("SELECT destino, email_id, payload FROM disparos ORDER BY destino").fetchall()
    assert [x["destino"] for x in rows] == ["b@x.com", "d@x.com"]
    assert rows[0]["payload"]["assunto"] == "R$ 10 em aberto" and rows[0]["payload"]["mensagem"] == "Oi B"


def test_reapply_skips_leads_already_active_and_spreads(api_client, conn, tenant, audience) -> None:
    c = _create(api_client, tenant, filtro={"tags": ["vip"]}, inicio=INICIO, espalhar_minutos=10).json()
    times = sorted(x["data_agendado"] for x in conn.execute("SELECT data_agendado FROM disparos"))
    start = datetime.fromisoformat(INICIO)
    assert times == [start, start + timedelta(minutes=5)]
    make_lead(conn, tenant["id"], nome="G", documento="777", tags=["vip"])
    r = api_client.post(f"/campanhas/{c['campanha_id']}/aplicar", headers=tenant["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["criados"] == 1 and r.json()["excluidos"]["ja_em_disparo_ativo"] == 2
    # A cancelled disparo is not active: re-applying gives that lead a new one.
    conn.execute(
        "UPDATE disparos SET status = 'cancelado' WHERE lead_id = %s", (audience["leads"]["vip"]["lead_id"],)
    )
    again = api_client.post(f"/campanhas/{c['campanha_id']}/aplicar", headers=tenant["headers"]).json()
    assert again["criados"] == 1 and again["excluidos"]["ja_em_disparo_ativo"] == 2  # B and G
    got = api_client.get(f"/campanhas/{c['campanha_id']}", headers=tenant["headers"]).json()
    assert (
        got["total_disparos"] == 4
        and got["contagens"]["pendente"] == 3
        and got["contagens"]["cancelado"] == 1
    )


def test_rate_paces_the_schedule(api_client, conn, tenant, audience) -> None:
    _create(api_client, tenant, template="cobranca", canal="email", inicio=INICIO, taxa_por_minuto=2)
    times = sorted(x["data_agendado"] for x in conn.execute("SELECT data_agendado FROM disparos"))
    start = datetime.fromisoformat(INICIO)
    assert times == [start, start + timedelta(seconds=30)]


INVALID = [
    ({"canal": "email", "template": "nao_existe"}, "template"),  # no provider templates for e-mail
    ({"variaveis": {}}, "variaveis"),
    ({"canal": "sms"}, "canal"),
    ({"filtro": {"cor": "azul"}}, "filtro.cor"),
    ({"filtro": {"status": "quente"}}, "filtro.status"),
    ({"filtro": {"ingest_job_id": "x"}}, "filtro.ingest_job_id"),
    ({"filtro": {"tags": [1]}}, "filtro.tags"),
    ({"inicio": "amanhã"}, "inicio"),
    ({"espalhar_minutos": 10, "taxa_por_minuto": 5}, "taxa_por_minuto"),
    ({"taxa_por_minuto": 0}, "taxa_por_minuto"),
]


def test_validation_stores_nothing(api_client, conn, tenant, audience) -> None:
    for body, field in INVALID:
        r = _create(api_client, tenant, **body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert conn.execute("SELECT count(*) AS n FROM campanhas").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM disparos").fetchone()["n"] == 0


def test_csv_export_cancel_and_isolation(api_client, conn, tenant, other_tenant, audience) -> None:
    c = _create(api_client, tenant, filtro={"tags": ["vip"]}).json()
    cid = c["campanha_id"]
    r = api_client.get(f"/campanhas/{cid}/disparos.csv", headers=tenant["headers"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(x["nome"] for x in rows) == ["A", "B"] and rows[0]["status"] == "pendente"
    oh = other_tenant["headers"]
    for method, path in [("GET", f"/campanhas/{cid}"), ("GET", f"/campanhas/{cid}/disparos.csv"),
                         ("POST", f"/campanhas/{cid}/aplicar"), ("POST", f"/campanhas/{cid}/cancelar"),
                         ("GET", f"/campanhas/{uuid.uuid4()}")]:  # fmt: skip
        assert api_client.request(method, path, headers=oh).status_code == 404, path
    assert api_client.get("/campanhas/nao-uuid/disparos.csv", headers=oh).status_code == 422
    assert api_client.get("/campanhas", headers=oh).json()["total"] == 0
    x = api_client.post(f"/campanhas/{cid}/cancelar", headers=tenant["headers"]).json()
    assert x["disparos_cancelados"] == 2
    assert api_client.post(f"/campanhas/{cid}/aplicar", headers=tenant["headers"]).status_code == 409


def test_cli_create_show_export(cli, conn, tenant, audience, tmp_path) -> None:
    code, out, err = cli("campanha", "create", "--tenant", "acme", "--template", "cobranca", "--canal", "whatsapp",
                         "--var", "valor=R$ 5", "--tag", "vip", "--status", "novo", "--inicio", "2099-05-01T09:00",
                         "--taxa-por-minuto", "60", "--json")  # fmt: skip
    assert code == 0, err
    c = json.loads(out)
    assert c["criados"] == 2 and c["excluidos"]["optout"] == 1
    assert datetime.fromisoformat(c["inicio"]) == datetime.fromisoformat("2099-05-01T09:00:00-03:00")
    code, out, _ = cli("campanha", "show", c["campanha_id"], "--tenant", "acme", "--json")
    assert code == 0 and json.loads(out)["contagens"]["pendente"] == 2
    dest = tmp_path / "c.csv"
    code, _, err = cli("campanha", "export", c["campanha_id"], "--tenant", "acme", "-o", str(dest))
    assert code == 0 and len(dest.read_text().splitlines()) == 3
    code, _, err = cli(
        "campanha", "create", "--tenant", "acme", "--template", "cobranca", "--canal", "whatsapp"
    )
    assert code == 2 and "valor" in err


def test_quotes_percent_and_placeholders_in_text_are_data(api_client, conn, tenant) -> None:
    """Template text, campaign variables and lead fields never become SQL (a '%' or a quote is just text)."""
    corpo = "10% off {{nome}} 'x' \\ %s %(t)s {{valor}}"
    make_template(conn, tenant["id"], corpo=corpo, whatsapp_template_id="t%s'1")
    make_lead(conn, tenant["id"], nome="O'Brien %s {{valor}}")
    valor = "50%'; DROP TABLE leads; --"
    r = _create(api_client, tenant, variaveis={"valor": valor})
    assert r.status_code == 201, r.text
    payload = conn.execute("SELECT payload FROM disparos").fetchone()["payload"]
    assert payload["mensagem"] == render(corpo, {"nome": "O'Brien %s {{valor}}", "valor": valor})
    assert payload["template_id"] == "t%s'1"


def test_csv_export_neutralizes_formulas(api_client, conn, tenant) -> None:
    """Lead names that a spreadsheet would run come out as text (leading apostrophe)."""
    names = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x","clique")', "+SOMA", "-1+2", "@A1", "Normal"]
    make_template(conn, tenant["id"])
    for n in names:
        make_lead(conn, tenant["id"], nome=n, tags=["csv"])
    cid = _create(api_client, tenant, filtro={"tags": ["csv"]}).json()["campanha_id"]
    r = api_client.get(f"/campanhas/{cid}/disparos.csv", headers=tenant["headers"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(x["nome"] for x in rows) == sorted(["'" + n for n in names[:-1]] + ["Normal"])
    assert all(x["destino"].startswith("'+55") for x in rows)  # E.164 phones start with '+'
    assert {x["tentativas"] for x in rows} == {"0"}  # numbers untouched
