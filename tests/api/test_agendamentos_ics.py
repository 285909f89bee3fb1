"""The iCalendar feed: token derived from the tenant's secret (not the API key), parsed back by icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from agendamentos_support import make_lead
from icalendar import Calendar


def _create(api_client, tenant, lead, when: datetime, **body):
    payload = {"tipo": "reuniao", "canal": "video", "data_agendada": when.isoformat(), **body}
    r = api_client.post(f"/leads/{lead}/agendamentos", json=payload, headers=tenant["headers"])
    assert r.status_code == 201, r.text
    return r.json()["agendamento_id"]


def _events(body: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(body)
    return {str(ev["uid"]).split("@")[0]: ev for ev in cal.walk("VEVENT")}


def test_feed_parses_back_with_utc_times_and_statuses(api_client, conn, tenant, other_tenant) -> None:
    h = tenant["headers"]
    lead = make_lead(conn, tenant["id"], nome="Oficina do Zé")
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    a1 = _create(api_client, tenant, lead, when, responsavel="ana@empresa.com", observacoes="levar proposta")
    a2 = _create(api_client, tenant, lead, when + timedelta(hours=2), responsavel="bia@empresa.com")
    api_client.post(f"/agendamentos/{a2}/cancelar", json={"motivo": "remarcar"}, headers=h)
    _create(api_client, other_tenant, make_lead(conn, other_tenant["id"]), when)

    info = api_client.get("/agendamentos/feed-url", headers=h).json()
    url = urlsplit(info["url"])
    token = parse_qs(url.query)["token"][0]
    assert url.path == "/agendamentos.ics" and tenant["api_key"] not in info["url"]

    r = api_client.get("/agendamentos.ics", params={"token": token})  # no Authorization header
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    events = _events(r.content)
    assert set(events) == {a1, a2}  # only this tenant's
    ev1 = events[a1]
    assert ev1.decoded("dtstart") == when and ev1.decoded("dtstart").tzinfo is not None
    assert ev1.decoded("dtstart").utcoffset() == timedelta(0)
    assert ev1.decoded("dtend") == when + timedelta(minutes=30)
    assert str(ev1["status"]) == "CONFIRMED" and str(events[a2]["status"]) == "CANCELLED"
    assert str(ev1["summary"]) == "Reunião: Oficina do Zé"
    assert "levar proposta" in str(ev1["description"]) and "(America/Sao_Paulo)" in str(ev1["description"])
    assert b"DTSTART:" in r.content and b"Z\r\n" in r.content  # UTC form, not TZID

    # per responsável: its own token
    info = api_client.get(
        "/agendamentos/feed-url", params={"responsavel": "Ana@Empresa.com"}, headers=h
    ).json()
    q = parse_qs(urlsplit(info["url"]).query)
    r = api_client.get(
        "/agendamentos.ics", params={"token": q["token"][0], "responsavel": q["responsavel"][0]}
    )
    assert r.status_code == 200 and set(_events(r.content)) == {a1}
    # a tenant token cannot be widened to another responsável, nor a responsável token to the tenant
    assert (
        api_client.get(
            "/agendamentos.ics", params={"token": token, "responsavel": "bia@empresa.com"}
        ).status_code
        == 404
    )
    assert api_client.get("/agendamentos.ics", params={"token": q["token"][0]}).status_code == 404


def test_bad_tokens_are_404(api_client, conn, tenant, other_tenant) -> None:
    good = api_client.get("/agendamentos/feed-url", headers=tenant["headers"]).json()["url"]
    token = parse_qs(urlsplit(good).query)["token"][0]
    other = parse_qs(
        urlsplit(
            api_client.get("/agendamentos/feed-url", headers=other_tenant["headers"]).json()["url"]
        ).query
    )["token"][0]
    forged = other.split(".")[0] + "." + token.split(".")[1]  # other tenant's id with this tenant's signature
    for bad in (None, "", "x", "abc.def", token[:-2] + "AA", forged, tenant["api_key"]):
        r = api_client.get("/agendamentos.ics", params={} if bad is None else {"token": bad})
        assert r.status_code == 404, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    assert api_client.get("/agendamentos/feed-url").status_code == 401


def test_rotate_revokes_every_feed_url(api_client, tenant, other_tenant) -> None:
    h = tenant["headers"]
    old = api_client.get("/agendamentos/feed-url", headers=h).json()["url"]
    old_resp = api_client.get("/agendamentos/feed-url", params={"responsavel": "bia@empresa.com"}, headers=h)
    theirs = api_client.get("/agendamentos/feed-url", headers=other_tenant["headers"]).json()["url"]
    for url in (old, old_resp.json()["url"], theirs):
        assert api_client.get(url).status_code == 200
    r = api_client.post("/agendamentos/feed-url/rotate", headers=h)
    assert r.status_code == 200 and r.json()["url"] != old and r.json()["versao"] >= 1
    assert api_client.get(old).status_code == 404
    assert api_client.get(old_resp.json()["url"]).status_code == 404
    assert api_client.get(r.json()["url"]).status_code == 200
    assert api_client.get(theirs).status_code == 200  # another tenant's feeds are untouched
    assert api_client.post("/agendamentos/feed-url/rotate").status_code == 401
