"""The `agendamento` CLI: same core as the API, one-line errors."""

from __future__ import annotations

import json

from agendamentos_support import future, make_lead


def test_cli_create_list_cancel_and_feed_url(cli, conn, tenant) -> None:
    lead = make_lead(conn, tenant["id"])
    code, out, err = cli(
        "agendamento", "create", lead, "--tenant", "acme", "--tipo", "reuniao", "--canal", "video",
        "--data", future(90), "--responsavel", "ana@empresa.com", "--json",
    )  # fmt: skip
    assert code == 0, err
    aid = json.loads(out)["agendamento_id"]

    code, out, err = cli(
        "agendamento", "create", lead, "--tenant", "acme", "--tipo", "callback", "--canal", "telefone",
        "--data", future(100), "--responsavel", "ana@empresa.com",
    )  # fmt: skip
    assert code == 2 and err.startswith("erro: ") and "forcar" in err and len(err.strip().splitlines()) == 1

    code, out, _ = cli("agendamento", "list", "--tenant", "acme")
    assert code == 0 and aid in out and "1 de 1" in out

    code, out, err = cli("agendamento", "cancel", aid, "--tenant", "acme", "--motivo", "sem agenda")
    assert code == 0 and "cancelado" in out
    assert conn.execute("SELECT status FROM leads WHERE lead_id = %s", (lead,)).fetchone()["status"] == "novo"
    code, _, err = cli("agendamento", "cancel", aid, "--tenant", "acme", "--motivo", "de novo")
    assert code == 2 and "cancelado" in err

    code, out, _ = cli("agendamento", "feed-url", "--tenant", "acme", "--base-url", "https://api.exemplo.com")
    assert code == 0 and out.startswith("https://api.exemplo.com/agendamentos.ics?token=")
    assert tenant["api_key"] not in out

    code, _, err = cli("agendamento", "show", "nao-e-uuid", "--tenant", "acme")
    assert code == 2 and "não encontrado" in err
